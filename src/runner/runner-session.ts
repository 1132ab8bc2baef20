import { pathsOverlap } from '../definition/path-overlap.js';
import type { Identity } from '../policy/authorizer.js';
import type { Channel } from '../wire/channel.js';
import type { ChosenRoute, ClientProfile } from '../wire/messages.js';

/**
 * A session as the service side tracks it: the token that binds its links, the routes the client took,
 * its open links and what it subscribed to over them.
 */
export class RunnerSession {
  /** Resource key → route, set when the client reports the session ready. */
  routes: Record<string, ChosenRoute> = {};
  ready = false;
  readonly links = new Map<string, Channel>();
  private readonly linkEvents = new Map<string, Set<string>>(); // link → event names ('' = all)
  private readonly linkData = new Map<string, string[]>(); // link → watched paths

  constructor(
    readonly id: string,
    readonly token: string,
    readonly client: ClientProfile,
    /** Who the client is, as the server said when the session opened. */
    readonly identity: Identity,
  ) {}

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

  unsubscribe(link: string, kind: 'event' | 'data', name: string | undefined): void {
    if (kind === 'event') {
      const set = this.linkEvents.get(link);
      if (!name) set?.clear();
      else set?.delete(name);
    } else {
      const paths = this.linkData.get(link) ?? [];
      this.linkData.set(link, name ? paths.filter((p) => p !== name) : []);
    }
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
    for (const c of this.links.values()) c.close(reason);
    this.links.clear();
  }
}
