/**
 * The fault matrix of the recovery issue (point 6), on real processes: `runFault(name)` starts a server and
 * a runner hosting test/fixtures/recovery/keeper.xml (keepalive 500 ms + 500 ms on every peer), puts a
 * client under load (test/soak/load.ts), injects one fault (test/soak/faults.ts), waits for recovery, and
 * checks what the issue promises:
 *
 * - no hang: every call settles within its timeout (plus 3 s), recovery comes within `recoverBoundMs`, the
 *   run ends within `boundMs`;
 * - typed errors: every failed call is a PeerwayError with one of the codes the fault allows;
 * - no loss: every acknowledged `record` id is in the service's journal exactly once, and no id ran twice;
 *   runtime data converges (a `bump` after recovery reaches the watch and `session.data` with the value the
 *   service returned) and the event subscription is back (that bump's event arrives); no `bumped` event is delivered twice (events missed are counted, not failed: the
 *   stated guarantee of src/client/link-failover.ts);
 * - the session is back where it was: not lost, `record` on its direct link again, server and runner alive.
 *
 * Used by test/integration/fault-matrix.test.ts (each fault once) and by `npm run soak` (rounds, a table).
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { connect, type PeerwayClient } from '../../src/client/client.js';
import { Cluster, KEEPALIVE_MS, KEEPALIVE_TIMEOUT_MS, within } from './cluster.js';
import { FAULTS, startWatcher, type Fault, type FaultContext, type FaultName } from './faults.js';
import { Load, type CallRecord } from './load.js';

export { FAULTS, type Fault, type FaultName } from './faults.js';

export interface FaultOptions {
  /** Time allowed for each call of the load (default 8 s: longer than any outage the faults cause). */
  callTimeoutMs?: number;
  /** How long a SIGSTOP lasts (default 3 s) and a killed process stays down before its restart (default 1 s). */
  stopMs?: number;
  downMs?: number;
  /** `record` calls acknowledged before the fault (default 100). */
  warmupCalls?: number;
  /** Load kept on after recovery (default 1.5 s). */
  afterMs?: number;
  /** Pause between `record` calls (default 2 ms) and between `bump` calls (default 100 ms). */
  paceMs?: number;
  bumpEveryMs?: number;
  /** Recovery must come within this (default 20 s), the whole run end within `boundMs` (default 60 s). */
  recoverBoundMs?: number;
  boundMs?: number;
  /** Progress lines. */
  log?: (line: string) => void;
}

export interface FaultResult {
  fault: FaultName;
  /** No check failed. */
  ok: boolean;
  /** What failed, one line each (the first lines say where). */
  violations: string[];
  /** Facts worth a look that are no failure (what shed a peer, warnings). */
  notes: string[];
  /** Fault → first acknowledged call (of the fault's probe kind) started after it. */
  outageMs?: number;
  /** Peer back (restarted and ready, or SIGCONT) → first acknowledged call; see `restoredAt` of each fault. */
  restoreMs?: number;
  /** The longest time without an acknowledged call of the probe kind, from the fault to the end of the load. */
  gapMs?: number;
  /** The same for `record` (the direct link): what the load as a whole saw. */
  recordGapMs?: number;
  /**
   * Calls (record, bump) in flight when the fault was noticed, that is started before the first failure it
   * caused: the longest time from the fault to their typed error (how long a caller waits to hear that its
   * call is lost).
   */
  inFlightFailedMs?: number;
  /** `record` and `bump` calls acknowledged. */
  callsOk: number;
  /** Failed calls (record, bump, services) by error code, and by kind then code. */
  failures: Record<string, number>;
  failuresByKind: Partial<Record<CallRecord['kind'], Record<string, number>>>;
  unexpected: Record<string, number>;
  hangs: number;
  /** Acknowledged `record` ids missing from the journal, and ids the journal holds more than once. */
  lost: number;
  duplicates: number;
  /** A `bump` after recovery reached the watch and the session's copy with the value the service returned. */
  converged: boolean;
  events: { expected: number; delivered: number; duplicated: number; missed: number };
  /** The end of each process's stderr, when a check failed. */
  logs?: Record<string, string>;
  /** Slowest `services` answer of the server (ms). */
  serverMaxMs?: number;
  durationMs: number;
}

