import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { startPeerway } from '../../src/cli/peerway-process.js';
import { example, fixture } from '../helpers/harness.js';

/** `peerway codegen` on the command line, and `peerway check --generated` on what it wrote. */

function scratch(t: TestContext): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'peerway-codegen-cli-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** Runs `peerway …` in `cwd` to completion. */
async function peerway(args: string[], cwd: string): Promise<{ code: number | NodeJS.Signals; stdout: string; stderr: string }> {
  const proc = startPeerway(args, { cwd });
  const timer = setTimeout(() => void proc.stop(), 20_000);
  const code = await proc.exited;
  clearTimeout(timer);
  return { code, stdout: proc.stdout(), stderr: proc.stderr() };
}

/** A project with the Climate and AllTypes definitions under defs/. */
function project(t: TestContext): string {
  const dir = scratch(t);
  mkdirSync(path.join(dir, 'defs'));
  copyFileSync(example('climate.xml'), path.join(dir, 'defs', 'climate.xml'));
  copyFileSync(fixture('codegen', 'all-types.xml'), path.join(dir, 'defs', 'all-types.xml'));
  return dir;
}

test('codegen writes one flat module per service and target, and running it again changes no byte and rewrites nothing', async (t) => {
  const dir = project(t);
  const first = await peerway(['codegen', 'defs/climate.xml', 'defs/all-types.xml', '--out', 'src/generated', '--target', 'both'], dir);
  assert.equal(first.code, 0, first.stderr);
  const out = path.join(dir, 'src', 'generated');
  assert.deepEqual(readdirSync(out).sort(), ['all-types.browser.ts', 'all-types.ts', 'climate.browser.ts', 'climate.ts']);
  assert.deepEqual(first.stdout.trim().split('\n').sort(), ['all-types.browser.ts', 'all-types.ts', 'climate.browser.ts', 'climate.ts'].map((f) => `wrote src/generated/${f}`));
  const bytes = Object.fromEntries(readdirSync(out).map((f) => [f, readFileSync(path.join(out, f))]));
  const times = Object.fromEntries(readdirSync(out).map((f) => [f, statSync(path.join(out, f)).mtimeMs]));
  assert.match(bytes['climate.ts'].toString(), /^\/\/ peerway-codegen source="\.\.\/\.\.\/defs\/climate\.xml" sha256=[0-9a-f]{64} target=node$/m);

  // Again, from another directory and with absolute paths: the same bytes, nothing rewritten.
  const again = await peerway(['codegen', path.join(dir, 'defs', 'all-types.xml'), path.join(dir, 'defs', 'climate.xml'), '--out', out, '--target', 'both'], tmpdir());
  assert.equal(again.code, 0, again.stderr);
  assert.match(again.stdout, /^unchanged .*climate\.ts$/m);
  for (const f of Object.keys(bytes)) {
    assert.ok(readFileSync(path.join(out, f)).equals(bytes[f]), `${f} changed`);
    assert.equal(statSync(path.join(out, f)).mtimeMs, times[f], `${f} was rewritten`);
  }

  // The default target is node alone.
  const node = await peerway(['codegen', 'defs/climate.xml', '--out', 'node-only'], dir);
  assert.equal(node.code, 0, node.stderr);
  assert.deepEqual(readdirSync(path.join(dir, 'node-only')), ['climate.ts']);
});

