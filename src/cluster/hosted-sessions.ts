import { PeerwayError } from '../errors.js';
import type { Logger } from '../logger.js';
import { identityNamed } from '../policy/authorizer.js';
import type { Broker } from '../server/broker.js';
import { BrokerClient } from '../server/broker-client.js';
import type { SessionSink } from '../server/broker-session.js';
import type { ServiceEntry, Subscriber } from '../server/service-entry.js';
import type { ClusterNotice, ClusterRequest, Described, Opened, ServiceTraffic } from './cluster-messages.js';
import type { NatsLink } from './nats-link.js';
import { ClusterService } from './cluster-service.js';
import { noticeSubject, requestSubject, trafficSubject } from './subjects.js';

/** One session another server holds with a service of this server. */
interface HeldSession {
  /** The server that holds it (its client is attached there). */
  from: string;
  /** When it started here (ms): a young session may not have reached its holder's books yet. */
  since: number;
  client: BrokerClient;
  entry: ServiceEntry;
}

/**
 * The owning side of cluster sessions: answers the requests other servers make for their clients'
 * sessions with this server's services, through a BrokerClient per session (so this server's policy
 * decides for the relayed identity, as for one of its own clients), and publishes each such service's
 * events and runtime data once on its subjects (a tap on the service's fan-out) while any other server
 * holds a session with it.
 */
export class HostedSessions {
  private readonly held = new Map<string, HeldSession>();
  private readonly taps = new Map<ServiceEntry, { tap: Subscriber; count: number }>();

  constructor(
    private readonly broker: Broker,
    private readonly link: NatsLink,
    private readonly self: string,
    private readonly log: Logger,
  ) {}

  /** How many sessions other servers hold here. */
  get size(): number {
    return this.held.size;
  }

  async handle(request: ClusterRequest): Promise<unknown> {
    switch (request.op) {
      case 'ping':
        return this.self;
      case 'describe': {
        const entry = this.own(request.service);
        return { xml: entry.definition.source, file: entry.definition.file ?? `${entry.name}.xml`, data: entry.runtimeData.get('') } satisfies Described;
      }
      case 'open':
        return this.open(request);
      case 'ready': {
        const h = this.session(request.session, request.from);
        await h.client.ready(request.session, request.routes, undefined, request.timeoutMs);
        return undefined;
      }
      case 'call': {
        const h = this.session(request.session, request.from);
        return await h.client.call(request.session, request.method, request.args, request.timeoutMs);
      }
      case 'subscribe': {
        const h = this.session(request.session, request.from);
        await h.client.subscribe(request.session, request.kind, request.name || undefined, request.timeoutMs);
        return undefined;
      }
      case 'held':
        return this.stillHeld(request.from, request.sessions);
      case 'owned':
        return (Array.isArray(request.sessions) ? request.sessions : []).filter((id) => this.held.get(id)?.from === request.from && this.broker.sessions.has(id));
      default:
        throw new PeerwayError('PROTOCOL', `unknown cluster request "${String((request as { op?: unknown }).op)}"`);
    }
  }

  notice(n: ClusterNotice): void {
    const h = this.held.get(n.session);
    if (!h || h.from !== n.from) return;
    switch (n.op) {
      case 'close':
        this.drop(n.session);
        h.client.stop(n.session);
        break;
      case 'unsubscribe':
        h.client.unsubscribe(n.session, n.kind, n.name || undefined);
        break;
      case 'grants': {
        const s = this.broker.sessions.get(n.session);
        if (s && s.entry === h.entry) this.broker.setPeerGrants(s, n.grants);
        break;
      }
      default:
        break;
    }
  }

  /**
   * Notices are fire-and-forget: one sent while its receiver was cut off from NATS is lost. So, now and
   * then, each side asks the other which of their shared sessions (older than `minAgeMs`) it still has,
   * and lets go of the others: this server's sessions held for servers that forgot them are stopped (the
   * runner is told); sessions this server holds with services of an owner that forgot them are ended with
   * SERVICE_GONE, so their clients start them again. A server that does not answer is left to expiry.
   */
  async reconcile(minAgeMs: number, timeoutMs: number): Promise<void> {
    const now = Date.now();
    for (const id of [...this.held.keys()]) if (!this.broker.sessions.has(id)) this.drop(id); // ended without a word
    const owned = new Map<string, string[]>();
    for (const [id, h] of this.held) if (now - h.since >= minAgeMs) owned.set(h.from, [...(owned.get(h.from) ?? []), id]);
    const holding = new Map<string, string[]>();
    for (const s of this.broker.sessions.values()) {
      const hosted = s.entry.hosted;
      if (hosted instanceof ClusterService && hosted.holds(s.id) && now - s.startedAt.getTime() >= minAgeMs) holding.set(hosted.server, [...(holding.get(hosted.server) ?? []), s.id]);
    }
    const ask = async (server: string, request: ClusterRequest): Promise<Set<string> | undefined> => {
      try {
        const value = await this.link.request(requestSubject(server), request, timeoutMs, server);
        return new Set(Array.isArray(value) ? value.filter((v): v is string => typeof v === 'string') : []);
      } catch {
        return undefined;
      }
    };
    await Promise.all([
      ...[...owned].map(async ([server, ids]) => {
        const still = await ask(server, { op: 'held', from: this.self, sessions: ids });
        for (const id of ids) {
          const h = this.held.get(id);
          if (!still || still.has(id) || !h) continue;
          this.log.info({ session: id, server }, 'session forgotten by the server that held it; stopped');
          this.drop(id);
          stopQuietly(h.client, id);
        }
      }),
      ...[...holding].map(async ([server, ids]) => {
        const still = await ask(server, { op: 'owned', from: this.self, sessions: ids });
        for (const id of ids) {
          const s = this.broker.sessions.get(id);
          if (!still || still.has(id) || !s || !(s.entry.hosted instanceof ClusterService)) continue;
          s.entry.hosted.forget(id);
          this.broker.endSession(s, new PeerwayError('SERVICE_GONE', `session ${id} with ${s.service} was lost on server ${server}; start it again`));
        }
      }),
    ]);
  }

