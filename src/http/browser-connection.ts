import WebSocket from 'ws';
import { definitionToJson } from '../definition/definition-json.js';
import type { ServiceDefinition } from '../definition/model.js';
import { fromJsonValue, toJsonValue } from '../definition/value-text.js';
import { checkArguments } from '../definition/values.js';
import { ERROR_CODES, PeerwayError } from '../errors.js';
import { allowAll, type Identity } from '../policy/authorizer.js';
import { BrokerClient } from '../server/broker-client.js';
import type { SessionSink } from '../server/broker-session.js';
import { PROTOCOL_VERSION } from '../wire/messages.js';
import { PushOutbox, type PushLimits, type PushTarget } from '../wire/push-outbox.js';
import { BadRequest, parseBrowserRequest, type BrowserPush, type BrowserRequest, type RequestId } from './browser-messages.js';
import type { ListingWatch, ListingWatcher } from './browser-watch.js';
import type { GatewayContext } from './gateway.js';

/** The bounds of one browser socket. */
export interface BrowserSocketLimits {
  push: PushLimits;
  /** Largest message accepted from the browser (bigger ones close the socket with 1009). */
  maxMessageBytes: number;
  /** Requests answered at once; more are refused with LIMIT_EXCEEDED. */
  maxInFlight: number;
  /** A ping every this long; a browser that answered none of the last one is dropped. */
  keepaliveMs: number;
}

/** What a browser offers at session start: no peer-to-peer bearer, so every resource takes the server route. */
const BROWSER_PROFILE = { bearers: [], host: 'browser', version: PROTOCOL_VERSION };

/** How long a socket closed by the server may take to say goodbye before it is cut (its buffers freed). */
const CLOSE_GRACE_MS = 1000;

/**
 * One browser WebSocket: a thin adapter, as `server/client-connection.ts` is for the binary protocol, that
 * turns JSON requests into calls on its own BrokerClient (so every request passes the broker's
 * authorization with this socket's identity) and the broker's pushes into JSON messages. Pushes go through
 * a PushOutbox over the socket's unwritten bytes: a tab that stops reading gets runtime data coalesced and
 * is then closed with LIMIT_EXCEEDED, so it costs bounded memory. Its sessions end with it: a browser has
 * no way to attach them again.
 */
export class BrowserConnection implements PushTarget, ListingWatcher {
  private client: BrokerClient;
  identity: Identity;
  /** The sessions started on this socket, with their definitions (arguments arrive as JSON). */
  private readonly definitions = new Map<string, ServiceDefinition>();
  private readonly outbox: PushOutbox;
  private inFlight = 0;
  private started = false;
  private identified: Promise<void> = Promise.resolve();
  private ending = false;
  private answeredPing = true;
  private readonly keepalive: NodeJS.Timeout;

  constructor(
    private readonly socket: WebSocket,
    private readonly context: GatewayContext,
    private readonly listings: ListingWatch,
    identity: Identity,
    readonly peerLabel: string,
    /** `IP:PORT`, for the brake on token guessing. */
    private readonly remote: string,
    private readonly limits: BrowserSocketLimits,
  ) {
    this.identity = identity;
    this.client = this.clientFor(identity);
    this.outbox = new PushOutbox(this, limits.push, (error) => context.log.warn({ peer: peerLabel, reason: error.message }, 'browser push dropped'));
    socket.on('message', (data: WebSocket.RawData, isBinary: boolean) => this.receive(data, isBinary));
    socket.on('pong', () => (this.answeredPing = true));
    socket.once('close', () => this.release());
    this.keepalive = setInterval(() => {
      if (!this.answeredPing) {
        context.log.info({ peer: peerLabel }, 'browser socket answered no ping; dropped');
        socket.terminate();
        return;
      }
      this.answeredPing = false;
      socket.ping();
    }, limits.keepaliveMs);
    this.keepalive.unref();
  }

  // PushTarget: what the outbox needs from the socket.

  get closed(): boolean {
    return this.ending || this.socket.readyState !== WebSocket.OPEN;
  }

  get queuedBytes(): number {
    return this.socket.bufferedAmount;
  }

  sendEncoded(bytes: Uint8Array): void {
    this.socket.send(bytes, { binary: false }, this.written);
  }

  fail(error: PeerwayError): void {
    this.close(error);
  }

  // ListingWatcher: the session list and stats pushed when they change.

  send(kind: 'sessions' | 'stats', value: unknown): void {
    this.push(kind === 'sessions' ? { type: 'sessions', sessions: value } : { type: 'stats', stats: value });
  }

