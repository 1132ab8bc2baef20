import { test } from 'node:test';
import assert from 'node:assert/strict';
import { formatReport, runFuzz } from './fuzz-targets.js';

/**
 * The fuzz suite's share of `npm test` (issue "Hardening"): 10,000 cases from a fixed seed against a real
 * server and runner, the parsers in a worker. A failure names the case; rebuild it with
 * `node scripts/fuzz.mjs --seed 20240611 --replay TARGET:BATCH:INDEX`. The long run is `npm run fuzz`.
 */
const SEED = 20240611;
const CASES = 10_000;

test(`10,000 fuzzed frames, messages, datagrams and definitions (seed ${SEED}) crash nothing, hang nothing, leak nothing, and the good client is served throughout`, { timeout: 540_000 }, async (t) => {
  // 20-30 s alone on 2 cores. The budget only stops a run that stopped progressing: on a machine busy with
  // other work (a bench, other suites) the same cases take minutes, and they must all still run.
  const report = await runFuzz({ seed: SEED, cases: CASES, timeBudgetMs: 480_000, concurrency: 4 });
  const summary = formatReport(report);
  for (const line of summary.split('\n')) t.diagnostic(line);
  const failures = report.failures.map((f) => `${f.kind} ${f.caseKey ?? f.target}: ${f.message}${f.file ? ` (saved: ${f.file})` : ''}`).join('\n\n');
  assert.equal(report.crashes, 0, `crashes:\n${failures}`);
  assert.equal(report.hangs, 0, `hangs:\n${failures}`);
  assert.equal(report.leakedFds, 0, `leaked descriptors:\n${failures}`);
  assert.equal(report.parserErrors, 0, `parsers threw what they must not:\n${failures}`);
  assert.equal(report.violations, 0, `violations:\n${failures}`);
  assert.equal(report.goodFailures, 0, `the good client was not served:\n${failures}`);
  assert.ok(report.goodChecks > 100, `the good client was checked ${report.goodChecks} times`);
  assert.equal(report.cases, CASES, `only ${report.cases} of ${CASES} cases ran within the time budget`);
});
