import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { DefinitionError } from '../../src/definition/definition-error.js';
import { checkDefinitionFile, loadDefinitionFile } from '../../src/definition/load-definition.js';
import { PeerwayError } from '../../src/errors.js';

test('loads a definition file and records its path', async () => {
  const def = await loadDefinitionFile('examples/climate.xml');
  assert.equal(def.name, 'Climate');
  assert.equal(def.file, 'examples/climate.xml');
});

test('a missing file is a DEFINITION_INVALID error naming the path and the reason', async () => {
  await assert.rejects(loadDefinitionFile('test/fixtures/definitions/nope.xml'), (err: unknown) => {
    assert.ok(err instanceof PeerwayError);
    assert.equal(err.code, 'DEFINITION_INVALID');
    assert.equal(err.message, 'test/fixtures/definitions/nope.xml: cannot read file (ENOENT: no such file or directory)');
    return true;
  });
});

test('an invalid file rejects with a DefinitionError carrying its diagnostics', async () => {
  await assert.rejects(loadDefinitionFile('test/fixtures/definitions/seed-forked-runtime-data.xml'), (err: unknown) => {
    assert.ok(err instanceof DefinitionError);
    assert.equal(err.diagnostics.length, 4);
    return true;
  });
});

test('checkDefinitionFile returns diagnostics instead of throwing', async () => {
  const missing = await checkDefinitionFile('nope.xml');
  assert.equal(missing.definition, undefined);
  assert.deepEqual(missing.diagnostics, [
    { file: 'nope.xml', line: 1, column: 1, severity: 'error', message: 'cannot read file (ENOENT: no such file or directory)' },
  ]);

  const invalid = await checkDefinitionFile('test/fixtures/definitions/invalid/many-errors.xml');
  assert.equal(invalid.definition, undefined);
  assert.equal(invalid.diagnostics.length, 7);

  const ok = await checkDefinitionFile('examples/climate.xml');
  assert.equal(ok.definition?.name, 'Climate');
  assert.deepEqual(ok.diagnostics, []);
});

test('checkDefinitionFile returns warnings together with the definition', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'peerway-def-'));
  try {
    const file = join(dir, 'w.xml');
    await writeFile(file, '<service name="W">\n  <runtime-data><empty/></runtime-data>\n</service>\n');
    const result = await checkDefinitionFile(file);
    assert.equal(result.definition?.name, 'W');
    assert.deepEqual(result.diagnostics, [
      {
        file,
        line: 2,
        column: 17,
        severity: 'warning',
        message: 'runtime data object "empty" has no children; add type="…" to make it a leaf, or add child elements',
      },
    ]);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
