import type { RateStats } from '../measure.js';
import { naFigure, type Figure } from '../model.js';

/**
 * A row figure for the CPU per operation of one throughput series: the total over its processes (the
 * per-process split is in `extra.cpuUsPerOp` and in the scenario's notes). `noCpu` is the reason when
 * /proc could not be read.
 */
export function cpuFigure(label: string, per: 'call' | 'update', stats: RateStats | undefined, noCpu: string | undefined): Figure {
  const unit = `CPU µs/${per}`;
  if (noCpu) return naFigure(label, unit, `n/a (${noCpu})`);
  const cpu = stats?.cpu;
  if (!cpu || cpu.total === undefined) return naFigure(label, unit, 'n/a (no CPU samples)');
  return { label, value: cpu.total, unit, extra: { cpuUsPerOp: cpu } };
}
