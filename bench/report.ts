import type { MachineInfo } from './machine.js';
import type { Figure, Row, ScenarioResult } from './model.js';

/** Everything one run wrote: the content of `bench/results/latest.json`. */
export interface BenchReport {
  schema: 1;
  tool: string;
  quick: boolean;
  rounds: number;
  machine: MachineInfo;
  seconds: number;
  scenarios: ScenarioResult[];
}

const RATE_UNITS = new Set(['calls/s', 'events/s', 'updates/s', 'ops/s']);

/** A number as the table shows it: 3 significant digits for rates (412k), fixed decimals elsewhere. */
export function formatNumber(value: number, unit: string): string {
  if (!Number.isFinite(value)) return String(value);
  if (RATE_UNITS.has(unit)) {
    if (value >= 1e6) return `${(value / 1e6).toPrecision(3)}M`;
    if (value >= 1e3) return `${(value / 1e3).toPrecision(3)}k`;
    return value.toFixed(0);
  }
  if (unit === 'µs') return value < 10 ? value.toFixed(2) : value < 1000 ? value.toFixed(1) : value.toFixed(0);
  if (unit === 'ms') return value.toFixed(2);
  if (unit === 'MB') return value.toFixed(1);
  if (unit === 'CPU s') return value.toFixed(3);
  if (unit.startsWith('CPU µs')) return value.toFixed(2);
  return String(value);
}

/** One figure as a table cell: `48.2 µs (p99 91.0)`, `412k calls/s (loss 0.3%)`, `n/a`. */
export function formatFigure(f: Figure): string {
  if (f.value === null) return f.na === '—' ? '—' : 'n/a';
  const extras: string[] = [];
  if (f.p99 !== undefined) extras.push(`p99 ${formatNumber(f.p99, f.unit)}`);
  if (f.detail) extras.push(f.detail);
  return `${formatNumber(f.value, f.unit)} ${f.unit}${extras.length ? ` (${extras.join('; ')})` : ''}`;
}

function formatRatio(r: Row): string {
  if (r.ratio === null) return '—';
  if (r.ratioAsPercent) return `${(r.ratio * 100).toFixed(r.ratio < 0.1 ? 2 : 1)}%`;
  return `${r.ratio.toFixed(2)}×`;
}

function formatMet(r: Row): string {
  if (!r.target) return '—';
  if (r.met === null) return 'n/a';
  return r.met ? 'yes' : 'NO';
}

/**
 * The stdout table: one group per scenario, one line per comparison with the Peerway figure, the baseline
 * measured in the same run, their ratio, the target and whether it is met. A figure that could not be
 * measured prints `n/a` with the reason on the line below, so the columns stay readable.
 */
export function renderTable(report: BenchReport): string {
  const m = report.machine;
  const lines: string[] = [];
  lines.push(`Peerway bench${report.quick ? ' (quick: a short run that proves the suite works; figures are rough)' : ''}`);
  lines.push(`${m.date} · ${m.cpuModel}, ${m.cores} cores · node ${m.node} · ${m.os}`);
  lines.push(
    `${report.rounds} round(s) per series, baselines measured in the same rounds; latency = median of per-round p50s (p99 over all rounds); ratio as stated per line; targets are goals, not assertions`,
  );
  const load = m.loadAverage;
  if (load && Math.max(load.start, load.end) > m.cores * 0.5) {
    lines.push(
      `warning: load average ${load.start.toFixed(1)} at start, ${load.end.toFixed(1)} at end on ${m.cores} cores: other processes competed for the CPU, so figures are noisier than usual (ratios, measured side by side, suffer less)`,
    );
  }
  lines.push('');
  const header = ['scenario / comparison', 'Peerway', 'baseline', 'ratio', 'target', 'met'];
  type Line = { cells?: string[]; text?: string };
  const body: Line[] = [];
  for (const s of report.scenarios) {
    body.push({ text: `${s.title}${s.status === 'failed' ? '  [FAILED]' : ''}` });
    for (const r of s.rows) {
      body.push({ cells: [`  ${r.label}`, formatFigure(r.peerway), formatFigure(r.baseline), formatRatio(r), r.target?.text ?? '—', formatMet(r)] });
      for (const f of [r.peerway, r.baseline]) {
        if (f.value === null && f.na && f.na !== '—') body.push({ text: `      ↳ ${f.label}: ${f.na}` });
      }
    }
    if (s.error) body.push({ text: `    error: ${s.error.split('\n')[0]}` });
    for (const n of s.notes) body.push({ text: `    note: ${n}` });
  }
  const widths = header.map((h, i) => Math.max(h.length, ...body.map((l) => (l.cells ? l.cells[i].length : 0))));
  const fmt = (cells: string[]) => cells.map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]))).join('  ');
  lines.push(fmt(header));
  lines.push(widths.map((w) => '─'.repeat(w)).join('  '));
  for (const l of body) lines.push(l.cells ? fmt(l.cells) : l.text!);
  const failed = report.scenarios.filter((s) => s.status === 'failed').length;
  const judged = report.scenarios.flatMap((s) => s.rows).filter((r) => r.met !== null);
  lines.push('');
  lines.push(
    `${report.scenarios.length} scenario(s) in ${report.seconds.toFixed(0)} s; ${failed} failed; targets met: ${judged.filter((r) => r.met).length}/${judged.length} judged` +
      ` (${report.scenarios.flatMap((s) => s.rows).filter((r) => r.target && r.met === null).length} not measurable)`,
  );
  return lines.join('\n');
}
