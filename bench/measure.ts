import { createHistogram, type RecordableHistogram } from 'node:perf_hooks';
import { PeerwayError } from '../src/errors.js';
import { CpuTally, formatCpu, type CpuPerOp, type ProcessSet } from './cpu.js';
import type { Figure } from './model.js';

/**
 * Measurement loops. Every loop is bounded twice, by a count and by a time, so it stops by itself even
 * when the thing measured is far slower than planned; every round runs under a deadline so a lost reply
 * fails the scenario instead of hanging the bench.
 */

/** Slices per latency round (see latencyRounds). */
const SLICES = 10;

/** How much work one latency series does. */
export interface LatencyPlan {
  warmup: number;
  rounds: number;
  /** Iterations per round … */
  perRound: number;
  /** … or this long, whichever comes first. */
  maxRoundMs: number;
}

/** Latency summary in microseconds. */
export interface LatencyStats {
  /** Median of the per-round medians: robust to one noisy round. */
  p50: number;
  /** 99th percentile of all rounds pooled. */
  p99: number;
  mean: number;
  samples: number;
  roundP50s: number[];
}

/** One thing whose latency is measured, under a key that names it in the results. */
export interface LatencySeries {
  key: string;
  /** One operation (a call, a ping-pong); its duration is one sample. */
  once: () => Promise<unknown>;
  /** Untimed clean-up after each operation, given its result (stopping a session whose start was timed). */
  after?: (result: unknown) => Promise<unknown>;
}

/** Called between rounds (never inside a timed loop) so the progress display costs nothing measured. */
export type RoundHook = (what: string) => void;

/**
 * Runs the series' warm-ups, then `rounds` rounds. Within a round the series take turns in slices, in an
 * order that rotates, so drift (CPU frequency, a neighbour's noise) hits each series alike; each round
 * yields one median per series.
 */
export async function latencyRounds(series: LatencySeries[], plan: LatencyPlan, hook: RoundHook = () => {}): Promise<Map<string, LatencyStats>> {
  const pooled = new Map<string, RecordableHistogram>();
  const roundP50s = new Map<string, number[]>();
  for (const s of series) {
    hook(`${s.key}: warm-up`);
    await withDeadline(loop(s, plan.warmup, plan.maxRoundMs), plan.maxRoundMs + 15_000, `${s.key} warm-up`);
    pooled.set(s.key, createHistogram());
    roundP50s.set(s.key, []);
  }
  // A round is cut in slices that alternate between the series: on a shared or virtual machine the
  // background noise changes within seconds, and fine interleaving makes every series see the same noise.
  const slices = Math.max(1, Math.min(SLICES, plan.perRound));
  for (let r = 0; r < plan.rounds; r++) {
    hook(`round ${r + 1}/${plan.rounds}`);
    const hs = series.map(() => createHistogram());
    for (let slice = 0; slice < slices; slice++) {
      for (let i = 0; i < series.length; i++) {
        const k = (i + r + slice) % series.length;
        const s = series[k];
        const count = Math.ceil(plan.perRound / slices);
        const ms = plan.maxRoundMs / slices;
        await withDeadline(loop(s, count, ms, hs[k]), ms + 15_000, `${s.key} round ${r + 1}`);
      }
    }
    series.forEach((s, k) => {
      const h = hs[k];
      if (h.count > 0) roundP50s.get(s.key)!.push(h.percentile(50) / 1000);
      pooled.get(s.key)!.add(h);
    });
  }
  const out = new Map<string, LatencyStats>();
  for (const s of series) {
    const h = pooled.get(s.key)!;
    out.set(s.key, {
      p50: median(roundP50s.get(s.key)!),
      p99: h.count > 0 ? h.percentile(99) / 1000 : NaN,
      mean: h.count > 0 ? h.mean / 1000 : NaN,
      samples: h.count,
      roundP50s: roundP50s.get(s.key)!,
    });
  }
  return out;
}

async function loop(s: LatencySeries, count: number, maxMs: number, h?: RecordableHistogram): Promise<void> {
  const deadline = performance.now() + maxMs;
  for (let i = 0; i < count; i++) {
    const t0 = process.hrtime.bigint();
    const result = await s.once();
    if (h) h.record(Math.max(1, Number(process.hrtime.bigint() - t0)));
    if (s.after) await s.after(result);
    // Checking the clock every 16 iterations keeps its cost out of the fast loops.
    if ((i & 15) === 15 && performance.now() > deadline) break;
  }
}

/** A latency figure from stats, in µs (or ms for slower things such as session starts). */
export function latencyFigure(label: string, stats: LatencyStats | undefined, options: { unit?: 'µs' | 'ms'; detail?: string; extra?: Record<string, unknown> } = {}): Figure {
  const unit = options.unit ?? 'µs';
  if (!stats || stats.samples === 0) return { label, value: null, unit, na: 'n/a (no samples)' };
  const k = unit === 'ms' ? 1 / 1000 : 1;
  const f: Figure = {
    label,
    value: round3(stats.p50 * k),
    unit,
    p99: round3(stats.p99 * k),
    extra: { mean: round3(stats.mean * k), samples: stats.samples, roundP50s: stats.roundP50s.map((x) => round3(x * k)), ...options.extra },
  };
  if (options.detail) f.detail = options.detail;
  return f;
}

