#!/usr/bin/env node
// npm run mutate [GROUP…]: StrykerJS over the security- and routing-critical modules, one group of modules
// at a time (stryker.config.mjs), each with only the tests that exercise it, stopping each test run at its
// first failure. Prints the score per module and every surviving mutant, and writes the same as Markdown
// to reports/mutation/summary.md (docs/testing.md keeps the last recorded one).
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { GROUPS } from '../stryker.config.mjs';

const root = path.resolve(new URL('..', import.meta.url).pathname);
const asked = process.argv.slice(2);
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
const started = Date.now();
for (const name of groups) {
  const t0 = Date.now();
  console.log(`\n== npm run mutate: group ${name} (${GROUPS[name].mutate.join(', ')})`);
  const run = spawnSync('npx', ['stryker', 'run', 'stryker.config.mjs'], {
    cwd: root,
    stdio: 'inherit',
    env: { ...process.env, PEERWAY_MUTATE_GROUP: name, PEERWAY_TEST_BAIL: '1' },
  });
  if (run.status !== 0) {
    console.error(`npm run mutate: stryker failed for group ${name} (exit ${run.status ?? run.signal})`);
    process.exit(1);
  }
  const report = JSON.parse(readFileSync(path.join(root, 'reports', 'mutation', `${name}.json`), 'utf8'));
  for (const [file, { mutants }] of Object.entries(report.files)) {
    const count = (set) => mutants.filter((m) => set.has(m.status)).length;
    const detected = count(DETECTED);
    const undetected = count(UNDETECTED);
    rows.push({ group: name, file, detected, undetected, score: detected + undetected === 0 ? 100 : (100 * detected) / (detected + undetected) });
    for (const m of mutants.filter((x) => UNDETECTED.has(x.status))) {
      survivors.push(`${file}:${m.location.start.line}:${m.location.start.column} ${m.mutatorName}${m.replacement ? ` → ${m.replacement.replace(/\s+/g, ' ').slice(0, 80)}` : ''} (${m.status})`);
    }
  }
  console.log(`== group ${name}: ${((Date.now() - t0) / 60_000).toFixed(1)} min`);
}

const minutes = ((Date.now() - started) / 60_000).toFixed(1);
const table = [
  '| group | module | detected | survived | score |',
  '| --- | --- | ---: | ---: | ---: |',
  ...rows.map((r) => `| ${r.group} | \`${r.file}\` | ${r.detected} | ${r.undetected} | ${r.score.toFixed(1)}% |`),
].join('\n');
const summary = `${table}\n\n${groups.length} group(s) in ${minutes} min.\n\nSurviving mutants:\n\n${survivors.length === 0 ? '(none)' : survivors.map((s) => `- ${s}`).join('\n')}\n`;
mkdirSync(path.join(root, 'reports', 'mutation'), { recursive: true });
writeFileSync(path.join(root, 'reports', 'mutation', 'summary.md'), summary);
console.log(`\n${summary}`);
