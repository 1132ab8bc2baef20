import { test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { example, fixture, ROOT, runPeerway } from '../helpers/harness.js';
import { runTsc, STRICT_OPTIONS, tempProject } from './temp-project.js';

/**
 * Generated code as a user compiles it: every example's definition and one with every type, for both
 * targets, written by the real `peerway codegen`, compiled in one strict `tsc` run in a project of its own
 * together with programs written against them (a typed client, a typed implementation, the example client
 * and the README's snippets) and a fixture of misuses that must each be a compile error.
 */

const EXAMPLES = readdirSync(path.join(ROOT, 'examples')).filter((f) => f.endsWith('.xml')).map((f) => example(f));
/** The Kanzi Connect corpus of issue 18 (datatype=, datatype="list", repeated T, persistent, _interface.xml). */
const KANZI = readdirSync(fixture('kanzi')).filter((f) => f.endsWith('.xml')).sort().map((f) => fixture('kanzi', f));
/** Every definition of test/fixtures/codegen: all-types.xml, and peerway.xml with names that could break a module. */
const OWN = ['all-types.xml', 'peerway.xml'].map((f) => fixture('codegen', f));
const CANARY = [
  "import type { PeerwayClient } from 'peerway';",
  "import { openAllTypes } from './generated/all-types.js';",
  '',
  'export async function canary(client: PeerwayClient): Promise<number> {',
  '  const all = await openAllTypes(client);',
  '  // @ts-expect-error on a correct line: tsc must report this directive as unused',
  '  return all.echoInt({ value: 1 });',
  '}',
  '',
].join('\n');

/** The TypeScript blocks of the README's "Typed code from definitions" section. */
function readmeBlocks(): string[] {
  const readme = readFileSync(path.join(ROOT, 'README.md'), 'utf8');
  const start = readme.indexOf('## Typed code from definitions');
  const section = readme.slice(start, readme.indexOf('\n## ', start + 1));
  return [...section.matchAll(/```ts\n([\s\S]*?)```/g)].map((m) => m[1]);
}

test('generated modules compile under tsc --strict (module nodenext), with programs using them, and every misuse of the fixture is a compile error', { timeout: 180_000 }, async (t) => {
  const dir = tempProject(t);
  const gen = await runPeerway(['codegen', ...EXAMPLES, ...OWN, ...KANZI, '--out', path.join(dir, 'generated'), '--target', 'both']);
  assert.equal(gen.code, 0, gen.stderr);
  const generated = readdirSync(path.join(dir, 'generated')).sort();
  assert.deepEqual(generated, [
    'all-types.browser.ts', 'all-types.ts', 'climate.browser.ts', 'climate.ts', 'data-example.browser.ts', 'data-example.ts', 'engine.browser.ts', 'engine.ts',
    'forked-runtime-data.browser.ts', 'forked-runtime-data.ts', 'input.browser.ts', 'input.ts', 'mixed.browser.ts', 'mixed.ts', 'peerway.browser.ts', 'peerway.ts',
    'settings.browser.ts', 'settings.ts',
    'user-directory.browser.ts', 'user-directory.ts', 'vehicle.browser.ts', 'vehicle.ts',
  ]);

  for (const name of ['all-types.ts', 'typed-client.ts', 'typed-kanzi-client.ts', 'expect-errors.ts']) copyFileSync(fixture('codegen', name), path.join(dir, name));
  for (const name of ['typed-climate-client.ts', 'typed-climate-service.ts']) copyFileSync(example(name), path.join(dir, name));
  // The README's typed client and typed implementation, as printed.
  const blocks = readmeBlocks();
  assert.equal(blocks.length, 2, 'the README section shows a typed client and a typed implementation');
  blocks.forEach((block, i) => writeFileSync(path.join(dir, `readme-${i + 1}.ts`), block));
  // The misuses again without their directives: tsc must report each one, on its line, with its code.
  const misuses = readFileSync(fixture('codegen', 'expect-errors.ts'), 'utf8');
  writeFileSync(path.join(dir, 'misuses-reported.ts'), misuses.replaceAll('@ts-expect-error', '@ts-expected-error'));
  writeFileSync(path.join(dir, 'canary.ts'), CANARY);
  writeFileSync(
    path.join(dir, 'tsconfig.json'),
    JSON.stringify({ compilerOptions: { ...STRICT_OPTIONS, declaration: true, emitDeclarationOnly: true, outDir: 'declarations' }, include: ['*.ts', 'generated/*.ts'] }, null, 2),
  );

  const { diagnostics, output } = await runTsc(dir);
  const byFile = (file: string) => diagnostics.filter((d) => d.file === file);

  // Only the two files that must have errors have any.
  assert.deepEqual([...new Set(diagnostics.map((d) => d.file))].sort(), ['canary.ts', 'misuses-reported.ts'], output);
  // An unused @ts-expect-error is an error: so every directive in expect-errors.ts (which compiled clean) was used.
  assert.deepEqual(byFile('canary.ts').map((d) => [d.line, d.code]), [[6, 'TS2578']], output);

  const expected = misuses.split('\n').flatMap((line, i) => {
    const m = /\/\/ @ts-expect-error (TS\d+) /.exec(line);
    return m ? [{ line: i + 2, code: m[1] }] : [];
  });
  assert.ok(expected.length >= 25, `the fixture has ${expected.length} misuses`);
  const reported = byFile('misuses-reported.ts');
  assert.deepEqual([...new Set(reported.map((d) => d.line))].sort((a, b) => a - b), expected.map((e) => e.line), 'errors exactly on the lines under the directives');
  for (const e of expected) {
    const codes = reported.filter((d) => d.line === e.line).map((d) => d.code);
    assert.ok(codes.includes(e.code), `line ${e.line}: expected ${e.code}, tsc reported ${codes.join(', ')}: ${reported.find((d) => d.line === e.line)?.message}`);
  }

  // No `any` in what the generated modules export (their declarations, as a user's editor sees them).
  for (const name of generated) {
    const declarations = readFileSync(path.join(dir, 'declarations', 'generated', name.replace(/\.ts$/, '.d.ts')), 'utf8');
    assert.doesNotMatch(declarations, /\bany\b/, `${name}'s declarations`);
  }
});

test('a generated module imports only types, and only from peerway (node) or peerway/browser (browser)', async (t) => {
  const dir = tempProject(t);
  const gen = await runPeerway(['codegen', ...EXAMPLES, ...OWN, ...KANZI, '--out', dir, '--target', 'both']);
  assert.equal(gen.code, 0, gen.stderr);
  for (const name of readdirSync(dir).filter((f) => f.endsWith('.ts'))) {
    const text = readFileSync(path.join(dir, name), 'utf8');
    const imports = [...text.matchAll(/^import .*$/gm)].map((m) => m[0]);
    const from = name.endsWith('.browser.ts') ? 'peerway/browser' : 'peerway';
    assert.equal(imports.length, 1, `${name}: ${imports.join('\n')}`);
    assert.match(imports[0], new RegExp(`^import type \\{ [A-Za-z, ]+ \\} from '${from.replace('/', '\\/')}';$`), name);
    assert.doesNotMatch(text, /\bany\b/, `${name} never says any`);
  }
});
