import { EventEmitter } from 'node:events';
import { PeerwayError } from '../errors.js';
import type { ServiceDefinition } from '../definition/model.js';
import { checkArguments, checkValue } from '../definition/values.js';
import { RuntimeDataTree } from '../definition/runtime-data-tree.js';
import { pathsOverlap } from '../definition/path-overlap.js';
import type { Channel, RequestOptions } from '../wire/channel.js';
import type { ChosenRoute, DataPush, EventPush, RequestBody } from '../wire/messages.js';
import { RouteTable, resourceKey } from '../routing/route-table.js';
import type { ResourceKind } from '../definition/model.js';

/** How a message reached the client: relayed by the server, or directly from the service. */
export type Route = 'server' | 'direct';

export interface ServiceEvent {
  name: string;
  args: Record<string, unknown>;
  route: Route;
  /** The link it arrived on, for direct routes. */
  link?: string;
}

export interface DataChange {
  path: string;
  value: unknown;
  route: Route;
  link?: string;
}

export interface Subscription {
  /** Stops delivery to this listener (and tells the server when no listener is left). */
  close(): Promise<void>;
}

export interface DataWatch extends Subscription {
  /** The runtime data at the watched path when the watch started. */
  snapshot: unknown;
}

export interface SessionInit {
  id: string;
  service: string;
  location: 'in-process' | 'remote';
  definition: ServiceDefinition;
  routing?: string;
}

/**
 * A client's session with one service. Arguments and results are checked against the service definition
 * on this side too, so a typo fails at once with BAD_ARGUMENT instead of after a round trip.
 *
 * Events: `ended` (PeerwayError) when the session ends without the client asking (service gone).
 */
export class Session extends EventEmitter {
  readonly id: string;
  readonly service: string;
  readonly location: 'in-process' | 'remote';
  readonly definition: ServiceDefinition;
  /** Routing instructions XML received at start (remote services with routing), for inspection. */
  readonly routing?: string;
  /** The client's copy of the runtime data, kept current while any watch is open. */
  readonly data: RuntimeDataTree;
  private readonly eventListeners = new Map<string, Set<(e: ServiceEvent) => void>>(); // '' = all events
  private readonly dataListeners = new Map<string, Set<(c: DataChange) => void>>();
  private endedWith: PeerwayError | undefined;
  /** Peer-to-peer links of this session, by link name. */
  private links = new Map<string, Channel>();
  private routes: Record<string, ChosenRoute> = {};
  private readonly table: RouteTable;
  /** Warnings from session start (links that could not be opened, with the route used instead). */
  warnings: string[] = [];

  constructor(
    init: SessionInit,
    private readonly channel: Channel,
    private readonly callTimeoutMs: number,
    private readonly onStopped: (id: string) => void,
  ) {
    super();
    this.id = init.id;
    this.service = init.service;
    this.location = init.location;
    this.definition = init.definition;
    if (init.routing) this.routing = init.routing;
    this.data = new RuntimeDataTree(init.definition);
    this.table = new RouteTable(init.definition, '');
  }

  /** @internal installs the links and routes chosen at session start. */
  attachRoutes(links: Map<string, Channel>, routes: Record<string, ChosenRoute>, warnings: string[]): void {
    this.links = links;
    this.routes = routes;
    this.warnings = warnings;
  }

  /** The route this session uses for a resource (`runtimedata` names are dot paths). */
  routeFor(kind: ResourceKind, name: string): { linkType: 'direct' | 'server'; link?: string; bearer?: string } {
    const key = kind === 'runtimedata' ? this.table.dataKey(name) : resourceKey(kind, name);
    const r = this.routes[key];
    if (!r || r.linkType === 'server') return { linkType: 'server' };
    const channel = this.links.get(r.link ?? '');
    return { linkType: 'direct', link: r.link!, ...(channel ? { bearer: channel.connection.bearer } : {}) };
  }

  /** Every resource's route, for display (`method:NAME` / `event:NAME` / `data:PATH` → route). */
  get chosenRoutes(): Record<string, ChosenRoute> {
    return { ...this.routes };
  }

