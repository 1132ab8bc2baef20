import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ESLint } from 'eslint';
import { ROOT } from '../helpers/harness.js';

/**
 * ESLint with typescript-eslint's type-checked rules (eslint.config.js) over the sources, tests and bench:
 * a finding fails the suite, listed as `file:line:col rule message`.
 */
test('eslint finds nothing in src/, test/ and bench/', { timeout: 300_000 }, async () => {
  const eslint = new ESLint({ cwd: ROOT });
  const results = await eslint.lintFiles(['src', 'test', 'bench']);
  const findings = results.flatMap((r) => r.messages.map((m) => `${r.filePath.slice(ROOT.length + 1)}:${m.line}:${m.column} ${m.ruleId ?? ''} ${m.message}`));
  assert.ok(results.length > 100, `eslint looked at ${results.length} files`);
  assert.deepEqual(findings, []);
});
