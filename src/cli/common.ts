import { Command, InvalidArgumentError, Option } from 'commander';
import { PeerwayError } from '../errors.js';
import type { ErrorCode } from '../errors.js';
import { createLogger, type Logger, type LoggerOptions } from '../logger.js';
import { parseBearerUrl } from '../bearer/registry.js';
import type { BearerAddress } from '../bearer/bearer.js';
import { addAdapterOptions } from './adapter-options.js';

/** Exit codes of every subcommand (DESIGN §7). */
export const EXIT_OK = 0;
export const EXIT_FAILURE = 1;
export const EXIT_USAGE = 2;

/** Error codes that mean "the command line or a file you gave is wrong" rather than "something failed". */
const USAGE_CODES: ReadonlySet<ErrorCode> = new Set<ErrorCode>([
  'USAGE', 'CONFIG_INVALID', 'DEFINITION_INVALID', 'BEARER_UNKNOWN', 'BAD_ARGUMENT', 'METHOD_NOT_FOUND', 'EVENT_NOT_FOUND', 'PATH_NOT_FOUND',
]);

/**
 * 2 for usage and configuration errors, 1 for everything else. SERVICE_NOT_FOUND is a usage error when the
 * CLI found a registered name close to the one given (a typo, see startSessionWithHint), and a runtime
 * failure otherwise (the service is not running yet).
 */
export function exitCodeFor(err: unknown): number {
  if (!(err instanceof PeerwayError)) return EXIT_FAILURE;
  if (err.code === 'SERVICE_NOT_FOUND') return typeof err.details?.suggestion === 'string' ? EXIT_USAGE : EXIT_FAILURE;
  return USAGE_CODES.has(err.code) ? EXIT_USAGE : EXIT_FAILURE;
}

/** Prints an error the same way for every subcommand: `peerway <cmd>: error [CODE]: message`. */
export function reportError(command: string, err: unknown): number {
  const e = PeerwayError.from(err);
  process.stderr.write(`peerway ${command}: error [${e.code}]: ${e.message}\n`);
  return exitCodeFor(e);
}

/**
 * Options every long-running subcommand shares. Each has a `PEERWAY_*` environment variable that applies
 * only when the flag is not given (flags override the environment, DESIGN §7).
 */
export function addLogOptions(cmd: Command): Command {
  return cmd
    .addOption(new Option('--log-level <level>', 'log level').choices(['trace', 'debug', 'info', 'warn', 'error', 'silent']).default('info').env('PEERWAY_LOG_LEVEL'))
    .addOption(new Option('--log-format <format>', 'log line format on stderr').choices(['pretty', 'json']).default('pretty').env('PEERWAY_LOG_FORMAT'));
}

/** The logger of --log-level/--log-format (which already fell back to their environment variables). */
export function loggerFrom(name: string, opts: { logLevel?: string; logFormat?: string }): Logger {
  return createLogger({ name, level: opts.logLevel as LoggerOptions['level'], format: opts.logFormat as LoggerOptions['format'] });
}

/** Commander argument parser for bearer URLs: a bad URL is a usage error naming the fix. */
export function bearerUrlArg(value: string): BearerAddress {
  try {
    return parseBearerUrl(value);
  } catch (err) {
    throw new InvalidArgumentError((err as Error).message);
  }
}

export function positiveIntArg(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n <= 0) throw new InvalidArgumentError(`expected a positive whole number, got "${value}"`);
  return n;
}

export function collect<T>(value: T, previous: T[] | undefined): T[] {
  return [...(previous ?? []), value];
}

export const DEFAULT_SERVER_URL = 'tcp://127.0.0.1:2002';

/**
 * `--server URL` and the connection adapter options (--config, --ca, --cert, --key), shared by every
 * subcommand that connects to a server. The address is, in this order: --server, the first adapter with an
 * address in --config, PEERWAY_SERVER, the default; resolve it with `resolveAdapters` (adapter-options.ts),
 * which sees `serverFromEnv` set when the value came from the environment.
 */
export function addServerOption(cmd: Command): Command {
  cmd
    .addOption(
      new Option(
        '-s, --server <url>',
        `server address: tcp://HOST:PORT, ssl://HOST:PORT, ws://HOST:PORT/PATH or local:///PATH (without it: the first <connectionadapter> with an address in --config, else PEERWAY_SERVER, else ${DEFAULT_SERVER_URL})`,
      )
        .env('PEERWAY_SERVER')
        .argParser(bearerUrlArg),
    )
    .addOption(new Option('--token <token>', "the bearer token this client or runner presents to the server's access policy (default: PEERWAY_TOKEN; without one it is anonymous)").env('PEERWAY_TOKEN'))
    .option('--timeout <ms>', 'time allowed for connecting and for each request', positiveIntArg, 10_000)
    .hook('preAction', (self) => {
      // A flag (--config) beats the environment, so resolveAdapters needs to know where --server came from.
      if (self.getOptionValueSource('server') === 'env') self.setOptionValueWithSource('serverFromEnv', true, 'env');
    });
  return addAdapterOptions(cmd);
}

/**
 * Resolves on SIGINT/SIGTERM (Ctrl-C): long-running subcommands await it, then clean up and exit 0.
 */
export function untilSignal(): Promise<NodeJS.Signals> {
  return new Promise((resolve) => {
    const on = (sig: NodeJS.Signals) => {
      process.off('SIGINT', on);
      process.off('SIGTERM', on);
      resolve(sig);
    };
    process.on('SIGINT', on);
    process.on('SIGTERM', on);
  });
}

/** Writes one line to stdout, waiting for the pipe when it is full (so `| head` and slow readers work). */
export function printLine(text: string): Promise<void> {
  return new Promise((resolve) => {
    if (process.stdout.write(text + '\n')) resolve();
    else process.stdout.once('drain', () => resolve());
  });
}