  /** The channel that carries a resource: its direct link, or the server connection. */
  private channelFor(key: string): Channel {
    const r = this.routes[key];
    if (r?.linkType === 'direct') {
      const link = this.links.get(r.link ?? '');
      if (!link || link.closed) {
        throw new PeerwayError('LINK_FAILED', `the direct link "${r.link}" of session ${this.id} with ${this.service} is closed${link?.closeInfo ? ` (${link.closeInfo.reason})` : ''}`);
      }
      return link;
    }
    return this.channel;
  }

  private request<T>(key: string, body: RequestBody, options: RequestOptions = {}): Promise<T> {
    let channel: Channel;
    try {
      channel = this.channelFor(key);
    } catch (err) {
      return Promise.reject(err);
    }
    // A plain literal, not a spread: this runs for every call.
    const channelOptions: RequestOptions = { timeoutMs: options.timeoutMs ?? this.callTimeoutMs };
    if (options.signal) channelOptions.signal = options.signal;
    return channel.request<T>(body, channelOptions);
  }

  get ended(): boolean {
    return this.endedWith !== undefined;
  }

  /** Calls a method with named arguments; resolves with its (checked) result. */
  async call<T = unknown>(method: string, args: Record<string, unknown> = {}, options: RequestOptions = {}): Promise<T> {
    this.assertLive();
    const def = this.definition.methods.get(method);
    if (!def) {
      const known = [...this.definition.methods.keys()].join(', ') || 'none';
      throw new PeerwayError('METHOD_NOT_FOUND', `service ${this.service} has no method "${method}" (methods: ${known})`);
    }
    const where = `${this.service}.${method}`;
    const checked = checkArguments(this.definition, def.arguments, args, where);
    const value = await this.request(`method:${method}`, { type: 'call', session: this.id, method, args: checked }, options);
    if (def.returns.name === 'void') return undefined as T;
    try {
      return checkValue(this.definition, def.returns, value, `${where} result`) as T;
    } catch (err) {
      throw new PeerwayError('BAD_RESULT', (err as Error).message);
    }
  }

  /** Subscribes to one event (or all, with undefined). */
  async onEvent(name: string | undefined, listener: (e: ServiceEvent) => void): Promise<Subscription> {
    this.assertLive();
    const key = name ?? '';
    if (key && !this.definition.events.has(key)) {
      const known = [...this.definition.events.keys()].join(', ') || 'none';
      throw new PeerwayError('EVENT_NOT_FOUND', `service ${this.service} has no event "${key}" (events: ${known})`);
    }
    let set = this.eventListeners.get(key);
    if (!set) {
      set = new Set();
      this.eventListeners.set(key, set);
      try {
        await Promise.all(this.eventChannels(key).map((c) => c.request({ type: 'subscribe', session: this.id, kind: 'event', ...(key ? { name: key } : {}) }, { timeoutMs: this.callTimeoutMs })));
      } catch (err) {
        this.eventListeners.delete(key);
        throw err;
      }
    }
    set.add(listener);
    return {
      close: async () => {
        set!.delete(listener);
        if (set!.size === 0 && this.eventListeners.get(key) === set) {
          this.eventListeners.delete(key);
          if (!this.ended) {
            await Promise.all(
              this.eventChannels(key)
                .filter((c) => !c.closed)
                .map((c) => c.request({ type: 'unsubscribe', session: this.id, kind: 'event', ...(key ? { name: key } : {}) }, { timeoutMs: this.callTimeoutMs })),
            );
          }
        }
      },
    };
  }

