import type { Channel } from '../wire/channel.js';
import type { ChosenRoute } from '../wire/messages.js';
import type { PeerwayError } from '../errors.js';
import type { ServiceEntry } from './service-entry.js';
import { pathsOverlap } from '../definition/path-overlap.js';


/** One client's session with one service, as the server tracks it: who to push to and what they asked for. */
export class ServerSession {
  private allEvents = false;
  private readonly events = new Set<string>();
  private readonly dataPaths: string[] = [];
  readonly startedAt = new Date();
  /** The routes the client took (resource key → route); absent keys use the server. */
  routes: Record<string, ChosenRoute> = {};
  /** Resources this session receives directly from the service: the server must not push them too. */
  private direct = new Set<string>();

  constructor(
    readonly id: string,
    readonly entry: ServiceEntry,
    readonly client: Channel,
    /** For listings: the client's address and what it reported about itself. */
    readonly clientLabel: string,
  ) {}

  setRoutes(routes: Record<string, ChosenRoute>): void {
    this.routes = routes;
    this.direct = new Set(Object.entries(routes).filter(([, r]) => r.linkType === 'direct').map(([k]) => k));
  }

  subscribeEvent(name: string | undefined): void {
    if (!name) this.allEvents = true;
    else this.events.add(name);
  }

  unsubscribeEvent(name: string | undefined): void {
    if (!name) {
      this.allEvents = false;
      this.events.clear();
    } else this.events.delete(name);
  }

  subscribeData(path: string): void {
    if (!this.dataPaths.includes(path)) this.dataPaths.push(path);
  }

  unsubscribeData(path: string | undefined): void {
    if (!path) this.dataPaths.length = 0;
    else {
      const i = this.dataPaths.indexOf(path);
      if (i >= 0) this.dataPaths.splice(i, 1);
    }
  }

  wantsEvent(name: string): boolean {
    return (this.allEvents || this.events.has(name)) && !this.direct.has(`event:${name}`);
  }

  /** `key` is the runtime-data resource the change belongs to (see RouteTable.dataKey). */
  wantsData(path: string, key: string): boolean {
    if (this.direct.has(key)) return false;
    for (const p of this.dataPaths) if (pathsOverlap(p, path)) return true;
    return false;
  }

  pushEvent(name: string, args: Record<string, unknown>): void {
    this.safeSend(() => this.client.send({ type: 'event', session: this.id, name, args }));
  }

  pushData(path: string, value: unknown): void {
    this.safeSend(() => this.client.send({ type: 'data', session: this.id, path, value }));
  }

  /** Tells the client the session ended without it asking (service gone, server stopping). */
  end(error: PeerwayError): void {
    this.safeSend(() => this.client.send({ type: 'ended', session: this.id, error: error.toWire() }));
  }

  private safeSend(send: () => void): void {
    // A client that disconnected is cleaned up by its close handler; a push racing with that is dropped.
    if (this.client.closed) return;
    try {
      send();
    } catch {
      /* dropped: see above */
    }
  }
}
