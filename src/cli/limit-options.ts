import { InvalidArgumentError, type Command } from 'commander';
import type { Limits } from '../wire/limits.js';
import { resolveLimits } from '../wire/limits.js';

/** What `--keepalive 0` and other zero-means-off flags take: a whole number of 0 or more. */
function wholeNumberArg(value: string): number {
  const n = Number(value);
  if (!/^\d+$/.test(value.trim()) || !Number.isSafeInteger(n)) throw new InvalidArgumentError('expected a whole number (0 or more)');
  return n;
}

export interface LimitCliOptions {
  keepalive?: number;
  keepaliveTimeout?: number;
  maxQueuedBytes?: number;
  softQueuedBytes?: number;
  maxHeldBytes?: number;
  maxInFlight?: number;
  maxSessions?: number;
  maxPartialFrameBytes?: number;
  maxDefinitionBytes?: number;
  helloTimeout?: number;
}

/**
 * The bounds every server and runner applies to its peers, as flags (README, "Limits and guarantees").
 * The defaults shown are resolveLimits()'s; 0 turns a bound off.
 */
export function addLimitOptions(cmd: Command, role: 'server' | 'runner'): Command {
  const d = resolveLimits();
  cmd
    .option('--keepalive <ms>', `silence after which a peer is pinged; one that does not answer within --keepalive-timeout is dropped (0 = off; default ${d.keepAliveMs})`, wholeNumberArg)
    .option('--keepalive-timeout <ms>', `time a peer has to answer a keepalive (default ${d.keepAliveTimeoutMs})`, wholeNumberArg)
    .option('--hello-timeout <ms>', `time a peer that connected has to send its hello before it is closed (0 = off; default ${d.helloTimeoutMs})`, wholeNumberArg)
    .option('--max-queued-bytes <n>', `bytes queued for a peer that does not read, above which it is dropped with LIMIT_EXCEEDED (default ${d.maxQueuedBytes})`, wholeNumberArg)
    .option('--soft-queued-bytes <n>', `bytes queued above which pushes to a subscriber are held: runtime data coalesced, events kept (default ${d.softQueuedBytes})`, wholeNumberArg)
    .option('--max-held-bytes <n>', `bytes of pushes held for a slow subscriber before it is dropped (default ${d.maxHeldBytes})`, wholeNumberArg)
    .option('--max-in-flight <n>', `requests of one peer answered at once; more are refused with LIMIT_EXCEEDED (default ${d.maxInFlight})`, wholeNumberArg)
    .option('--max-partial-frame-bytes <n>', `bytes of unfinished frames held across all connections (default ${d.maxPartialFrameBytes})`, wholeNumberArg)
    .option('--max-definition-bytes <n>', `largest service definition accepted${role === 'server' ? ' (files and runner registrations)' : ''} (default ${d.maxDefinitionBytes})`, wholeNumberArg);
  if (role === 'server') cmd.option('--max-sessions <n>', `sessions one client connection may hold (default ${d.maxSessionsPerConnection})`, wholeNumberArg);
  return cmd;
}

/** The Limits the flags give (unset flags keep the defaults). */
export function limitsFrom(opts: LimitCliOptions): Limits {
  return {
    keepAliveMs: opts.keepalive,
    keepAliveTimeoutMs: opts.keepaliveTimeout,
    maxQueuedBytes: opts.maxQueuedBytes,
    softQueuedBytes: opts.softQueuedBytes,
    maxHeldBytes: opts.maxHeldBytes,
    maxInFlight: opts.maxInFlight,
    maxSessionsPerConnection: opts.maxSessions,
    maxPartialFrameBytes: opts.maxPartialFrameBytes,
    maxDefinitionBytes: opts.maxDefinitionBytes,
    helloTimeoutMs: opts.helloTimeout,
  };
}
