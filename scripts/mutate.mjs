#!/usr/bin/env node
// npm run mutate [GROUP…]: StrykerJS over the security- and routing-critical modules, one group of modules
// at a time (stryker.config.mjs), each with only the tests that exercise it, stopping each test run at its
// first failure. Prints the score per module and every surviving mutant, and writes the same as Markdown
// to reports/mutation/summary.md (docs/testing.md keeps the last recorded one).
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { GROUPS } from '../stryker.config.mjs';

const root = path.resolve(new URL('..', import.meta.url).pathname);
// --summary: print the summary of the last run's reports again, without running Stryker.
const summaryOnly = process.argv.includes('--summary');
const asked = process.argv.slice(2).filter((a) => a !== '--summary');
for (const name of asked) {
  if (!GROUPS[name]) {
    console.error(`npm run mutate: no group "${name}"; the groups are ${Object.keys(GROUPS).join(', ')}`);
    process.exit(2);
  }
}
const groups = asked.length > 0 ? asked : Object.keys(GROUPS);

const DETECTED = new Set(['Killed', 'Timeout']);
const UNDETECTED = new Set(['Survived', 'NoCoverage']);
const rows = [];
const survivors = [];
const timings = [];
const started = Date.now();
for (const name of groups) {
  const t0 = Date.now();
  const reportFile = path.join(root, 'reports', 'mutation', `${name}.json`);
  if (summaryOnly && !existsSync(reportFile)) continue;
  console.log(`\n== npm run mutate: group ${name} (${GROUPS[name].mutate.join(', ')})`);
  const run = summaryOnly ? { status: 0 } : spawnSync('npx', ['stryker', 'run', 'stryker.config.mjs'], {
    cwd: root,
    stdio: 'inherit',
    env: { ...process.env, PEERWAY_MUTATE_GROUP: name, PEERWAY_TEST_BAIL: '1' },
  });
  if (run.status !== 0) {
    console.error(`npm run mutate: stryker failed for group ${name} (exit ${run.status ?? run.signal})`);
    process.exit(1);
  }
  const report = JSON.parse(readFileSync(reportFile, 'utf8'));
  for (const [file, { mutants }] of Object.entries(report.files)) {
    const count = (set) => mutants.filter((m) => set.has(m.status)).length;
    const detected = count(DETECTED);
    const undetected = count(UNDETECTED);
    rows.push({ group: name, file, detected, undetected, score: detected + undetected === 0 ? 100 : (100 * detected) / (detected + undetected) });
    for (const m of mutants.filter((x) => UNDETECTED.has(x.status))) {
      survivors.push(`${file}:${m.location.start.line}:${m.location.start.column} ${m.mutatorName}${m.replacement ? ` → ${m.replacement.replace(/\s+/g, ' ').slice(0, 80)}` : ''} (${m.status})`);
    }
  }
  timings.push(summaryOnly ? name : `${name} ${((Date.now() - t0) / 60_000).toFixed(1)} min`);
  console.log(`== group ${name}: ${timings.at(-1)}`);
  // After every group, so that a run stopped half-way keeps the summary of the groups it finished.
  writeSummary();
}
console.log(`\n${readFileSync(path.join(root, 'reports', 'mutation', 'summary.md'), 'utf8')}`);

function writeSummary() {
  const minutes = ((Date.now() - started) / 60_000).toFixed(1);
  const table = [
    '| group | module | detected | survived | score |',
    '| --- | --- | ---: | ---: | ---: |',
    ...rows.map((r) => `| ${r.group} | \`${r.file}\` | ${r.detected} | ${r.undetected} | ${r.score.toFixed(1)}% |`),
  ].join('\n');
  const list = survivors.length === 0 ? '(none)' : survivors.map((s) => `- ${s}`).join('\n');
  const summary = `${table}\n\n${timings.length} group(s) in ${minutes} min (${timings.join(', ')}).\n\nSurviving mutants:\n\n${list}\n`;
  mkdirSync(path.join(root, 'reports', 'mutation'), { recursive: true });
  writeFileSync(path.join(root, 'reports', 'mutation', 'summary.md'), summary);
}
