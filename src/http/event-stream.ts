import type { ServerResponse } from 'node:http';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { toJsonValue } from '../definition/value-text.js';
import { PeerwayError } from '../errors.js';
import type { Identity } from '../policy/authorizer.js';
import { BrokerClient } from '../server/broker-client.js';
import type { SessionSink } from '../server/broker-session.js';
import { PROTOCOL_VERSION } from '../wire/messages.js';
import { DEFAULT_PUSH_LIMITS, PushOutbox, type PushLimits, type PushTarget } from '../wire/push-outbox.js';
import type { GatewayContext } from './gateway.js';

/** A comment line every so often keeps proxies and idle timeouts from closing a quiet stream. */
export const KEEP_ALIVE_MS = 15_000;
/** Event streams one identity may hold open from one address (each holds a session and a socket). */
export const MAX_STREAMS_PER_CALLER = 64;

/** What a stream carries: a service's events (one, or all), or a runtime-data path (snapshot, then changes). */
export type StreamSubject = { kind: 'event'; name?: string } | { kind: 'data'; path: string };

/** One Server-Sent Events message: `event: NAME` and one `data:` line of JSON (JSON text has no raw newlines). */
export function sseMessage(event: string, data: unknown): Buffer {
  return Buffer.from(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`, 'utf8');
}

/** The end of a stream that did not end well: the Peerway error, in the JSON API's error shape. */
function errorMessage(error: PeerwayError): Buffer {
  return sseMessage('error', { error: { code: error.code, message: error.message, ...(error.details ? { details: error.details } : {}) } });
}

/**
 * An HTTP response as a push target: what it has not written yet (its own buffer and its socket's) is
 * what the outbox weighs, and a slow consumer's stream is destroyed, which gives those bytes back.
 */
class ResponseTarget implements PushTarget {
  constructor(
    private readonly res: ServerResponse,
    readonly peerLabel: string,
    private readonly dropped: (error: PeerwayError) => void,
  ) {}

  get closed(): boolean {
    return this.res.destroyed || this.res.writableEnded;
  }

  get queuedBytes(): number {
    return this.res.writableLength;
  }

  sendEncoded(bytes: Uint8Array): void {
    this.res.write(bytes);
  }

  fail(error: PeerwayError): void {
    this.dropped(error);
    // The reader is not reading: an error message would only queue behind the rest. Destroying frees it all.
    this.res.destroy();
  }
}

/**
 * The open Server-Sent Events streams of a gateway. Each is a long-lived subscriber with a BrokerClient and
 * a session of its own (the policy decides it like any other), pushing through a bounded PushOutbox: a
 * client that stops reading gets runtime data coalesced, then is dropped with LIMIT_EXCEEDED, so it never
 * costs more than the push limits. A stream ends with an `error` message when its service goes away, and
 * its session is stopped when the client goes.
 */
export class EventStreams {
  /** How to end each open stream. */
  private readonly open = new Set<(error: PeerwayError) => void>();
  /**
   * Streams open or opening per identity and address: each costs a session and a socket, so one caller's
   * are bounded (per address too: without a policy every caller is `anonymous`).
   */
  private readonly perCaller = new Map<string, number>();
  private readonly limits: PushLimits;

  constructor(private readonly context: GatewayContext) {
    this.limits = context.options.pushLimits ?? DEFAULT_PUSH_LIMITS;
  }

  /**
   * Starts the session and the subscription, and only then the stream: a refusal (unknown name, policy,
   * service gone) is an ordinary JSON error reply, thrown from here. Resolves once the stream is open.
   */
  async serve(request: FastifyRequest, reply: FastifyReply, service: string, subject: StreamSubject): Promise<void> {
    const identity = this.context.identityOf(request);
    const peer = `http ${request.ip}:${request.socket.remotePort ?? 0} (${identity.name})`;
    const res = reply.raw;
    const caller = `${identity.name}@${request.ip}`;
    const count = this.perCaller.get(caller) ?? 0;
    if (count >= MAX_STREAMS_PER_CALLER) {
      throw new PeerwayError('LIMIT_EXCEEDED', `${identity.name} at ${request.ip} already has ${count} event streams open, the most allowed; close some (each holds a session)`, {
        details: { limit: MAX_STREAMS_PER_CALLER },
      });
    }
    this.perCaller.set(caller, count + 1);
    res.once('close', () => {
      const left = (this.perCaller.get(caller) ?? 1) - 1;
      if (left > 0) this.perCaller.set(caller, left);
      else this.perCaller.delete(caller);
    });
    // The client may go while the session starts: then there is nothing to open.
    let gone = false;
    res.once('close', () => (gone = true));
    let outbox: PushOutbox | undefined;
    let ended: PeerwayError | undefined;
    const sink: SessionSink = {
      event: (_session, name, args) => outbox?.push(sseMessage(name, toJsonValue(args))),
      // Keyed by path: a held change is replaced by a newer one of the same path.
      data: (_session, path, value) => outbox?.push(sseMessage('change', { path, value: toJsonValue(value) }), path),
      ended: (_session, error) => {
        ended = error;
        if (outbox) this.finish(res, error);
      },
    };
    const client = new BrokerClient(this.context.broker, { identity, label: peer }, sink);
    let session: string | undefined;
    try {
      session = (await client.start(service, { bearers: [], host: 'http', version: PROTOCOL_VERSION })).session;
      await client.ready(session, {});
      // The client may have gone while the session started; the service may have gone too.
      if (gone || res.destroyed) throw new PeerwayError('ABORTED', 'the client closed the request before its stream opened');
      if (ended) throw ended;
      const first = await client.subscribe(session, subject.kind, subject.kind === 'event' ? subject.name : subject.path);
      const snapshot = subject.kind === 'data' ? sseMessage('snapshot', { path: subject.path, value: toJsonValue(first) }) : undefined;
      outbox = this.openStream(reply, identity, peer, client, session, snapshot);
    } catch (err) {
      stopQuietly(client, session);
      throw err;
    }
  }

  /** Ends every stream with `error` (the gateway is stopping: an open response would hold its close). */
  closeAll(error: PeerwayError): void {
    for (const close of [...this.open]) close(error);
  }

  /** Answers 200 with the stream's headers (and `first`), wires its outbox, keep-alive and clean-up; returns the outbox. */
  private openStream(reply: FastifyReply, identity: Identity, peer: string, client: BrokerClient, session: string, first: Buffer | undefined): PushOutbox {
    const res = reply.raw;
    const log = this.context.log.child({ component: 'http', session, peer, identity: identity.name });
    const target = new ResponseTarget(res, peer, (error) => log.warn({ reason: error.message }, 'event stream dropped'));
    const outbox = new PushOutbox(target, this.limits, (error) => log.warn({ reason: error.message }, 'event stream push dropped'));
    reply.hijack();
    res.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-cache, no-transform',
      connection: 'keep-alive',
      // Proxies (nginx) would otherwise buffer the stream.
      'x-accel-buffering': 'no',
    });
    res.flushHeaders();
    if (first) res.write(first);
    res.on('drain', () => outbox.flush());
    const keepAlive = setInterval(() => {
      if (outbox.held === 0 && !target.closed) res.write(': keep-alive\n\n');
    }, KEEP_ALIVE_MS);
    keepAlive.unref();
    const shutdown = (error: PeerwayError) => this.finish(res, error);
    this.open.add(shutdown);
    res.once('close', () => {
      clearInterval(keepAlive);
      this.open.delete(shutdown);
      stopQuietly(client, session);
      log.debug('event stream closed');
    });
    return outbox;
  }

  /** Ends a stream with an `error` message carrying `error`. */
  private finish(res: ServerResponse, error: PeerwayError): void {
    if (res.destroyed || res.writableEnded) return;
    res.end(errorMessage(error));
  }
}

/** Stops the stream's session (when it still exists) and lets the client go. */
function stopQuietly(client: BrokerClient, session: string | undefined): void {
  if (session !== undefined) {
    try {
      client.stop(session);
    } catch {
      // Already ended by the broker (service gone): nothing left to stop.
    }
  }
  client.close();
}
