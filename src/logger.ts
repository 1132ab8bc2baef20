import { pino, destination, type Logger, type LevelWithSilent } from 'pino';
import pretty from 'pino-pretty';
import { PeerwayError } from './errors.js';

const LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'];
const FORMATS = ['pretty', 'json'];

export type { Logger };

export interface LoggerOptions {
  /** Component name shown on every line (`server`, `runner`, `client`). */
  name: string;
  level?: LevelWithSilent;
  /** `pretty` (one readable line per entry, the default) or `json` (one JSON object per line, for log shippers). */
  format?: 'pretty' | 'json';
  /** Where lines go; stderr by default so stdout stays for results (`peerway call`, `peerway watch`). */
  fd?: number;
}

/**
 * The one logger every component uses (pino): structured fields such as `session` and `service` on each
 * entry, readable by default, JSON on request. Level and format: the options first (the CLI passes its
 * flags, which already fell back to PEERWAY_LOG_LEVEL / PEERWAY_LOG_FORMAT), then those environment
 * variables, then `info` / `pretty`.
 */
export function createLogger(options: LoggerOptions): Logger {
  const level = (options.level || process.env.PEERWAY_LOG_LEVEL || 'info') as LevelWithSilent;
  const format = (options.format || process.env.PEERWAY_LOG_FORMAT || 'pretty') as 'pretty' | 'json';
  if (!LEVELS.includes(level)) {
    throw new PeerwayError('CONFIG_INVALID', `log level "${level}" is not one of ${LEVELS.join(', ')} (check PEERWAY_LOG_LEVEL or --log-level)`);
  }
  if (!FORMATS.includes(format)) {
    throw new PeerwayError('CONFIG_INVALID', `log format "${format}" is not one of ${FORMATS.join(', ')} (check PEERWAY_LOG_FORMAT or --log-format)`);
  }
  const fd = options.fd ?? 2;
  const base = { name: options.name, level, base: undefined };
  if (format === 'json') return pino(base, destination({ fd, sync: true }));
  const stream = pretty({
    destination: fd,
    sync: true,
    colorize: Boolean(process.stderr.isTTY) && fd === 2,
    singleLine: true,
    translateTime: 'HH:MM:ss.l',
    ignore: 'pid,hostname',
  });
  return pino(base, stream);
}

/** A logger that drops everything; the default for library users who did not pass one. */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
