import type { WireError } from '../errors.js';
import type { ChosenRoute, ClientProfile, SessionGrants, SubscriptionKind } from '../wire/messages.js';

/**
 * What Peerway servers of one cluster say to each other over NATS. Every payload is MessagePack
 * (wire/codec.ts `encodeValue`); subjects are in subjects.ts. Version 1.
 */
export const CLUSTER_PROTOCOL = 1;

/** One service a server announces: enough to tell a change (hash), a conflict (registeredAt) and where it runs. */
export interface ServiceAnnouncement {
  name: string;
  version?: string;
  /** SHA-256 (hex) of the definition XML: a new hash means a new definition, fetched again. */
  hash: string;
  /** When it registered with its server (ms since the epoch): of two servers with one name, the earlier keeps it. */
  registeredAt: number;
  location: 'in-process' | 'remote';
  origin: string;
  /** The bearer its runner reached its server with (the built-in `reliable` link). */
  reliableBearer?: string;
}

/**
 * Published on the heartbeat subject every heartbeat interval and at once when a server's own services
 * change: liveness and the whole list of its own services. `bye` is the last one of a server that stops.
 */
export interface Heartbeat {
  v: number;
  server: string;
  /** Random per process start: a new boot under a known name is a restart (its old sessions are gone). */
  boot: string;
  intervalMs: number;
  services: ServiceAnnouncement[];
  bye?: boolean;
}

/** Requests a server answers for the sessions another server holds with its services (request/reply). */
export type ClusterRequest =
  | { op: 'ping'; from: string }
  | { op: 'describe'; from: string; service: string }
  | { op: 'open'; from: string; service: string; session: string; client: ClientProfile; identity: string; label: string; grants?: SessionGrants; timeoutMs: number }
  | { op: 'ready'; from: string; session: string; routes: Record<string, ChosenRoute>; timeoutMs: number }
  | { op: 'call'; from: string; session: string; method: string; args: Record<string, unknown>; timeoutMs: number }
  | { op: 'subscribe'; from: string; session: string; kind: SubscriptionKind; name: string; timeoutMs: number }
  /** From the owner: which of these sessions with its services does the asked server still hold? */
  | { op: 'held'; from: string; sessions: string[] }
  /** From a holder: which of these sessions does the asked owner still have for it? */
  | { op: 'owned'; from: string; sessions: string[] };

/** The reply to every ClusterRequest. */
export type ClusterReply = { ok: true; value?: unknown } | { ok: false; error: WireError };

/** `describe` answer: the definition and the current runtime data. */
export interface Described {
  xml: string;
  file: string;
  data: unknown;
}

/** `open` answer: what the service said, and the answering server's own policy decisions for the session. */
export interface Opened {
  routing?: string;
  serverRefused?: string[];
  grants: SessionGrants;
  /** The service's runtime data now, for the asking server's copy. */
  data: unknown;
}

/** One-way notices between the two servers of a cluster session (published on the receiver's notice subject). */
export type ClusterNotice =
  | { op: 'close'; from: string; session: string }
  | { op: 'unsubscribe'; from: string; session: string; kind: SubscriptionKind; name: string }
  | { op: 'grants'; from: string; session: string; grants: SessionGrants }
  | { op: 'ended'; from: string; session: string; error: WireError };

/** What the service's server publishes for the sessions other servers hold: its events and runtime data. */
export type ServiceTraffic = { kind: 'event'; name: string; args: Record<string, unknown> } | { kind: 'data'; path: string; value: unknown };
