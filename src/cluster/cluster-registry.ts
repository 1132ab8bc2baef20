import { createHash } from 'node:crypto';
import { parseDefinition } from '../definition/parse-definition.js';
import { PeerwayError } from '../errors.js';
import type { Logger } from '../logger.js';
import type { Broker } from '../server/broker.js';
import type { ServiceEntry } from '../server/service-entry.js';
import type { ClusterRequest, Described, Heartbeat, ServiceAnnouncement } from './cluster-messages.js';
import { ClusterService } from './cluster-service.js';
import type { NatsLink } from './nats-link.js';
import { requestSubject } from './subjects.js';

/** What this server knows of one other server. */
interface Peer {
  boot: string;
  lastSeen: number;
  services: Map<string, { announcement: ServiceAnnouncement; entry?: ServiceEntry }>;
}

/** The hash a definition is announced with. */
export function definitionHash(source: string): string {
  return createHash('sha256').update(source).digest('hex');
}

/**
 * The registry across servers, as this server keeps it: from the others' heartbeats it registers their
 * services with its broker (as ClusterService entries, so listings, lookups and duplicates work as for
 * its own) and takes them out when they are unregistered there, when their server says goodbye, or when
 * it has not been heard for `expireMs`. Of two servers that registered the same name, the earlier
 * registration keeps it (ties: the smaller server name); the later one is evicted with DUPLICATE_SERVICE,
 * as a local duplicate is refused.
 */
export class ClusterRegistry {
  private readonly peers = new Map<string, Peer>();
  /** Definitions being fetched, by `server/service` (one request at a time for each). */
  private readonly fetching = new Map<string, Promise<Described>>();

  constructor(
    private readonly broker: Broker,
    private readonly link: NatsLink,
    private readonly self: string,
    private readonly boot: string,
    private readonly expireMs: number,
    private readonly log: Logger,
    /** Told when a server's sessions are gone (it vanished or restarted). */
    private readonly serverGone: (server: string) => void,
  ) {}

  /** The other servers heard, for `stats`. */
  peerStats(now = Date.now()): Record<string, { services: number; lastSeenMs: number }> {
    const out: Record<string, { services: number; lastSeenMs: number }> = {};
    for (const [name, p] of this.peers) out[name] = { services: p.services.size, lastSeenMs: now - p.lastSeen };
    return out;
  }

  /** This server's own services, as its heartbeats announce them. */
  ownServices(): ServiceAnnouncement[] {
    const out: ServiceAnnouncement[] = [];
    for (const e of this.broker.services.values()) {
      if (e.hosted.server !== undefined) continue;
      out.push({
        name: e.name,
        ...(e.definition.version ? { version: e.definition.version } : {}),
        hash: definitionHash(e.definition.source),
        registeredAt: e.registeredAt.getTime(),
        location: e.hosted.location,
        origin: e.hosted.origin,
        ...(e.hosted.reliableBearer ? { reliableBearer: e.hosted.reliableBearer } : {}),
      });
    }
    return out;
  }

  heartbeat(hb: Heartbeat): void {
    if (typeof hb !== 'object' || hb === null || typeof hb.server !== 'string' || !Array.isArray(hb.services)) return;
    if (hb.server === this.self) {
      if (hb.boot !== this.boot) this.log.error({ server: hb.server }, 'another Peerway server uses this server\'s --name in the cluster: give each server a name of its own');
      return;
    }
    let peer = this.peers.get(hb.server);
    if (peer && peer.boot !== hb.boot) {
      this.forgetPeer(hb.server, `server ${hb.server} restarted`);
      peer = undefined;
    }
    if (hb.bye) {
      if (peer) this.forgetPeer(hb.server, `server ${hb.server} left the cluster`);
      return;
    }
    if (!peer) {
      peer = { boot: hb.boot, lastSeen: Date.now(), services: new Map() };
      this.peers.set(hb.server, peer);
      this.log.info({ server: hb.server }, 'cluster server joined');
    }
    peer.lastSeen = Date.now();
    const announced = new Map(hb.services.filter((s) => typeof s?.name === 'string' && typeof s.hash === 'string').map((s) => [s.name, s]));
    for (const [name, known] of [...peer.services]) {
      const now = announced.get(name);
      if (now && now.hash === known.announcement.hash && now.registeredAt === known.announcement.registeredAt) continue;
      peer.services.delete(name);
      if (!known.entry) continue;
      const reason = new PeerwayError('SERVICE_GONE', `service ${name} went away: it was unregistered from server ${hb.server}`);
      (known.entry.hosted as ClusterService).gone(reason);
      this.broker.unregister(name, reason, known.entry);
    }
    for (const a of announced.values()) {
      const known = peer.services.get(a.name);
      if (known?.entry && this.broker.services.get(a.name) === known.entry) continue;
      if (!known) peer.services.set(a.name, { announcement: a });
      void this.adopt(hb.server, a);
    }
  }

