import { pathsOverlap } from '../definition/path-overlap.js';
import { PeerwayError } from '../errors.js';
import type { Identity } from '../policy/authorizer.js';
import { describeResource } from '../routing/route-table.js';
import { GrantCheck } from '../policy/grants.js';
import type { Channel } from '../wire/channel.js';
import { PushOutbox, type PushLimits } from '../wire/push-outbox.js';
import type { ChosenRoute, ClientProfile } from '../wire/messages.js';

/** What the service offered one session at its start: the links each resource may use, and what needs one. */
export interface OfferedRoutes {
  /** Resource key → the links of its usable direct routes. */
  direct: Map<string, Set<string>>;
  /** Resource keys with no usable server route (only `required` direct ones). */
  serverRefused: Set<string>;
}

/** One open link of a session: its channel, and the outbox that keeps a slow reader bounded. */
export interface OpenLink {
  channel: Channel;
  outbox: PushOutbox;
}

/**
 * A session as the service side tracks it: the token that binds its links, the routes it offered and the
 * ones the client took among them, its open links and what it subscribed to over them.
 */
export class RunnerSession {
  /** Resource key → route, set when the client reports the session ready (checked against `offered`). */
  routes: Record<string, ChosenRoute> = {};
  ready = false;
  /** The server policy's decisions for this session (the last received): enforced on its links. */
  grants = new GrantCheck();
  readonly links = new Map<string, OpenLink>();
  private readonly linkEvents = new Map<string, Set<string>>(); // link → event names ('' = all)
  private readonly linkData = new Map<string, string[]>(); // link → watched paths

  constructor(
    readonly id: string,
    readonly token: string,
    readonly client: ClientProfile,
    /** Who the client is, as the server said when the session opened. */
    readonly identity: Identity,
    /** What the service offered this client: the only routes it will ever serve it. */
    readonly offered: OfferedRoutes,
  ) {}

  /**
   * Takes the routes the client reports as information, never as authority: a direct route must be one
   * the service offered for that resource, and a resource that needs its direct route cannot be taken
   * through the server. PROTOCOL / BEARER_MISSING naming the resource otherwise.
   */
  acceptRoutes(reported: unknown, service: string): Record<string, ChosenRoute> {
    if (reported !== undefined && (typeof reported !== 'object' || reported === null || Array.isArray(reported))) {
      throw new PeerwayError('PROTOCOL', `ready: "routes" must be a map of resource key to route`);
    }
    const routes: Record<string, ChosenRoute> = {};
    for (const [key, route] of Object.entries((reported ?? {}) as Record<string, unknown>)) {
      const r = route as Partial<ChosenRoute> | null;
      if (r?.linkType === 'server') {
        routes[key] = { linkType: 'server' };
      } else if (r?.linkType === 'direct' && typeof r.link === 'string') {
        if (!this.offered.direct.get(key)?.has(r.link)) {
          throw new PeerwayError('PROTOCOL', `ready: ${service} did not offer this session a direct route on link "${r.link}" for ${describeResource(key)}`);
        }
        routes[key] = { linkType: 'direct', link: r.link };
      } else {
        throw new PeerwayError('PROTOCOL', `ready: the route for "${key}" must be { linkType: 'server' } or { linkType: 'direct', link }`);
      }
    }
    for (const key of this.offered.serverRefused) {
      if (routes[key]?.linkType !== 'direct') {
        throw new PeerwayError('BEARER_MISSING', `ready: ${service} requires its direct route for ${describeResource(key)}; it cannot be reached through the server`);
      }
    }
    return routes;
  }

  /** The link this session takes for a resource, or undefined when it goes via the server. */
  directLink(key: string): string | undefined {
    const r = this.routes[key];
    return r && r.linkType === 'direct' ? r.link : undefined;
  }

  subscribe(link: string, kind: 'event' | 'data', name: string): void {
    if (kind === 'event') {
      let set = this.linkEvents.get(link);
      if (!set) this.linkEvents.set(link, (set = new Set()));
      set.add(name);
    } else {
      const paths = this.linkData.get(link) ?? [];
      if (!paths.includes(name)) paths.push(name);
      this.linkData.set(link, paths);
    }
  }

  /** Drops one subscription on `link`: to event `name` (none: to every event), or the watch of path `name`. */
  unsubscribe(link: string, kind: 'event' | 'data', name: string | undefined): void {
    if (kind === 'event') {
      this.linkEvents.get(link)?.delete(name ?? '');
    } else {
      const paths = this.linkData.get(link) ?? [];
      this.linkData.set(link, paths.filter((p) => p !== (name ?? '')));
    }
  }

  /** The link closed: what was subscribed on it goes (the client subscribes again wherever it moves). */
  clearLink(link: string): void {
    this.linkEvents.delete(link);
    this.linkData.delete(link);
  }

  wantsEvent(link: string, name: string): boolean {
    const set = this.linkEvents.get(link);
    return set !== undefined && (set.has('') || set.has(name));
  }

  wantsData(link: string, path: string): boolean {
    const paths = this.linkData.get(link);
    if (!paths) return false;
    for (const p of paths) if (pathsOverlap(p, path)) return true;
    return false;
  }

  closeLinks(reason: string): void {
    for (const l of this.links.values()) l.channel.close(reason);
    this.links.clear();
  }

  /** Opens (or replaces) the session's connection for `link`. */
  addLink(link: string, channel: Channel, limits: PushLimits, onDropped: (error: PeerwayError) => void): OpenLink {
    this.links.get(link)?.channel.close('replaced by a new link connection');
    const open = { channel, outbox: new PushOutbox(channel, limits, onDropped) };
    this.links.set(link, open);
    return open;
  }
}
