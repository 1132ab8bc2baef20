import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { ERROR_CODES } from '../../src/errors.js';
import { PUSH_TYPES, REQUEST_TYPES } from '../../src/wire/messages.js';
import { ROOT } from '../helpers/harness.js';

test('docs/errors.md documents every error code', async () => {
  const text = await readFile(`${ROOT}/docs/errors.md`, 'utf8');
  const documented = new Set([...text.matchAll(/^## ([A-Z_]+)\s*$/gm)].map((m) => m[1]));
  const missing = Object.keys(ERROR_CODES).filter((c) => !documented.has(c));
  assert.deepEqual(missing, [], `add a "## CODE" section to docs/errors.md for: ${missing.join(', ')}`);
  const unknown = [...documented].filter((c) => !(c in ERROR_CODES));
  assert.deepEqual(unknown, [], `docs/errors.md documents codes that do not exist: ${unknown.join(', ')}`);
});

test('the README shows the two commands a new user starts with, and they are what the scripts and CI run', async () => {
  const text = await readFile(`${ROOT}/README.md`, 'utf8');
  const quickStart = text.slice(text.indexOf('## Quick start'), text.indexOf('\n## ', text.indexOf('## Quick start') + 1));
  assert.match(quickStart, /```sh\n(?:.*\n)*?npm install && npm start\n/, 'the demo command, in a shell block of the Quick start');
  assert.match(quickStart, /```sh\n(?:.*\n)*?npm install && npm test\n/, 'the test command, in a shell block of the Quick start');
  const pkg = JSON.parse(await readFile(`${ROOT}/package.json`, 'utf8')) as { scripts: Record<string, string> };
  assert.equal(pkg.scripts.start, 'node bin/peerway demo', 'npm start runs the demo');
  assert.ok(pkg.scripts.test, 'npm test is defined');
  const ci = await readFile(`${ROOT}/.ci/run`, 'utf8');
  assert.match(ci, /^npm install && npm test$/m, '.ci/run runs exactly the README test command');
});

/** The message types in the first column of the tables under `heading` in docs/protocol.md (up to the next heading). */
function tableTypes(text: string, heading: string): string[] {
  const rows: string[] = [];
  for (const line of text.slice(text.indexOf(heading) + heading.length).split('\n').slice(1)) {
    if (line.startsWith('#')) break;
    const m = /^\| `([a-z]+)` \|/.exec(line);
    if (m) rows.push(m[1]);
  }
  return [...new Set(rows)].sort();
}

test("docs/protocol.md's request and push tables list exactly the message kinds the code has", async () => {
  const text = await readFile(`${ROOT}/docs/protocol.md`, 'utf8');
  assert.deepEqual(tableTypes(text, '### Requests'), [...REQUEST_TYPES].sort());
  assert.deepEqual(tableTypes(text, '### Pushes'), [...PUSH_TYPES].sort());
});