  /** Closes the socket with `error`: close code 4000 + its HTTP status, reason `CODE: message`. */
  close(error: PeerwayError): void {
    if (this.ending) return;
    this.ending = true;
    const level = error.code === 'LIMIT_EXCEEDED' || error.code === 'UNAUTHORIZED' ? 'warn' : 'info';
    this.context.log[level]({ peer: this.peerLabel, identity: this.identity.name, code: error.code, reason: error.message }, 'browser socket closed by the server');
    this.socket.close(closeCode(error), closeReason(error));
    // A tab that does not read would hold the close frame (and everything before it) for ws's 30 s.
    setTimeout(() => this.socket.terminate(), CLOSE_GRACE_MS).unref();
  }

  /** A write finished: when pushes are held and the socket drained below the soft bound, send them. */
  private readonly written = (err?: Error): void => {
    if (!err && this.outbox.held > 0 && this.socket.bufferedAmount <= this.limits.push.softQueuedBytes) this.outbox.flush();
  };

  private clientFor(identity: Identity): BrokerClient {
    const sink: SessionSink = {
      event: (session, name, args) => this.push({ type: 'event', session, name, args: toJsonValue(args) }),
      data: (session, path, value) => this.push({ type: 'data', session, path, value: toJsonValue(value) }, `${session}\n${path}`),
      ended: (session, error) => {
        this.definitions.delete(session);
        this.push({ type: 'ended', session, error: error.toWire() });
      },
    };
    return new BrokerClient(this.context.broker, { identity, label: this.peerLabel }, sink);
  }

  private push(message: BrowserPush, coalesceKey?: string): void {
    let bytes: Buffer;
    try {
      bytes = Buffer.from(JSON.stringify(message));
    } catch (err) {
      this.context.log.warn({ peer: this.peerLabel, type: message.type, reason: (err as Error).message }, 'browser push could not be encoded; dropped');
      return;
    }
    this.outbox.push(bytes, coalesceKey);
  }

  private receive(data: WebSocket.RawData, isBinary: boolean): void {
    if (this.closed) return;
    if (isBinary) {
      this.answer(null, new PeerwayError('PROTOCOL', 'this endpoint takes JSON text messages; binary MessagePack is for programs on the server\'s own ws bearer'));
      return;
    }
    let request: BrowserRequest;
    try {
      request = parseBrowserRequest(textOf(data));
    } catch (err) {
      if (err instanceof BadRequest) this.answer(err.id, err.error);
      else this.answer(null, PeerwayError.from(err));
      return;
    }
    if (this.inFlight >= this.limits.maxInFlight) {
      this.answer(request.id, new PeerwayError('LIMIT_EXCEEDED', `${this.inFlight} requests are in flight on this socket, the most allowed; wait for answers before sending more`, { details: { limit: this.limits.maxInFlight } }));
      return;
    }
    this.inFlight++;
    this.handle(request).then(
      (result) => this.answer(request.id, undefined, result),
      (err: unknown) => this.answer(request.id, PeerwayError.from(err)),
    ).finally(() => this.inFlight--);
  }

  /** Sends a reply. A browser that sends requests and reads no answers is closed past the push bounds. */
  private answer(id: RequestId | null, error: PeerwayError | undefined, result?: unknown): void {
    if (this.closed) return;
    const { softQueuedBytes, maxHeldBytes } = this.limits.push;
    if (softQueuedBytes > 0 && maxHeldBytes > 0 && this.socket.bufferedAmount > softQueuedBytes + maxHeldBytes) {
      this.close(new PeerwayError('LIMIT_EXCEEDED', `${this.peerLabel} does not read its replies: ${this.socket.bufferedAmount} bytes queued; closed as a slow consumer`));
      return;
    }
    if (error?.code === 'INTERNAL') this.context.log.error({ peer: this.peerLabel, err: error }, 'browser request failed');
    let text: string;
    try {
      text = JSON.stringify(error ? { id, ok: false, error: error.toWire() } : { id, ok: true, result: result === undefined ? null : result });
    } catch (err) {
      text = JSON.stringify({ id, ok: false, error: new PeerwayError('INTERNAL', `the answer could not be encoded as JSON: ${(err as Error).message}`).toWire() });
    }
    this.socket.send(text, this.written);
    if (error?.code === 'UNAUTHORIZED') this.close(error);
  }