test('codegen refuses bad input with exit 2 and a message that names the problem, writing nothing', async (t) => {
  const dir = project(t);
  writeFileSync(path.join(dir, 'defs', 'broken.xml'), '<service name="Broken">\n  <methods>\n    <method name="m" returns="nope"/>\n  </methods>\n</service>\n');
  writeFileSync(path.join(dir, 'a-file'), 'not a directory');
  writeFileSync(path.join(dir, 'defs', 'twin.xml'), '<service name="climate"/>\n');

  const missing = await peerway(['codegen', 'defs/climate.xml', 'defs/nope.xml', '--out', 'gen'], dir);
  assert.equal(missing.code, 2);
  assert.match(missing.stderr, /^defs\/nope\.xml:1:1: cannot read file \(ENOENT/m);
  assert.match(missing.stderr, /peerway codegen: error \[DEFINITION_INVALID\]: 1 of 2 definition file\(s\) have errors \(listed above\); nothing was written/);

  const invalid = await peerway(['codegen', 'defs/broken.xml', '--out', 'gen'], dir);
  assert.equal(invalid.code, 2);
  assert.match(invalid.stderr, /^defs\/broken\.xml:3:\d+: .*"nope"/m);

  const unwritable = await peerway(['codegen', 'defs/climate.xml', '--out', 'a-file/gen'], dir);
  assert.equal(unwritable.code, 2);
  assert.match(unwritable.stderr, /peerway codegen: error \[USAGE\]: cannot write a-file\/gen \((ENOTDIR|EEXIST)\); give --out a directory you can write to/);

  const noOut = await peerway(['codegen', 'defs/climate.xml'], dir);
  assert.equal(noOut.code, 2);
  assert.match(noOut.stderr, /^peerway codegen: error \[USAGE\]: no --out <dir> for the modules given: peerway codegen FILE\.xml… --out DIR \(e\.g\. peerway codegen examples\/climate\.xml --out src\/generated\)$/m);
  const noArgs = await peerway(['codegen'], dir);
  assert.equal(noArgs.code, 2);
  assert.match(noArgs.stderr, /error \[USAGE\]: no definition files and no --out <dir> for the modules given: peerway codegen FILE\.xml… --out DIR/);
  const noFiles = await peerway(['codegen', '--out', 'gen'], dir);
  assert.equal(noFiles.code, 2);
  assert.match(noFiles.stderr, /error \[USAGE\]: no definition files given: peerway codegen FILE\.xml… --out DIR/);
  const unknown = await peerway(['codegen', 'defs/climate.xml', '--out', 'gen', '--outdir', 'x'], dir);
  assert.equal(unknown.code, 2);
  assert.match(unknown.stderr, /unknown option '--outdir'[\s\S]*\(run peerway codegen --help for usage\)/);

  const directory = await peerway(['codegen', 'defs', '--out', 'gen'], dir);
  assert.equal(directory.code, 2);
  assert.match(directory.stderr, /^defs: is a directory; give the definition files in it \(defs\/\*\.xml\)$/m);

  const twins = await peerway(['codegen', 'defs/climate.xml', 'defs/twin.xml', '--out', 'gen'], dir);
  assert.equal(twins.code, 2);
  assert.match(twins.stderr, /defs\/climate\.xml \(service Climate\) and defs\/twin\.xml \(service climate\) would both be generated as gen\/climate\.ts/);

  const badTarget = await peerway(['codegen', 'defs/climate.xml', '--out', 'gen', '--target', 'deno'], dir);
  assert.equal(badTarget.code, 2);
  assert.match(badTarget.stderr, /Allowed choices are node, browser, both/);

  assert.equal(existsSync(path.join(dir, 'gen')), false, 'nothing was written');
});

test('check --generated says which generated modules are up to date and warns, with the command to run, about those older than their definition', async (t) => {
  const dir = project(t);
  const gen = await peerway(['codegen', 'defs/climate.xml', 'defs/all-types.xml', '--out', 'gen', '--target', 'both'], dir);
  assert.equal(gen.code, 0, gen.stderr);
  writeFileSync(path.join(dir, 'gen', 'handwritten.ts'), 'export const x = 1;\n');

  const fresh = await peerway(['check', '--generated', 'gen'], dir);
  assert.equal(fresh.code, 0, fresh.stdout + fresh.stderr);
  assert.deepEqual(fresh.stdout.trim().split('\n'), [
    'gen/all-types.browser.ts: ok: generated from defs/all-types.xml, up to date',
    'gen/all-types.ts: ok: generated from defs/all-types.xml, up to date',
    'gen/climate.browser.ts: ok: generated from defs/climate.xml, up to date',
    'gen/climate.ts: ok: generated from defs/climate.xml, up to date',
  ]);

  // A definition edited since (a comment is enough: the hash is of the file), another one gone.
  writeFileSync(path.join(dir, 'defs', 'climate.xml'), readFileSync(path.join(dir, 'defs', 'climate.xml'), 'utf8') + '<!-- edited -->\n');
  rmSync(path.join(dir, 'defs', 'all-types.xml'));
  const stale = await peerway(['check', '--xml-only', 'defs/climate.xml', '--generated', 'gen'], dir);
  assert.equal(stale.code, 0, 'warnings do not change the exit code');
  const lines = stale.stdout.trim().split('\n');
  assert.match(lines[0], /^defs\/climate\.xml: ok: service Climate/);
  assert.deepEqual(lines.slice(-4), [
    'gen/all-types.browser.ts:3:1: warning: generated from defs/all-types.xml, which cannot be read (ENOENT); regenerate it from where the definition is now, or delete it',
    'gen/all-types.ts:3:1: warning: generated from defs/all-types.xml, which cannot be read (ENOENT); regenerate it from where the definition is now, or delete it',
    'gen/climate.browser.ts:3:1: warning: out of date: defs/climate.xml changed since this module was generated from it (sha256 differs); regenerate: peerway codegen defs/climate.xml --out gen --target browser',
    'gen/climate.ts:3:1: warning: out of date: defs/climate.xml changed since this module was generated from it (sha256 differs); regenerate: peerway codegen defs/climate.xml --out gen',
  ]);

  // Following the advice makes it fresh again.
  const redo = await peerway(['codegen', 'defs/climate.xml', '--out', 'gen'], dir);
  assert.equal(redo.code, 0, redo.stderr);
  const after = await peerway(['check', '--generated', 'gen'], dir);
  assert.match(after.stdout, /^gen\/climate\.ts: ok: generated from defs\/climate\.xml, up to date$/m);

  const nowhere = await peerway(['check', '--generated', 'no-such-dir'], dir);
  assert.equal(nowhere.code, 2);
  assert.match(nowhere.stdout, /^no-such-dir: error: --generated no-such-dir: cannot read the directory \(ENOENT\)/m);
  const empty = await peerway(['check', '--generated', 'defs'], dir);
  assert.match(empty.stdout, /^defs: warning: no module written by peerway codegen here/m);
  const nothing = await peerway(['check'], dir);
  assert.equal(nothing.code, 2);
  assert.match(nothing.stderr, /nothing to check: give definition files, --generated DIR, or both/);
});

test('codegen never overwrites a file it did not write, nor writes where the runner looks for an implementation; nothing is written then', async (t) => {
  const dir = project(t);
  const handwritten = 'export const mine = 1;\n';
  mkdirSync(path.join(dir, 'gen'));
  writeFileSync(path.join(dir, 'gen', 'climate.ts'), handwritten);
  const r = await peerway(['codegen', 'defs/all-types.xml', 'defs/climate.xml', '--out', 'gen'], dir);
  assert.equal(r.code, 2);
  assert.match(
    r.stderr,
    /^peerway codegen: error \[USAGE\]: gen\/climate\.ts exists and was not written by peerway codegen \(it has no "\/\/ peerway-codegen" header line\), so it is not overwritten; give --out a directory of its own \(e\.g\. --out gen\/generated\), or move the file away; nothing was written$/m,
  );
  assert.equal(readFileSync(path.join(dir, 'gen', 'climate.ts'), 'utf8'), handwritten);
  assert.deepEqual(readdirSync(path.join(dir, 'gen')), ['climate.ts'], 'not even the module that had no clash');

  // --out the definitions' own directory: climate.ts next to climate.xml is where the runner finds Climate's implementation.
  const slot = await peerway(['codegen', 'defs/climate.xml', '--out', 'defs'], dir);
  assert.equal(slot.code, 2);
  assert.match(
    slot.stderr,
    /^peerway codegen: error \[USAGE\]: defs\/climate\.ts is where the runner looks for the implementation of Climate \(next to defs\/climate\.xml\), so the generated module cannot go there; give --out a directory of its own \(e\.g\. --out defs\/generated\); nothing was written$/m,
  );
  assert.deepEqual(readdirSync(path.join(dir, 'defs')).sort(), ['all-types.xml', 'climate.xml']);

  // A module codegen wrote itself is replaced when its definition changed.
  rmSync(path.join(dir, 'gen', 'climate.ts'));
  assert.equal((await peerway(['codegen', 'defs/climate.xml', '--out', 'gen'], dir)).code, 0);
  writeFileSync(path.join(dir, 'defs', 'climate.xml'), readFileSync(path.join(dir, 'defs', 'climate.xml'), 'utf8').replaceAll('"overheat"', '"overheated"'));
  const again = await peerway(['codegen', 'defs/climate.xml', '--out', 'gen'], dir);
  assert.equal(again.code, 0, again.stderr);
  assert.match(again.stdout, /^wrote gen\/climate\.ts$/m);
  assert.match(readFileSync(path.join(dir, 'gen', 'climate.ts'), 'utf8'), /overheated: \{ celsius: number \};/);
});
