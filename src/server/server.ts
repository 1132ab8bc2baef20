import { PeerwayError } from '../errors.js';
import type { BearerAddress, BearerAttributes, BearerOptions, Listener, MessageConnection } from '../bearer/bearer.js';
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
import { Broker } from './broker.js';
import { serveClient } from './client-connection.js';
import { InProcessService } from './in-process-service.js';
import { serveRunner } from './runner-connection.js';

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
  private readonly listeners: Listener[] = [];
  private readonly channels = new Set<Channel>();
  readonly peerName = `peerway-server/${process.pid}`;

  constructor(private readonly options: ServerOptions) {
    this.log = options.logger ?? silentLogger();
    this.limits = resolveLimits(options.limits);
    partialFrames.limit = this.limits.maxPartialFrameBytes;
    this.broker = new Broker({
      maxSessionsPerCaller: this.limits.maxSessionsPerConnection,
      health: () => ({
        limits: { ...this.limits },
        health: { connections: this.channels.size, partialFrameBytes: partialFrames.held, ...pushCounters },
      }),
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

  /** Starts the in-process services (those not started yet), then every listener; resolves with the bound addresses. */
  async start(): Promise<BearerAddress[]> {
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
    }
    return this.addresses;
  }

  get addresses(): BearerAddress[] {
    return this.listeners.map((l) => l.address);
  }

  /** Closes listeners and every connection; sessions end with a notice to their clients. */
  async stop(): Promise<void> {
    this.broker.endAll(new PeerwayError('SERVICE_GONE', 'the server is shutting down'));
    for (const c of this.channels) c.close('server shutting down');
    await Promise.all(this.listeners.map((l) => l.close()));
    this.listeners.length = 0;
    await Promise.all((this.options.services ?? []).map((r) => r.stop()));
  }

  private async accept(connection: MessageConnection): Promise<void> {
    const label = `${connection.bearer.replace('connect.bearer.', '')}://${connection.remote}`;
    let accepted;
    try {
      accepted = await acceptHandshake(connection, label, { roles: ['client', 'runner'], peer: this.peerName });
    } catch (err) {
      this.log.warn({ peer: label, reason: (err as Error).message }, 'connection refused');
      return;
    }
    const { channel, hello } = accepted;
    channel.defaultTimeoutMs = this.broker.relayTimeoutMs;
    channel.configure(this.limits);
    this.channels.add(channel);
    const caller = { identity: ANONYMOUS, label: hello.agent ? `${label} (${hello.agent})` : label };
    const handlers =
      hello.role === 'runner' ? serveRunner(this.broker, channel, caller, this.limits.maxDefinitionBytes) : serveClient(this.broker, channel, caller, this.limits);
    channel.setHandlers({
      ...handlers,
      close: (info) => {
        this.channels.delete(channel);
        if (info.error) this.log.warn({ peer: label, reason: info.reason }, 'connection closed with error');
        else this.log.debug({ peer: label, reason: info.reason }, 'connection closed');
        handlers.close?.(info);
      },
    });
    this.log.debug({ peer: label, role: hello.role, agent: hello.agent }, 'connection accepted');
  }
}
