import type { PeerwayError } from '../errors.js';

/**
 * The connection contract the protocol engine needs from a transport. It lives here, below the bearers,
 * because the engine (Channel) is written against it and every bearer implements it: the engine never
 * learns what a socket is (src/bearer/bearer.ts re-exports these for bearer authors).
 */

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
  /**
   * Bytes accepted by send() that the transport has not written yet: what a peer that does not read makes
   * us hold. The protocol engine bounds it (LIMIT_EXCEEDED) and push paths coalesce above a soft limit.
   */
  readonly queuedBytes: number;
  /**
   * On TLS connections, the subject of the certificate the peer presented, when it was verified against
   * the configured CA (`{ CN: 'diagnostics', O: 'Acme' }`); undefined otherwise. Certificate identities
   * of the access policy are read from it.
   */
  readonly peerCertificateSubject?: Readonly<Record<string, string | string[]>>;
  /** Closes after flushing what was queued; handlers.close fires once. */
  close(reason?: string): void;
  readonly closed: boolean;
}
