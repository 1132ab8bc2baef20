import { Command, CommanderError } from 'commander';
import { EXIT_OK, EXIT_USAGE, positiveIntArg, reportError } from '../src/cli/common.js';
import { SCENARIOS, runBench, selectScenarios } from './run.js';

/**
 * The benchmark suite's entry (`npm run bench -- [options]`, i.e. `tsx bench/main.ts`): every route measured
 * side by side with raw baselines and gRPC-js, on real processes on 127.0.0.1. The Peerway server and runners
 * are the built `bin/peerway` (npm runs `prebench`, the build, first); this process is the client. Not part of
 * the published CLI. Exit 0 when it ran (missed targets are not failures), 1 when a scenario crashed (the
 * others still run and print), 2 for usage errors.
 */

interface BenchCliOptions {
  quick?: boolean;
  only?: string[];
  out?: string;
  rounds?: number;
  cpuProf?: string;
}

async function main(argv: string[]): Promise<number> {
  let exitCode = EXIT_OK;
  // Named after how it is run, so the usage line reads `npm run bench -- [options]`.
  const program = new Command('npm run bench --')
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
        ...SCENARIOS.map((s) => `  ${s.id.padEnd(Math.max(...SCENARIOS.map((x) => x.id.length)) + 1)} ${s.summary}`),
        '',
        'Progress goes to stderr (redrawn in place on a TTY). Each line of the table puts a Peerway figure next',
        'to its baseline, with the ratio, the target and whether it is met. A direct scenario whose route came',
        'out as a server route prints "n/a (route was server: peer-to-peer not available)".',
        'Exit codes: 0 ran (targets missed included), 1 a scenario crashed, 2 usage error.',
      ].join('\n'),
    )
    .showHelpAfterError('(run with --help for usage)')
    .exitOverride()
    .action(async (opts: BenchCliOptions) => {
      try {
        selectScenarios(opts.only); // a usage error before any process starts
        exitCode = await runBench({
          quick: opts.quick === true,
          ...(opts.only ? { only: opts.only } : {}),
          ...(opts.out ? { out: opts.out } : {}),
          ...(opts.rounds ? { rounds: opts.rounds } : {}),
          ...(opts.cpuProf ? { cpuProf: opts.cpuProf } : {}),
        });
      } catch (err) {
        exitCode = reportError('bench', err);
      }
    });
  try {
    await program.parseAsync(argv, { from: 'user' });
  } catch (err) {
    if (err instanceof CommanderError) return err.code === 'commander.helpDisplayed' || err.code === 'commander.help' ? EXIT_OK : EXIT_USAGE;
    return reportError('bench', err);
  }
  return exitCode;
}

// Exit explicitly, as bin/peerway does: a stray handle (a socket in TIME_WAIT teardown, a timer) must not
// keep a finished bench alive.
process.exit(await main(process.argv.slice(2)));