  /** Which of `ids` this server still holds with services of `owner` (asked by the owner). */
  private stillHeld(owner: string, ids: unknown): string[] {
    if (!Array.isArray(ids)) return [];
    return ids.filter((id): id is string => {
      if (typeof id !== 'string') return false;
      const hosted = this.broker.sessions.get(id)?.entry.hosted;
      return hosted instanceof ClusterService && hosted.server === owner && hosted.holds(id);
    });
  }

  /** Ends every session `server` held here (it vanished or restarted: its clients' sessions are gone). */
  dropServer(server: string): void {
    for (const [id, h] of [...this.held]) {
      if (h.from !== server) continue;
      this.drop(id);
      stopQuietly(h.client, id);
    }
  }

  private async open(r: Extract<ClusterRequest, { op: 'open' }>): Promise<Opened> {
    const entry = this.own(r.service);
    if (this.held.has(r.session)) throw new PeerwayError('PROTOCOL', `session ${r.session} is open here already`);
    const sink = this.sinkFor(r.from);
    const client = new BrokerClient(this.broker, { identity: identityNamed(r.identity), label: `${r.label} (cluster)` }, sink);
    const started = await client.start(r.service, r.client, { id: r.session, ...(r.grants ? { peerGrants: r.grants } : {}), timeoutMs: r.timeoutMs });
    const s = this.broker.sessions.get(r.session);
    if (!s) throw new PeerwayError('SERVICE_GONE', `service ${r.service} went away while the session was starting`);
    this.held.set(r.session, { from: r.from, since: Date.now(), client, entry });
    this.tap(entry);
    return {
      ...(started.routing ? { routing: started.routing } : {}),
      ...(s.refused.size > 0 ? { serverRefused: [...s.refused] } : {}),
      grants: s.ownGrants,
      data: entry.runtimeData.get(''),
    };
  }

  /** A service registered with this server (not one this server only relays): others may open sessions with it. */
  private own(name: string): ServiceEntry {
    const entry = this.broker.services.get(name);
    if (!entry || entry.hosted.server !== undefined) {
      throw new PeerwayError('SERVICE_NOT_FOUND', `no service named "${name}" is registered with server ${this.self}`);
    }
    return entry;
  }

  private session(id: string, from: string): HeldSession {
    const h = this.held.get(id);
    if (!h || h.from !== from) throw new PeerwayError('SESSION_NOT_FOUND', `session ${id} does not exist on server ${this.self} (stopped, or its service went away)`);
    return h;
  }

  private drop(id: string): void {
    const h = this.held.get(id);
    if (!h) return;
    this.held.delete(id);
    const t = this.taps.get(h.entry);
    if (t && --t.count === 0) {
      h.entry.taps.delete(t.tap);
      this.taps.delete(h.entry);
    }
  }

  /** Pushes of the held sessions go nowhere (the tap publishes once for all); endings and decisions go to their server. */
  private sinkFor(server: string): SessionSink {
    return {
      event: () => false,
      data: () => false,
      ended: (session, error) => {
        this.drop(session);
        this.link.publish(noticeSubject(server), { op: 'ended', from: this.self, session, error: error.toWire() } satisfies ClusterNotice);
      },
      grantsChanged: (session, own) => {
        this.log.debug({ session, server }, 'telling the server that holds the session of new decisions');
        this.link.publish(noticeSubject(server), { op: 'grants', from: this.self, session, grants: own } satisfies ClusterNotice);
      },
    };
  }

  private tap(entry: ServiceEntry): void {
    const t = this.taps.get(entry);
    if (t) {
      t.count++;
      return;
    }
    const events = trafficSubject(this.self, entry.name, 'event');
    const data = trafficSubject(this.self, entry.name, 'data');
    const tap: Subscriber = {
      wantsEvent: () => true,
      wantsData: () => true,
      pushEvent: (name, args) => {
        this.link.publish(events, { kind: 'event', name, args } satisfies ServiceTraffic);
        return true;
      },
      pushData: (path, value) => {
        this.link.publish(data, { kind: 'data', path, value } satisfies ServiceTraffic);
        return true;
      },
    };
    entry.taps.add(tap);
    this.taps.set(entry, { tap, count: 1 });
    this.log.debug({ service: entry.name }, 'publishing the service traffic to the cluster');
  }
}

function stopQuietly(client: BrokerClient, id: string): void {
  try {
    client.stop(id);
  } catch {
    // Ended meanwhile.
  }
}
