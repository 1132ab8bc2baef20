import { EventEmitter } from 'node:events';
import { PeerwayError } from '../errors.js';
import type { BearerAddress, BearerAttributes } from '../bearer/bearer.js';
import { Dialer } from '../bearer/dialer.js';
import { availableBearerIds, formatBearerUrl, getBearer, parseBearerUrl } from '../bearer/registry.js';
import type { CloseInfo } from '../bearer/bearer.js';
import { parseDefinition } from '../definition/parse-definition.js';
import type { ServiceDefinition } from '../definition/model.js';
import type { Channel, ChannelHandlers, ChannelLimits, RequestOptions } from '../wire/channel.js';
import { DEFAULT_LIMITS, DEFAULT_REQUEST_TIMEOUT_MS } from '../wire/channel.js';
import type { Push, RelayStats, ServiceListing } from '../wire/messages.js';
import { PROTOCOL_VERSION } from '../wire/messages.js';
import type { Logger } from '../logger.js';
import { silentLogger } from '../logger.js';
import { hostId, processId } from '../routing/host-id.js';
import { parseInstructions } from '../routing/instructions.js';
import { missingAdapterWarnings } from './adapter-warnings.js';
import { emitIsolated } from './isolated-emit.js';
import { Session, type ServerAccess } from './session.js';
import { openRoutes } from './link-opener.js';
import { upgradeWhenUp } from './late-links.js';

export interface ClientOptions {
  /** Time allowed to connect and complete the hello (default 10 s). */
  connectTimeoutMs?: number;
  /** Default time allowed for each call and request (default 10 s); per-call options override it. */
  timeoutMs?: number;
  signal?: AbortSignal;
  logger?: Logger;
  /** Bearer attributes for the server connection (certificates for ssl, …). */
  attributes?: BearerAttributes;
  /** Largest message sent or accepted. */
  maxMessageBytes?: number;
  /** Software name reported to the server, for its logs. */
  agent?: string;
  /** The bearer token presented to the server's access policy; without one the client is `anonymous`. */
  token?: string;
  /**
   * Connection adapters: attributes per bearer id, used for the server connection and for peer-to-peer
   * links (e.g. `{ 'connect.bearer.ssl': { ca: 'ca.pem' } }`). Configuring an ssl adapter is what lets
   * this client take ssl peer-to-peer routes.
   */
  adapters?: Record<string, BearerAttributes>;
  /**
   * Bearers this client offers for peer-to-peer routes. Default: every bearer offered by default (tcp,
   * udp, local, ws), plus those offered once configured (ssl) when an adapter for them is given or the
   * server connection itself uses them.
   */
  bearers?: string[];
  /** Bearers left out of the default offer (the CLI's `--no-udp`); ignored when `bearers` is given. */
  withoutBearers?: string[];
  /**
   * Time allowed to open each peer-to-peer link at session start (default 1 s; links open in parallel).
   * A link that does not answer in time falls back to the next route, and is tried again in the background
   * (4 times, from 1 s apart, doubling): when it comes up, the session takes its direct routes.
   */
  linkTimeoutMs?: number;
  /**
   * Bounds on the server connection and the links: keepalive (a server or service that stops answering
   * is noticed), bytes queued, requests in flight. Defaults as on the server (README, "Limits and guarantees").
   */
  limits?: ChannelLimits;
}

/** The bearers a client announces at session start (see ClientOptions.bearers), as each bearer's `offer` says. */
export function offeredBearers(options: ClientOptions, serverBearer: string): string[] {
  const available = availableBearerIds();
  if (options.bearers) return options.bearers.filter((b) => available.includes(b));
  return available.filter((id) => {
    if (options.withoutBearers?.includes(id)) return false;
    const offer = getBearer(id).offer ?? 'always';
    return offer === 'always' || (offer === 'when-configured' && (options.adapters?.[id] !== undefined || serverBearer === id));
  });
}

export type StartSessionOptions = RequestOptions;

