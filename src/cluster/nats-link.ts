import { connect, ErrorCode, Events, NatsError, type Msg, type NatsConnection, type Subscription } from 'nats';
import { PeerwayError } from '../errors.js';
import type { Logger } from '../logger.js';
import { decodeValue, encodeValue } from '../wire/codec.js';
import type { ClusterReply } from './cluster-messages.js';
import { natsOptions, type ClusterOptions } from './cluster-options.js';

/**
 * The one NATS connection of a server in a cluster, with Peerway's payloads (MessagePack) and errors
 * (PeerwayError) on it. The rest of src/cluster never sees the NATS client: it publishes, subscribes and
 * asks through this. Handlers run isolated: one that throws is logged, nothing else is disturbed.
 */
export class NatsLink {
  private constructor(
    private readonly nc: NatsConnection,
    private readonly log: Logger,
  ) {}

  /** Connects to the first reachable server of `options.servers`; CONNECT_FAILED naming them otherwise. */
  static async connect(options: ClusterOptions, log: Logger, events: { disconnected(): void; reconnected(server: string): void }): Promise<NatsLink> {
    let nc: NatsConnection;
    try {
      nc = await connect(await natsOptions(options));
    } catch (err) {
      if (err instanceof PeerwayError) throw err;
      const why = isCode(err, ErrorCode.AuthorizationViolation) ? 'NATS refused the credentials (check --cluster-user/--cluster-password, --cluster-token, --cluster-creds)' : (err as Error).message;
      throw new PeerwayError('CONNECT_FAILED', `cannot join the cluster through ${options.servers.join(', ')}: ${why}; start nats-server there or fix --cluster`, { cause: err });
    }
    const link = new NatsLink(nc, log);
    void (async () => {
      for await (const s of nc.status()) {
        if (s.type === Events.Disconnect) {
          log.warn({ nats: s.data }, 'cluster link lost its NATS server; reconnecting to another node');
          events.disconnected();
        } else if (s.type === Events.Reconnect) {
          log.info({ nats: s.data }, 'cluster link reconnected');
          events.reconnected(typeof s.data === 'string' ? s.data : '');
        }
      }
    })().catch(() => undefined);
    return link;
  }

  /** The NATS server connected to now; null while reconnecting. */
  get server(): string | null {
    return this.connected && !this.nc.isClosed() ? this.nc.getServer() : null;
  }

  private connected = true;

  setConnected(on: boolean): void {
    this.connected = on;
  }

  publish(subject: string, value: unknown): void {
    if (this.nc.isClosed()) return;
    try {
      this.nc.publish(subject, encodeValue(value));
    } catch (err) {
      const reason = isCode(err, ErrorCode.MaxPayloadExceeded) ? "bigger than the NATS servers' max_payload (raise max_payload in the nats-server configuration)" : (err as Error).message;
      this.log.warn({ subject, reason }, 'not sent to the other servers of the cluster');
    }
  }

  /** Calls `handler` for every message on `subject`; returns how to stop. */
  subscribe(subject: string, handler: (value: unknown) => void): () => void {
    const sub = this.nc.subscribe(subject, {
      callback: (err, msg) => {
        if (err) return;
        let value: unknown;
        try {
          value = decodeValue(msg.data);
          handler(value);
        } catch (e) {
          this.log.warn({ subject, reason: (e as Error).message }, 'cluster message dropped');
        }
      },
    });
    return () => unsubscribe(sub);
  }

  /** Answers requests on `subject` with what `handler` resolves to, or its error (as a PeerwayError on the wire). */
  serve(subject: string, handler: (value: unknown) => Promise<unknown>): () => void {
    const sub = this.nc.subscribe(subject, {
      callback: (err, msg) => {
        if (err) return;
        void this.answer(msg, handler);
      },
    });
    return () => unsubscribe(sub);
  }

  private async answer(msg: Msg, handler: (value: unknown) => Promise<unknown>): Promise<void> {
    let reply: ClusterReply;
    try {
      const value = await handler(decodeValue(msg.data));
      reply = value === undefined ? { ok: true } : { ok: true, value };
    } catch (err) {
      reply = { ok: false, error: PeerwayError.from(err).toWire() };
    }
    if (!msg.reply || this.nc.isClosed()) return;
    try {
      msg.respond(encodeValue(reply));
    } catch (err) {
      // An answer that cannot be sent is an error answer, never none (the asker must not wait for nothing).
      const error = isCode(err, ErrorCode.MaxPayloadExceeded)
        ? new PeerwayError('LIMIT_EXCEEDED', "the answer is bigger than the NATS servers' max_payload; raise max_payload in the nats-server configuration, or return less at once")
        : PeerwayError.from(err);
      msg.respond(encodeValue({ ok: false, error: error.toWire() } satisfies ClusterReply));
    }
  }

  /**
   * Asks `subject` and resolves with the answer's value. TIMEOUT past `timeoutMs`; SERVICE_GONE when nobody
   * listens there (`who`, the server asked, left the cluster); the answerer's own error otherwise.
   */
  async request(subject: string, value: unknown, timeoutMs: number, who: string): Promise<unknown> {
    let msg: Msg;
    try {
      // Encoded inside the try: a payload above max_payload is refused right here, synchronously.
      msg = await this.nc.request(subject, encodeValue(value), { timeout: Math.max(1, Math.round(timeoutMs)) });
    } catch (err) {
      throw natsError(err, who, timeoutMs);
    }
    const reply = decodeValue(msg.data) as Partial<ClusterReply> | undefined;
    if (reply?.ok === true) return (reply as { value?: unknown }).value;
    if (reply?.ok === false) throw PeerwayError.fromWire((reply as { error: unknown }).error);
    throw new PeerwayError('PROTOCOL', `server ${who} answered a cluster request with something that is not a reply`);
  }

  /** Sends what is buffered, then closes. */
  async close(): Promise<void> {
    if (this.nc.isClosed()) return;
    try {
      await this.nc.flush();
    } catch {
      // Closing anyway.
    }
    await this.nc.close();
  }
}

function unsubscribe(sub: Subscription): void {
  try {
    sub.unsubscribe();
  } catch {
    // The connection is closed already.
  }
}

function natsError(err: unknown, who: string, timeoutMs: number): PeerwayError {
  if (err instanceof NatsError) {
    if (isCode(err, ErrorCode.NoResponders)) return new PeerwayError('SERVICE_GONE', `server ${who} does not answer: it left the cluster (or is restarting)`, { cause: err });
    if (isCode(err, ErrorCode.MaxPayloadExceeded)) {
      return new PeerwayError('LIMIT_EXCEEDED', `a request to server ${who} is bigger than the NATS servers' max_payload; raise max_payload in the nats-server configuration, or send less at once`, { cause: err });
    }
    if (isCode(err, ErrorCode.Timeout)) return new PeerwayError('TIMEOUT', `server ${who} did not answer within ${timeoutMs} ms`, { cause: err, details: { server: who, timeoutMs } });
    return new PeerwayError('CONNECTION_CLOSED', `the cluster link failed while asking server ${who}: ${err.message}`, { cause: err });
  }
  return PeerwayError.from(err);
}

function isCode(err: unknown, code: ErrorCode): boolean {
  return err instanceof NatsError && err.code === (code as string);
}