/** The middle value (the lower of the two middle ones for an even count). */
export const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor((xs.length - 1) / 2)];

/** Runs one fault on fresh processes and returns what the checks found; never throws for a failed check. */
export async function runFault(fault: FaultName | Fault, options: FaultOptions = {}): Promise<FaultResult> {
  const spec = typeof fault === 'string' ? FAULTS.find((f) => f.name === fault) : fault;
  if (!spec) throw new Error(`unknown fault "${typeof fault === 'string' ? fault : fault.name}" (faults: ${FAULTS.map((f) => f.name).join(', ')})`);
  const boundMs = options.boundMs ?? 60_000;
  const dir = await mkdtemp(path.join(os.tmpdir(), 'peerway-fault-'));
  const journal = path.join(dir, 'journal');
  const cluster = new Cluster({ KEEPER_JOURNAL: journal });
  const startedAt = performance.now();
  let client: PeerwayClient | undefined;
  let timer: NodeJS.Timeout | undefined;
  const overrun = new Promise<'overrun'>((resolve) => (timer = setTimeout(() => resolve('overrun'), boundMs)));
  try {
    const outcome = await Promise.race([
      measure(spec, cluster, journal, options, (c) => (client = c)),
      overrun,
    ]);
    if (outcome !== 'overrun') return outcome;
    return {
      ...emptyResult(spec.name),
      violations: [`${spec.name}: the run did not end within ${boundMs} ms (a hang)`],
      durationMs: performance.now() - startedAt,
    };
  } catch (err) {
    return { ...emptyResult(spec.name), violations: [`${spec.name}: the run failed: ${(err as Error).stack ?? String(err)}`], durationMs: performance.now() - startedAt };
  } finally {
    clearTimeout(timer);
    const closing = client?.close().catch(() => undefined);
    await within(closing ?? Promise.resolve(), 3000);
    await cluster.stopAll();
    await rm(dir, { recursive: true, force: true });
  }
}

function emptyResult(fault: FaultName): FaultResult {
  return {
    fault,
    ok: false,
    violations: [],
    notes: [],
    callsOk: 0,
    failures: {},
    failuresByKind: {},
    unexpected: {},
    hangs: 0,
    lost: 0,
    duplicates: 0,
    converged: false,
    events: { expected: 0, delivered: 0, duplicated: 0, missed: 0 },
    durationMs: 0,
  };
}

