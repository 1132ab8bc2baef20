import { PeerwayError } from '../errors.js';
import type { BearerAddress, BearerAttributes, BearerOptions, CloseInfo, Listener, MessageConnection } from '../bearer/bearer.js';
import { formatBearerUrl, getBearer } from '../bearer/registry.js';
import { acceptHandshake } from '../wire/handshake.js';
import { partialFrames } from '../wire/frame-decoder.js';
import { resolveLimits, type Limits } from '../wire/limits.js';
import { pushCounters } from '../wire/push-outbox.js';
import type { Channel } from '../wire/channel.js';
import type { Logger } from '../logger.js';
import { silentLogger } from '../logger.js';
import { ANONYMOUS, type Authorizer } from '../policy/authorizer.js';
import type { ServiceRuntime } from '../service/service-runtime.js';
import { noteNotPersisted, restorePersistentData, type PersistentData } from '../service/persistence.js';
import type { PersistentStore } from '../service/persistent-store.js';
import { Broker } from './broker.js';
import { serveClient } from './client-connection.js';
import { InProcessService } from './in-process-service.js';
import { serveRunner } from './runner-connection.js';
import { Authenticator, type IdentityResolver } from './authentication.js';
import { ServerPolicy } from './server-policy.js';

/** One connection adapter of the server: where it listens and its bearer attributes (certificates for ssl, …). */
export interface ListenSpec extends BearerAddress {
  attributes?: BearerAttributes;
}

export interface ServerOptions {
  /** Addresses to listen on (one per connection adapter). */
  listen: ListenSpec[];
  /** In-process services, already loaded and started. */
  services?: ServiceRuntime[];
  logger?: Logger;
  maxMessageBytes?: number;
  /** How long the server waits for a runner to answer a relayed call before failing it with TIMEOUT. */
  relayTimeoutMs?: number;
  /** How long a session outlives its client's connection, waiting to be attached again (default 30 s). */
  detachedSessionTtlMs?: number;
  /** Access decisions for every request and push (default: allow everything). */
  authorizer?: Authorizer;
  /** Bounds on every connection (README, "Limits and guarantees"); the rest keep their defaults. */
  limits?: Limits;
  /**
   * Who connects: tokens and certificate subjects to identities (the policy's). Without it every caller
   * is `anonymous` and tokens are ignored.
   */
  identities?: IdentityResolver;
  /**
   * A policy file (YAML, docs/policy.md): its identities and decisions, loaded by `start()` (errors stop
   * it) and reloaded on SIGHUP or when the file changes. Takes the place of `authorizer` and `identities`.
   */
  policyFile?: string;
  /**
   * Where the in-process services' runtime data marked `persistent="1"` is kept across restarts
   * (`FilePersistentStore` for a directory). Without it nothing is kept.
   */
  persistence?: PersistentStore;
  /** Longest wait before a persistent change is written (default 250 ms, so it is durable within 1 s). */
  persistDelayMs?: number;
}

/**
 * The broker process: listens on its connection adapters, says hello to whoever connects, and hands each
 * connection to its front end (clients, runners) over the transport-neutral Broker. It never decides
 * peer-to-peer routes: that is the service's business.
 */
export class PeerwayServer {
  readonly log: Logger;
  readonly broker: Broker;
  readonly limits: Required<Limits>;
  readonly authenticator: Authenticator;
  private readonly listeners: Listener[] = [];
  private readonly channels = new Set<Channel>();
  private persistent: PersistentData[] = [];
  readonly peerName = `peerway-server/${process.pid}`;

  constructor(private readonly options: ServerOptions) {
    this.log = options.logger ?? silentLogger();
    this.limits = resolveLimits(options.limits);
    this.authenticator = new Authenticator(options.identities, this.log);
    partialFrames.limit = this.limits.maxPartialFrameBytes;
    this.broker = new Broker({
      maxSessionsPerCaller: this.limits.maxSessionsPerConnection,
      health: () => ({
        limits: { ...this.limits },
        health: { connections: this.channels.size, partialFrameBytes: partialFrames.held, ...pushCounters },
        policy: { mode: this.policy?.current?.mode ?? 'none', ...this.broker.authorizer.counters },
      }),
      registered: (definition) => this.policy?.report(definition),
      logger: this.log,
      ...(options.relayTimeoutMs !== undefined ? { relayTimeoutMs: options.relayTimeoutMs } : {}),
      ...(options.detachedSessionTtlMs !== undefined ? { detachedSessionTtlMs: options.detachedSessionTtlMs } : {}),
      ...(options.authorizer ? { authorizer: options.authorizer } : {}),
    });
    const self = { identity: ANONYMOUS, label: 'in-process' };
    for (const runtime of options.services ?? []) {
      const entry = this.broker.register(self, new InProcessService(runtime), runtime.tree.snapshot());
      runtime.addOutput({
        event: (name, args) => entry.publishEvent(name, args),
        data: (path, value) => entry.publishData(path, value),
      });
    }
  }