  /** Takes out every server not heard for `expireMs`; run every heartbeat. */
  sweep(now = Date.now()): void {
    for (const [name, p] of [...this.peers]) {
      if (now - p.lastSeen > this.expireMs) this.forgetPeer(name, `server ${name} vanished from the cluster (no heartbeat for ${this.expireMs} ms)`);
    }
  }

  /** After this server's own link was down: nobody could be heard meanwhile, so nobody is blamed for it. */
  forgive(now = Date.now()): void {
    for (const p of this.peers.values()) p.lastSeen = Math.max(p.lastSeen, now);
  }

  /** Registers a service announced by `server`, or resolves a clash of names with one of this server's own. */
  private async adopt(server: string, a: ServiceAnnouncement): Promise<void> {
    const existing = this.broker.services.get(a.name);
    if (existing) {
      if (existing.hosted.server !== undefined) return; // another server's: those two settle it between them
      if (!this.wins(server, a, existing)) return; // ours came first: the other server evicts its own
      this.broker.evict(
        existing,
        new PeerwayError('SERVICE_GONE', `service ${a.name} went away: server ${server} had registered that name first`),
        new PeerwayError('DUPLICATE_SERVICE', `service ${a.name} is already registered in the cluster (${a.origin} on server ${server}); stop that one first or rename the service`, {
          details: { service: a.name, server },
        }),
      );
      this.log.warn({ service: a.name, server }, 'service evicted: another server of the cluster registered it first');
    }
    let described: Described;
    try {
      described = await this.describe(server, a);
    } catch (err) {
      this.log.warn({ service: a.name, server, reason: (err as Error).message }, 'could not fetch a cluster service definition; trying again at the next heartbeat');
      return;
    }
    const known = this.peers.get(server)?.services.get(a.name);
    if (!known || known.announcement.hash !== a.hash) return; // gone or changed meanwhile
    if (known.entry && this.broker.services.get(a.name) === known.entry) return;
    let definition;
    try {
      definition = parseDefinition(described.xml, described.file);
    } catch (err) {
      this.log.warn({ service: a.name, server, reason: (err as Error).message }, 'cluster service definition does not parse here; ignored');
      return;
    }
    const hosted = new ClusterService(definition, a, server, this.self, this.link, (session, error) => {
      const s = this.broker.sessions.get(session);
      if (s && s.entry.hosted === hosted) this.broker.endSession(s, error);
    });
    try {
      const entry = this.broker.register({ identity: { name: `server:${server}` }, label: `server ${server}` }, hosted, described.data, { vouched: true });
      hosted.attach(entry);
      known.entry = entry;
    } catch (err) {
      // Registered here meanwhile: the next heartbeat settles who keeps it.
      this.log.debug({ service: a.name, server, reason: (err as Error).message }, 'cluster service not registered yet');
    }
  }

  /** Whether `server`'s registration of a name beats this server's own one. */
  private wins(server: string, a: ServiceAnnouncement, ours: ServiceEntry): boolean {
    const mine = ours.registeredAt.getTime();
    return a.registeredAt < mine || (a.registeredAt === mine && server < this.self);
  }

  private describe(server: string, a: ServiceAnnouncement): Promise<Described> {
    const key = `${server}/${a.name}`;
    let p = this.fetching.get(key);
    if (!p) {
      p = this.link.request(requestSubject(server), { op: 'describe', from: this.self, service: a.name } satisfies ClusterRequest, 5000, server) as Promise<Described>;
      this.fetching.set(key, p);
      const done = () => this.fetching.delete(key);
      p.then(done, done);
    }
    return p;
  }

  private forgetPeer(name: string, why: string): void {
    const peer = this.peers.get(name);
    if (!peer) return;
    this.peers.delete(name);
    for (const [service, known] of peer.services) {
      if (!known.entry) continue;
      const reason = new PeerwayError('SERVICE_GONE', `service ${service} went away: ${why}`);
      (known.entry.hosted as ClusterService).gone(reason);
      this.broker.unregister(service, reason, known.entry);
    }
    this.serverGone(name);
    this.log.warn({ server: name, reason: why }, 'cluster server gone; its services are taken out');
  }
}
