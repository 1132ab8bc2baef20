import { mkdir, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { PeerwayError } from '../src/errors.js';
import { BenchContext } from './context.js';
import { machineInfo } from './machine.js';
import { round3, withDeadline } from './measure.js';
import { ScenarioOutput, type ScenarioResult } from './model.js';
import { makePlan } from './plan.js';
import { Progress } from './progress.js';
import { benchFile } from './raw-peer.js';
import { renderTable, type BenchReport } from './report.js';
import type { Scenario } from './scenario.js';
import { directRtt, grpcRtt, localRtt, routedRtt, sslRtt } from './scenarios/calls.js';
import { pipelinedCalls } from './scenarios/pipelined.js';
import { outsidePeers } from './scenarios/peers.js';
import { udpEvents } from './scenarios/udp-events.js';
import { fanout } from './scenarios/fanout.js';
import { slowSubscriber } from './scenarios/slow-subscriber.js';
import { codec } from './scenarios/codec.js';
import { sessionStart } from './scenarios/session-start.js';
import { scale } from './scenarios/scale.js';
import { serverCpu } from './scenarios/server-cpu.js';
import { policyCost } from './scenarios/policy.js';
import { gateway } from './scenarios/gateway.js';
import { clusterScenario } from './scenarios/cluster.js';

/** Every scenario, in the order they run and print. */
export const SCENARIOS: readonly Scenario[] = [directRtt, routedRtt, grpcRtt, pipelinedCalls, outsidePeers, localRtt, sslRtt, udpEvents, fanout, slowSubscriber, codec, sessionStart, scale, serverCpu, policyCost, gateway, clusterScenario];

/** The options of the bench (`npm run bench -- …`, parsed in bench/main.ts). */
export interface BenchOptions {
  quick: boolean;
  /** Substrings of scenario ids or titles; none = all. */
  only?: string[];
  /** JSON results file; default bench/results/latest.json (latest-quick.json with --quick). */
  out?: string;
  rounds?: number;
  /** Directory for --cpu-prof profiles of the Peerway server and runner processes. */
  cpuProf?: string;
}

/** The scenarios `only` selects; a selection that matches nothing is a usage error listing the ids. */
export function selectScenarios(only: string[] | undefined): Scenario[] {
  if (!only || only.length === 0) return [...SCENARIOS];
  const wanted = only.map((o) => o.toLowerCase());
  const picked = SCENARIOS.filter((s) => wanted.some((w) => s.id.includes(w) || s.title.toLowerCase().includes(w)));
  if (picked.length === 0) {
    throw new PeerwayError('USAGE', `--only ${only.join(' ')} matches no scenario; scenarios: ${SCENARIOS.map((s) => s.id).join(', ')}`);
  }
  return picked;
}

/** bench/results/latest.json, or latest-quick.json for quick runs (so they never overwrite a full run). */
export function defaultOutFile(quick: boolean): string {
  return benchFile('results', quick ? 'latest-quick.json' : 'latest.json');
}

/**
 * Runs the selected scenarios one after another, each under a deadline, keeping going when one crashes.
 * Prints the table on stdout, writes the JSON results, and resolves with the exit code: 0 when every
 * scenario ran (missed targets included), 1 when one crashed.
 */
export async function runBench(options: BenchOptions): Promise<number> {
  const scenarios = selectScenarios(options.only);
  const plan = makePlan(options.quick, options.rounds);
  const progress = new Progress();
  const started = performance.now();
  const machine = machineInfo(); // its date is when the run started
  const loadAtStart = os.loadavg()[0];
  const ctx = await BenchContext.create(plan, progress, options.cpuProf);
  // Ctrl-C: stop the processes we started before going (the default would leave servers behind).
  const onSignal = () => {
    progress.clear();
    process.stderr.write('peerway bench: interrupted; stopping the bench processes…\n');
    void ctx.close().finally(() => process.exit(1));
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  const results: ScenarioResult[] = [];
  const deadlineMs = plan.quick ? 45_000 : 300_000;
  try {
    for (const [i, scenario] of scenarios.entries()) {
      progress.begin(i + 1, scenarios.length, scenario.title);
      const out = new ScenarioOutput();
      const t0 = performance.now();
      let error: string | undefined;
      try {
        await withDeadline(scenario.run(ctx, out), deadlineMs, `scenario ${scenario.id}`);
      } catch (err) {
        error = err instanceof Error ? err.message : String(err);
      }
      const seconds = round3((performance.now() - t0) / 1000);
      progress.end(error ? `FAILED: ${error.split('\n')[0]}` : 'done', seconds);
      results.push({ id: scenario.id, title: scenario.title, status: error ? 'failed' : 'ok', seconds, rows: out.rows, notes: out.notes, ...(error ? { error } : {}) });
    }
  } finally {
    await ctx.close();
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
  progress.clear();
  const report: BenchReport = {
    schema: 1,
    tool: 'peerway bench',
    quick: plan.quick,
    rounds: plan.rounds,
    machine: { ...machine, loadAverage: { start: round3(loadAtStart), end: round3(os.loadavg()[0]) } },
    seconds: round3((performance.now() - started) / 1000),
    scenarios: results,
  };
  const file = path.resolve(options.out ?? defaultOutFile(plan.quick));
  await mkdir(path.dirname(file), { recursive: true });
  await writeFile(file, JSON.stringify(report, null, 2) + '\n');
  await write(renderTable(report) + `\nresults: ${file}\n`);
  return results.some((r) => r.status === 'failed') ? 1 : 0;
}

/** Writes to stdout, waiting for the pipe when it is full, so a slow reader still gets the whole table. */
function write(text: string): Promise<void> {
  return new Promise((resolve) => {
    if (process.stdout.write(text)) resolve();
    else process.stdout.once('drain', () => resolve());
  });
}
