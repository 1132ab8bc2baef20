import { EventEmitter } from 'node:events';
import { PeerwayError } from '../errors.js';
import type { ResourceKind, ServiceDefinition } from '../definition/model.js';
import { checkArguments, checkValue } from '../definition/values.js';
import { RuntimeDataTree } from '../definition/runtime-data-tree.js';
import { pathsOverlap } from '../definition/path-overlap.js';
import { RouteTable, resourceKey } from '../routing/route-table.js';
import type { Channel, RequestOptions } from '../wire/channel.js';
import type { ChosenRoute, DataPush, EventPush, ReplyTo, RequestBody } from '../wire/messages.js';
import { callIsolated, emitIsolated } from './isolated-emit.js';

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
  /** The secret that attaches this session to a new server connection. */
  resume?: string;
}

/**
 * The session's way to the server: whatever connection the client holds now. A session outlives a lost
 * server connection (its direct links keep working) and is attached to the next one.
 */
export interface ServerAccess {
  /** The current server connection; throws CONNECTION_CLOSED while there is none. */
  channel(): Channel;
  /** Where a listener's exception goes when the session has no `error` listener. */
  reportListenerError(error: PeerwayError, session: Session): void;
}

/**
 * A client's session with one service. Arguments and results are checked against the service definition
 * on this side too, so a typo fails at once with BAD_ARGUMENT instead of after a round trip.
 *
 * Events: `ended` (PeerwayError) when the session ends without the client asking (service gone, or the
 * server says it is gone after a reconnect); `error` (PeerwayError) when one of this session's listeners
 * threw: delivery to the others goes on.
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
  /** @internal the secret that attaches this session to a new server connection. */
  readonly resume: string | undefined;
  private readonly eventListeners = new Map<string, Set<(e: ServiceEvent) => void>>(); // '' = all events
  private readonly dataListeners = new Map<string, Set<(c: DataChange) => void>>();
  private endedWith: PeerwayError | undefined;
  /** Peer-to-peer links of this session, by link name: the session owns them, not the server connection. */
  private links = new Map<string, Channel>();
  private routes: Record<string, ChosenRoute> = {};
  private readonly table: RouteTable;
  /** Warnings from session start (links that could not be opened, with the route used instead). */
  warnings: string[] = [];

  constructor(
    init: SessionInit,
    private readonly server: ServerAccess,
    private readonly callTimeoutMs: number,
    private readonly onStopped: (id: string) => void,
  ) {
    super();
    this.id = init.id;
    this.service = init.service;
    this.location = init.location;
    this.definition = init.definition;
    this.resume = init.resume;
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

  /**
   * The route this session uses for a resource: `'method'`, `'event'`, or `'data'` with a dot path (the
   * names of `chosenRoutes`' keys; `'runtimedata'`, the definition's selector name, is accepted too).
   */
  routeFor(kind: ResourceKind | 'data', name: string): { linkType: 'direct' | 'server'; link?: string; bearer?: string } {
    const key = kind === 'runtimedata' || kind === 'data' ? this.table.dataKey(name) : resourceKey(kind, name);
    const r = this.routes[key];
    if (!r || r.linkType === 'server') return { linkType: 'server' };
    const channel = this.links.get(r.link ?? '');
    return { linkType: 'direct', link: r.link!, ...(channel ? { bearer: channel.connection.bearer } : {}) };
  }

  /** @internal the session's open links, by name (a copy). */
  openLinks(): Map<string, Channel> {
    return new Map(this.links);
  }

  /**
   * @internal Takes new routes on (more) links, as when a link that was late came up: reports them to the
   * service (which checks them against what it offered), then moves each subscription whose channels
   * changed: made on the new ones, dropped on the old. Events on a moved route sent in between may be
   * missed: the switch is not atomic across two connections.
   */
  async reroute(links: Map<string, Channel>, routes: Record<string, ChosenRoute>): Promise<void> {
    this.assertLive();
    const eventsBefore = new Map([...this.eventListeners.keys()].map((k) => [k, this.eventChannels(k)]));
    const dataBefore = new Map([...this.dataListeners.keys()].map((p) => [p, this.dataChannels(p)]));
    const server = this.server.channel();
    this.links = links;
    this.routes = routes;
    await server.request({ type: 'ready', session: this.id, routes }, { timeoutMs: this.callTimeoutMs });
    const timeoutMs = this.callTimeoutMs;
    const moves: Promise<unknown>[] = [];
    for (const [key, before] of eventsBefore) {
      const after = this.eventChannels(key);
      for (const c of after) if (!before.includes(c)) moves.push(c.request(eventSubscription('subscribe', this.id, key), { timeoutMs }));
      for (const c of before) if (!after.includes(c) && !c.closed) moves.push(c.request(eventSubscription('unsubscribe', this.id, key), { timeoutMs }));
    }
    for (const [path, before] of dataBefore) {
      const after = this.dataChannels(path);
      const added = after.filter((c) => !before.includes(c));
      if (added.length > 0) moves.push(this.fetchData(path, added));
      for (const c of before) if (!after.includes(c) && !c.closed) moves.push(c.request({ type: 'unsubscribe', session: this.id, kind: 'data', name: path }, { timeoutMs }));
    }
    await Promise.all(moves);
  }

  /** Every resource's route, for display (`method:NAME` / `event:NAME` / `data:PATH` → route). */
  get chosenRoutes(): Record<string, ChosenRoute> {
    return { ...this.routes };
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
        await Promise.all(this.eventChannels(key).map((c) => c.request(eventSubscription('subscribe', this.id, key), { timeoutMs: this.callTimeoutMs })));
      } catch (err) {
        this.eventListeners.delete(key);
        throw err;
      }
    }
    set.add(listener);
    const own = set;
    return {
      close: async () => {
        own.delete(listener);
        if (own.size > 0 || this.eventListeners.get(key) !== own) return;
        this.eventListeners.delete(key);
        await this.unsubscribeEverywhere(this.liveChannels(() => this.eventChannels(key)), eventSubscription('unsubscribe', this.id, key));
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
      await this.fetchData(path, this.dataChannels(path));
      snapshot = this.data.get(path);
    } catch (err) {
      set.delete(listener);
      if (fresh) this.dataListeners.delete(path);
      throw err;
    }
    const own = set;
    return {
      snapshot,
      close: async () => {
        own.delete(listener);
        if (own.size > 0 || this.dataListeners.get(path) !== own) return;
        this.dataListeners.delete(path);
        await this.unsubscribeEverywhere(this.liveChannels(() => this.dataChannels(path)), { type: 'unsubscribe', session: this.id, kind: 'data', name: path });
      },
    };
  }

  /** Stops the session; the service is told and every subscription ends. */
  async stop(options: RequestOptions = {}): Promise<void> {
    if (this.ended) return;
    this.markEnded(new PeerwayError('SESSION_NOT_FOUND', `session ${this.id} was stopped`));
    this.onStopped(this.id);
    let channel: Channel;
    try {
      channel = this.server.channel();
    } catch {
      return; // no server connection: the server drops the detached session on its own
    }
    await channel.request({ type: 'stop', session: this.id }, { timeoutMs: options.timeoutMs ?? this.callTimeoutMs });
  }

  /**
   * @internal The session was attached to a new server connection: subscribe again there to what goes
   * through the server (the server keeps no subscriptions of a detached session), and refresh the data.
   */
  async resubscribe(server: Channel): Promise<void> {
    const timeoutMs = this.callTimeoutMs;
    const pending: Promise<unknown>[] = [];
    for (const key of this.eventListeners.keys()) {
      if (this.eventChannels(key).includes(server)) pending.push(server.request(eventSubscription('subscribe', this.id, key), { timeoutMs }));
    }
    for (const path of this.dataListeners.keys()) {
      if (this.dataChannels(path).includes(server)) pending.push(this.fetchData(path, [server]));
    }
    await Promise.all(pending);
  }

  /** @internal delivery from the client's connection or a link. */
  deliverEvent(m: EventPush, route: Route, link?: string): void {
    const event: ServiceEvent = { name: m.name, args: m.args ?? {}, route, ...(link ? { link } : {}) };
    for (const key of [m.name, '']) {
      const set = this.eventListeners.get(key);
      if (set) for (const l of set) callIsolated(() => l(event), this.listenerFault, `the listener of event "${m.name}"`);
    }
  }

  /** @internal */
  deliverData(m: DataPush, route: Route, link?: string): void {
    try {
      this.data.applyPartial(m.path, m.value);
    } catch {
      // An update for a path we do not know cannot be applied; listeners still hear of it below.
    }
    const change: DataChange = { path: m.path, value: m.value, route, ...(link ? { link } : {}) };
    for (const [watched, set] of this.dataListeners) {
      if (!pathsOverlap(watched, m.path)) continue;
      for (const l of set) callIsolated(() => l(change), this.listenerFault, `the watch of "${watched || '(all)'}"`);
    }
  }

  /**
   * @internal The session ended: the server said so, it was stopped, or its client closed. `quiet` keeps
   * the `ended` event back (the client asked for it).
   */
  markEnded(error: PeerwayError, quiet = error.code === 'SESSION_NOT_FOUND'): void {
    if (this.endedWith) return;
    this.endedWith = error;
    for (const l of this.links.values()) l.close('session ended');
    this.eventListeners.clear();
    this.dataListeners.clear();
    if (!quiet) emitIsolated(this, 'ended', [error], this.listenerFault);
  }

  /** A listener threw: say so on `error` (if anyone listens) or to the client; delivery goes on. */
  private readonly listenerFault = (error: unknown, where: string): void => {
    const err = new PeerwayError('IMPLEMENTATION_ERROR', `${this.service} session ${this.id}: ${where} threw: ${error instanceof Error ? error.message : String(error)}`, { cause: error });
    if (this.listenerCount('error') > 0) emitIsolated(this, 'error', [err], () => this.server.reportListenerError(err, this));
    else this.server.reportListenerError(err, this);
  };

  private assertLive(): void {
    if (this.endedWith) {
      throw new PeerwayError(this.endedWith.code, `session ${this.id} with ${this.service} has ended: ${this.endedWith.message}`);
    }
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
    return this.server.channel();
  }

  private request<B extends RequestBody>(key: string, body: B, options: RequestOptions = {}): Promise<ReplyTo<B['type']>> {
    let channel: Channel;
    try {
      channel = this.channelFor(key);
    } catch (err) {
      return Promise.reject(PeerwayError.from(err));
    }
    // A plain literal, not a spread: this runs for every call.
    const channelOptions: RequestOptions = { timeoutMs: options.timeoutMs ?? this.callTimeoutMs };
    if (options.signal) channelOptions.signal = options.signal;
    const route = this.routes[key];
    if (route?.linkType === 'direct') channelOptions.mapError = this.linkGone(route.link ?? '');
    return channel.request(body, channelOptions);
  }

  /**
   * A direct link that closes under a pending request means the service side went away, as a runner
   * leaving does on the server route: the same SERVICE_GONE whatever the route (one mapper per link).
   */
  private linkGone(link: string): (error: PeerwayError) => PeerwayError {
    let mapper = this.linkGoneMappers.get(link);
    if (!mapper) {
      mapper = (error) =>
        error.code === 'CONNECTION_CLOSED'
          ? new PeerwayError('SERVICE_GONE', `service ${this.service} went away: its direct link "${link}" closed before the answer arrived (${error.message})`, { cause: error })
          : error;
      this.linkGoneMappers.set(link, mapper);
    }
    return mapper;
  }

  private readonly linkGoneMappers = new Map<string, (error: PeerwayError) => PeerwayError>();

  /** Subscribes to runtime data at `path` on each channel and applies the snapshots in order. */
  private async fetchData(path: string, channels: Channel[]): Promise<void> {
    // The server answers first and the direct links after it: a link's snapshot comes from the service
    // itself, so it is applied last and wins where the two overlap.
    for (const channel of channels) {
      const part = await channel.request({ type: 'subscribe', session: this.id, kind: 'data', name: path }, { timeoutMs: this.callTimeoutMs });
      this.data.applyPartial(path, part);
    }
  }

  private async unsubscribeEverywhere(channels: Channel[], body: RequestBody): Promise<void> {
    if (this.ended) return;
    await Promise.all(channels.map((c) => c.request(body, { timeoutMs: this.callTimeoutMs })));
  }

  /** The open channels among `pick()`'s; none when the server connection is gone meanwhile. */
  private liveChannels(pick: () => Channel[]): Channel[] {
    try {
      return pick().filter((c) => !c.closed);
    } catch {
      return [];
    }
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
    if (alwaysServer) out.add(this.server.channel());
    for (const k of keys) out.add(this.channelFor(k));
    const server = this.isServer;
    // The server connection first, so direct snapshots are applied after (and win over) the server's copy.
    return [...out].sort((a, b) => (server(a) ? -1 : server(b) ? 1 : 0));
  }

  private readonly isServer = (c: Channel): boolean => !this.linkChannels().has(c);

  private linkChannels(): Set<Channel> {
    return new Set(this.links.values());
  }
}

function eventSubscription(type: 'subscribe' | 'unsubscribe', session: string, name: string): RequestBody {
  return { type, session, kind: 'event', ...(name ? { name } : {}) };
}
