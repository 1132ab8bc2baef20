/**
 * Command-line entry of the long fuzz run (scripts/fuzz.mjs starts it under tsx):
 * `--cases N --seed S --minutes M [--concurrency C] [--max-restarts R] [--targets a,b] [--replay target:batch:index[-last]]`.
 * Prints the counts and exits 1 on any crash, hang, leak or good-client failure.
 */
import { parseArgs } from 'node:util';
import { TARGETS, formatReport, replayCase, runFuzz, type TargetName } from './fuzz-targets.js';

// A signal would end this process without its exit handlers, and those stop the server and runner it started.
for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, () => process.exit(130));

const { values } = parseArgs({
  options: {
    cases: { type: 'string', default: '100000' },
    seed: { type: 'string' },
    minutes: { type: 'string', default: '20' },
    concurrency: { type: 'string', default: '4' },
    'max-restarts': { type: 'string', default: '300' },
    targets: { type: 'string' },
    replay: { type: 'string' },
  },
});
const seed = values.seed !== undefined ? Number(values.seed) : Math.floor(Math.random() * 2 ** 31);
const targets = values.targets?.split(',').map((t) => t.trim()) as TargetName[] | undefined;
const unknown = targets?.filter((t) => !TARGETS.includes(t));
if (!Number.isInteger(seed) || Number(values.cases) < 1 || !(Number(values.minutes) > 0) || unknown?.length) {
  console.error(`usage: node scripts/fuzz.mjs [--cases N] [--seed S] [--minutes M] [--concurrency C] [--max-restarts R] [--targets ${TARGETS.join(',')}] [--replay target:batch:index[-last]]`);
  process.exit(2);
}

if (values.replay) {
  console.log(await replayCase(seed, values.replay));
  process.exit(0);
}
console.log(`peerway fuzz: seed ${seed} (reproduce with --seed ${seed}), ${values.cases} cases, at most ${values.minutes} min`);
const report = await runFuzz({
  seed,
  cases: Number(values.cases),
  timeBudgetMs: Number(values.minutes) * 60_000,
  concurrency: Number(values.concurrency),
  // A long run goes on past a crash (each distinct one is reported once), so it covers every target.
  maxRestarts: Number(values['max-restarts']),
  ...(targets ? { targets } : {}),
  log: (line) => console.log(line),
});
console.log(formatReport(report));
const failed = report.crashes + report.hangs + report.leakedFds + report.goodFailures + report.parserErrors + report.violations > 0;
process.exit(failed ? 1 : 0);
