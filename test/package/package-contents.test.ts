import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { ROOT } from '../helpers/harness.js';

/**
 * What `npm publish` would ship. The benchmark suite lives in bench/ and runs from the repository
 * (`npm run bench`); neither it nor anything that needs a dev dependency may end up in the package. Checked
 * against the dist/ that `npm test` builds first (pretest).
 */

const exec = promisify(execFile);
const DIST = path.join(ROOT, 'dist');

interface PackEntry {
  files: { path: string }[];
}

test('the package lists no file of the benchmark suite, neither bench/ nor a bench folder in dist/', async () => {
  // --ignore-scripts: `prepare` would rebuild dist/ under the feet of the tests running in parallel.
  const { stdout } = await exec('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], { cwd: ROOT, timeout: 30_000, maxBuffer: 16 * 1024 * 1024 });
  const [entry] = JSON.parse(stdout) as PackEntry[];
  const files = entry.files.map((f) => f.path);
  assert.ok(files.includes('dist/index.js'), `the package should contain dist/index.js; it lists ${files.length} files`);
  const bench = files.filter((f) => f.startsWith('bench/') || (f.startsWith('dist/') && f.includes('/bench/')));
  assert.deepEqual(bench, [], 'benchmark files in the package');
});

test('no compiled file in dist/ imports a dev dependency', () => {
  const pkg = JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { devDependencies?: Record<string, string> };
  const dev = new Set(Object.keys(pkg.devDependencies ?? {}));
  assert.ok(dev.size > 0, 'package.json has devDependencies to check against');
  const files = jsFiles(DIST);
  assert.ok(files.length > 0, 'dist/ holds compiled files (npm test builds first)');
  const offending: string[] = [];
  for (const file of files) {
    for (const specifier of importSpecifiers(readFileSync(file, 'utf8'))) {
      const name = packageName(specifier);
      if (name !== undefined && dev.has(name)) offending.push(`${path.relative(ROOT, file)} imports '${specifier}' (${name} is a devDependency)`);
    }
  }
  assert.deepEqual(offending, []);
});

test('the import scan finds static, side-effect, re-export, dynamic and require specifiers', () => {
  // Guards the check above against a regex that quietly matches nothing.
  const source = [
    "import fc from 'fast-check';",
    'import "side-effect";',
    "export { x } from '@grpc/grpc-js/build/src';",
    "const m = await import( 'typescript' );",
    "const r = require('@types/node');",
    "import { a } from './local.js';",
  ].join('\n');
  assert.deepEqual(importSpecifiers(source), ['fast-check', 'side-effect', '@grpc/grpc-js/build/src', 'typescript', '@types/node', './local.js']);
  assert.deepEqual(importSpecifiers(source).map(packageName), ['fast-check', 'side-effect', '@grpc/grpc-js', 'typescript', '@types/node', undefined]);
  assert.equal(packageName('node:fs'), undefined);
});

test('the published type declarations hold nothing marked @internal, and export what an embedder needs', () => {
  const declarations = filesEndingWith(DIST, '.d.ts');
  assert.ok(declarations.length > 0, 'dist/ holds declarations');
  const internal = declarations.filter((f) => readFileSync(f, 'utf8').includes('@internal')).map((f) => path.relative(ROOT, f));
  assert.deepEqual(internal, []);
  const index = readFileSync(path.join(DIST, 'index.d.ts'), 'utf8');
  for (const name of ['connect', 'Session', 'PeerwayServer', 'PeerwayRunner', 'Broker', 'registerBearer', 'Bearer', 'MessageConnection', 'BearerAddress', 'ServiceRuntime', 'ServiceListing', 'RelayStats', 'SessionStarted', 'Authorizer', 'Identity', 'PeerwayError']) {
    assert.match(index, new RegExp(`\\b${name}\\b`), `dist/index.d.ts does not export ${name}`);
  }
});

function jsFiles(dir: string): string[] {
  return filesEndingWith(dir, '.js');
}

function filesEndingWith(dir: string, suffix: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) return filesEndingWith(p, suffix);
    return e.isFile() && e.name.endsWith(suffix) ? [p] : [];
  });
}

/** Module specifiers of `from '…'`, bare `import '…'`, `import('…')` and `require('…')`, in source order. */
function importSpecifiers(source: string): string[] {
  const pattern = /(?:\bfrom\s*|\bimport\s*|\bimport\s*\(\s*|\brequire\s*\(\s*)(['"])([^'"\n]+)\1/g;
  return [...source.matchAll(pattern)].map((m) => m[2]);
}

/** The package a bare specifier names (`@scope/name` or `name`); undefined for relative, absolute, `node:` and URL specifiers. */
function packageName(specifier: string): string | undefined {
  if (/^(\.|\/|[a-z][a-z0-9+.-]*:)/i.test(specifier)) return undefined;
  const parts = specifier.split('/');
  return specifier.startsWith('@') ? parts.slice(0, 2).join('/') : parts[0];
}
