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
import { Availability } from './availability.js';
import { Backoff, type BackoffOptions } from './backoff.js';
import { failOver } from './link-failover.js';
import type { SessionStarted } from '../wire/messages.js';

/**
 * How the client recovers by itself when the server, a service's process or a link goes away (all on by
 * default; `reconnect: false` turns it off and leaves it to `reconnect()`).
 */
export interface ReconnectOptions extends BackoffOptions {
  /**
   * How long a session whose service is gone keeps being started again before it is given up with
   * `session-lost` (default 60 s).
   */
  restoreTimeoutMs?: number;
}

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
  /**
   * Recovery (default on): the client dials the server again with backoff when the connection drops,
   * attaches or starts its sessions again, and makes their subscriptions and watches again. `false` to
   * handle it yourself with `reconnect()`.
   */
  reconnect?: boolean | ReconnectOptions;
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
const DEFAULT_RESTORE_TIMEOUT_MS = 60_000;

/** Errors after which starting the session again may work: its service or the server came back meanwhile. */
const RESTORABLE = new Set(['SERVICE_GONE', 'SESSION_NOT_FOUND', 'SERVICE_NOT_FOUND', 'CONNECTION_CLOSED', 'TIMEOUT', 'LINK_FAILED', 'CONNECT_FAILED']);

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
 * The sessions outlive the connection. When it drops, pending server-routed calls fail with
 * CONNECTION_CLOSED, direct links keep working, and the client dials again with backoff (unless
 * `reconnect: false`): every session is attached to the new connection, or started again when the server
 * no longer knows it (it restarted), with every subscription and watch made again. A session whose
 * service went away (its runner stopped) is started again when the service is back. Calls made meanwhile
 * wait, up to their timeout. A direct link that drops moves its resources to the next route and back
 * when it is up again.
 *
 * Events: `close` and `disconnected` (CloseInfo) when the server connection closes; `reconnected` once a
 * new one is up and the sessions are restored; `session-restored` ({ session, restarted }) for each
 * session restored; `session-lost` ({ session, error }) when a session cannot be restored (its service did
 * not come back within `restoreTimeoutMs`, or the server refuses it now); `warning` (text) for routing
 * fallbacks and failovers; `rerouted` ({ session, link, resources }) when a link came up (late at start,
 * or back after a failover) and its direct routes were taken; `error` (PeerwayError) when a listener of a
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
  /** Recovery settings; undefined when it is off. */
  private readonly recovery: ReconnectOptions | undefined;
  private readonly connection = new Availability();
  private reconnectTimer: NodeJS.Timeout | undefined;
  private readonly reconnectBackoff: Backoff | undefined;
  private readonly restarting = new Set<Session>();

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
    this.recovery = options.reconnect === false ? undefined : options.reconnect === true || options.reconnect === undefined ? {} : options.reconnect;
    if (this.recovery) this.reconnectBackoff = new Backoff(this.recovery);
    this.access = {
      channel: () => this.serverChannel(),
      reconnecting: () => this.reconnectTimer !== undefined || (this.channel === undefined && this.recovery !== undefined && !this.closedByUser),
      untilConnected: (timeoutMs, signal, callTimeoutMs = timeoutMs) =>
        this.channel
          ? Promise.resolve()
          : this.connection.wait(
              timeoutMs,
              () => new PeerwayError('CONNECTION_CLOSED', `not connected to the server at ${formatBearerUrl(this.serverAddress)}: still reconnecting after ${callTimeoutMs} ms (${this.lastClose?.reason ?? 'closed'})`),
              signal,
            ),
      recovers: this.recovery !== undefined,
      forgotten: (session) => {
        if (session.ended || session.recovering) return;
        session.suspend('the server no longer knows this session');
        this.restart(session, this.restoreDeadline()).catch(this.reportEmitError);
      },
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
    const reply = await channel.request({ type: 'start', service, client: this.profile() }, options);
    const session = new Session(this.sessionInit(reply), this.access, this.timeoutMs, (id) => this.sessions.delete(id));
    this.sessions.set(session.id, session);
    try {
      await this.prepare(session, reply, channel, options);
    } catch (err) {
      // The session never became usable: tell the server so the service drops it too.
      await session.stop().catch(() => undefined);
      throw err;
    }
    return session;
  }

  /**
   * Dials the server again after the connection was lost and restores every session on the new
   * connection (what the client does by itself unless `reconnect: false`). Resolves once every session is
   * restored, or being restored while its service is away.
   */
  async reconnect(options: { signal?: AbortSignal } = {}): Promise<void> {
    if (this.closedByUser) throw new PeerwayError('CONNECTION_CLOSED', 'this client was closed; connect() again');
    if (this.channel) return;
    const channel = await this.dialer.dial(options.signal);
    await this.resumeOn(channel);
  }

  /** What the client tells the server about itself at session start. */
  private profile() {
    return { bearers: offeredBearers(this.options, this.serverAddress.bearer), host: hostId(), process: processId(), version: PROTOCOL_VERSION };
  }

  private sessionInit(reply: SessionStarted) {
    let definition = this.definitions.get(reply.xml);
    if (!definition) {
      definition = parseDefinition(reply.xml, `${reply.service}.xml (from the server)`);
      this.definitions.set(reply.xml, definition);
    }
    return {
      id: reply.session,
      service: reply.service,
      location: reply.location,
      definition,
      ...(reply.routing ? { routing: reply.routing } : {}),
      ...(reply.resume ? { resume: reply.resume } : {}),
    };
  }

  /** A started session opens its links and tells the server (and the service) which routes it took. */
  private async prepare(session: Session, reply: SessionStarted, channel: Channel, options: RequestOptions): Promise<void> {
    if (reply.routing) await this.followRouting(session, reply.routing);
    await channel.request({ type: 'ready', session: session.id, routes: session.chosenRoutes, ...(session.warnings.length > 0 ? { warnings: session.warnings } : {}) }, options);
  }

  /** A new server connection is up: adopt it, then restore every session on it. */
  private async resumeOn(channel: Channel): Promise<void> {
    this.adopt(channel);
    await Promise.all([...this.sessions.values()].map((session) => this.restore(session, channel)));
    this.log.info({ server: formatBearerUrl(this.serverAddress), sessions: this.sessions.size }, 'reconnected');
    emitIsolated(this, 'reconnected', [], this.reportEmitError);
  }

  /**
   * Restores one session on a new server connection: attached when the server still has it (its direct
   * links never dropped), started again when it does not (the server restarted, the session expired).
   */
  private async restore(session: Session, channel: Channel): Promise<void> {
    if (session.ended) return;
    if (!session.recovering) {
      try {
        await channel.request({ type: 'attach', session: session.id, resume: session.resume ?? '' }, { timeoutMs: this.timeoutMs });
        // Routes may have moved while the server was away (a link failed over): the service hears of them.
        await channel.request({ type: 'ready', session: session.id, routes: session.chosenRoutes }, { timeoutMs: this.timeoutMs });
        await session.resubscribe(channel);
        session.recovered(false);
        emitIsolated(this, 'session-restored', [{ session, restarted: false }], this.reportEmitError);
        return;
      } catch (err) {
        const error = PeerwayError.from(err);
        if (!RESTORABLE.has(error.code)) return this.lose(session, error);
        session.suspend(`the server no longer has session ${session.id}`);
      }
    }
    await this.restart(session, this.restoreDeadline());
  }

  /**
   * Starts a suspended session again (a new id, new links), retrying with backoff while its service is
   * away, until `deadline`; then gives it up with `session-lost`. Stops when the server connection drops
   * meanwhile: the reconnect restores it then.
   */
  private async restart(session: Session, deadline: number): Promise<void> {
    // One restart at a time per session: the `ended` push and an unknown-session answer may both ask.
    if (this.restarting.has(session)) return;
    this.restarting.add(session);
    try {
      await this.restartLoop(session, deadline);
    } finally {
      this.restarting.delete(session);
    }
  }

  private async restartLoop(session: Session, deadline: number): Promise<void> {
    const backoff = new Backoff(this.recovery ?? {});
    const generation = session.generation;
    for (;;) {
      if (session.ended || session.generation !== generation) return;
      const channel = this.channel;
      if (!channel) return;
      let error: PeerwayError;
      try {
        const reply = await channel.request({ type: 'start', service: session.service, client: this.profile() }, { timeoutMs: this.timeoutMs });
        const oldId = session.id;
        session.restart(this.sessionInit(reply));
        this.sessions.delete(oldId);
        this.sessions.set(session.id, session);
        try {
          await this.prepare(session, reply, channel, { timeoutMs: this.timeoutMs });
          await session.resubscribeAll();
        } catch (err) {
          // Not usable after all: the server drops it, and the next attempt starts afresh.
          channel.request({ type: 'stop', session: session.id }, { timeoutMs: this.timeoutMs }).catch(() => undefined);
          session.suspend('the restarted session could not take its routes');
          throw err;
        }
        this.log.info({ session: session.id, previous: oldId, service: session.service }, 'session started again');
        session.recovered(true);
        emitIsolated(this, 'session-restored', [{ session, restarted: true }], this.reportEmitError);
        return;
      } catch (err) {
        error = PeerwayError.from(err);
      }
      if (session.ended) return;
      if (!RESTORABLE.has(error.code)) return this.lose(session, error);
      const wait = backoff.next();
      if (Date.now() + wait > deadline) {
        return this.lose(session, new PeerwayError('SERVICE_GONE', `session with ${session.service} could not be restored: ${error.message}`, { cause: error }));
      }
      this.log.debug({ service: session.service, reason: error.message, retryMs: wait }, 'session not restored yet');
      await new Promise((resolve) => setTimeout(resolve, wait));
    }
  }

  /** Until when a session whose service is away is tried again: once only with recovery off (`reconnect()`). */
  private restoreDeadline(): number {
    return Date.now() + (this.recovery ? (this.recovery.restoreTimeoutMs ?? DEFAULT_RESTORE_TIMEOUT_MS) : 0);
  }

  /** A session that cannot come back: `session-lost` here, `ended` on the session. */
  private lose(session: Session, error: PeerwayError): void {
    if (session.ended) return;
    this.sessions.delete(session.id);
    this.log.warn({ session: session.id, service: session.service, reason: error.message }, 'session lost');
    session.markEnded(error, false);
    emitIsolated(this, 'session-lost', [{ session, error }], this.reportEmitError);
  }

  /** The server connection dropped: dial again after the backoff's wait, until it is up or the client closed. */
  private scheduleReconnect(): void {
    const backoff = this.reconnectBackoff;
    if (!backoff || this.closedByUser || this.reconnectTimer) return;
    const wait = backoff.next();
    this.reconnectTimer = setTimeout(() => {
      void (async () => {
        let channel: Channel;
        try {
          channel = await this.dialer.dial();
        } catch (err) {
          this.reconnectTimer = undefined;
          this.log.debug({ server: formatBearerUrl(this.serverAddress), reason: (err as Error).message, attempt: backoff.attempts }, 'reconnect failed');
          // A wrong protocol or a certificate that will not verify does not get better by retrying.
          if (PeerwayError.from(err).details?.permanent === true) return this.giveUp(PeerwayError.from(err));
          return this.scheduleReconnect();
        }
        this.reconnectTimer = undefined;
        if (this.closedByUser) return channel.close('client closed');
        backoff.reset();
        await this.resumeOn(channel);
      })().catch((err: unknown) => this.reportError(PeerwayError.from(err), {}));
    }, wait);
  }

  /** Reconnecting cannot work: waiting calls fail, sessions end. */
  private giveUp(error: PeerwayError): void {
    this.log.warn({ server: formatBearerUrl(this.serverAddress), reason: error.message }, 'not reconnecting');
    this.connection.fail(error);
    for (const session of [...this.sessions.values()]) this.lose(session, error);
  }

  /** Opens the session's links as the routing instructions say, and installs the routes taken. */
  private async followRouting(session: Session, xml: string): Promise<void> {
    const instructions = parseInstructions(xml);
    const generation = session.generation;
    const adapters = this.options.adapters ?? {};
    const linkTimeoutMs = this.options.linkTimeoutMs ?? DEFAULT_LINK_TIMEOUT_MS;
    const handlersFor = (link: string): ChannelHandlers => ({
      push: (m) => {
        if (m.type === 'event') session.deliverEvent(m, 'direct', link);
        else if (m.type === 'data') session.deliverData(m, 'direct', link);
      },
      fault: (error) => this.reportError(error, { session: session.id, link }),
      close: (info) => {
        // A link of an earlier incarnation, or one already replaced, is not this session's concern.
        if (session.ended || session.recovering || session.generation !== generation) return;
        const current = session.openLinks().get(link);
        if (current && !current.closed) return;
        if (!this.recovery) {
          this.warn(`${session.service}: direct link ${link} closed (${info.reason}); resources routed on it fail with LINK_FAILED (recovery is off)`, { session: session.id, link });
          return;
        }
        failOver(session, instructions, link, info.reason, {
          warn: (text: string) => this.warn(text, { session: session.id, link }),
          later: () => tryLater(link, { attempts: 8, firstDelayMs: 250 }),
        });
      },
    });
    const tryLater = (link: string, schedule: { attempts: number; firstDelayMs: number }) =>
      upgradeWhenUp(session, instructions, link, {
        adapters,
        timeoutMs: Math.max(linkTimeoutMs, 5000),
        ...schedule,
        handlersFor,
        stillWanted: () => !session.ended && session.generation === generation,
        prepare: (channel) => channel.configure(this.limits),
        upgraded: (name, resources) => {
          this.log.info({ session: session.id, link: name, resources }, 'link came up; its direct routes are taken');
          emitIsolated(this, 'rerouted', [{ session, link: name, resources }], this.reportEmitError);
        },
      });
    const opened = await openRoutes(instructions, { adapters, timeoutMs: linkTimeoutMs, handlersFor });
    for (const link of opened.late.keys()) tryLater(link, { attempts: 4, firstDelayMs: 1000 });
    // Unless the caller chose the bearers, a direct route skipped for want of an adapter is worth a warning.
    if (!this.options.bearers) {
      opened.warnings.push(...missingAdapterWarnings(instructions, opened.routes, offeredBearers(this.options, this.serverAddress.bearer)));
    }
    for (const link of opened.links.values()) link.configure(this.limits);
    session.attachRoutes(opened.links, opened.routes, opened.warnings, instructions);
    for (const w of opened.warnings) this.warn(w, { session: session.id, service: session.service });
  }

  /** Stops every session, then closes the connection. Sessions end without an `ended` event. */
  async close(): Promise<void> {
    if (this.closedByUser) return;
    this.closedByUser = true;
    clearTimeout(this.reconnectTimer);
    this.reconnectTimer = undefined;
    this.connection.fail(new PeerwayError('CONNECTION_CLOSED', 'the client was closed'));
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
    const why = this.closedByUser
      ? 'the client was closed'
      : `the connection was lost (${this.lastClose?.reason ?? 'closed'}); ${this.recovery ? 'reconnecting' : 'call reconnect()'}`;
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
    this.connection.open();
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
        emitIsolated(this, 'close', [info], this.reportEmitError);
        if (this.closedByUser) return;
        this.log.warn({ server: formatBearerUrl(this.serverAddress), reason: info.reason }, this.recovery ? 'server connection lost; reconnecting' : 'server connection lost');
        emitIsolated(this, 'disconnected', [info], this.reportEmitError);
        this.scheduleReconnect();
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
      const error = PeerwayError.fromWire(m.error);
      // Its service went away (a runner stopped or restarted): start it again when the service is back.
      if (this.recovery && RESTORABLE.has(error.code) && this.channel) {
        if (session.recovering) return; // already being restored
        this.log.info({ session: session.id, service: session.service, reason: error.message }, 'session ended by the server; restoring it');
        session.suspend(error.message);
        this.restart(session, this.restoreDeadline()).catch(this.reportEmitError);
        return;
      }
      this.sessions.delete(m.session);
      session.markEnded(error, false);
    }
  }

  private readonly reportEmitError = (e: unknown): void => this.reportError(PeerwayError.from(e), {});

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
