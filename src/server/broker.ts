import { randomBytes } from 'node:crypto';
import { PeerwayError } from '../errors.js';
import type { Logger } from '../logger.js';
import { silentLogger } from '../logger.js';
import type { ServiceDefinition } from '../definition/model.js';
import { pathsOverlap } from '../definition/path-overlap.js';
import { allowAll, enforce, type Action, type Authorizer, type Identity, type Resource } from '../policy/authorizer.js';
import { computeGrants, sameGrants } from '../policy/grants.js';
import type { SessionGrants } from '../wire/messages.js';
import { AuditedAuthorizer } from './policy-audit.js';
import type { RelayStats, ServiceListing } from '../wire/messages.js';
import type { BrokerSession } from './broker-session.js';
import type { HostedService } from './hosted-service.js';
import { ServiceEntry } from './service-entry.js';

/** One session as `/api/sessions` and the inspector show it. */
export interface SessionListing {
  session: string;
  service: string;
  identity: string;
  /** The client's address and agent. */
  client: string;
  startedAt: string;
  /** Whether a front end is attached (false while its connection is lost and it may come back). */
  attached: boolean;
  /** Per resource key (`method:NAME`, `event:NAME`, `data:PATH`): the route the client took. */
  routes: Record<string, { linkType: 'direct' | 'server'; link?: string; bearer?: string }>;
  warnings: string[];
}