  /** The policy file in force, when the server has one. */
  policy: ServerPolicy | undefined;

  /**
   * Loads the policy file (when given), restores the in-process services' persistent runtime data (with
   * `persistence`), starts the services (those not started yet), then every listener; resolves with the
   * bound addresses.
   */
  async start(): Promise<BearerAddress[]> {
    if (this.options.policyFile) {
      this.policy = new ServerPolicy(this.options.policyFile, this.broker, this.authenticator, this.log);
      await this.policy.load();
      for (const entry of this.broker.services.values()) this.policy.report(entry.definition);
      this.policy.watch();
    }
    // Saved values go in before the services start and before anyone can connect; they reach the
    // broker's copy the way any change does.
    const store = this.options.persistence;
    if (store) {
      this.persistent = await restorePersistentData(this.options.services ?? [], {
        store,
        log: this.log,
        ...(this.options.persistDelayMs !== undefined ? { delayMs: this.options.persistDelayMs } : {}),
      });
    } else noteNotPersisted(this.options.services ?? [], this.log);
    for (const runtime of this.options.services ?? []) await runtime.start();
    for (const { attributes, ...address } of this.options.listen) {
      const bearer = getBearer(address.bearer);
      let where = formatBearerUrl(address);
      const options: BearerOptions = {
        ...(this.options.maxMessageBytes ? { maxMessageBytes: this.options.maxMessageBytes } : {}),
        ...(attributes ? { attributes } : {}),
        // Refused handshakes (a plain tcp client on an ssl port, a refused client certificate) concern no caller.
        onWarning: (message) => this.log.warn({ address: where }, message),
      };
      const listener = await bearer.listen(address, (c) => void this.accept(c), options);
      where = formatBearerUrl(listener.address);
      this.listeners.push(listener);
      this.log.info({ address: where }, 'listening');
      if (!this.policy && !this.options.authorizer && reachableFromOutside(listener.address)) {
        this.log.warn({ address: where }, 'listening beyond this machine without an access policy: anyone who reaches this address may call, read and register anything (give --policy FILE)');
      }
    }
    return this.addresses;
  }

  get addresses(): BearerAddress[] {
    return this.listeners.map((l) => l.address);
  }

  /** Closes listeners and every connection; sessions end with a notice to their clients. */
  async stop(): Promise<void> {
    this.policy?.stop();
    this.broker.endAll(new PeerwayError('SERVICE_GONE', 'the server is shutting down'));
    for (const c of this.channels) c.close('server shutting down');
    await Promise.all(this.listeners.map((l) => l.close()));
    this.listeners.length = 0;
    await Promise.all((this.options.services ?? []).map((r) => r.stop()));
    await Promise.all(this.persistent.map((p) => p.close()));
  }

  private async accept(connection: MessageConnection): Promise<void> {
    const label = `${connection.bearer.replace('connect.bearer.', '')}://${connection.remote}`;
    let accepted;
    let identity = ANONYMOUS;
    try {
      accepted = await acceptHandshake(connection, label, {
        roles: ['client', 'runner'],
        peer: this.peerName,
        timeoutMs: this.limits.helloTimeoutMs,
        verify: async (hello) => {
          identity = await this.authenticator.authenticate(hello, connection);
        },
      });
    } catch (err) {
      this.log.warn({ peer: label, reason: (err as Error).message }, 'connection refused');
      return;
    }
    const { channel, hello } = accepted;
    channel.defaultTimeoutMs = this.broker.relayTimeoutMs;
    channel.configure(this.limits);
    this.channels.add(channel);
    const caller = { identity, label: hello.agent ? `${label} (${hello.agent})` : label };
    const handlers =
      hello.role === 'runner' ? serveRunner(this.broker, channel, caller, this.limits.maxDefinitionBytes) : serveClient(this.broker, channel, caller, this.limits);
    let closed = false;
    const close = (info: CloseInfo) => {
      if (closed) return;
      closed = true;
      this.channels.delete(channel);
      if (info.error) this.log.warn({ peer: label, reason: info.reason }, 'connection closed with error');
      else this.log.debug({ peer: label, reason: info.reason }, 'connection closed');
      handlers.close?.(info);
    };
    // Messages that came with the hello are handled here; one that breaks the protocol closes the channel.
    channel.setHandlers({ ...handlers, close });
    // A channel whose close was delivered before its handlers were in place never calls them: clean up here.
    if (channel.closeInfo) close(channel.closeInfo);
    else this.log.debug({ peer: label, role: hello.role, agent: hello.agent }, 'connection accepted');
  }
}

/** Whether a listener can be reached from other machines (not loopback, not a Unix socket or memory name). */
function reachableFromOutside(address: BearerAddress): boolean {
  const host = address.host;
  if (host === undefined) return false;
  return !(host === 'localhost' || host === '::1' || host.startsWith('127.'));
}
