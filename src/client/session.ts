import { EventEmitter } from 'node:events';
import { PeerwayError } from '../errors.js';
import type { MethodDef, ResourceKind, ServiceDefinition } from '../definition/model.js';
import { checkArguments, checkValue } from '../definition/values.js';
import { RuntimeDataTree } from '../definition/runtime-data-tree.js';
import { pathsOverlap } from '../definition/path-overlap.js';
import { RouteTable, describeResource, resourceKey } from '../routing/route-table.js';
import type { Channel, ChannelRequestOptions, RequestOptions } from '../wire/channel.js';
import type { ChosenRoute, DataPush, EventPush, ReplyTo, RequestBody } from '../wire/messages.js';
import { callIsolated, emitIsolated } from './isolated-emit.js';
import { Availability } from './availability.js';
import type { RoutingInstructions } from '../routing/instructions.js';

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
  /**
   * True for the fresh snapshot of the watched path delivered after the session was restored (the client
   * reconnected, or the session was started again): changes made meanwhile were not seen one by one, this
   * value replaces what the watcher had.
   */
  restored?: true;
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
  /** Whether the client is dialing the server again by itself (the connection is coming back). */
  reconnecting(): boolean;
  /** Whether the client restores sessions by itself (recovery on). */
  readonly recovers: boolean;
  /**
   * The server answered that it does not know this session (its service went away, or it expired while
   * the client was away) before telling the client: restore it as if it had said so.
   */
  forgotten(session: Session): void;
  /**
   * Waits (at most `timeoutMs`) for the server connection to be back; CONNECTION_CLOSED otherwise, naming
   * `callTimeoutMs`: the caller's whole timeout, of which the wait is what was left.
   */
  untilConnected(timeoutMs: number, signal?: AbortSignal, callTimeoutMs?: number): Promise<void>;
  /** Where a listener's exception goes when the session has no `error` listener. */
  reportListenerError(error: PeerwayError, session: Session): void;
}

/**
 * A client's session with one service. Arguments and results are checked against the service definition
 * on this side too, so a typo fails at once with BAD_ARGUMENT instead of after a round trip.
 *
 * A session survives its service's process or the server restarting: the client starts it again under
 * the hood (a new `id`, new links) and makes every subscription and watch again; calls made meanwhile wait
 * for it, up to their timeout.
 *
 * Events: `restored` (`{ restarted }`: true when it was started again, false when it was re-attached)
 * after a recovery; `ended` (PeerwayError) when the session ends without the client asking (the service
 * is gone for good, the policy no longer allows it; not on `stop()` or `client.close()`); `error`
 * (PeerwayError) when one of this session's listeners threw: delivery to the others goes on.
 */
export class Session extends EventEmitter {
  readonly service: string;
  private tree: RuntimeDataTree;
  private sessionId: string;
  private sessionLocation: 'in-process' | 'remote';
  private sessionDefinition: ServiceDefinition;
  private routingXml: string | undefined;
  private resumeSecret: string | undefined;
  /** Set while the session is being restored: requests wait for `usable` instead of failing. */
  private restoring = false;
  private readonly usable = new Availability();
  /** Counts restarts: a link or a retry of an earlier incarnation knows it is stale. */
  private incarnation = 0;
  /** @internal the routing instructions of the current incarnation (links to fail over and back). */
  instructions: RoutingInstructions | undefined;
  private readonly eventListeners = new Map<string, Set<(e: ServiceEvent) => void>>(); // '' = all events
  private readonly dataListeners = new Map<string, Set<(c: DataChange) => void>>();
  private endedWith: PeerwayError | undefined;
  /** Peer-to-peer links of this session, by link name: the session owns them, not the server connection. */
  private links = new Map<string, Channel>();
  private routes: Record<string, ChosenRoute> = {};
  private table: RouteTable;
  /** Warnings from session start (links that could not be opened, with the route used instead). */
  warnings: string[] = [];

