import { EventEmitter } from 'node:events';
import { PeerwayError } from '../errors.js';
import type { BearerAddress, BearerAttributes, ConnectOptions } from '../bearer/bearer.js';
import { Dialer } from '../bearer/dialer.js';
import type { Channel } from '../wire/channel.js';
import type { OpenSession, Push, SessionOpened } from '../wire/messages.js';
import type { Logger } from '../logger.js';
import { silentLogger } from '../logger.js';
import { allowAll, identityNamed, type Authorizer } from '../policy/authorizer.js';
import { hostId, processId } from '../routing/host-id.js';
import type { ServiceRuntime } from '../service/service-runtime.js';
import { noteNotPersisted, restorePersistentData, type PersistentData } from '../service/persistence.js';
import type { PersistentStore } from '../service/persistent-store.js';
import { partialFrames } from '../wire/frame-decoder.js';
import { resolveLimits, type Limits } from '../wire/limits.js';
import { ServiceHost } from './service-host.js';
import { missingListenerAttributes } from './listener-needs.js';

export interface RunnerOptions {
  /** The server to register with; its bearer is also the built-in `reliable` link's bearer. */
  server: BearerAddress;
  services: ServiceRuntime[];
  logger?: Logger;
  /** Options of the server connection; without `attributes`, those of `adapters` for the server's bearer are used. */
  connectOptions?: ConnectOptions;
  /**
   * Delay before the first reconnect attempt (default 100 ms); doubles up to `maxRetryMs` (default 1 s, so
   * a restarted server has its services back within about a second). A refused registration (a name
   * taken, a register the policy denies) is retried at least every 5 s instead.
   */
  minRetryMs?: number;
  maxRetryMs?: number;
  /** Address peer-to-peer link listeners bind to (default 127.0.0.1). */
  p2pHost?: string;
  /** Host name or address given to clients when links bind to a wildcard address. */
  advertiseHost?: string;
  /**
   * Connection adapters: attributes per bearer id for link listeners (and the server connection, unless
   * `connectOptions.attributes` is given), e.g. `{ 'connect.bearer.udp': { maxDatagramBytes: '1400' } }`.
   * An ssl link listens with `certificate` and `key`; `start()` fails with CONFIG_INVALID when they are missing.
   */
  adapters?: Record<string, BearerAttributes>;
  /**
   * Access decisions on the services' direct links (default: allow everything). The server decides; this
   * holds what it decided, so traffic that bypasses the server never bypasses the policy.
   */
  authorizer?: Authorizer;
  /** Bounds on the server connection and every link (README, "Limits and guarantees"). */
  limits?: Limits;
  /** The bearer token presented to the server's access policy (which may allow it to register). */
  token?: string;
  /**
   * Where runtime data marked `persistent="1"` is kept across restarts (`FilePersistentStore` for a
   * directory). Without it nothing is kept: values start from their defaults every time.
   */
  persistence?: PersistentStore;
  /** Longest wait before a persistent change is written (default 250 ms, so it is durable within 1 s). */
  persistDelayMs?: number;
}

/**
 * Errors that retrying cannot fix: the runner stops and reports them (exit code 2 from the CLI). A taken
 * name is not one of them: the other holder may be a runner that stopped answering, which the server
 * drops within its keepalive time, so the runner keeps trying (at least every 5 s).
 */
const FATAL_REGISTRATION_CODES = new Set(['DEFINITION_INVALID', 'VERSION_MISMATCH']);
const MAX_RETRY_MS = 1000;
const REFUSED_RETRY_MS = 5000;

/**
 * Hosts remote services: connects to the server as a client of role `runner`, registers its services,
 * serves relayed calls and publishes events and runtime data. When the server goes away it says so and
 * reconnects with backoff, registering again with the current runtime data.
 *
 * Events: `registered` (names), `disconnected` (reason), `fatal` (PeerwayError; the runner has stopped).
 */
export class PeerwayRunner extends EventEmitter {
  readonly log: Logger;
  private channel: Channel | undefined;
  private readonly dialer: Dialer;
  private readonly limits: Required<Limits>;
  private readonly byName = new Map<string, ServiceHost>();
  /** Session id → the service it belongs to. */
  private readonly sessionService = new Map<string, ServiceHost>();
  private linksOpened = false;
  private stopped = false;
  private retryTimer: NodeJS.Timeout | undefined;
  private retryMs: number;
  private everRegistered = false;
  private persistent: PersistentData[] = [];

