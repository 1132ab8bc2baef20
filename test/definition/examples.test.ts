import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { formatDiagnostic } from '../../src/definition/model.js';
import { DefinitionError } from '../../src/definition/definition-error.js';
import { parseDefinition } from '../../src/definition/parse-definition.js';

const files = [
  ...readdirSync('examples').filter((f) => f.endsWith('.xml')).map((f) => join('examples', f)),
  'test/fixtures/definitions/types.xml',
];

for (const file of files) {
  test(`${file} parses without errors or warnings`, () => {
    try {
      const def = parseDefinition(readFileSync(file, 'utf8'), file);
      assert.deepEqual(def.warnings.map(formatDiagnostic), []);
    } catch (err) {
      if (err instanceof DefinitionError) assert.fail(err.message);
      throw err;
    }
  });
}