  private async handle(request: BrowserRequest): Promise<unknown> {
    const broker = this.context.broker;
    if (request.type === 'hello') return this.hello(request.token);
    this.started = true;
    await this.identified;
    const client = this.client;
    switch (request.type) {
      case 'ping':
        return {};
      case 'services':
        return client.services();
      case 'describe':
        return definitionToJson(broker.definitionFor(this.identity, request.service));
      case 'start':
        return this.start(request.service);
      case 'stop':
        this.definitions.delete(request.session);
        client.stop(request.session);
        return null;
      case 'call': {
        const args = this.argumentsOf(request.session, request.method, request.args);
        return toJsonValue(await client.call(request.session, request.method, args));
      }
      case 'subscribe':
        return request.kind === 'event' ? await client.subscribe(request.session, 'event', request.name) : toJsonValue(await client.subscribe(request.session, 'data', request.path));
      case 'unsubscribe':
        client.unsubscribe(request.session, request.kind, request.kind === 'event' ? request.name : request.path);
        return null;
      case 'sessions':
      case 'stats': {
        const listing = request.type === 'sessions' ? broker.listSessions(this.identity) : client.stats();
        if (request.watch === true) this.listings.watch(this, request.type, listing);
        else if (request.watch === false) this.listings.unwatch(this, request.type);
        return listing;
      }
    }
  }

  /** The optional first message: a token (browsers cannot set an Authorization header on a WebSocket). */
  private async hello(token: string | undefined): Promise<unknown> {
    if (this.started) throw new PeerwayError('PROTOCOL', 'hello must be the first message on the socket, and sent once');
    this.started = true;
    if (token !== undefined) {
      this.identified = this.context.options.authenticator.identify({ token }, this.remote, 'browser').then((identity) => {
        this.identity = identity;
        this.client = this.clientFor(identity);
      });
      await this.identified;
    }
    const limits = this.limits;
    return {
      identity: this.identity.name,
      /** Whether the server has an access policy: a token may change what this socket may do. */
      policy: this.context.broker.authorizer.current !== allowAll,
      protocol: PROTOCOL_VERSION,
      limits: { maxMessageBytes: limits.maxMessageBytes, maxInFlight: limits.maxInFlight, ...limits.push },
    };
  }

  private async start(service: string): Promise<unknown> {
    const client = this.client;
    const started = await client.start(service, BROWSER_PROFILE);
    const definition = this.context.broker.sessions.get(started.session)?.entry.definition;
    try {
      if (!definition) throw new PeerwayError('SERVICE_GONE', `service ${service} went away while the session was starting`);
      // Recorded before the await: a socket that closes meanwhile stops it with the others.
      this.definitions.set(started.session, definition);
      await client.ready(started.session, {});
    } catch (err) {
      this.definitions.delete(started.session);
      try {
        client.stop(started.session);
      } catch {
        // Already gone with its service, or with the socket.
      }
      throw err;
    }
    return { session: started.session, service: started.service, location: started.location, definition: definitionToJson(definition) };
  }

  /** Named arguments from JSON into typed values (int64 from decimal strings, binary from base64), checked. */
  private argumentsOf(session: string, method: string, args: Record<string, unknown>): Record<string, unknown> {
    const definition = this.definitions.get(session);
    if (!definition) throw new PeerwayError('SESSION_NOT_FOUND', `session ${session} does not exist on this socket (stopped, or its service went away)`);
    const def = definition.methods.get(method);
    if (!def) {
      const known = [...definition.methods.keys()].join(', ') || 'none';
      throw new PeerwayError('METHOD_NOT_FOUND', `service ${definition.name} has no method "${method}" (methods: ${known})`);
    }
    const where = `${definition.name}.${method}`;
    const typed: Record<string, unknown> = { ...args };
    for (const field of def.arguments) {
      if (typed[field.name] !== undefined) typed[field.name] = fromJsonValue(definition, field.type, typed[field.name], `${where} argument "${field.name}"`);
    }
    return checkArguments(definition, def.arguments, typed, where);
  }

  /** The socket closed (either side): its listings stop and its sessions end. */
  private release(): void {
    this.ending = true;
    clearInterval(this.keepalive);
    this.listings.unwatch(this);
    for (const session of this.definitions.keys()) {
      try {
        this.client.stop(session);
      } catch {
        // Ended meanwhile.
      }
    }
    this.definitions.clear();
    this.client.close();
  }
}

function textOf(data: WebSocket.RawData): string {
  if (Buffer.isBuffer(data)) return data.toString('utf8');
  return (Array.isArray(data) ? Buffer.concat(data) : Buffer.from(data)).toString('utf8');
}

/** 4000 + the error's HTTP status (4429 LIMIT_EXCEEDED, 4401 UNAUTHORIZED …): the application range of close codes. */
function closeCode(error: PeerwayError): number {
  return 4000 + ERROR_CODES[error.code].http;
}

/** `CODE: message`, cut to the 123 bytes a close frame's reason may hold. */
function closeReason(error: PeerwayError): string {
  const reason = `${error.code}: ${error.message}`;
  if (Buffer.byteLength(reason) <= 123) return reason;
  let cut = reason;
  while (Buffer.byteLength(cut) > 120) cut = cut.slice(0, -1);
  return `${cut}…`;
}
