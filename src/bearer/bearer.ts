import type { PeerwayError } from '../errors.js';

/**
 * The pluggable transport contract. The core (server, runner, client, routing) only ever talks to these
 * interfaces; sockets live in one file per bearer. A new bearer is one file plus one registry line, and
 * must pass the shared suite in test/bearer/bearer-suite.ts.
 */

/** Where to listen or connect. Parsed from URLs such as `tcp://127.0.0.1:2002` or `local:///run/pw.sock`. */
export interface BearerAddress {
  /** Bearer id, e.g. `connect.bearer.tcp`. */
  bearer: string;
  host?: string;
  port?: number;
  /** Socket path (local bearer) or URL path (ws bearer). */
  path?: string;
}

/** Bearer-specific configuration, in the seed's name/value attribute vocabulary (certificate, key, ca, …). */
export type BearerAttributes = Record<string, string>;

export interface BearerOptions {
  attributes?: BearerAttributes;
  /** Largest message accepted or sent, in bytes. */
  maxMessageBytes?: number;
}

export interface ConnectOptions extends BearerOptions {
  signal?: AbortSignal;
  timeoutMs?: number;
}

export interface CloseInfo {
  /** Human-readable reason, for logs. */
  reason: string;
  /** Set when the close was caused by an error (protocol violation, socket error, oversized frame). */
  error?: PeerwayError;
}

export interface ConnectionHandlers {
  message(payload: Buffer): void;
  close(info: CloseInfo): void;
  /** Called when a connection that returned false from send() can take more. */
  drain?(): void;
}

/** A connection carrying whole messages in order (reliable bearers) or best effort (unreliable ones). */
export interface MessageConnection {
  readonly bearer: string;
  /** Whether messages arrive in order and none is lost. */
  readonly reliable: boolean;
  /** Peer address for logs, e.g. `127.0.0.1:53122`. */
  readonly remote: string;
  /**
   * Attaches the handlers and starts delivery. Messages that arrived earlier are delivered now, so a
   * connection handed out by `connect()` or a listener never loses its first message.
   */
  start(handlers: ConnectionHandlers): void;
  /**
   * Queues one message. Returns false when the outgoing buffer is above its high-water mark (the caller
   * should wait for `drain`). Throws PeerwayError FRAME_TOO_LARGE for a message above the size limit and
   * CONNECTION_CLOSED after close.
   */
  send(payload: Uint8Array): boolean;
  /** Closes after flushing what was queued; handlers.close fires once. */
  close(reason?: string): void;
  readonly closed: boolean;
}

export interface Listener {
  /** The bound address (an ephemeral port 0 is resolved to the real one). */
  readonly address: BearerAddress;
  /** Stops accepting and closes every connection it accepted. */
  close(): Promise<void>;
}

export interface Bearer {
  /** `connect.bearer.tcp`, … */
  readonly id: string;
  /** URL schemes that select this bearer (`tcp`, …). The first one is used when formatting addresses. */
  readonly schemes: readonly string[];
  readonly reliable: boolean;
  /**
   * Names of the configuration attributes this bearer accepts (`certificate`, `maxDatagramBytes`, …), not
   * counting the address ones (host, port, path). Configuration files are checked against it; absent means none.
   */
  readonly attributes?: readonly string[];
  listen(address: BearerAddress, onConnection: (connection: MessageConnection) => void, options?: BearerOptions): Promise<Listener>;
  connect(address: BearerAddress, options?: ConnectOptions): Promise<MessageConnection>;
}