/** Told when services come and go (the cluster link announces this server's own to the other servers). */
export interface RegistryListener {
  registered(entry: ServiceEntry): void;
  unregistered(entry: ServiceEntry): void;
}

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
  health?: () => Pick<RelayStats, 'limits' | 'health' | 'policy'>;
  /** Told of each service as it registers (the policy reports on its names). */
  registered?: (definition: ServiceDefinition) => void;
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
  /** The authorization point (the policy, audited); `setAuthorizer` replaces what it asks. */
  readonly authorizer: AuditedAuthorizer;
  readonly maxSessionsPerCaller: number;
  /** Per service, the runtime-data paths the policy's conditions read. */
  private dependencies = new Map<string, string[]>();
  private readonly registryListeners = new Set<RegistryListener>();
  /**
   * This server's name in a cluster (listings then say which server each service is registered with);
   * undefined outside one.
   */
  serverName: string | undefined;
  /** What `stats` adds about the cluster link, while the server is in a cluster. */
  clusterStats: (() => NonNullable<RelayStats['cluster']>) | undefined;
  private refreshScheduled = false;
  private lastRefresh = 0;

  constructor(options: BrokerOptions = {}) {
    this.log = options.logger ?? silentLogger();
    this.relayTimeoutMs = options.relayTimeoutMs ?? 60_000;
    this.detachedSessionTtlMs = options.detachedSessionTtlMs ?? 30_000;
    this.authorizer = new AuditedAuthorizer(options.authorizer ?? allowAll, this.log);
    this.indexDependencies();
    this.maxSessionsPerCaller = options.maxSessionsPerCaller ?? 1000;
    this.health = options.health;
    this.registered = options.registered;
  }

  private readonly registered: BrokerOptions['registered'];

  private readonly health: BrokerOptions['health'];

  /** The authorization point: throws POLICY_DENIED when `identity` may not `action` `resource`. */
  authorize(identity: Identity, action: Action, resource: Resource): void {
    enforce(this.authorizer, identity, action, resource);
  }

  /** POLICY_DENIED unless `identity` may start a session with the service. */
  authorizeSession(identity: Identity, definition: ServiceDefinition): void {
    const decision = this.authorizer.authorizeSession(identity, definition);
    if (decision.allowed) return;
    throw new PeerwayError('POLICY_DENIED', `${identity.name} may not start a session with ${definition.name}${decision.reason ? `: ${decision.reason}` : ''}`, {
      details: { identity: identity.name, action: 'session', service: definition.name },
    });
  }

  /** What the policy decides for one session, for the service's links and the server's own pushes. */
  grantsFor(identity: Identity, entry: ServiceEntry): SessionGrants {
    return computeGrants(this.authorizer.current, identity, entry.definition);
  }

  /**
   * A new policy (reload): decisions come from it at once, and every session's grants are recomputed and
   * sent to its service where they changed. Sessions are not dropped.
   */
  setAuthorizer(authorizer: Authorizer | undefined): void {
    this.authorizer.replace(authorizer);
    this.indexDependencies();
    this.refreshGrants();
  }

  /**
   * The server's copy of some runtime data changed: if the policy's conditions read it, decisions may have
   * flipped. Grants are recomputed at most once per turn and per 50 ms, however fast the data moves.
   */
  dataChanged(service: string, path: string): void {
    const watched = this.dependencies.get(service);
    if (!watched?.some((p) => pathsOverlap(p, path)) || this.refreshScheduled) return;
    this.refreshScheduled = true;
    const wait = Math.max(0, this.lastRefresh + 50 - Date.now());
    setTimeout(() => {
      this.refreshScheduled = false;
      this.refreshGrants();
    }, wait).unref();
  }

  /**
   * Recomputes every session's grants; a session whose grants changed tells its service (and, for a
   * session another server of a cluster holds, its front end passes this server's part on).
   */
  refreshGrants(): void {
    this.lastRefresh = Date.now();
    for (const s of this.sessions.values()) {
      const own = this.grantsFor(s.identity, s.entry);
      if (sameGrants(own, s.ownGrants)) continue;
      s.setGrants(own);
      s.entry.hosted.updateGrants(s.id, s.grants.grants, own);
      s.sink?.grantsChanged?.(s.id, own);
      this.log.info({ session: s.id, service: s.service, identity: s.identity.name, denied: Object.keys(s.grants.grants.denied) }, 'policy decisions changed');
    }
  }

  /**
   * The other server of a cluster session decided anew: the session enforces both servers' decisions
   * from now on, and its service hears of the merged ones when they changed.
   */
  setPeerGrants(session: BrokerSession, peer: SessionGrants): void {
    const before = session.grants.grants;
    session.setGrants(session.ownGrants, peer);
    if (sameGrants(before, session.grants.grants)) return;
    session.entry.hosted.updateGrants(session.id, session.grants.grants, session.ownGrants);
  }

  private indexDependencies(): void {
    this.dependencies = new Map();
    for (const { service, path } of this.authorizer.dependencies()) this.dependencies.set(service, [...(this.dependencies.get(service) ?? []), path]);
  }

  /**
   * Adds a service; DUPLICATE_SERVICE when the name is taken. `initialData` seeds the server's copy.
   * `vouched`: the registration was authorized where it was made (another server of a cluster), so this
   * server's policy is not asked for `register`.
   */
  register(caller: Caller, hosted: HostedService, initialData?: unknown, options: { vouched?: boolean } = {}): ServiceEntry {
    if (!options.vouched) this.authorize(caller.identity, 'register', { service: hosted.name });
    const existing = this.services.get(hosted.name);
    if (existing) {
      const where = existing.hosted.server ? `${existing.hosted.origin} on server ${existing.hosted.server}` : existing.hosted.origin;
      throw new PeerwayError('DUPLICATE_SERVICE', `service ${hosted.name} is already registered (${where}); stop that one first or rename the service`, {
        details: { service: hosted.name, ...(existing.hosted.server ? { server: existing.hosted.server } : {}) },
      });
    }
    const entry = new ServiceEntry(hosted, initialData, (path) => this.dataChanged(hosted.name, path));
    this.services.set(hosted.name, entry);
    this.registered?.(hosted.definition);
    this.log.info({ service: hosted.name, origin: hosted.origin, ...(hosted.server ? { server: hosted.server } : {}) }, 'service registered');
    for (const l of this.registryListeners) l.registered(entry);
    return entry;
  }

  /**
   * Removes a service (only when it is still `only`, given that entry); its sessions end with `reason` so
   * their clients learn it at once.
   */
  unregister(name: string, reason: PeerwayError, only?: ServiceEntry): void {
    const entry = this.services.get(name);
    if (!entry || (only !== undefined && entry !== only)) return;
    this.services.delete(name);
    for (const s of this.sessions.values()) {
      if (s.entry !== entry) continue;
      this.sessions.delete(s.id);
      s.end(reason);
      this.log.info({ session: s.id, service: name, identity: s.identity.name, reason: reason.message }, 'session ended');
    }
    entry.sessions.clear();
    this.log.warn({ service: name, reason: reason.message }, 'service unregistered');
    for (const l of this.registryListeners) l.unregistered(entry);
  }

  /**
   * Takes a service out because another registration of its name won (elsewhere in a cluster): its
   * sessions end with `reason` (their clients start them again, on the winner), and whatever hosts it is
   * told with `hostReason`.
   */
  evict(entry: ServiceEntry, reason: PeerwayError, hostReason: PeerwayError): void {
    if (this.services.get(entry.name) !== entry) return;
    this.unregister(entry.name, reason, entry);
    if (entry.hosted.evict) entry.hosted.evict(hostReason);
    else this.log.error({ service: entry.name, reason: hostReason.message }, 'service taken out: it stays unregistered until this server restarts');
  }

  /** Tells `listener` of every service registered or unregistered from now on; returns how to stop. */
  watchRegistry(listener: RegistryListener): () => void {
    this.registryListeners.add(listener);
    return () => this.registryListeners.delete(listener);
  }

  /**
   * The entry of a registered service; SERVICE_NOT_FOUND naming the registered ones otherwise (only those
   * `identity` may see, when given: the error must not reveal what the policy hides).
   */
  lookup(name: string, identity?: Identity): ServiceEntry {
    const entry = this.services.get(name);
    if (!entry) {
      const names = [...this.services.keys()].filter((n) => identity === undefined || this.visible(identity, n)).join(', ') || 'none';
      throw new PeerwayError('SERVICE_NOT_FOUND', `no service named "${name}" is registered (registered: ${names})`);
    }
    return entry;
  }

  /** The definition of a service `identity` may describe (SERVICE_NOT_FOUND, POLICY_DENIED otherwise). */
  definitionFor(identity: Identity, name: string): ServiceDefinition {
    const entry = this.lookup(name, identity);
    this.authorize(identity, 'describe', { service: name });
    return entry.definition;
  }

  /** The services `identity` may see. */
  listServices(identity: Identity): ServiceListing[] {
    const out: ServiceListing[] = [];
    for (const e of this.services.values()) {
      if (!this.visible(identity, e.name)) continue;
      out.push({
        name: e.name,
        ...(e.definition.fullname ? { fullname: e.definition.fullname } : {}),
        ...(e.definition.version ? { version: e.definition.version } : {}),
        location: e.hosted.location,
        origin: e.hosted.origin,
        ...(this.serverName !== undefined ? { server: e.hosted.server ?? this.serverName } : {}),
        sessions: e.sessions.size,
      });
    }
    return out;
  }

  /** Relay counters per service `identity` may see: proof of what did (and did not) go through the server. */
  stats(identity: Identity): RelayStats {
    const services: RelayStats['services'] = {};
    for (const [name, e] of this.services) {
      if (!this.visible(identity, name)) continue;
      services[name] = {
        location: e.hosted.location,
        ...(this.serverName !== undefined ? { server: e.hosted.server ?? this.serverName } : {}),
        sessions: e.sessions.size,
        ...e.counters,
      };
    }
    return { services, sessions: this.sessions.size, ...this.health?.(), ...(this.clusterStats ? { cluster: this.clusterStats() } : {}) };
  }

  /** The sessions of the services `identity` may see, with the routes their clients took. */
  listSessions(identity: Identity): SessionListing[] {
    const out: SessionListing[] = [];
    for (const s of this.sessions.values()) {
      if (!this.visible(identity, s.service)) continue;
      const routes: SessionListing['routes'] = {};
      for (const key of s.entry.routeTable.keys()) {
        const r = s.routes[key];
        if (r?.linkType !== 'direct') routes[key] = { linkType: 'server' };
        else routes[key] = { linkType: 'direct', ...(r.link ? { link: r.link } : {}), ...(r.link && s.entry.routeTable.links.get(r.link) ? { bearer: s.entry.routeTable.links.get(r.link)!.bearer } : {}) };
      }
      out.push({
        session: s.id,
        service: s.service,
        identity: s.identity.name,
        client: s.clientLabel,
        startedAt: s.startedAt.toISOString(),
        attached: s.sink !== undefined,
        routes,
        warnings: [...s.warnings],
      });
    }
    return out;
  }

  /**
   * Whether `identity` may see `service` in a listing. Asked of the policy without the audit: leaving a
   * service out of a list is not a refused request, so it is neither logged nor counted as a denial.
   */
  private visible(identity: Identity, service: string): boolean {
    return this.authorizer.current.authorize(identity, 'describe', { service }).allowed;
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

  /**
   * Ends a session its service side already forgot (the server of a cluster that holds the service ended
   * it): nobody is told but the client.
   */
  endSession(session: BrokerSession, reason: PeerwayError): void {
    if (this.sessions.get(session.id) !== session) return;
    this.sessions.delete(session.id);
    session.entry.sessions.delete(session);
    session.end(reason);
  }

  /** Ends every session with `reason` (server shutting down). */
  endAll(reason: PeerwayError): void {
    for (const s of [...this.sessions.values()]) {
      this.remove(s);
      s.end(reason);
      this.log.info({ session: s.id, service: s.service, identity: s.identity.name, reason: reason.message }, 'session ended');
    }
  }
}
