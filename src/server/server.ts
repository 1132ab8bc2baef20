import { randomBytes } from 'node:crypto';
import { PeerwayError } from '../errors.js';
import type { BearerAddress, BearerAttributes, Listener, MessageConnection } from '../bearer/bearer.js';
import type { SslBearerOptions } from '../bearer/ssl.js';
import { formatBearerUrl, getBearer } from '../bearer/registry.js';
import { acceptHandshake } from '../wire/handshake.js';
import type { Channel } from '../wire/channel.js';
import type { Logger } from '../logger.js';
import { silentLogger } from '../logger.js';
import type { ServiceRuntime } from '../service/service-runtime.js';
import type { HostedService } from './hosted-service.js';
import { InProcessService } from './in-process-service.js';
import { ServiceEntry } from './service-entry.js';
import type { ServerSession } from './server-session.js';
import { ClientHandler } from './client-handler.js';
import { RunnerHandler } from './runner-handler.js';

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
}

export interface ServiceListing {
  name: string;
  fullname?: string;
  version?: string;
  location: 'in-process' | 'remote';
  origin: string;
  sessions: number;
}

/**
 * The broker: accepts clients and runners on its listeners, keeps the registry of services and the live
 * sessions, relays server-routed traffic and keeps a copy of every service's runtime data. It never
 * decides peer-to-peer routes: that is the service's business.
 */
export class PeerwayServer {
  readonly log: Logger;
  readonly services = new Map<string, ServiceEntry>();
  readonly sessions = new Map<string, ServerSession>();
  readonly relayTimeoutMs: number;
  private readonly listeners: Listener[] = [];
  private readonly channels = new Set<Channel>();
  readonly peerName = `peerway-server/${process.pid}`;

  constructor(private readonly options: ServerOptions) {
    this.log = options.logger ?? silentLogger();
    this.relayTimeoutMs = options.relayTimeoutMs ?? 60_000;
    for (const runtime of options.services ?? []) {
      const hosted = new InProcessService(runtime);
      const entry = this.register(hosted, runtime.tree.snapshot());
      runtime.addOutput({
        event: (name, args) => entry.publishEvent(name, args),
        data: (path, value) => entry.publishData(path, value),
      });
    }
  }

  /** Starts every listener; resolves with the bound addresses (ephemeral ports resolved). */
  async start(): Promise<BearerAddress[]> {
    for (const { attributes, ...address } of this.options.listen) {
      const bearer = getBearer(address.bearer);
      let where = formatBearerUrl(address);
      const options: SslBearerOptions = {
        ...(this.options.maxMessageBytes ? { maxMessageBytes: this.options.maxMessageBytes } : {}),
        ...(attributes ? { attributes } : {}),
        // Refused handshakes (a plain tcp client on an ssl port, a refused client certificate) concern no caller.
        onWarning: (message) => this.log.warn({ address: where }, message),
      };
      const listener = await bearer.listen(address, (c) => this.accept(c), options);
      where = formatBearerUrl(listener.address);
      this.listeners.push(listener);
      this.log.info({ address: formatBearerUrl(listener.address) }, 'listening');
    }
    return this.listeners.map((l) => l.address);
  }

  get addresses(): BearerAddress[] {
    return this.listeners.map((l) => l.address);
  }

  /** Closes listeners and every connection; sessions end with a notice to their clients. */
  async stop(): Promise<void> {
    const stopping = new PeerwayError('SERVICE_GONE', 'the server is shutting down');
    for (const s of this.sessions.values()) s.end(stopping);
    for (const c of this.channels) c.close('server shutting down');
    await Promise.all(this.listeners.map((l) => l.close()));
    this.listeners.length = 0;
  }

  register(hosted: HostedService, initialData?: unknown): ServiceEntry {
    const existing = this.services.get(hosted.name);
    if (existing) {
      throw new PeerwayError(
        'DUPLICATE_SERVICE',
        `service ${hosted.name} is already registered (${existing.hosted.origin}); stop that one first or rename the service`,
      );
    }
    const entry = new ServiceEntry(hosted, initialData);
    this.services.set(hosted.name, entry);
    this.log.info({ service: hosted.name, origin: hosted.origin }, 'service registered');
    return entry;
  }

  /** Removes a service; its sessions end with SERVICE_GONE so their clients learn it at once. */
  unregister(name: string, reason: PeerwayError): void {
    const entry = this.services.get(name);
    if (!entry) return;
    this.services.delete(name);
    for (const s of entry.sessions) {
      this.sessions.delete(s.id);
      s.end(reason);
    }
    entry.sessions.clear();
    this.log.warn({ service: name, reason: reason.message }, 'service unregistered');
  }

  lookup(name: string): ServiceEntry {
    const entry = this.services.get(name);
    if (!entry) {
      const names = [...this.services.keys()].join(', ') || 'none';
      throw new PeerwayError('SERVICE_NOT_FOUND', `no service named "${name}" is registered (registered: ${names})`);
    }
    return entry;
  }

  listServices(): ServiceListing[] {
    return [...this.services.values()].map((e) => ({
      name: e.name,
      ...(e.definition.fullname ? { fullname: e.definition.fullname } : {}),
      ...(e.definition.version ? { version: e.definition.version } : {}),
      location: e.hosted.location,
      origin: e.hosted.origin,
      sessions: e.sessions.size,
    }));
  }

  newSessionId(): string {
    return randomBytes(9).toString('base64url');
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
    channel.defaultTimeoutMs = this.relayTimeoutMs;
    this.channels.add(channel);
    const handler = hello.role === 'runner' ? new RunnerHandler(this, channel, label) : new ClientHandler(this, channel, label, hello.agent);
    channel.setHandlers({
      request: (m) => handler.request(m),
      push: (m) => handler.push(m),
      close: (info) => {
        this.channels.delete(channel);
        if (info.error) this.log.warn({ peer: label, reason: info.reason }, 'connection closed with error');
        else this.log.debug({ peer: label, reason: info.reason }, 'connection closed');
        handler.closed();
      },
    });
    this.log.debug({ peer: label, role: hello.role, agent: hello.agent }, 'connection accepted');
  }
}
