/**
 * Command-line entry of the soak run (scripts/soak.mjs starts it under tsx, after `npm run build`):
 * `--rounds N` (default 3) rounds of every fault of the matrix (test/soak/faults.ts), `--minutes M` (default
 * 5) bound on the whole run, `--only fault,…`, `--pace-ms P` (pause between the load's `record` calls,
 * default 1; 0: as fast as they are answered, which saturates a 2-core machine). Prints a table (Markdown) and exits 1 on any violated check.
 */
import os from 'node:os';
import { parseArgs } from 'node:util';
import { FAULTS, median, runFault, type FaultName, type FaultResult } from './fault-matrix.js';
import { linkCutUnavailable } from './faults.js';

// A signal would end this process without its exit handlers, and those stop the processes it started.
for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, () => process.exit(130));

const { values } = parseArgs({
  options: {
    rounds: { type: 'string', default: '3' },
    minutes: { type: 'string', default: '5' },
    only: { type: 'string' },
    'pace-ms': { type: 'string', default: '1' },
  },
});
const rounds = Number(values.rounds);
const budgetMs = Number(values.minutes) * 60_000;
const paceMs = Number(values['pace-ms']);
const names = values.only?.split(',').map((s) => s.trim()).filter(Boolean) ?? FAULTS.map((f) => f.name);
const unknown = names.filter((n) => !FAULTS.some((f) => f.name === n));
if (!Number.isInteger(rounds) || rounds < 1 || !(budgetMs > 0) || !(paceMs >= 0) || unknown.length > 0) {
  console.error(`usage: npm run soak -- [--rounds N] [--minutes M] [--pace-ms P] [--only ${FAULTS.map((f) => f.name).join(',')}]`);
  process.exit(2);
}

const started = Date.now();
const cutUnavailable = names.includes('link-cut') ? await linkCutUnavailable() : undefined;
const selected = FAULTS.filter((f) => names.includes(f.name) && !(f.name === 'link-cut' && cutUnavailable));
if (cutUnavailable) console.log(`link-cut skipped: ${cutUnavailable}`);
console.log(`peerway soak: ${rounds} round(s) of ${selected.map((f) => f.name).join(', ')}; at most ${values.minutes} min; load paced ${paceMs} ms`);
const load = () => os.loadavg().map((l) => l.toFixed(1)).join(' ');
console.log(`machine: ${os.cpus().length} × ${os.cpus()[0]?.model ?? '?'}, ${Math.round(os.totalmem() / 2 ** 30)} GiB, Node ${process.version}, ${os.type()} ${os.release()}; load average ${load()}`);

const results = new Map<FaultName, FaultResult[]>();
let stoppedEarly = false;
outer: for (let round = 1; round <= rounds; round++) {
  for (const fault of selected) {
    const left = budgetMs - (Date.now() - started);
    // A run takes 3 to 8 s and is bounded by 60 s (or what is left); none starts in the last 20 s.
    if (left < 20_000) {
      stoppedEarly = true;
      break outer;
    }
    const result = await runFault(fault.name, { paceMs, boundMs: Math.min(60_000, left - 5000) });
    results.set(fault.name, [...(results.get(fault.name) ?? []), result]);
    const times = [result.outageMs, result.restoreMs].map((t) => (t === undefined ? '–' : `${Math.round(t)}`)).join(' / ');
    console.log(`round ${round} ${fault.name}: ${result.ok ? 'ok' : 'FAILED'} (outage/restore ${times} ms, ${result.callsOk} calls ok, ${Math.round(result.durationMs)} ms)`);
    for (const v of result.violations) console.log(`  ${v}`);
  }
}

const ms = (xs: (number | undefined)[]) => {
  const known = xs.filter((x): x is number => x !== undefined);
  return known.length === 0 ? '–' : `${Math.round(median(known))} / ${Math.round(Math.max(...known))}`;
};
const max = (xs: (number | undefined)[]) => {
  const known = xs.filter((x): x is number => x !== undefined);
  return known.length === 0 ? '–' : `${Math.round(Math.max(...known))}`;
};
const codes = (counts: Record<string, number>[]) => {
  const sum: Record<string, number> = {};
  for (const c of counts) for (const [k, n] of Object.entries(c)) sum[k] = (sum[k] ?? 0) + n;
  return Object.entries(sum).map(([k, n]) => `${k} ${n}`).join(', ');
};
const rows = [
  '| fault | rounds | in-flight calls failed after ms (max) | outage ms (median / max) | restore ms (median / max) | calls ok | failures by code (record, bump) | server requests failed | record gap ms (max) | duplicates (runs / events) | lost | data converged | events missed |',
  '| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |',
];
for (const fault of selected) {
  const rs = results.get(fault.name) ?? [];
  if (rs.length === 0) continue;
  const sum = (f: (r: FaultResult) => number) => rs.reduce((a, r) => a + f(r), 0);
  rows.push(
    `| ${fault.name} | ${rs.length} | ${max(rs.map((r) => r.inFlightFailedMs))} | ${ms(rs.map((r) => r.outageMs))} | ${ms(rs.map((r) => r.restoreMs))} | ${sum((r) => r.callsOk)} | ` +
      `${codes(rs.flatMap((r) => [r.failuresByKind.record ?? {}, r.failuresByKind.bump ?? {}])) || '–'} | ${codes(rs.map((r) => r.failuresByKind.services ?? {})) || '–'} | ` +
      `${Math.round(rs.reduce((a, r) => Math.max(a, r.recordGapMs ?? 0), 0))} | ${sum((r) => r.duplicates)} / ${sum((r) => r.events.duplicated)} | ${sum((r) => r.lost)} | ${rs.filter((r) => r.converged).length}/${rs.length} | ` +
      `${sum((r) => r.events.missed)} of ${sum((r) => r.events.expected)} |`,
  );
}
console.log('');
console.log(rows.join('\n'));
console.log('');
console.log(
  'in-flight calls failed after: fault → the typed error of the last record or bump call in flight when the fault was noticed (– : none failed). ' +
    'outage: fault → first acknowledged call started after it (record; bump, the server route, for the server faults). ' +
    'restore: peer back (restarted process ready, or SIGCONT) → first acknowledged call; for client-stop, SIGCONT → the watch prints a fresh value; ' +
    'for link-cut, cut → the direct link back in use (rerouted). record gap: the longest time without an acknowledged record call (the direct link) from the fault on.',
);

const failed = [...results.values()].flat().filter((r) => !r.ok);
for (const r of failed) {
  console.log(`\n${r.fault} FAILED:\n${r.violations.join('\n')}`);
  for (const [name, text] of Object.entries(r.logs ?? {})) console.log(`--- ${name} stderr (end):\n${text}`);
}
const minutes = ((Date.now() - started) / 60_000).toFixed(1);
console.log(`\n${failed.length === 0 ? 'all checks held' : `${failed.length} run(s) failed a check`}; ${minutes} min; load average ${load()}${stoppedEarly ? ` (stopped at the ${values.minutes}-minute bound before every round ran)` : ''}`);
process.exit(failed.length > 0 ? 1 : 0);
