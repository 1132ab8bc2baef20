/**
 * The bench's result model: what every scenario produces, what `bench/results/*.json` holds and what the
 * table prints. A row puts one Peerway figure next to the baseline measured in the same run, with the
 * ratio between them and the target (a goal: never asserted by the test suite).
 */

/** One measured quantity. `value` is null when it could not be measured (`na` says why). */
export interface Figure {
  /** What was measured, e.g. `direct tcp call` or `raw TCP ping-pong`. */
  label: string;
  value: number | null;
  /** `µs`, `ms`, `calls/s`, `events/s`, `updates/s`, `ops/s`, `MB`, `CPU s`. */
  unit: string;
  /** 99th percentile, for latencies (same unit). */
  p99?: number;
  /** Short text shown after the value in the table (loss rate, message size …). */
  detail?: string;
  /** Why there is no value, e.g. `n/a (route was server: peer-to-peer not available)`. */
  na?: string;
  /** Anything else worth keeping in the JSON (per-round values, counts). */
  extra?: Record<string, unknown>;
}

/** A goal. `on: 'ratio'` compares the row's ratio, `on: 'value'` the Peerway figure itself. */
export interface Target {
  /** As printed: `≤ 1.25×`, `< 3 ms`, `< 5%`. */
  text: string;
  on: 'ratio' | 'value';
  op: '<=' | '<' | '>=';
  limit: number;
}

/**
 * How the ratio is formed. `peerway/baseline` for "Peerway costs x× the baseline" (latency, or throughput
 * as a fraction of the baseline); `baseline/peerway` for "Peerway is x× faster than the baseline".
 */
export type RatioKind = 'peerway/baseline' | 'baseline/peerway';

/** One line of the table: a Peerway figure, its baseline, the ratio, the target and the verdict. */
export interface Row {
  id: string;
  label: string;
  peerway: Figure;
  baseline: Figure;
  ratioKind: RatioKind;
  ratio: number | null;
  /** Printed as a percentage rather than with × (CPU shares). */
  ratioAsPercent?: boolean;
  target?: Target;
  /** null when there is no target or no figure to judge. */
  met: boolean | null;
}

/** `failed`: the scenario threw (a crash, not a missed target); the bench then exits 1. */
export type ScenarioStatus = 'ok' | 'failed';

/** What one scenario produced, as stored in the results file. */
export interface ScenarioResult {
  id: string;
  title: string;
  status: ScenarioStatus;
  seconds: number;
  rows: Row[];
  notes: string[];
  error?: string;
}

/** Printed instead of a figure when a direct scenario got a server route. */
export const NA_SERVER_ROUTE = 'n/a (route was server: peer-to-peer not available)';

/** The targets of issue 5, in one place so the table and the README say the same. */
export const TARGETS = {
  directVsRawTcp: { text: '≤ 1.25×', on: 'ratio', op: '<=', limit: 1.25 },
  routedVsRawRelay: { text: '≤ 1.3×', on: 'ratio', op: '<=', limit: 1.3 },
  directSpeedupOverRouted: { text: '≥ 1.7×', on: 'ratio', op: '>=', limit: 1.7 },
  directSpeedupOverGrpc: { text: '≥ 2×', on: 'ratio', op: '>=', limit: 2 },
  localVsRawUds: { text: '≤ 1.25×', on: 'ratio', op: '<=', limit: 1.25 },
  sslVsRawTls: { text: '≤ 1.25×', on: 'ratio', op: '<=', limit: 1.25 },
  pipelinedVsRaw: { text: '≥ 0.6×', on: 'ratio', op: '>=', limit: 0.6 },
  fanoutVsRawHub: { text: '≥ 0.8×', on: 'ratio', op: '>=', limit: 0.8 },
  sessionStartP50Ms: { text: '< 3 ms', on: 'value', op: '<', limit: 3 },
  serverRssMb: { text: '< 200 MB', on: 'value', op: '<', limit: 200 },
  directCpuShare: { text: '< 5%', on: 'ratio', op: '<', limit: 0.05 },
} as const satisfies Record<string, Target>;

/** A figure that could not be measured. */
export function naFigure(label: string, unit: string, why: string): Figure {
  return { label, value: null, unit, na: why };
}

/** Builds a row: computes the ratio and whether the target is met. */
export function makeRow(spec: {
  id: string;
  label: string;
  peerway: Figure;
  baseline: Figure;
  ratioKind?: RatioKind;
  target?: Target;
  ratioAsPercent?: boolean;
}): Row {
  const ratioKind = spec.ratioKind ?? 'peerway/baseline';
  const p = spec.peerway.value;
  const b = spec.baseline.value;
  let ratio: number | null = null;
  if (p !== null && b !== null && Number.isFinite(p) && Number.isFinite(b)) {
    const [num, den] = ratioKind === 'peerway/baseline' ? [p, b] : [b, p];
    // A zero denominator (no CPU ticks at all during direct calls) is a ratio of 0 only for shares.
    ratio = den > 0 ? num / den : num === 0 ? 0 : null;
  }
  const judged = spec.target?.on === 'value' ? p : ratio;
  const met = spec.target && judged !== null ? compare(judged, spec.target) : null;
  const row: Row = { id: spec.id, label: spec.label, peerway: spec.peerway, baseline: spec.baseline, ratioKind, ratio, met };
  if (spec.target) row.target = spec.target;
  if (spec.ratioAsPercent) row.ratioAsPercent = true;
  return row;
}

function compare(x: number, t: Target): boolean {
  if (t.op === '<=') return x <= t.limit;
  if (t.op === '<') return x < t.limit;
  return x >= t.limit;
}

/** What a scenario writes into while it runs. */
export class ScenarioOutput {
  readonly rows: Row[] = [];
  readonly notes: string[] = [];

  row(spec: Parameters<typeof makeRow>[0]): Row {
    const r = makeRow(spec);
    this.rows.push(r);
    return r;
  }

  note(text: string): void {
    this.notes.push(text);
  }
}