  /**
   * Watches runtime data at a dot path ('' = everything): resolves with the current snapshot, then calls
   * the listener for each change that touches the path. `session.data` holds the live copy meanwhile.
   */
  async watch(path: string, listener: (c: DataChange) => void): Promise<DataWatch> {
    this.assertLive();
    RuntimeDataTree.nodeAt(this.definition.runtimeData, path, this.definition);
    let set = this.dataListeners.get(path);
    const fresh = !set;
    if (!set) {
      set = new Set();
      this.dataListeners.set(path, set);
    }
    set.add(listener);
    let snapshot: unknown;
    try {
      // The server answers first and the direct links after it: a link's snapshot comes from the service
      // itself, so it is applied last and wins where the two overlap.
      for (const channel of this.dataChannels(path)) {
        const part = await channel.request({ type: 'subscribe', session: this.id, kind: 'data', name: path }, { timeoutMs: this.callTimeoutMs });
        this.data.apply(path, part);
      }
      snapshot = this.data.get(path);
    } catch (err) {
      set.delete(listener);
      if (fresh) this.dataListeners.delete(path);
      throw err;
    }
    const ownSet = set;
    return {
      snapshot,
      close: async () => {
        ownSet.delete(listener);
        if (ownSet.size === 0 && this.dataListeners.get(path) === ownSet) {
          this.dataListeners.delete(path);
          if (!this.ended) {
            await Promise.all(
              this.dataChannels(path)
                .filter((c) => !c.closed)
                .map((c) => c.request({ type: 'unsubscribe', session: this.id, kind: 'data', name: path }, { timeoutMs: this.callTimeoutMs })),
            );
          }
        }
      },
    };
  }

  /** Where subscriptions to an event (or all events, '') must be made: the server and/or direct links. */
  private eventChannels(name: string): Channel[] {
    const keys = name ? [`event:${name}`] : [...this.definition.events.keys()].map((e) => `event:${e}`);
    return this.distinctChannels(keys, name === '');
  }

  /** Where a runtime-data watch at `path` must subscribe: every route its subtrees take. */
  private dataChannels(path: string): Channel[] {
    return this.distinctChannels(this.table.dataKeysUnder(path), false);
  }

  private distinctChannels(keys: string[], alwaysServer: boolean): Channel[] {
    const out = new Set<Channel>();
    if (alwaysServer) out.add(this.channel);
    for (const k of keys) out.add(this.channelFor(k));
    // The server connection first, so direct snapshots are applied after (and win over) the server's copy.
    return [...out].sort((a, b) => (a === this.channel ? -1 : b === this.channel ? 1 : 0));
  }

  /** Stops the session; the service is told and every subscription ends. */
  async stop(options: RequestOptions = {}): Promise<void> {
    if (this.ended) return;
    this.markEnded(new PeerwayError('SESSION_NOT_FOUND', `session ${this.id} was stopped`));
    this.onStopped(this.id);
    for (const l of this.links.values()) l.close('session stopped');
    if (!this.channel.closed) await this.channel.request({ type: 'stop', session: this.id }, { timeoutMs: options.timeoutMs ?? this.callTimeoutMs });
  }

  /** @internal delivery from the client's connection. */
  deliverEvent(m: EventPush, route: Route, link?: string): void {
    const event: ServiceEvent = { name: m.name, args: m.args ?? {}, route, ...(link ? { link } : {}) };
    for (const key of [m.name, '']) {
      const set = this.eventListeners.get(key);
      if (set) for (const l of set) l(event);
    }
  }

  /** @internal */
  deliverData(m: DataPush, route: Route, link?: string): void {
    try {
      this.data.apply(m.path, m.value);
    } catch {
      // An update for a path we do not know cannot be applied; listeners still hear of it below.
    }
    const change: DataChange = { path: m.path, value: m.value, route, ...(link ? { link } : {}) };
    for (const [watched, set] of this.dataListeners) {
      if (pathsOverlap(watched, m.path)) {
        for (const l of set) l(change);
      }
    }
  }

  /** @internal the server ended the session, or the connection closed. */
  markEnded(error: PeerwayError): void {
    if (this.endedWith) return;
    this.endedWith = error;
    for (const l of this.links.values()) l.close('session ended');
    this.eventListeners.clear();
    this.dataListeners.clear();
    if (error.code !== 'SESSION_NOT_FOUND') this.emit('ended', error);
  }

  private assertLive(): void {
    if (this.endedWith) {
      throw new PeerwayError(this.endedWith.code === 'SESSION_NOT_FOUND' ? 'SESSION_NOT_FOUND' : this.endedWith.code, `session ${this.id} with ${this.service} has ended: ${this.endedWith.message}`);
    }
  }
}