const DEFAULT_LINK_TIMEOUT_MS = 1000;

/**
 * Connects to a Peerway server. `url` is `tcp://HOST:PORT` (or another registered bearer's scheme).
 *
 * ```ts
 * const client = await connect('tcp://127.0.0.1:2002');
 * const climate = await client.startSession('Climate');
 * await climate.call('setTemperature', { zone: 1, celsius: 22.5 });
 * ```
 */
export async function connect(url: string | BearerAddress, options: ClientOptions = {}): Promise<PeerwayClient> {
  const address = typeof url === 'string' ? parseBearerUrl(url) : url;
  const attributes = options.attributes ?? options.adapters?.[address.bearer];
  const dialer = new Dialer(address, {
    connect: {
      ...(attributes ? { attributes } : {}),
      ...(options.maxMessageBytes ? { maxMessageBytes: options.maxMessageBytes } : {}),
      timeoutMs: options.connectTimeoutMs ?? 10_000,
    },
    hello: { role: 'client', agent: options.agent ?? `peerway-client/${process.pid}`, ...(options.token ? { token: options.token } : {}) },
  });
  const channel = await dialer.dial(options.signal);
  return new PeerwayClient(dialer, channel, options);
}

/**
 * A connection to a Peerway server, and the sessions started over it.
 *
 * The sessions outlive the connection: when it drops, pending server-routed calls fail with
 * CONNECTION_CLOSED, direct links keep working, and `reconnect()` attaches every session to a new
 * connection (subscriptions are made again). A session the server no longer knows then ends with `ended`.
 *
 * Events: `close` and `disconnected` (CloseInfo) when the server connection closes; `reconnected` after
 * `reconnect()`; `warning` (text) for routing fallbacks; `rerouted` ({ session, link, resources }) when a
 * link that was late at session start came up and its direct routes were taken; `error` (PeerwayError) when a listener of a
 * session without its own `error` listener threw (without an `error` listener it is logged).
 */
export class PeerwayClient extends EventEmitter {
  readonly log: Logger;
  readonly serverAddress: BearerAddress;
  private channel: Channel | undefined;
  private lastClose: CloseInfo | undefined;
  private closedByUser = false;
  private readonly sessions = new Map<string, Session>();
  private readonly definitions = new Map<string, ServiceDefinition>(); // by XML text: parse once
  private readonly timeoutMs: number;
  /** What sessions use to reach the server, whatever connection is current. */
  private readonly access: ServerAccess;
  private readonly limits: ChannelLimits;

  constructor(
    private readonly dialer: Dialer,
    channel: Channel,
    private readonly options: ClientOptions,
  ) {
    super();
    this.serverAddress = dialer.address;
    this.log = options.logger ?? silentLogger();
    this.timeoutMs = options.timeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS;
    this.limits = { ...DEFAULT_LIMITS, ...options.limits };
    this.access = {
      channel: () => this.serverChannel(),
      reportListenerError: (error, session) => this.reportError(error, { session: session.id, service: session.service }),
    };
    this.adopt(channel);
  }

  /** Whether there is no live server connection (it dropped, or close() was called). */
  get closed(): boolean {
    return this.channel === undefined;
  }

  /** The services registered on the server. */
  services(options: RequestOptions = {}): Promise<ServiceListing[]> {
    return this.requestServer({ type: 'list' }, options);
  }

  /** Relay counters per service: what went through the server. */
  stats(options: RequestOptions = {}): Promise<RelayStats> {
    return this.requestServer({ type: 'stats' }, options);
  }

