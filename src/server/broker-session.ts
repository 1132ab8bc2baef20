import { pathsOverlap } from '../definition/path-overlap.js';
import { PeerwayError } from '../errors.js';
import type { Identity } from '../policy/authorizer.js';
import { GrantCheck, mergeGrants } from '../policy/grants.js';
import { redactDenied } from '../policy/redact.js';
import { randomSecret, sameSecret } from '../policy/secret.js';
import type { ChosenRoute, SessionGrants } from '../wire/messages.js';
import type { SharedPush } from '../wire/shared-push.js';
import type { ServiceEntry, Subscriber } from './service-entry.js';

/**
 * Where a session's pushes go: the front end the client is attached through (a binary-protocol
 * connection, later an HTTP/WebSocket one). Implementations never throw: a push to a peer that is going
 * away is dropped, its close handler cleans up.
 */
export interface SessionSink {
  /**
   * Returns false when the push goes nowhere (so it is not counted as pushed). `shared`, when given, is
   * this very push (same name and args, same path and value) encoded once for all the sessions of one
   * publish: a binary front end splices the session id into it instead of encoding the push again.
   */
  event(session: string, name: string, args: Record<string, unknown>, shared?: SharedPush): void | boolean;
  data(session: string, path: string, value: unknown, shared?: SharedPush): void | boolean;
  /** The session ended without the client asking (service gone, server stopping, detached too long). */
  ended(session: string, error: PeerwayError): void;
  /**
   * This server's policy decisions for the session changed (`own`: this server's part only). Only a front
   * end that passes them on needs it: the cluster link, for a session another server holds.
   */
  grantsChanged?(session: string, own: SessionGrants): void;
}

/**
 * One client's session with one service, as the server tracks it: who it is for, what it subscribed to,
 * the routes it took, and the front end its pushes go to. The sink can change: a session outlives the
 * connection it was started on (detached) and is attached to a new one with its resume secret.
 */
export class BrokerSession implements Subscriber {
  readonly startedAt = new Date();
  /** The routes the client took (resource key → route); absent keys use the server. */
  routes: Record<string, ChosenRoute> = {};
  /** The client's warnings about its routes (at most 20, each cut to 500 characters), for listings. */
  warnings: string[] = [];
  /** Secret the client presents to attach this session to another connection. */
  readonly resume = randomSecret(18);
  private allEvents = false;
  private readonly events = new Set<string>();
  private readonly dataPaths: string[] = [];
  /** Resources this session receives directly from the service: the server must not push them too. */
  private direct = new Set<string>();
  /**
   * Resources the service said it must not be relayed for this session (only `required` direct routes):
   * never relayed, never pushed, whatever the client reports.
   */
  readonly refused = new Set<string>();
  private sinkNow: SessionSink | undefined;
  private detachTimer: NodeJS.Timeout | undefined;
  /** What this session enforces: this server's decisions, with the peer server's for a cluster session. */
  grants: GrantCheck;

  constructor(
    readonly id: string,
    readonly entry: ServiceEntry,
    readonly identity: Identity,
    /** For listings and logs: the client's address and what it reported about itself. */
    readonly clientLabel: string,
    sink: SessionSink,
    /** This server's policy decisions for the session (recomputed when a condition flips or the policy is reloaded). */
    private own: SessionGrants = { denied: {} },
    /**
     * For a session relayed between two servers of a cluster, the other server's decisions: both policies
     * apply, so the session enforces both (and passes this server's own on to the other).
     */
    private peer?: SessionGrants,
  ) {
    this.sinkNow = sink;
    this.grants = new GrantCheck(mergeGrants(own, peer), entry.nodePaths);
  }

  /** This server's own decisions for the session. */
  get ownGrants(): SessionGrants {
    return this.own;
  }

  /** The other server's decisions, for a session relayed between servers of a cluster. */
  get peerGrants(): SessionGrants | undefined {
    return this.peer;
  }

  /** Takes new decisions (this server's, the peer's, or both); the merged grants are recomputed. */
  setGrants(own: SessionGrants, peer: SessionGrants | undefined = this.peer): void {
    this.own = own;
    this.peer = peer;
    this.grants = new GrantCheck(mergeGrants(own, peer), this.entry.nodePaths);
  }

  get service(): string {
    return this.entry.name;
  }

