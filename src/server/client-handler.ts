import { PeerwayError } from '../errors.js';
import { RuntimeDataTree } from '../definition/runtime-data-tree.js';
import type { Channel } from '../wire/channel.js';
import type { Push, Request, SessionReady, StartSession, Subscribe, Unsubscribe } from '../wire/messages.js';
import type { PeerwayServer } from './server.js';
import { ServerSession } from './server-session.js';

/** What a client gets back when its session starts. */
export interface SessionStartReply {
  session: string;
  service: string;
  location: 'in-process' | 'remote';
  /** The service definition XML, so the client can check arguments and results locally. */
  xml: string;
  /** Routing instructions XML from the service (remote services with peer-to-peer routes). */
  routing?: string;
}

/** Serves one client connection: sessions, relayed calls and subscriptions. */
export class ClientHandler {
  private readonly sessions = new Map<string, ServerSession>();

  constructor(
    private readonly server: PeerwayServer,
    private readonly channel: Channel,
    private readonly label: string,
    private readonly agent?: string,
  ) {}

  request(m: Request): unknown {
    switch (m.type) {
      case 'list':
        return this.server.listServices();
      case 'start':
        return this.start(m);
      case 'stop':
        return this.stop(m.session);
      case 'call': {
        const s = this.session(m.session);
        s.entry.counters.calls++;
        return s.entry.hosted.call(s.id, m.method, m.args ?? {}, { timeoutMs: this.server.relayTimeoutMs });
      }
      case 'subscribe':
        return this.subscribe(m);
      case 'unsubscribe':
        return this.unsubscribe(m);
      case 'stats':
        return statsOf(this.server);
      case 'ready':
        return this.ready(m);
      default:
        throw new PeerwayError('PROTOCOL', `clients cannot send "${m.type}" requests`);
    }
  }

  push(m: Push): void {
    this.server.log.debug({ peer: this.label, type: m.type }, 'ignored push from client');
  }

  /** The client went away: its sessions end, and remote services are told so they can drop their state. */
  closed(): void {
    for (const s of this.sessions.values()) this.drop(s);
    this.sessions.clear();
  }

  private async start(m: StartSession): Promise<SessionStartReply> {
    const entry = this.server.lookup(m.service);
    const id = this.server.newSessionId();
    const session = new ServerSession(id, entry, this.channel, `${this.label}${this.agent ? ` (${this.agent})` : ''}`);
    const client = m.client ?? { bearers: [], host: '', version: 0 };
    const opened = await entry.hosted.openSession({ session: id, service: entry.name, client }, { timeoutMs: this.server.relayTimeoutMs });
    if (this.channel.closed || !this.server.services.has(entry.name)) {
      // The client or the service left while the service was opening the session.
      entry.hosted.closeSession(id);
      throw new PeerwayError('SERVICE_GONE', `service ${entry.name} went away while the session was starting`);
    }
    this.sessions.set(id, session);
    this.server.sessions.set(id, session);
    entry.sessions.add(session);
    this.server.log.info({ session: id, service: entry.name, peer: this.label }, 'session started');
    return {
      session: id,
      service: entry.name,
      location: entry.hosted.location,
      xml: entry.definition.source,
      ...(opened.routing ? { routing: opened.routing } : {}),
    };
  }

  private async ready(m: SessionReady): Promise<void> {
    const s = this.session(m.session);
    const routes = m.routes ?? {};
    s.setRoutes(routes);
    await s.entry.hosted.sessionReady(s.id, routes, { timeoutMs: this.server.relayTimeoutMs });
  }

  private stop(id: string): void {
    const s = this.session(id);
    this.sessions.delete(id);
    this.drop(s);
    this.server.log.info({ session: id, service: s.entry.name }, 'session stopped');
  }

  private drop(s: ServerSession): void {
    this.server.sessions.delete(s.id);
    s.entry.sessions.delete(s);
    if (this.server.services.get(s.entry.name) === s.entry) s.entry.hosted.closeSession(s.id);
  }

  private subscribe(m: Subscribe): unknown {
    const s = this.session(m.session);
    if (m.kind === 'event') {
      if (m.name && !s.entry.definition.events.has(m.name)) {
        const known = [...s.entry.definition.events.keys()].join(', ') || 'none';
        throw new PeerwayError('EVENT_NOT_FOUND', `service ${s.entry.name} has no event "${m.name}" (events: ${known})`);
      }
      s.subscribeEvent(m.name);
      return undefined;
    }
    if (m.kind === 'data') {
      const path = m.name ?? '';
      // Validates the path (PATH_NOT_FOUND with the valid children) before subscribing.
      RuntimeDataTree.nodeAt(s.entry.definition.runtimeData, path, s.entry.definition);
      s.subscribeData(path);
      return s.entry.runtimeData.get(path);
    }
    throw new PeerwayError('PROTOCOL', `unknown subscription kind "${String(m.kind)}" (expected "event" or "data")`);
  }

  private unsubscribe(m: Unsubscribe): void {
    const s = this.session(m.session);
    if (m.kind === 'event') s.unsubscribeEvent(m.name);
    else s.unsubscribeData(m.name);
  }

  private session(id: string): ServerSession {
    const s = this.sessions.get(id);
    if (!s) throw new PeerwayError('SESSION_NOT_FOUND', `session ${id} does not exist on this connection (stopped, or its service went away)`);
    return s;
  }
}

/** The `stats` answer: per-service relay counters, proof of what did (and did not) go through the server. */
export function statsOf(server: PeerwayServer): unknown {
  const services: Record<string, unknown> = {};
  for (const [name, e] of server.services) {
    services[name] = { location: e.hosted.location, sessions: e.sessions.size, ...e.counters };
  }
  return { services, sessions: server.sessions.size };
}