  /** Starts a session with a service; fails with SERVICE_NOT_FOUND when it is not registered. */
  async startSession(service: string, options: StartSessionOptions = {}): Promise<Session> {
    const channel = this.serverChannel();
    const client = { bearers: offeredBearers(this.options, this.serverAddress.bearer), host: hostId(), process: processId(), version: PROTOCOL_VERSION };
    const reply = await channel.request({ type: 'start', service, client }, options);
    let definition = this.definitions.get(reply.xml);
    if (!definition) {
      definition = parseDefinition(reply.xml, `${reply.service}.xml (from the server)`);
      this.definitions.set(reply.xml, definition);
    }
    const session = new Session(
      {
        id: reply.session,
        service: reply.service,
        location: reply.location,
        definition,
        ...(reply.routing ? { routing: reply.routing } : {}),
        ...(reply.resume ? { resume: reply.resume } : {}),
      },
      this.access,
      this.timeoutMs,
      (id) => this.sessions.delete(id),
    );
    this.sessions.set(session.id, session);
    try {
      if (reply.routing) await this.followRouting(session, reply.routing);
      await channel.request({ type: 'ready', session: session.id, routes: session.chosenRoutes, ...(session.warnings.length > 0 ? { warnings: session.warnings } : {}) }, options);
    } catch (err) {
      // The session never became usable: tell the server so the service drops it too.
      await session.stop().catch(() => undefined);
      throw err;
    }
    return session;
  }

  /**
   * Dials the server again after the connection was lost and attaches every session to the new
   * connection. Sessions the server no longer knows (it restarted, or their service went away) end with
   * `ended`. Resolves once every session is attached or ended.
   */
  async reconnect(options: { signal?: AbortSignal } = {}): Promise<void> {
    if (this.closedByUser) throw new PeerwayError('CONNECTION_CLOSED', 'this client was closed; connect() again');
    if (this.channel) return;
    const channel = await this.dialer.dial(options.signal);
    this.adopt(channel);
    await Promise.all(
      [...this.sessions.values()].map(async (session) => {
        try {
          await channel.request({ type: 'attach', session: session.id, resume: session.resume ?? '' }, { timeoutMs: this.timeoutMs });
          await session.resubscribe(channel);
        } catch (err) {
          const error = PeerwayError.from(err);
          if (error.code !== 'SESSION_NOT_FOUND') throw error;
          this.sessions.delete(session.id);
          session.markEnded(new PeerwayError('SERVICE_GONE', `session ${session.id} with ${session.service} ended while the client was disconnected: ${error.message}`), false);
        }
      }),
    );
    emitIsolated(this, 'reconnected', [], (e) => this.reportError(PeerwayError.from(e), {}));
  }

  /** Opens the session's links as the routing instructions say, and installs the routes taken. */
  private async followRouting(session: Session, xml: string): Promise<void> {
    const instructions = parseInstructions(xml);
    const handlersFor = (link: string): ChannelHandlers => ({
        push: (m) => {
          if (m.type === 'event') session.deliverEvent(m, 'direct', link);
          else if (m.type === 'data') session.deliverData(m, 'direct', link);
        },
        fault: (error) => this.reportError(error, { session: session.id, link }),
        close: (info) => {
          if (!session.ended) {
            this.warn(`${session.service}: direct link ${link} closed (${info.reason}); resources routed on it fail with LINK_FAILED until the session is restarted`, { session: session.id, link });
          }
        },
    });
    const adapters = this.options.adapters ?? {};
    const linkTimeoutMs = this.options.linkTimeoutMs ?? DEFAULT_LINK_TIMEOUT_MS;
    const opened = await openRoutes(instructions, { adapters, timeoutMs: linkTimeoutMs, handlersFor });
    for (const link of opened.late.keys()) {
      upgradeWhenUp(session, instructions, link, {
        adapters,
        timeoutMs: Math.max(linkTimeoutMs, 5000),
        attempts: 4,
        firstDelayMs: 1000,
        handlersFor,
        prepare: (channel) => channel.configure(this.limits),
        upgraded: (name, resources) => {
          this.log.info({ session: session.id, link: name, resources }, 'late link came up; its direct routes are taken');
          emitIsolated(this, 'rerouted', [{ session, link: name, resources }], (e) => this.reportError(PeerwayError.from(e), {}));
        },
      });
    }
    // Unless the caller chose the bearers, a direct route skipped for want of an adapter is worth a warning.
    if (!this.options.bearers) {
      opened.warnings.push(...missingAdapterWarnings(instructions, opened.routes, offeredBearers(this.options, this.serverAddress.bearer)));
    }
    for (const link of opened.links.values()) link.configure(this.limits);
    session.attachRoutes(opened.links, opened.routes, opened.warnings);
    for (const w of opened.warnings) this.warn(w, { session: session.id, service: session.service });
  }