  constructor(
    init: SessionInit,
    private readonly server: ServerAccess,
    private readonly callTimeoutMs: number,
    private readonly onStopped: (id: string) => void,
  ) {
    super();
    this.sessionId = init.id;
    this.service = init.service;
    this.sessionLocation = init.location;
    this.sessionDefinition = init.definition;
    this.resumeSecret = init.resume;
    this.routingXml = init.routing;
    this.tree = new RuntimeDataTree(init.definition);
    this.table = new RouteTable(init.definition, '');
  }

  /** The client's copy of the runtime data, kept current while any watch is open. */
  get data(): RuntimeDataTree {
    return this.tree;
  }

  /** The session's id on the server (a new one after the session was started again by a recovery). */
  get id(): string {
    return this.sessionId;
  }

  get location(): 'in-process' | 'remote' {
    return this.sessionLocation;
  }

  get definition(): ServiceDefinition {
    return this.sessionDefinition;
  }

  /** Routing instructions XML received at start (remote services with routing), for inspection. */
  get routing(): string | undefined {
    return this.routingXml;
  }

  /** @internal the secret that attaches this session to a new server connection. */
  get resume(): string | undefined {
    return this.resumeSecret;
  }

  /** Whether the session is being restored (its service or the server went away and it is started again). */
  get recovering(): boolean {
    return this.restoring;
  }

  /** @internal which incarnation this is: it changes each time the session is started again. */
  get generation(): number {
    return this.incarnation;
  }

  /**
   * @internal The session's service (or the server) went away: until it is started again, its links are
   * closed, requests wait, and the listeners are kept to be subscribed again.
   */
  suspend(reason: string): void {
    if (this.ended) return;
    this.restoring = true;
    for (const l of this.links.values()) l.close(reason);
    this.links = new Map();
    this.routes = {};
    this.instructions = undefined;
  }

  /** @internal The session was started again: a new id and secret, and the definition the service has now. */
  restart(init: SessionInit): void {
    this.incarnation++;
    this.sessionId = init.id;
    this.sessionLocation = init.location;
    this.resumeSecret = init.resume;
    this.routingXml = init.routing;
    if (init.definition !== this.sessionDefinition) {
      this.sessionDefinition = init.definition;
      this.tree = new RuntimeDataTree(init.definition);
      this.table = new RouteTable(init.definition, '');
    }
  }

  /**
   * @internal The restarted session has its routes: make every subscription and watch again (each watcher
   * gets the fresh snapshot, marked `restored`), then let waiting requests go on.
   */
  async resubscribeAll(): Promise<void> {
    const timeoutMs = this.callTimeoutMs;
    const pending: Promise<unknown>[] = [];
    for (const key of this.eventListeners.keys()) {
      for (const c of this.eventChannels(key)) pending.push(c.request(eventSubscription('subscribe', this.id, key), { timeoutMs }));
    }
    const paths = [...this.dataListeners.keys()];
    for (const path of paths) pending.push(this.fetchData(path, this.dataChannels(path)));
    await Promise.all(pending);
    for (const path of paths) this.deliverSnapshot(path);
  }

  /** @internal The session is usable again. */
  recovered(restarted: boolean): void {
    this.restoring = false;
    this.usable.open();
    emitIsolated(this, 'restored', [{ restarted }], this.listenerFault);
  }

