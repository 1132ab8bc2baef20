import { randomBytes } from 'node:crypto';
import { PeerwayError } from '../errors.js';
import type { Logger } from '../logger.js';
import { silentLogger } from '../logger.js';
import { allowAll, enforce, type Action, type Authorizer, type Identity, type Resource } from '../policy/authorizer.js';
import type { RelayStats, ServiceListing } from '../wire/messages.js';
import type { BrokerSession } from './broker-session.js';
import type { HostedService } from './hosted-service.js';
import { ServiceEntry } from './service-entry.js';

/** Who is asking: the authenticated identity and, for logs and listings, where from. */
export interface Caller {
  identity: Identity;
  /** The peer's address and what it reported about itself (`tcp://127.0.0.1:5123 (peerway-cli/42)`). */
  label: string;
}

export interface BrokerOptions {
  logger?: Logger;
  /** How long a service has to answer a relayed request before it fails with TIMEOUT (default 60 s). */
  relayTimeoutMs?: number;
  /** The access decisions (default: allow everything). */
  authorizer?: Authorizer;
  /** How long a session outlives the connection it was attached to, waiting to be attached again (default 30 s). */
  detachedSessionTtlMs?: number;
  /** Sessions one caller may hold at once (default 1000). */
  maxSessionsPerCaller?: number;
  /** What `stats` adds about the process: its bounds and what they are doing. */
  health?: () => Pick<RelayStats, 'limits' | 'health'>;
}

/**
 * The server's core, under every front end (binary protocol connections today; HTTP, WebSocket and
 * cluster links later): the registry of services, the live sessions, and the one authorization point
 * every request and push passes through. Front ends talk to it through a BrokerClient per caller
 * (broker-client.ts); services reach it through their ServiceEntry.
 */
export class Broker {
  readonly log: Logger;
  readonly services = new Map<string, ServiceEntry>();
  readonly sessions = new Map<string, BrokerSession>();
  readonly relayTimeoutMs: number;
  readonly detachedSessionTtlMs: number;
  readonly authorizer: Authorizer;
  readonly maxSessionsPerCaller: number;

  constructor(options: BrokerOptions = {}) {
    this.log = options.logger ?? silentLogger();
    this.relayTimeoutMs = options.relayTimeoutMs ?? 60_000;
    this.detachedSessionTtlMs = options.detachedSessionTtlMs ?? 30_000;
    this.authorizer = options.authorizer ?? allowAll;
    this.maxSessionsPerCaller = options.maxSessionsPerCaller ?? 1000;
    this.health = options.health;
  }

  private readonly health: BrokerOptions['health'];

  /** The authorization point: throws POLICY_DENIED when `identity` may not `action` `resource`. */
  authorize(identity: Identity, action: Action, resource: Resource): void {
    enforce(this.authorizer, identity, action, resource);
  }

  /** Adds a service; DUPLICATE_SERVICE when the name is taken. `initialData` seeds the server's copy. */
  register(caller: Caller, hosted: HostedService, initialData?: unknown): ServiceEntry {
    this.authorize(caller.identity, 'register', { service: hosted.name });
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

  /** Removes a service; its sessions end with `reason` so their clients learn it at once. */
  unregister(name: string, reason: PeerwayError): void {
    const entry = this.services.get(name);
    if (!entry) return;
    this.services.delete(name);
    for (const s of this.sessions.values()) {
      if (s.entry !== entry) continue;
      this.sessions.delete(s.id);
      s.end(reason);
    }
    entry.sessions.clear();
    this.log.warn({ service: name, reason: reason.message }, 'service unregistered');
  }

  /** The entry of a registered service; SERVICE_NOT_FOUND naming the registered ones otherwise. */
  lookup(name: string): ServiceEntry {
    const entry = this.services.get(name);
    if (!entry) {
      const names = [...this.services.keys()].join(', ') || 'none';
      throw new PeerwayError('SERVICE_NOT_FOUND', `no service named "${name}" is registered (registered: ${names})`);
    }
    return entry;
  }

  /** The services `identity` may see. */
  listServices(identity: Identity): ServiceListing[] {
    const out: ServiceListing[] = [];
    for (const e of this.services.values()) {
      if (!this.authorizer.authorize(identity, 'describe', { service: e.name }).allowed) continue;
      out.push({
        name: e.name,
        ...(e.definition.fullname ? { fullname: e.definition.fullname } : {}),
        ...(e.definition.version ? { version: e.definition.version } : {}),
        location: e.hosted.location,
        origin: e.hosted.origin,
        sessions: e.sessions.size,
      });
    }
    return out;
  }

  /** Relay counters per service `identity` may see: proof of what did (and did not) go through the server. */
  stats(identity: Identity): RelayStats {
    const services: RelayStats['services'] = {};
    for (const [name, e] of this.services) {
      if (!this.authorizer.authorize(identity, 'describe', { service: name }).allowed) continue;
      services[name] = { location: e.hosted.location, sessions: e.sessions.size, ...e.counters };
    }
    return { services, sessions: this.sessions.size, ...this.health?.() };
  }

  newSessionId(): string {
    return randomBytes(9).toString('base64url');
  }

  /** Records a started session. */
  add(session: BrokerSession): void {
    this.sessions.set(session.id, session);
    session.entry.sessions.add(session);
  }

  /** Forgets a session and tells its service (when still registered) so it drops its state and links. */
  remove(session: BrokerSession): void {
    if (this.sessions.get(session.id) !== session) return;
    this.sessions.delete(session.id);
    session.entry.sessions.delete(session);
    if (this.services.get(session.entry.name) === session.entry) session.entry.hosted.closeSession(session.id);
  }

  /** Ends every session with `reason` (server shutting down). */
  endAll(reason: PeerwayError): void {
    for (const s of [...this.sessions.values()]) {
      this.remove(s);
      s.end(reason);
    }
  }
}