async function measure(spec: Fault, cluster: Cluster, journal: string, options: FaultOptions, adoptClient: (c: PeerwayClient) => void): Promise<FaultResult> {
  const log = options.log ?? (() => undefined);
  const callTimeoutMs = options.callTimeoutMs ?? 8000;
  const startedAt = performance.now();
  await cluster.startServer();
  await cluster.startRunner();
  const watcher = spec.watcher ? startWatcher(cluster) : undefined;
  if (watcher) await watcher.proc.waitFor(/"initial":true/);

  const client = await connect(cluster.serverUrl, {
    timeoutMs: callTimeoutMs,
    connectTimeoutMs: 1000, // a stopped server accepts TCP but never says hello: dial again soon
    limits: { keepAliveMs: KEEPALIVE_MS, keepAliveTimeoutMs: KEEPALIVE_TIMEOUT_MS },
    agent: `fault-matrix/${spec.name}`,
  });
  adoptClient(client);
  const violations: string[] = [];
  const notes: string[] = [];
  client.on('warning', (text: string) => notes.push(`warning: ${text}`));
  client.on('error', (err: Error) => violations.push(`client error event: ${err.message}`));
  client.on('session-lost', ({ error }: { error: Error }) => violations.push(`session lost: ${error.message}`));
  const session = await client.startSession('Keeper');
  const load = new Load(client, session, () => cluster.epoch, {
    callTimeoutMs,
    recordLoops: spec.recordLoops ?? 1,
    paceMs: options.paceMs ?? 2,
    bumpEveryMs: options.bumpEveryMs ?? 100,
    serverProbeEveryMs: 100,
    maxCalls: 200_000,
    maxMs: (options.boundMs ?? 60_000) - 5000,
  });
  await load.subscribe();
  load.start();
  const warmup = options.warmupCalls ?? 100;
  await until(() => load.acknowledged('record').length >= warmup, 15_000, `${warmup} acknowledged calls before the fault`);

  const ctx: FaultContext = { cluster, client, session, load, ...(watcher ? { watcher } : {}), stopMs: options.stopMs ?? 3000, downMs: options.downMs ?? 1000, faultAt: 0, violations, notes };
  log(`${spec.name}: injecting (${spec.title})`);
  await spec.inject(ctx);

  // Recovered: a call of the probe kind started after the fault was acknowledged after the peer was back.
  const recoverBoundMs = options.recoverBoundMs ?? 20_000;
  const recovered = () => load.acknowledged(spec.probe, ctx.faultAt).find((c) => (c.settledAt ?? 0) >= (ctx.peerBackAt ?? ctx.faultAt));
  const back = await until(() => recovered() !== undefined, recoverBoundMs, '').then(
    () => true,
    () => false,
  );
  if (!back) violations.push(`${spec.name}: no ${spec.probe} call acknowledged within ${recoverBoundMs} ms of the ${ctx.peerBackAt ? 'peer coming back' : 'fault'}`);
  await sleep(options.afterMs ?? 1500);
  await load.stop();
  const loadEndedAt = performance.now();

  // Runtime data converges: a bump after recovery reaches the watch and the session's copy.
  const converged = await convergence(load, violations);
  // The session is back on its direct link (a failover moved back, a restart took it again).
  await until(() => session.routeFor('method', 'record').linkType === 'direct', 10_000, '').catch(() =>
    violations.push(`record is still routed ${JSON.stringify(session.routeFor('method', 'record'))} 10 s after the load`),
  );
  if (session.ended) violations.push('the session ended');
  for (const [what, proc] of [['server', cluster.server], ['runner', cluster.runner]] as const) {
    if (proc.child.exitCode !== null || proc.child.signalCode !== null) violations.push(`the ${what} exited (${proc.child.exitCode ?? proc.child.signalCode}):\n${proc.stderr().slice(-2000)}`);
  }
  await sleep(300); // the last events on their way

  const calls = load.calls;
  const failures = countBy(calls.filter((c) => c.ok === false).map((c) => c.code ?? '?'));
  const unexpected = Object.fromEntries(Object.entries(failures).filter(([code]) => !spec.expected.includes(code)));
  for (const [code, n] of Object.entries(unexpected)) violations.push(`${n} call(s) failed with ${code}, not expected under ${spec.name}: ${example(calls, code)}`);
  const hangs = calls.filter((c) => c.hung).length;
  if (hangs > 0) violations.push(`${hangs} call(s) did not settle within ${callTimeoutMs} ms + 3 s: ${calls.filter((c) => c.hung).map((c) => c.id ?? c.kind).join(', ')}`);
  if (spec.freezes && ctx.peerBackAt !== undefined) {
    // Sent before the keepalive could have noticed anything (it pings after KEEPALIVE_MS of silence): these
    // went to the frozen process, and must fail when the keepalive gives up on it, long before it wakes.
    const sentEarly = ctx.faultAt + KEEPALIVE_MS / 2;
    const held = calls.filter((c) => c.startedAt < sentEarly && (c.settledAt === undefined || c.settledAt > ctx.faultAt) && (c.settledAt ?? Infinity) >= ctx.peerBackAt!);
    if (held.length > 0) {
      violations.push(`${held.length} call(s) sent as the process froze were held until it woke up (the keepalive did not fail them): ${held.map((c) => `${c.kind} ${c.ok === true ? 'ok' : c.code} after ${c.settledAt === undefined ? '∞' : Math.round(c.settledAt - ctx.faultAt)} ms`).join(', ')}`);
    }
  }
  // Calls made while a peer is away wait for it (within their timeout): only those in flight when the
  // fault struck may fail, one per loop (record, bump), and a few more as a restarted session drops its links.
  const failedCalls = calls.filter((c) => c.ok === false && c.kind !== 'services');
  if (failedCalls.length > (spec.recordLoops ?? 1) + 3) {
    violations.push(`${failedCalls.length} record/bump calls failed; only those in flight when the fault struck may: ${failedCalls.slice(0, 6).map((c) => `${c.kind} ${c.code} at +${Math.round(c.startedAt - ctx.faultAt)} ms`).join(', ')}`);
  }
  const unanswered = calls.filter((c) => c.kind === 'services' && c.ok === false);
  if (spec.serverStaysUp && unanswered.length > 0) violations.push(`the server did not answer ${unanswered.length} services request(s) although it stayed up: ${unanswered[0].message}`);

  const { lost, duplicates } = await journalCheck(journal, load.acknowledged('record'), violations);
  const events = eventCheck(load, violations);
  const probeAcks = load.acknowledged(spec.probe, ctx.faultAt).map((c) => c.settledAt!);
  const first = probeAcks.length > 0 ? probeAcks.reduce((a, b) => Math.min(a, b)) : undefined;
  const since = ctx.peerBackAt ?? ctx.faultAt;
  const firstAfterBack = probeAcks.filter((t) => t >= since).sort((a, b) => a - b)[0];
  const restoreMs = ctx.restoredAt !== undefined ? ctx.restoredAt - since : ctx.peerBackAt !== undefined && firstAfterBack !== undefined ? firstAfterBack - ctx.peerBackAt : undefined;
  const failedSince = calls.filter((c) => c.kind !== 'services' && c.ok === false && c.settledAt! >= ctx.faultAt);
  const firstFailure = Math.min(...failedSince.map((c) => c.settledAt!));
  const inFlightFailed = failedSince.filter((c) => c.startedAt <= firstFailure).map((c) => c.settledAt! - ctx.faultAt);
  const serverTimes = calls.filter((c) => c.kind === 'services' && c.ok === true && c.startedAt >= ctx.faultAt).map((c) => c.settledAt! - c.startedAt);
  const result: FaultResult = {
    fault: spec.name,
    ok: violations.length === 0,
    violations: violations.map((v) => `${spec.name}: ${v}`),
    notes,
    ...(first !== undefined ? { outageMs: first - ctx.faultAt } : {}),
    ...(restoreMs !== undefined ? { restoreMs } : {}),
    gapMs: longestGap(ctx.faultAt, probeAcks, loadEndedAt),
    recordGapMs: longestGap(ctx.faultAt, load.acknowledged('record', ctx.faultAt).map((c) => c.settledAt!), loadEndedAt),
    ...(inFlightFailed.length > 0 ? { inFlightFailedMs: Math.max(...inFlightFailed) } : {}),
    callsOk: calls.filter((c) => c.ok === true && c.kind !== 'services').length,
    failures,
    failuresByKind: Object.fromEntries((['record', 'bump', 'services'] as const).map((k) => [k, countBy(calls.filter((c) => c.kind === k && c.ok === false).map((c) => c.code ?? '?'))])),
    unexpected,
    hangs,
    lost,
    duplicates,
    converged,
    events,
    ...(serverTimes.length > 0 ? { serverMaxMs: serverTimes.reduce((a, b) => Math.max(a, b)) } : {}),
    ...(violations.length > 0 ? { logs: cluster.logs() } : {}),
    durationMs: performance.now() - startedAt,
  };
  log(`${spec.name}: ${result.ok ? 'ok' : 'FAILED'} in ${Math.round(result.durationMs)} ms`);
  return result;
}