  /** The front end this session's pushes go to; undefined while detached. */
  get sink(): SessionSink | undefined {
    return this.sinkNow;
  }

  /** The connection went away: keep the session for `ttlMs`, then `expire` ends it. */
  detach(ttlMs: number, expire: () => void): void {
    this.sinkNow = undefined;
    this.clearSubscriptions();
    clearTimeout(this.detachTimer);
    this.detachTimer = setTimeout(expire, ttlMs);
    this.detachTimer.unref();
  }

  /** Binds the session to a new front end; subscriptions start empty (the client makes them again). */
  attach(sink: SessionSink): void {
    clearTimeout(this.detachTimer);
    this.detachTimer = undefined;
    if (this.sinkNow && this.sinkNow !== sink) {
      // Taken over from a connection that has not noticed it is dead: it must stop receiving this session.
      this.clearSubscriptions();
    }
    this.sinkNow = sink;
  }

  /** Whether `secret` is this session's resume secret (constant-time). */
  resumesWith(secret: unknown): boolean {
    return sameSecret(secret, this.resume);
  }

  /** Takes the routes the client reports; nothing changes when they are malformed (PROTOCOL). */
  setRoutes(routes: Record<string, ChosenRoute>): void {
    // Worked out before anything is assigned, so a bad report leaves the session as it was.
    const direct = new Set<string>();
    for (const [key, r] of Object.entries(routes)) {
      if (typeof r !== 'object' || r === null || (r.linkType !== 'direct' && r.linkType !== 'server')) {
        throw new PeerwayError('PROTOCOL', `ready: the route for "${key.slice(0, 64)}" must be { linkType: 'server' } or { linkType: 'direct', link }`);
      }
      if (r.linkType === 'direct') direct.add(key);
    }
    this.routes = routes;
    this.direct = direct;
  }

  subscribeEvent(name: string | undefined): void {
    if (!name) this.allEvents = true;
    else this.events.add(name);
  }

  /** Drops one subscription: the one to `name`, or (without a name) the one to every event; others stay. */
  unsubscribeEvent(name: string | undefined): void {
    if (!name) this.allEvents = false;
    else this.events.delete(name);
  }

  subscribeData(path: string): void {
    if (!this.dataPaths.includes(path)) this.dataPaths.push(path);
  }

  /** Drops the watch of `path` ('' or none: the watch of the whole tree); watches of other paths stay. */
  unsubscribeData(path: string | undefined): void {
    const i = this.dataPaths.indexOf(path ?? '');
    if (i >= 0) this.dataPaths.splice(i, 1);
  }

  /** Every subscription and watch goes (the front end went away or was replaced). */
  private clearSubscriptions(): void {
    this.clearEvents();
    this.dataPaths.length = 0;
  }

  wantsEvent(name: string): boolean {
    const key = `event:${name}`;
    return (this.allEvents || this.events.has(name)) && !this.direct.has(key) && !this.refused.has(key);
  }

  wantsData(path: string, key: string): boolean {
    if (this.direct.has(key) || this.refused.has(key)) return false;
    for (const p of this.dataPaths) if (pathsOverlap(p, path)) return true;
    return false;
  }

  pushEvent(name: string, args: Record<string, unknown>, shared?: SharedPush): boolean {
    const sink = this.sinkNow;
    if (!sink || this.grants.denial('subscribe', name) !== undefined) return false;
    return sink.event(this.id, name, args, shared) !== false;
  }

  /** A change the session may not read is never sent; one wider than what it may read goes without the denied parts. */
  pushData(path: string, value: unknown, shared?: SharedPush): boolean {
    const sink = this.sinkNow;
    if (!sink || this.grants.denial('read', path) !== undefined) return false;
    const hidden = this.grants.deniedInside(path);
    // A redacted value is this session's own: the encoding shared with the other sessions would leak.
    if (hidden.length === 0) return sink.data(this.id, path, value, shared) !== false;
    return sink.data(this.id, path, redactDenied(value, path, hidden)) !== false;
  }

  /** Tells the client the session ended without it asking; the broker has already forgotten it. */
  end(error: PeerwayError): void {
    clearTimeout(this.detachTimer);
    const sink = this.sinkNow;
    this.sinkNow = undefined;
    sink?.ended(this.id, error);
  }

  private clearEvents(): void {
    this.allEvents = false;
    this.events.clear();
  }
}