  constructor(private readonly options: RunnerOptions) {
    super();
    this.log = options.logger ?? silentLogger();
    this.retryMs = options.minRetryMs ?? 100;
    this.limits = resolveLimits(options.limits);
    partialFrames.limit = this.limits.maxPartialFrameBytes;
    const server = options.server;
    const attributes = options.connectOptions?.attributes ?? options.adapters?.[server.bearer];
    this.dialer = new Dialer(server, {
      connect: { ...options.connectOptions, ...(attributes ? { attributes } : {}) },
      hello: { role: 'runner', agent: `peerway-runner/${process.pid}`, ...(options.token ? { token: options.token } : {}) },
    });
    const place = { host: hostId(), process: processId() };
    for (const s of options.services) {
      this.byName.set(
        s.name,
        new ServiceHost(s, {
          reliableBearer: options.server.bearer,
          p2pHost: options.p2pHost ?? '127.0.0.1',
          ...(options.advertiseHost ? { advertiseHost: options.advertiseHost } : {}),
          place,
          authorizer: options.authorizer ?? allowAll,
          limits: this.limits,
          adapters: options.adapters ?? {},
          toServer: (m) => this.forward(m),
          log: this.log,
        }),
      );
    }
  }

  get serverUrl(): string {
    return this.dialer.url;
  }

  get connected(): boolean {
    return this.channel !== undefined && !this.channel.closed;
  }