/** Waits (polling) until `done()`; rejects after `timeoutMs` naming `what`. */
async function until(done: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!done()) {
    if (performance.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(20);
  }
}

/** A bump after the load: its value must reach the watch and the session's copy within 5 s. */
async function convergence(load: Load, violations: string[]): Promise<boolean> {
  let bump: CallRecord | undefined;
  for (let attempt = 0; attempt < 5 && bump?.ok !== true; attempt++) {
    if (attempt > 0) await sleep(500);
    bump = await load.bump();
  }
  if (bump?.ok !== true) {
    violations.push(`the bump after recovery failed: ${bump?.code ?? 'hung'}`);
    return false;
  }
  const { value, startedAt, epoch } = bump;
  const seen = () => load.changes.some((c) => c.at >= startedAt && c.value === value) && load.session.data.get('n') === value;
  // The event subscription came back too: the bump's event arrives (on the direct link).
  const heard = () => load.events.some((e) => e.epoch === epoch && e.n === value);
  let ok = true;
  try {
    await until(seen, 5000, '');
  } catch {
    const after = load.changes.filter((c) => c.at >= startedAt).map((c) => c.value);
    violations.push(`runtime data did not converge: bump returned ${value}, the watch saw ${JSON.stringify(after)} since, session.data has ${JSON.stringify(load.session.data.get('n'))}`);
    ok = false;
  }
  await until(heard, 5000, '').catch(() => violations.push(`the event subscription did not come back: no "bumped" event for the bump after recovery (n=${value})`));
  return ok;
}

