import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { acceptedAttributesOf } from '../../src/bearer/attributes.js';
import { availableBearerIds, getBearer } from '../../src/bearer/registry.js';
import { ROOT } from '../helpers/harness.js';

test('docs/bearers.md lists every bearer with every attribute it accepts', async () => {
  const text = await readFile(`${ROOT}/docs/bearers.md`, 'utf8');
  for (const id of availableBearerIds()) {
    const row = text.split('\n').find((l) => l.startsWith(`| \`${id}\` |`));
    assert.ok(row, `docs/bearers.md has no table row for ${id}`);
    for (const name of acceptedAttributesOf(getBearer(id))) assert.ok(row.includes(`\`${name}\``), `docs/bearers.md: the ${id} row does not list attribute ${name}`);
  }
});
