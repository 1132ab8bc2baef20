import { readFileSync, readdirSync } from 'node:fs';

/**
 * CPU time of the processes a throughput series keeps busy, read from `/proc` before and after each
 * measured round, so a scenario can say how many µs of CPU each process spent per call (or per delivered
 * update) besides the rate. Nothing runs inside the timed loops: the reads happen between rounds.
 *
 * Per process, the sum over its threads of `/proc/<pid>/task/<tid>/schedstat` (nanoseconds on CPU: the
 * GC and libuv threads count too); where schedstat is missing, `/proc/<pid>/stat` utime + stime (clock
 * ticks of 10 ms, coarse for short rounds). Linux only: elsewhere `cpuUnavailable()` says why.
 */

/** Processes to measure: a label as printed (`bench`, `server`, `runner`, `raw echo`) → pid. */
export type ProcessSet = Record<string, number>;

/** CPU µs per operation, per process label, plus `total` over all of them. */
export type CpuPerOp = Record<string, number>;

const TICK_NS = 1e9 / 100; // USER_HZ is 100 on Linux

/** Why CPU per call cannot be measured here, or undefined when it can. */
export function cpuUnavailable(): string | undefined {
  if (process.platform !== 'linux') return `CPU per call: n/a on ${process.platform} (reads /proc)`;
  return readCpuNs(process.pid) === undefined ? 'CPU per call: n/a (/proc/<pid>/stat unreadable)' : undefined;
}

/** CPU nanoseconds used so far by `pid` (all threads), or undefined when the process is gone. */
export function readCpuNs(pid: number): number | undefined {
  try {
    let sum = 0;
    for (const tid of readdirSync(`/proc/${pid}/task`)) {
      try {
        sum += Number(readFileSync(`/proc/${pid}/task/${tid}/schedstat`, 'utf8').split(' ')[0]);
      } catch {
        // a thread that ended between the listing and the read
      }
    }
    if (sum > 0) return sum;
  } catch {
    // no task listing: fall through to stat
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command name (which may hold spaces) start at state; utime and stime are 14 and 15.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) * TICK_NS;
  } catch {
    return undefined;
  }
}

/** CPU accumulated over the measured rounds of one series. */
export class CpuTally {
  private readonly ns = new Map<string, number>();
  private ops = 0;

  constructor(private readonly processes: ProcessSet) {}

  /** Reads every process now; call `add` with the result after the round. */
  snapshot(): Map<string, number | undefined> {
    return new Map(Object.entries(this.processes).map(([label, pid]) => [label, readCpuNs(pid)]));
  }

  /** Adds what each process used since `before`, for a round that did `ops` operations. */
  add(before: Map<string, number | undefined>, ops: number): void {
    const after = this.snapshot();
    for (const [label, b] of before) {
      const a = after.get(label);
      if (a === undefined || b === undefined) continue;
      this.ns.set(label, (this.ns.get(label) ?? 0) + Math.max(0, a - b));
    }
    this.ops += ops;
  }

  /** µs per operation for each process and in total (rounded to 0.01), or undefined before any round. */
  perOp(): CpuPerOp | undefined {
    if (this.ops === 0 || this.ns.size === 0) return undefined;
    const out: CpuPerOp = {};
    let total = 0;
    for (const label of Object.keys(this.processes)) {
      const ns = this.ns.get(label);
      if (ns === undefined) continue;
      out[label] = round2(ns / 1000 / this.ops);
      total += ns;
    }
    out.total = round2(total / 1000 / this.ops);
    return out;
  }
}

function round2(x: number): number {
  return Math.round(x * 100) / 100;
}

/** `bench 3.10 · runner 2.20 · total 5.30`: one series' CPU per operation as a note shows it. */
export function formatCpu(perOp: CpuPerOp): string {
  return Object.entries(perOp)
    .map(([label, us]) => `${label} ${us.toFixed(2)}`)
    .join(' · ');
}