/** Every acknowledged id ran exactly once; no id ran twice. */
async function journalCheck(journal: string, acknowledged: CallRecord[], violations: string[]): Promise<{ lost: number; duplicates: number }> {
  const text = await readFile(journal, 'utf8').catch(() => '');
  const counts = countBy(text.split('\n').filter(Boolean));
  const lost = acknowledged.filter((c) => counts[c.id!] === undefined).map((c) => c.id!);
  const twice = Object.entries(counts).filter(([, n]) => n > 1);
  if (lost.length > 0) violations.push(`${lost.length} acknowledged record call(s) are not in the journal: ${lost.slice(0, 10).join(', ')}`);
  if (twice.length > 0) violations.push(`${twice.length} record id(s) ran more than once: ${twice.slice(0, 10).map(([id, n]) => `${id}×${n}`).join(', ')}`);
  return { lost: lost.length, duplicates: twice.length };
}

/**
 * Events on the reliable route: none delivered twice (a violation); one per acknowledged bump expected,
 * those missing counted (the failover window may lose some: reported, not failed).
 */
function eventCheck(load: Load, violations: string[]): FaultResult['events'] {
  const delivered = countBy(load.events.map((e) => `${e.epoch}:${e.n}`));
  const twice = Object.entries(delivered).filter(([, n]) => n > 1);
  if (twice.length > 0) violations.push(`${twice.length} bumped event(s) delivered more than once (epoch:n×times): ${twice.slice(0, 10).map(([k, n]) => `${k}×${n}`).join(', ')}`);
  const expected = load.acknowledged('bump').map((c) => `${c.epoch}:${c.value}`);
  const missed = expected.filter((k) => delivered[k] === undefined).length;
  return { expected: expected.length, delivered: load.events.length, duplicated: twice.length, missed };
}

function longestGap(from: number, acks: number[], to: number): number {
  const times = [from, ...acks.filter((t) => t >= from).sort((a, b) => a - b), to];
  let gap = 0;
  for (let i = 1; i < times.length; i++) gap = Math.max(gap, times[i] - times[i - 1]);
  return gap;
}

function countBy(keys: string[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const k of keys) out[k] = (out[k] ?? 0) + 1;
  return out;
}

function example(calls: CallRecord[], code: string): string {
  const c = calls.find((x) => x.code === code);
  return c ? `${c.kind}${c.id ? ` ${c.id}` : ''}: ${c.message}` : '';
}