  /**
   * Restores the services' persistent runtime data (with `persistence`), starts the services (their
   * `start()`, once: services already started are left as they are), then connects and registers. Resolves after the first successful registration; keeps retrying until then.
   */
  async start(): Promise<string[]> {
    const missing = missingListenerAttributes(this.byName.values(), this.options.adapters ?? {});
    if (missing) throw missing;
    // Saved values go in before start(), so neither the implementation nor the registration (the first
    // snapshot the server and its clients see) ever has the defaults in their place.
    const store = this.options.persistence;
    if (store) {
      this.persistent = await restorePersistentData(this.options.services, {
        store,
        log: this.log,
        ...(this.options.persistDelayMs !== undefined ? { delayMs: this.options.persistDelayMs } : {}),
      });
    } else noteNotPersisted(this.options.services, this.log);
    for (const s of this.options.services) await s.start();
    return new Promise((resolve, reject) => {
      const onRegistered = (names: string[]) => {
        this.off('fatal', onFatal);
        resolve(names);
      };
      const onFatal = (err: PeerwayError) => {
        this.off('registered', onRegistered);
        reject(err);
      };
      this.once('registered', onRegistered);
      this.once('fatal', onFatal);
      void this.attempt();
    });
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.retryTimer);
    this.channel?.close('runner stopping');
    await Promise.all([...this.byName.values()].map((h) => h.closeLinks()));
    await Promise.all(this.options.services.map((s) => s.stop()));
    // After stop(): what a service writes while stopping is kept too.
    await Promise.all(this.persistent.map((p) => p.close()));
  }

  private async attempt(): Promise<void> {
    if (this.stopped) return;
    const url = this.serverUrl;
    try {
      if (!this.linksOpened) {
        this.linksOpened = true;
        for (const h of this.byName.values()) await h.openLinks();
      }
      const channel = await this.dialer.dial();
      this.channel = channel;
      channel.configure(this.limits);
      channel.start({
        requests: {
          open: (m) => this.open(m),
          call: (m) => {
            const host = this.sessionHost(m.session);
            host.assertServerRoute(m.session, host.table.methodKey(m.method));
            return host.runtime.invoke(m.method, m.args, { session: m.session, route: 'server', identity: host.identityOf(m.session) });
          },
          ready: (m) => this.sessionHost(m.session).ready(m.session, m.routes),
        },
        push: (m) => this.push(m),
        close: (info) => this.onClose(channel, info.reason),
        fault: (error) => this.log.warn({ server: url, reason: error.message }, 'server connection fault'),
      });
      const services = this.options.services.map((s) => ({
        name: s.name,
        xml: s.definition.source,
        file: s.definition.file,
        data: s.tree.snapshot(),
      }));
      // Sessions kept while the server was away ended there when this runner disconnected: the new
      // registration is the server saying so, and their direct links close now.
      const stale = [...this.sessionService.keys()];
      const reply = await channel.request({ type: 'register', services });
      for (const id of stale) this.closeSession(id, 'the server ended the session while this runner was away');
      this.retryMs = this.options.minRetryMs ?? 100;
      this.log.info({ server: url, services: reply.registered }, this.everRegistered ? 're-registered after reconnect' : 'registered');
      this.everRegistered = true;
      this.emit('registered', reply.registered);
    } catch (err) {
      const error = PeerwayError.from(err);
      // A wrong protocol or a certificate that will not verify does not get better by retrying.
      if (FATAL_REGISTRATION_CODES.has(error.code) || error.details?.permanent === true) {
        this.stopped = true;
        this.channel?.close(error.message);
        this.emit('fatal', error);
        return;
      }
      // This connection is done: onClose must not report it as the server going away.
      const channel = this.channel;
      this.channel = undefined;
      channel?.close(error.message);
      // A name taken or a register denied may change (the holder goes, the policy is reloaded): keep trying.
      const refused = error.code === 'DUPLICATE_SERVICE' || error.code === 'POLICY_DENIED';
      if (refused) this.retryMs = Math.max(this.retryMs, REFUSED_RETRY_MS);
      this.log.warn({ server: url, reason: error.message }, `${refused ? 'the server refused the registration' : 'cannot reach the server'}; retrying in ${this.retryMs} ms`);
      this.scheduleRetry(refused ? REFUSED_RETRY_MS : undefined);
    }
  }

  private onClose(channel: Channel, reason: string): void {
    if (this.channel !== channel) return;
    this.channel = undefined;
    // Sessions stay: their direct links are healthy and keep serving under the last access decisions
    // received, until the client stops them or the server, once back, says they have ended.
    if (this.stopped) return;
    this.log.warn({ server: this.serverUrl, reason }, `the server went away; reconnecting in ${this.retryMs} ms`);
    this.emit('disconnected', reason);
    this.scheduleRetry();
  }

  private scheduleRetry(cap = this.options.maxRetryMs ?? MAX_RETRY_MS): void {
    if (this.stopped) return;
    clearTimeout(this.retryTimer);
    // Spread by ±20%: the runners of one restarted server do not all knock at the same instant.
    this.retryTimer = setTimeout(() => void this.attempt(), Math.round(this.retryMs * (0.8 + Math.random() * 0.4)));
    this.retryMs = Math.min(this.retryMs * 2, cap);
  }

  private open(m: OpenSession): SessionOpened {
    const host = this.service(m.service);
    const reply = host.open(m.session, m.client, identityNamed(m.identity), m.grants);
    this.sessionService.set(m.session, host);
    this.log.debug({ session: m.session, service: m.service }, 'session opened');
    return reply;
  }

  private push(m: Push): void {
    if (m.type === 'close') this.closeSession(m.session, 'session closed by the server');
    else if (m.type === 'grants') this.sessionService.get(m.session)?.setGrants(m.session, m.grants);
  }

  private closeSession(id: string, reason: string): void {
    this.sessionService.get(id)?.close(id);
    this.sessionService.delete(id);
    this.log.debug({ session: id }, reason);
  }

  private sessionHost(id: string): ServiceHost {
    const host = this.sessionService.get(id);
    if (!host) throw new PeerwayError('SESSION_NOT_FOUND', `session ${id} is not open on this runner`);
    return host;
  }

  private service(name: string): ServiceHost {
    const s = this.byName.get(name);
    if (!s) throw new PeerwayError('SERVICE_NOT_FOUND', `this runner does not host a service named "${name}"`);
    return s;
  }

  private forward(message: Push): void {
    const channel = this.channel;
    if (!channel || channel.closed) return; // the server gets a full snapshot when we register again
    try {
      channel.send(message);
    } catch (err) {
      this.log.warn({ reason: (err as Error).message }, 'could not forward to the server');
    }
  }
}