  /** @internal installs the links and routes chosen at session start. */
  attachRoutes(links: Map<string, Channel>, routes: Record<string, ChosenRoute>, warnings: string[], instructions?: RoutingInstructions): void {
    this.instructions = instructions;
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
   *
   * A resource moving off a link (it dropped) moves at once. One moving onto a link stays on its old route
   * until the service has heard of the move: a link serves only what the session reported (`ready`), so a
   * call sent on it sooner would be refused.
   */
  async reroute(links: Map<string, Channel>, routes: Record<string, ChosenRoute>): Promise<void> {
    this.assertLive();
    // Leniently: after a failover a link in `before` is closed, and one in `after` may be down (required).
    const eventsBefore = new Map([...this.eventListeners.keys()].map((k) => [k, this.eventChannels(k, true)]));
    const dataBefore = new Map([...this.dataListeners.keys()].map((p) => [p, this.dataChannels(p, true)]));
    const meanwhile: Record<string, ChosenRoute> = {};
    for (const [key, route] of Object.entries(routes)) {
      const old = this.routes[key];
      const ontoLink = route.linkType === 'direct' && !(old?.linkType === 'direct' && old.link === route.link);
      const oldWorks = old !== undefined && (old.linkType !== 'direct' || links.get(old.link ?? '')?.closed === false);
      meanwhile[key] = ontoLink && oldWorks ? old : route;
    }
    this.links = links;
    this.routes = meanwhile;
    // Without a server connection the routes hold here only; the reconnect reports them and subscribes.
    const server = this.server.channel();
    await server.request({ type: 'ready', session: this.id, routes }, { timeoutMs: this.callTimeoutMs });
    if (this.links === links) this.routes = routes;
    const timeoutMs = this.callTimeoutMs;
    const moves: Promise<unknown>[] = [];
    for (const [key, before] of eventsBefore) {
      const after = this.eventChannels(key, true);
      for (const c of after) if (!before.includes(c) && !c.closed) moves.push(c.request(eventSubscription('subscribe', this.id, key), { timeoutMs }));
      for (const c of before) if (!after.includes(c) && !c.closed) moves.push(c.request(eventSubscription('unsubscribe', this.id, key), { timeoutMs }));
    }
    for (const [path, before] of dataBefore) {
      const after = this.dataChannels(path, true);
      const added = after.filter((c) => !before.includes(c) && !c.closed);
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

  /**
   * Calls a method with named arguments; resolves with its (checked) result. Never throws: every failure,
   * a bad argument included, is a rejection.
   */
  call<T = unknown>(method: string, args: Record<string, unknown> = {}, options: RequestOptions = {}): Promise<T> {
    let plan: CallPlan;
    let checked: Record<string, unknown>;
    try {
      this.assertLive();
      plan = this.callPlan(method);
      checked = checkArguments(plan.scope, plan.def.arguments, args, plan.where);
    } catch (err) {
      // As the async function this was: whatever was thrown (a getter of the caller's may throw anything) rejects.
      // eslint-disable-next-line @typescript-eslint/prefer-promise-reject-errors
      return Promise.reject(err);
    }
    // Not an async function: the result is checked where the channel matches the reply (plan.result), which
    // saves a promise and a microtask turn per call.
    return this.request(plan.key, { type: 'call', session: this.id, method, args: checked }, options, plan.result) as Promise<T>;
  }

  /**
   * What every call of one method needs besides its arguments, made at its first call: its route key, the
   * name errors give it, and its result check. Per MethodDef, so a restart with a new definition makes new ones.
   */
  private callPlan(method: string): CallPlan {
    const definition = this.definition;
    const def = definition.methods.get(method);
    if (!def) {
      const known = [...definition.methods.keys()].join(', ') || 'none';
      throw new PeerwayError('METHOD_NOT_FOUND', `service ${this.service} has no method "${method}" (methods: ${known})`);
    }
    let plan = this.callPlans.get(def);
    if (!plan) {
      const where = `${this.service}.${method}`;
      const returns = def.returns;
      const result =
        returns.name === 'void'
          ? () => undefined
          : (value: unknown) => {
              try {
                return checkValue(definition, returns, value, `${where} result`);
              } catch (err) {
                throw new PeerwayError('BAD_RESULT', (err as Error).message);
              }
            };
      plan = { def, scope: definition, key: `method:${method}`, where, result };
      this.callPlans.set(def, plan);
    }
    return plan;
  }

  private readonly callPlans = new WeakMap<MethodDef, CallPlan>();

  /** Subscribes to one event (or all, with undefined). */
  async onEvent(name: string | undefined, listener: (e: ServiceEvent) => void): Promise<Subscription> {
    this.assertLive();
    if (this.restoring) await this.untilUsable(this.callTimeoutMs, undefined, () => false);
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
    if (this.restoring) await this.untilUsable(this.callTimeoutMs, undefined, () => false);
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
    const refreshed: string[] = [];
    for (const path of this.dataListeners.keys()) {
      if (!this.dataChannels(path).includes(server)) continue;
      refreshed.push(path);
      pending.push(this.fetchData(path, [server]));
    }
    await Promise.all(pending);
    for (const path of refreshed) this.deliverSnapshot(path);
  }

  /** Tells the watchers of `path` its value now, marked `restored`: what changed meanwhile was not seen. */
  private deliverSnapshot(path: string): void {
    const set = this.dataListeners.get(path);
    if (!set) return;
    const change: DataChange = { path, value: this.data.get(path), route: this.dataChannels(path).some((c) => !this.isServer(c)) ? 'direct' : 'server', restored: true };
    for (const l of set) callIsolated(() => l(change), this.listenerFault, `the watch of "${path || '(all)'}"`);
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
    this.restoring = false;
    this.usable.fail(new PeerwayError(error.code, `session with ${this.service} has ended: ${error.message}`));
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

  /** The channel a resource is routed on (the server's for undefined), closed or not; undefined when there is none. */
  private anyChannelFor(key: string | undefined): Channel | undefined {
    const r = key === undefined ? undefined : this.routes[key];
    if (r?.linkType === 'direct') return this.links.get(r.link ?? '');
    try {
      return this.server.channel();
    } catch {
      return undefined;
    }
  }

  /** `result` turns the reply's value into what the request resolves with (see ChannelRequestOptions). */
  private request<B extends RequestBody>(key: string, body: B, options: RequestOptions = {}, result?: (value: unknown) => unknown): Promise<ReplyTo<B['type']>> {
    if (this.restoring) return this.requestWhenUsable(key, body, options, result);
    let channel: Channel;
    try {
      channel = this.channelFor(key);
    } catch (err) {
      const error = PeerwayError.from(err);
      if (error.code === 'CONNECTION_CLOSED' && this.server.reconnecting()) return this.requestWhenUsable(key, body, options, result);
      const closing = error.code === 'LINK_FAILED' ? this.linkClosing(key) : undefined;
      if (closing) return this.requestAfterClose(closing, key, body, options, result);
      return Promise.reject(error);
    }
    // A plain literal, not a spread: this runs for every call.
    const channelOptions: ChannelRequestOptions = { timeoutMs: options.timeoutMs ?? this.callTimeoutMs, signal: options.signal, mapError: undefined, result };
    const route = this.routes[key];
    if (route?.linkType === 'direct') {
      channelOptions.mapError = this.linkGone(route.link ?? '');
      return channel.request(body, channelOptions);
    }
    const sent = channel.request(body, channelOptions);
    return this.server.recovers ? sent.catch((err: unknown) => this.retryForgotten(err, key, body, options, result)) : sent;
  }

  /**
   * The direct link `key` is routed on, when its connection is gone but the channel has not handled the
   * close yet (the turns between a socket's end and its close event): the failover is about to move the
   * route. Undefined otherwise.
   */
  private linkClosing(key: string): Channel | undefined {
    const link = this.links.get(this.routes[key]?.link ?? '');
    return link?.closed === true && link.closeInfo === undefined ? link : undefined;
  }

  /**
   * A request for a link whose close is being handled: nothing was sent, so it waits (within its timeout)
   * for the close to be handled, then goes out on the route the session has then (the fallback the
   * failover chose; LINK_FAILED still for a `required` route). Without this a call made in those few turns
   * failed with LINK_FAILED while one made a moment earlier failed with SERVICE_GONE and one made a moment
   * later went by the fallback route.
   */
  private async requestAfterClose<B extends RequestBody>(link: Channel, key: string, body: B, options: RequestOptions, result?: (value: unknown) => unknown): Promise<ReplyTo<B['type']>> {
    const timeoutMs = options.timeoutMs ?? this.callTimeoutMs;
    const deadline = Date.now() + timeoutMs;
    while (link.closeInfo === undefined && this.links.get(this.routes[key]?.link ?? '') === link) {
      if (Date.now() >= deadline) {
        throw new PeerwayError('LINK_FAILED', `the direct link of session ${this.id} with ${this.service} closed and was not failed over within ${timeoutMs} ms; nothing was sent`);
      }
      if (options.signal?.aborted) throw new PeerwayError('ABORTED', `${describeResource(key)} of ${this.service} was aborted; nothing was sent`);
      await new Promise((resolve) => setTimeout(resolve, 2));
    }
    this.assertLive();
    return this.request(key, body, { ...options, timeoutMs: Math.max(1, deadline - Date.now()) }, result);
  }

  /**
   * The server did not know the session: the request never reached the service, so it is safe to make it
   * again once the session is restored (a call the service received is never made twice).
   */
  private retryForgotten<B extends RequestBody>(err: unknown, key: string, body: B, options: RequestOptions, result?: (value: unknown) => unknown): Promise<ReplyTo<B['type']>> {
    const error = PeerwayError.from(err);
    if (error.code !== 'SESSION_NOT_FOUND' || this.ended || !('session' in body) || body.session !== this.id) throw error;
    this.server.forgotten(this);
    return this.requestWhenUsable(key, body, options, result);
  }

  /**
   * A request made while the session is being restored or the server connection is coming back: it waits
   * for that, within its own timeout, then goes out on the route the session has by then.
   */
  private async requestWhenUsable<B extends RequestBody>(key: string, body: B, options: RequestOptions, result?: (value: unknown) => unknown): Promise<ReplyTo<B['type']>> {
    const timeoutMs = options.timeoutMs ?? this.callTimeoutMs;
    const deadline = Date.now() + timeoutMs;
    await this.untilUsable(timeoutMs, options.signal, () => this.routes[key]?.linkType !== 'direct');
    const rest = Math.max(1, deadline - Date.now());
    // The session id changes when it was started again: the request is for the session as it is now.
    const current = 'session' in body ? { ...body, session: this.id } : body;
    return this.request(key, current, { ...options, timeoutMs: rest }, result);
  }

  /**
   * Waits while the session is being restored, and while the server connection is coming back when
   * `needsServer()` says the request goes through the server. TIMEOUT naming what it waited for.
   */
  private async untilUsable(timeoutMs: number, signal: AbortSignal | undefined, needsServer: () => boolean): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    if (this.restoring) {
      await this.usable.wait(
        timeoutMs,
        () => new PeerwayError('SERVICE_GONE', `session with ${this.service} was still being restored after ${timeoutMs} ms (its service or the server went away; nothing was sent)`),
        signal,
      );
    }
    if (needsServer() && this.server.reconnecting()) await this.server.untilConnected(Math.max(1, deadline - Date.now()), signal, timeoutMs);
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

  /**
   * Where subscriptions to an event (or all events, '') must be made: the server and/or direct links.
   * `lenient`: closed links are listed and an absent server connection is left out, instead of throwing.
   */
  private eventChannels(name: string, lenient = false): Channel[] {
    const keys = name ? [`event:${name}`] : [...this.definition.events.keys()].map((e) => `event:${e}`);
    return this.distinctChannels(keys, name === '', lenient);
  }

  /** Where a runtime-data watch at `path` must subscribe: every route its subtrees take. */
  private dataChannels(path: string, lenient = false): Channel[] {
    return this.distinctChannels(this.table.dataKeysUnder(path), false, lenient);
  }

  private distinctChannels(keys: string[], alwaysServer: boolean, lenient: boolean): Channel[] {
    const out = new Set<Channel>();
    if (lenient) {
      for (const k of alwaysServer ? [undefined, ...keys] : keys) {
        const c = this.anyChannelFor(k);
        if (c) out.add(c);
      }
    } else {
      if (alwaysServer) out.add(this.server.channel());
      for (const k of keys) out.add(this.channelFor(k));
    }
    const server = this.isServer;
    // The server connection first, so direct snapshots are applied after (and win over) the server's copy.
    return [...out].sort((a, b) => (server(a) ? -1 : server(b) ? 1 : 0));
  }

  private readonly isServer = (c: Channel): boolean => !this.linkChannels().has(c);

  private linkChannels(): Set<Channel> {
    return new Set(this.links.values());
  }
}

interface CallPlan {
  def: MethodDef;
  /** The definition `def` belongs to (the session's may change while a call is in flight). */
  scope: ServiceDefinition;
  key: string;
  where: string;
  result: (value: unknown) => unknown;
}

function eventSubscription(type: 'subscribe' | 'unsubscribe', session: string, name: string): RequestBody {
  return { type, session, kind: 'event', ...(name ? { name } : {}) };
}
