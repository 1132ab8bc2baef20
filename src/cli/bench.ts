import { Command } from 'commander';
import { SCENARIOS, runBench, selectScenarios } from '../bench/run.js';
import { positiveIntArg, reportError } from './common.js';

interface BenchCliOptions {
  quick?: boolean;
  only?: string[];
  out?: string;
  rounds?: number;
  cpuProf?: string;
}

/**
 * `peerway bench` (what `npm run bench` runs): every route measured side by side with raw baselines and
 * gRPC-js, on real processes on 127.0.0.1. Exit 0 when it ran (missed targets are not failures), 1 when a
 * scenario crashed (the others still run and print), 2 for usage errors.
 */
export function benchCommand(setExit: (code: number) => void): Command {
  return new Command('bench')
    .description('measure every route against raw baselines and gRPC-js measured in the same run; table on stdout, JSON results file')
    .option('--quick', 'a short run (one short round) that proves every scenario works; figures are rough')
    .option('--only <substring...>', 'run only the scenarios whose id or title contains one of these')
    .option('--out <file>', 'JSON results file (default bench/results/latest.json; bench/results/latest-quick.json with --quick)')
    .option('--rounds <n>', 'measured rounds per series (default 5; 1 with --quick)', positiveIntArg)
    .option('--cpu-prof <dir>', 'write V8 CPU profiles of the Peerway server and runner processes into DIR (one folder per process)')
    .addHelpText(
      'after',
      [
        '',
        'Scenarios:',
        ...SCENARIOS.map((s) => `  ${s.id.padEnd(14)} ${s.summary}`),
        '',
        'Progress goes to stderr (redrawn in place on a TTY). Each line of the table puts a Peerway figure next',
        'to its baseline, with the ratio, the target and whether it is met. A direct scenario whose route came',
        'out as a server route prints "n/a (route was server: peer-to-peer not available)".',
        'Exit codes: 0 ran (targets missed included), 1 a scenario crashed, 2 usage error.',
      ].join('\n'),
    )
    .action(async (opts: BenchCliOptions) => {
      try {
        selectScenarios(opts.only); // a usage error before any process starts
        setExit(
          await runBench({
            quick: opts.quick === true,
            ...(opts.only ? { only: opts.only } : {}),
            ...(opts.out ? { out: opts.out } : {}),
            ...(opts.rounds ? { rounds: opts.rounds } : {}),
            ...(opts.cpuProf ? { cpuProf: opts.cpuProf } : {}),
          }),
        );
      } catch (err) {
        setExit(reportError('bench', err));
      }
    });
}