/** One round of a throughput measurement: how many things happened in how long. */
export interface RateSample {
  count: number;
  seconds: number;
  /** Extra per-round numbers (loss, sent …), kept in the JSON. */
  extra?: Record<string, number>;
}

/** One thing whose throughput is measured: a round does bounded work and says how much and how long. */
export interface RateSeries {
  key: string;
  round: () => Promise<RateSample>;
  /** Deadline for one round (the round's own bounds should stop it well before). */
  deadlineMs: number;
  /**
   * The processes this series keeps busy (label → pid), the bench's own included: their CPU time is read
   * from /proc before and after each measured round (not inside it) and reported per operation.
   */
  processes?: ProcessSet;
}

/** Throughput summary of one series. */
export interface RateStats {
  /** Median of the per-round rates, per second. */
  rate: number;
  rounds: RateSample[];
  /** CPU µs per operation of each of the series' processes over the measured rounds (Linux). */
  cpu?: CpuPerOp;
}

/** Throughput rounds, interleaved and rotated like latencyRounds; `warmup` rounds are run and dropped. */
export async function rateRounds(series: RateSeries[], rounds: number, warmup: number, hook: RoundHook = () => {}): Promise<Map<string, RateStats>> {
  const samples = new Map<string, RateSample[]>(series.map((s) => [s.key, []]));
  const tallies = new Map<string, CpuTally>(series.filter((s) => s.processes).map((s) => [s.key, new CpuTally(s.processes!)]));
  for (let r = 0; r < warmup + rounds; r++) {
    for (let i = 0; i < series.length; i++) {
      const s = series[(i + r) % series.length];
      const warm = r < warmup;
      hook(`${s.key}: ${warm ? 'warm-up' : `round ${r - warmup + 1}/${rounds}`}`);
      const tally = warm ? undefined : tallies.get(s.key);
      const before = tally?.snapshot();
      const sample = await withDeadline(s.round(), s.deadlineMs, `${s.key} round`);
      if (tally && before) tally.add(before, sample.count);
      if (!warm) samples.get(s.key)!.push(sample);
    }
  }
  const out = new Map<string, RateStats>();
  for (const [key, list] of samples) {
    const cpu = tallies.get(key)?.perOp();
    out.set(key, { rate: median(list.map((x) => (x.seconds > 0 ? x.count / x.seconds : 0))), rounds: list, ...(cpu ? { cpu } : {}) });
  }
  return out;
}

/** A throughput figure from stats. */
export function rateFigure(label: string, unit: string, stats: RateStats | undefined, detail?: string, extra?: Record<string, unknown>): Figure {
  if (!stats || stats.rounds.length === 0) return { label, value: null, unit, na: 'n/a (no samples)' };
  const f: Figure = {
    label,
    value: Math.round(stats.rate),
    unit,
    extra: { rounds: stats.rounds.map((r) => ({ count: r.count, seconds: round3(r.seconds), ...r.extra })), ...(stats.cpu ? { cpuUsPerOp: stats.cpu } : {}), ...extra },
  };
  if (detail) f.detail = detail;
  return f;
}

/**
 * `CPU µs per call, direct: bench 3.10 · runner 2.20 · total 5.30` for a note, or undefined when the
 * series' CPU was not measured.
 */
export function cpuNote(per: string, key: string, stats: RateStats | undefined): string | undefined {
  if (!stats?.cpu) return undefined;
  return `CPU µs per ${per}, ${key}: ${formatCpu(stats.cpu)}`;
}

/**
 * Keeps `inFlight` operations going until `maxCount` were started or `maxMs` passed, then waits for the
 * last ones: a closed-loop pipelined load.
 */
export async function pipelined(op: () => Promise<unknown>, inFlight: number, maxCount: number, maxMs: number): Promise<RateSample> {
  const t0 = performance.now();
  const deadline = t0 + maxMs;
  let started = 0;
  let done = 0;
  const worker = async () => {
    while (started < maxCount && performance.now() < deadline) {
      started++;
      await op();
      done++;
    }
  };
  await Promise.all(Array.from({ length: inFlight }, worker));
  return { count: done, seconds: (performance.now() - t0) / 1000 };
}

/** Rejects with TIMEOUT when `promise` takes longer than `ms`. */
export function withDeadline<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new PeerwayError('TIMEOUT', `${what} did not finish within ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/** The median (NaN for no values). */
export function median(xs: number[]): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
}

/** Rounded to 3 decimals, for the results file. */
export function round3(x: number): number {
  return Number.isFinite(x) ? Math.round(x * 1000) / 1000 : x;
}

/** Resolves after `ms` (between phases, never inside a timed loop). */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
