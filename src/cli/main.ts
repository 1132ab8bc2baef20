import { Command, CommanderError } from 'commander';
import { readFileSync } from 'node:fs';
import { EXIT_OK, EXIT_USAGE, reportError } from './common.js';
import { serverCommand } from './server.js';
import { runnerCommand } from './runner.js';
import { callCommand } from './call.js';
import { watchCommand } from './watch.js';
import { checkCommand } from './check.js';
import { codegenCommand } from './codegen.js';
import { describeCommand } from './describe.js';
import { demoCommand } from './demo.js';
import { servicesCommand, statsCommand } from './inspect.js';

const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };

/**
 * The `peerway` command. Each subcommand lives in its own file and returns its exit code:
 * 0 ok, 1 runtime failure, 2 usage or configuration error.
 */
export async function main(argv: string[]): Promise<number> {
  const program = new Command('peerway')
    .description('Peerway: a service broker whose remote services talk to clients peer-to-peer')
    .version(pkg.version)
    .showHelpAfterError('(run with --help for usage)')
    .exitOverride();
  let exitCode = EXIT_OK;
  const setExit = (code: number) => {
    exitCode = code;
  };
  for (const make of [serverCommand, runnerCommand, callCommand, watchCommand, describeCommand, servicesCommand, statsCommand, checkCommand, codegenCommand, demoCommand]) {
    program.addCommand(make(setExit).exitOverride());
  }
  // A closed stdout (`peerway demo | head`) ends the command like Ctrl-C would, so long-running
  // subcommands still stop their child processes instead of crashing and leaving them behind.
  process.stdout.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code !== 'EPIPE') return;
    // Nobody reads any more: drop further output instead of failing on every line.
    process.stdout.write = (() => true);
    // Long-running subcommands listen for SIGTERM and clean up; anything else simply exits (child
    // processes started through startPeerway are killed on exit).
    if (process.listenerCount('SIGTERM') > 0) process.kill(process.pid, 'SIGTERM');
    else process.exit(1);
  });
  try {
    await program.parseAsync(argv, { from: 'user' });
  } catch (err) {
    if (err instanceof CommanderError) {
      return err.code === 'commander.helpDisplayed' || err.code === 'commander.version' || err.code === 'commander.help' ? EXIT_OK : EXIT_USAGE;
    }
    return reportError(program.args[0] ?? '', err);
  }
  return exitCode;
}
