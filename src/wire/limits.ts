import { DEFAULT_LIMITS, type ChannelLimits } from './channel.js';
import { DEFAULT_MAX_DEFINITION_BYTES } from '../definition/parse-definition.js';
import { DEFAULT_MAX_PARTIAL_FRAME_BYTES } from './frame-decoder.js';
import { DEFAULT_HANDSHAKE_TIMEOUT_MS } from './handshake.js';
import { DEFAULT_PUSH_LIMITS, type PushLimits } from './push-outbox.js';

/**
 * Every bound a server or runner applies to its peers (README, "Limits and guarantees" lists each with its
 * flag). Given partially; `resolveLimits` fills in the defaults.
 */
export interface Limits extends ChannelLimits, Partial<PushLimits> {
  /** Sessions one client connection may hold at once. */
  maxSessionsPerConnection?: number;
  /** Bytes of unfinished frames held across all connections of the process. */
  maxPartialFrameBytes?: number;
  /** Largest service definition accepted (from files, and in a runner's registration). */
  maxDefinitionBytes?: number;
  /** How long a peer that connected has to send its hello before it is closed (clients, runners, links). */
  helloTimeoutMs?: number;
}

export const DEFAULT_SESSIONS_PER_CONNECTION = 1000;

export function resolveLimits(limits: Limits = {}): Required<Limits> {
  const defined = Object.fromEntries(Object.entries(limits).filter(([, v]) => v !== undefined)) as Limits;
  return {
    ...DEFAULT_LIMITS,
    ...DEFAULT_PUSH_LIMITS,
    maxSessionsPerConnection: DEFAULT_SESSIONS_PER_CONNECTION,
    maxPartialFrameBytes: DEFAULT_MAX_PARTIAL_FRAME_BYTES,
    maxDefinitionBytes: DEFAULT_MAX_DEFINITION_BYTES,
    helloTimeoutMs: DEFAULT_HANDSHAKE_TIMEOUT_MS,
    ...defined,
  };
}
