import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { ROOT } from '../helpers/harness.js';

/**
 * The directions of dependency of CONVENTIONS.md, enforced: `cli` → `http` | `codegen` → `client` | `server` |
 * `runner` → `routing` | `service` | `policy` → `bearer` → `wire` → `definition` → `errors`, `logger`.
 * (`codegen` only needs `definition`; it sits under `cli`, its one user, and above everything the generated
 * code talks to at run time.)
 * A folder imports only folders below it (plus the one same-level pair listed), and no file or folder
 * is part of an import circle. Type-only imports count: they tie the modules together just the same.
 */
const LEVEL: Record<string, number> = {
  errors: 0,
  logger: 0.5,
  definition: 1,
  wire: 2,
  bearer: 3,
  routing: 4,
  service: 4,
  policy: 4,
  client: 5,
  server: 5,
  runner: 5,
  http: 6,
  codegen: 6,
  cluster: 6,
  cli: 7,
  index: 8,
};
/** Same-level imports that are allowed: the service's call context names the caller's identity. */
const SIDEWAYS = new Set(['service->policy']);

const SRC = path.join(ROOT, 'src');

function sourceFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const p = path.join(dir, name);
    if (statSync(p).isDirectory()) return sourceFiles(p);
    return /\.ts$/.test(name) && !name.endsWith('.d.ts') ? [p] : [];
  });
}

/** Relative imports of a file (static, re-exports and dynamic), resolved to .ts files. */
function importsOf(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  const out: string[] = [];
  for (const m of text.matchAll(/(?:import|export)\s[^'"]*?from\s*['"](\.{1,2}\/[^'"]+)['"]|import\(\s*['"](\.{1,2}\/[^'"]+)['"]\s*\)/g)) {
    out.push(path.resolve(path.dirname(file), (m[1] ?? m[2])).replace(/\.js$/, '.ts'));
  }
  return out;
}

const folderOf = (file: string) => path.relative(SRC, file).split(path.sep)[0].replace(/\.ts$/, '');

function graph(): Map<string, string[]> {
  return new Map(sourceFiles(SRC).map((f) => [f, importsOf(f)]));
}

/** Strongly connected components with more than one member (Tarjan). */
function circles(edges: Map<string, string[]>): string[][] {
  let index = 0;
  const stack: string[] = [];
  const on = new Set<string>();
  const idx = new Map<string, number>();
  const low = new Map<string, number>();
  const found: string[][] = [];
  const visit = (v: string) => {
    idx.set(v, index);
    low.set(v, index++);
    stack.push(v);
    on.add(v);
    for (const w of edges.get(v) ?? []) {
      if (!edges.has(w)) continue;
      if (!idx.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (on.has(w)) low.set(v, Math.min(low.get(v)!, idx.get(w)!));
    }
    if (low.get(v) === idx.get(v)) {
      const c: string[] = [];
      let w: string;
      do {
        w = stack.pop()!;
        on.delete(w);
        c.push(w);
      } while (w !== v);
      if (c.length > 1) found.push(c);
    }
  };
  for (const v of edges.keys()) if (!idx.has(v)) visit(v);
  return found;
}

test('every top-level part of src/ has a level, and imports go only downwards', () => {
  const wrong: string[] = [];
  for (const [file, deps] of graph()) {
    const from = folderOf(file);
    assert.ok(from in LEVEL, `src/${from} has no level in this test: place it in the directions of CONVENTIONS.md`);
    for (const dep of deps) {
      const to = folderOf(dep);
      if (to === from) continue;
      const down = LEVEL[to] < LEVEL[from];
      if (!down && !SIDEWAYS.has(`${from}->${to}`)) wrong.push(`${path.relative(SRC, file)} -> ${path.relative(SRC, dep)}`);
    }
  }
  assert.deepEqual(wrong, [], 'imports against the direction of dependency');
});

test('no file of src/ is part of an import circle, and no two folders import each other', () => {
  const edges = graph();
  assert.deepEqual(circles(edges).map((c) => c.map((f) => path.relative(SRC, f)).sort()), []);
  const folders = new Map<string, string[]>();
  for (const [file, deps] of edges) {
    const from = folderOf(file);
    for (const d of deps) if (folderOf(d) !== from) folders.set(from, [...(folders.get(from) ?? []), folderOf(d)]);
  }
  assert.deepEqual(circles(folders), []);
});

test('the checks see what they check: a circle and an upward import in a made-up graph are found', () => {
  assert.deepEqual(circles(new Map([['a', ['b']], ['b', ['a']], ['c', ['a']]])).map((c) => c.sort()), [['a', 'b']]);
  assert.ok(LEVEL.client === LEVEL.server && !SIDEWAYS.has('client->server'), 'the client may never import the server');
  assert.ok(LEVEL.runner === LEVEL.client && !SIDEWAYS.has('runner->client'), 'the runner may never import the client');
});