  /** Stops every session, then closes the connection. Sessions end without an `ended` event. */
  async close(): Promise<void> {
    if (this.closedByUser) return;
    this.closedByUser = true;
    const stops = [...this.sessions.values()].map((s) => s.stop({ timeoutMs: Math.min(this.timeoutMs, 2000) }).catch(() => undefined));
    await Promise.all(stops);
    const channel = this.channel;
    if (!channel) return;
    const closed = new Promise<void>((resolve) => this.once('close', () => resolve()));
    channel.close('client closed');
    await closed;
  }

  /** The current server connection; CONNECTION_CLOSED (saying why) while there is none. */
  private serverChannel(): Channel {
    if (this.channel) return this.channel;
    const why = this.closedByUser ? 'the client was closed' : `the connection was lost (${this.lastClose?.reason ?? 'closed'}); call reconnect()`;
    throw new PeerwayError('CONNECTION_CLOSED', `not connected to the server at ${formatBearerUrl(this.serverAddress)}: ${why}`);
  }

  private requestServer<B extends Parameters<Channel['request']>[0]>(body: B, options: RequestOptions) {
    let channel: Channel;
    try {
      channel = this.serverChannel();
    } catch (err) {
      return Promise.reject(PeerwayError.from(err));
    }
    return channel.request(body, options);
  }

  private adopt(channel: Channel): void {
    this.channel = channel;
    channel.defaultTimeoutMs = this.timeoutMs;
    channel.configure(this.limits);
    channel.start({
      push: (m) => this.onPush(m),
      fault: (error) => this.reportError(error, {}),
      close: (info) => {
        if (this.channel !== channel) return;
        this.channel = undefined;
        this.lastClose = info;
        if (this.closedByUser) {
          const err = new PeerwayError('CONNECTION_CLOSED', 'the client was closed');
          for (const s of this.sessions.values()) s.markEnded(err, true);
          this.sessions.clear();
        }
        const report = (e: unknown) => this.reportError(PeerwayError.from(e), {});
        emitIsolated(this, 'close', [info], report);
        if (!this.closedByUser) emitIsolated(this, 'disconnected', [info], report);
      },
    });
  }

  private onPush(m: Push): void {
    if (m.type === 'event' || m.type === 'data') {
      const session = m.session ? this.sessions.get(m.session) : undefined;
      if (!session) return; // a push racing with stop(); nothing to deliver to
      if (m.type === 'event') session.deliverEvent(m, 'server');
      else session.deliverData(m, 'server');
    } else if (m.type === 'ended') {
      const session = this.sessions.get(m.session);
      if (!session) return;
      this.sessions.delete(m.session);
      session.markEnded(PeerwayError.fromWire(m.error), false);
    }
  }

  private warn(text: string, fields: Record<string, unknown>): void {
    this.log.warn(fields, text);
    emitIsolated(this, 'warning', [text], (e) => this.reportError(PeerwayError.from(e), fields));
  }

  /** A user listener threw: `error` listeners hear of it; without one it is logged, never thrown. */
  private reportError(error: PeerwayError, fields: Record<string, unknown>): void {
    if (this.listenerCount('error') > 0) {
      emitIsolated(this, 'error', [error], (e) => this.log.warn({ ...fields, reason: String(e) }, 'an error listener threw'));
    } else {
      this.log.warn({ ...fields, reason: error.message }, 'listener error');
    }
  }
}
