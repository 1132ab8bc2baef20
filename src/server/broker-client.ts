import { PeerwayError } from '../errors.js';
import { RuntimeDataTree } from '../definition/runtime-data-tree.js';
import { mergeGrants } from '../policy/grants.js';
import { redactDenied } from '../policy/redact.js';
import { describeResource, parseResourceKey } from '../routing/route-table.js';
import type { ChosenRoute, ClientProfile, RelayStats, ServiceListing, SessionAttached, SessionGrants, SessionStarted, SubscriptionKind } from '../wire/messages.js';
import type { Broker, Caller } from './broker.js';
import { BrokerSession, type SessionSink } from './broker-session.js';

const NO_PROFILE: ClientProfile = { bearers: [], host: '', version: 0 };

/**
 * The profile passed on to the service: only its known fields, copied, so what else a client put in its
 * `start` (the channel checked the fields' types) never reaches a runner.
 */
function ownProfile(p: ClientProfile): ClientProfile {
  return { bearers: [...p.bearers], host: p.host, ...(typeof p.process === 'string' ? { process: p.process } : {}), version: p.version };
}


/** How a session another server of a cluster holds is started here (see BrokerClient.start). */
export interface StartOptions {
  id?: string;
  peerGrants?: SessionGrants;
  timeoutMs?: number;
}

/**
 * The broker API as one caller uses it, whatever the front end: list, start and attach sessions, call,
 * subscribe, stats. It owns the sessions attached through it (a caller reaches no one else's session) and
 * sends their pushes to its sink. Every method checks access through the broker's authorization point
 * and fails with a typed PeerwayError.
 */
export class BrokerClient {
  private readonly sessions = new Map<string, BrokerSession>();
  private readonly sink: SessionSink;
  private closed = false;

  constructor(
    private readonly broker: Broker,
    readonly caller: Caller,
    sink: SessionSink,
  ) {
    // A session the broker ends (service gone) is forgotten here before the front end hears of it.
    this.sink = {
      event: (session, name, args, shared) => sink.event(session, name, args, shared),
      data: (session, path, value, shared) => sink.data(session, path, value, shared),
      ended: (session, error) => {
        this.sessions.delete(session);
        sink.ended(session, error);
      },
      // Only the cluster link passes this server's decisions on (to the server that holds the session).
      ...(sink.grantsChanged ? { grantsChanged: (session: string, own: SessionGrants) => sink.grantsChanged?.(session, own) } : {}),
    };
  }

  services(): ServiceListing[] {
    return this.broker.listServices(this.caller.identity);
  }

  stats(): RelayStats {
    return this.broker.stats(this.caller.identity);
  }

  /**
   * Starts a session: the service opens it (and answers with routing instructions when it has direct routes).
   * The options serve a session another server of a cluster holds: its `id` there (one id on both
   * servers and the runner, which the client's links name), that server's `peerGrants` (both policies
   * apply) and what is left of its deadline (`timeoutMs`).
   */
  async start(service: string, profile: ClientProfile | undefined, options: StartOptions = {}): Promise<SessionStarted> {
    const broker = this.broker;
    const entry = broker.lookup(service, this.caller.identity);
    broker.authorizeSession(this.caller.identity, entry.definition);
    if (broker.maxSessionsPerCaller > 0 && this.sessions.size >= broker.maxSessionsPerCaller) {
      throw new PeerwayError('LIMIT_EXCEEDED', `this connection already holds ${this.sessions.size} sessions, the most allowed; stop sessions you no longer use`, {
        details: { limit: broker.maxSessionsPerCaller },
      });
    }
    if (options.id !== undefined && broker.sessions.has(options.id)) {
      throw new PeerwayError('PROTOCOL', `session ${options.id} exists already on this server; a cluster session needs an id of its own`);
    }
    const id = options.id ?? broker.newSessionId();
    const own = broker.grantsFor(this.caller.identity, entry);
    const grants = mergeGrants(own, options.peerGrants);
    const opened = await entry.hosted.openSession(
      {
        session: id,
        service: entry.name,
        client: profile ? ownProfile(profile) : NO_PROFILE,
        identity: this.caller.identity.name,
        ...(Object.keys(grants.denied).length > 0 ? { grants } : {}),
      },
      { timeoutMs: this.timeout(options.timeoutMs) },
    );
    if (this.closed || broker.services.get(entry.name) !== entry) {
      // The caller or the service left while the service was opening the session.
      entry.hosted.closeSession(id);
      throw new PeerwayError('SERVICE_GONE', `service ${entry.name} went away while the session was starting`);
    }
    const session = new BrokerSession(id, entry, this.caller.identity, this.caller.label, this.sink, own, options.peerGrants ?? opened.peerGrants);
    for (const key of opened.serverRefused ?? []) session.refused.add(key);
    this.sessions.set(id, session);
    broker.add(session);
    broker.log.info({ session: id, service: entry.name, peer: this.caller.label }, 'session started');
    return {
      session: id,
      service: entry.name,
      location: entry.hosted.location,
      xml: entry.definition.source,
      ...(opened.routing ? { routing: opened.routing } : {}),
      resume: session.resume,
    };
  }

  /**
   * Attaches a session started through an earlier front end that went away (its resume secret proves it
   * belongs to this caller). SESSION_NOT_FOUND when it has ended meanwhile or the secret is wrong.
   */
  attach(id: string, resume: string): SessionAttached {
    const session = this.broker.sessions.get(id);
    if (!session || !session.resumesWith(resume) || session.identity.name !== this.caller.identity.name) {
      throw new PeerwayError('SESSION_NOT_FOUND', `session ${id} cannot be attached: it has ended (its service went away, it was stopped, or it stayed detached too long)`);
    }
    session.attach(this.sink);
    this.sessions.set(id, session);
    this.broker.log.info({ session: id, service: session.service, peer: this.caller.label }, 'session attached');
    return { session: id, service: session.service };
  }

  /** The client opened its links: these are the routes it took (information for relaying, never authority). */
  async ready(id: string, routes: Record<string, ChosenRoute> | undefined, warnings?: unknown, timeoutMs?: number): Promise<void> {
    const s = this.session(id);
    s.setRoutes(routes ?? {});
    if (Array.isArray(warnings)) s.warnings = warnings.filter((w): w is string => typeof w === 'string').slice(0, 20).map((w) => w.slice(0, 500));
    await s.entry.hosted.sessionReady(s.id, s.routes, { timeoutMs: this.timeout(timeoutMs) });
  }

  stop(id: string): void {
    const s = this.session(id);
    this.sessions.delete(id);
    this.broker.remove(s);
    this.broker.log.info({ session: id, service: s.service, identity: s.identity.name, reason: 'stopped by its client' }, 'session ended');
  }

  /**
   * Relays a call; the result or a promise of it (in-process methods may answer at once). `timeoutMs`:
   * what is left of a cluster peer's deadline, when shorter than this server's relay timeout.
   */
  call(id: string, method: string, args: Record<string, unknown> | undefined, timeoutMs?: number): unknown {
    const s = this.session(id);
    this.relayable(s, `method:${method}`);
    this.broker.authorize(s.identity, 'call', { service: s.service, name: method });
    s.entry.counters.calls++;
    return s.entry.hosted.call(s.id, method, args ?? {}, { timeoutMs: this.timeout(timeoutMs) });
  }

  /**
   * Subscribes to an event (name, or all with none) or watches runtime data (answers the server's copy).
   * A service of another server of a cluster is asked too (its policy decides as well): then the answer
   * is a promise, and the subscription holds once both allowed it.
   */
  subscribe(id: string, kind: SubscriptionKind, name: string | undefined, timeoutMs?: number): unknown {
    const s = this.session(id);
    const definition = s.entry.definition;
    let record: () => unknown;
    if (kind === 'event') {
      if (name && !definition.events.has(name)) {
        const known = [...definition.events.keys()].join(', ') || 'none';
        throw new PeerwayError('EVENT_NOT_FOUND', `service ${s.service} has no event "${name}" (events: ${known})`);
      }
      if (name) this.relayable(s, `event:${name}`);
      this.broker.authorize(s.identity, 'subscribe', { service: s.service, ...(name ? { name } : {}) });
      record = () => {
        s.subscribeEvent(name);
        return undefined;
      };
    } else if (kind === 'data') {
      const path = name ?? '';
      const snapshot = this.readable(s, path);
      if (!s.entry.hosted.subscribe) {
        s.subscribeData(path);
        return snapshot;
      }
      // Read again once the other server agreed: the copy may have changed meanwhile.
      record = () => {
        const now = this.readable(s, path);
        s.subscribeData(path);
        return now;
      };
    } else {
      throw new PeerwayError('PROTOCOL', `unknown subscription kind "${String(kind)}" (expected "event" or "data")`);
    }
    const relay = s.entry.hosted.subscribe?.(s.id, kind, name ?? '', { timeoutMs: this.timeout(timeoutMs) });
    if (!relay) return record();
    return relay.then(() => {
      this.session(id); // still this caller's, and not stopped meanwhile
      return record();
    });
  }

  /**
   * The server's copy of the runtime data at `path`, as the session may read it, without subscribing
   * (stateless HTTP reads): the same checks and redaction as a data subscribe's answer.
   */
  read(id: string, path: string): unknown {
    return this.readable(this.session(id), path);
  }

  unsubscribe(id: string, kind: SubscriptionKind, name: string | undefined): void {
    const s = this.session(id);
    if (kind === 'event') s.unsubscribeEvent(name);
    else s.unsubscribeData(name);
    s.entry.hosted.unsubscribe?.(s.id, kind, name ?? '');
  }

  /**
   * The front end went away. Its sessions are detached, not ended: they live on for the broker's
   * detached-session time (their direct links keep working meanwhile) and end if nobody attaches them.
   */
  close(): void {
    this.closed = true;
    for (const s of this.sessions.values()) {
      if (s.sink !== this.sink) continue; // attached elsewhere since
      s.detach(this.broker.detachedSessionTtlMs, () => {
        if (s.sink !== undefined) return;
        this.broker.remove(s);
        const reason = `its client's connection went away and nobody attached the session again within ${this.broker.detachedSessionTtlMs} ms`;
        this.broker.log.info({ session: s.id, service: s.service, identity: s.identity.name, reason }, 'session ended');
      });
    }
    this.sessions.clear();
  }

  /** Checks a read of `path` (PATH_NOT_FOUND, BEARER_MISSING, POLICY_DENIED) and answers the server's copy of it. */
  private readable(s: BrokerSession, path: string): unknown {
    const definition = s.entry.definition;
    // Validates the path (PATH_NOT_FOUND with the valid children) first.
    RuntimeDataTree.nodeAt(definition.runtimeData, path, definition);
    const table = s.entry.routeTable;
    this.relayable(s, table.dataKey(path));
    this.broker.authorize(s.identity, 'read', { service: s.service, name: path });
    // A cluster session: the other server's policy must allow the read too (its denials are in the grants).
    if (s.peerGrants) s.grants.enforce('read', path);
    // Subtrees the session may only read directly, or may not read at all, are left out of the answer.
    const hidden = [...table.dataKeysUnder(path).slice(1).filter((k) => s.refused.has(k)).map((k) => parseResourceKey(k).name), ...s.grants.deniedInside(path)];
    const snapshot = s.entry.runtimeData.get(path);
    return hidden.length === 0 ? snapshot : redactDenied(snapshot, path, hidden);
  }

  /** BEARER_MISSING when the service said this session must reach `key` only over its required direct route. */
  private relayable(s: BrokerSession, key: string): void {
    if (!s.refused.has(key)) return;
    throw new PeerwayError('BEARER_MISSING', `${s.service} requires its direct route for ${describeResource(key)}; the server does not relay it`, {
      details: { service: s.service, resource: key },
    });
  }

  /** The relay timeout, or less when the caller has less time left. */
  private timeout(timeoutMs: number | undefined): number {
    return timeoutMs === undefined ? this.broker.relayTimeoutMs : Math.min(timeoutMs, this.broker.relayTimeoutMs);
  }

  private session(id: string): BrokerSession {
    // Links may leave `session` out (the link is the session's); to the server a request must name one.
    if (typeof id !== 'string') throw new PeerwayError('SESSION_NOT_FOUND', 'the request names no session: give the "session" the start reply carried');
    const s = this.sessions.get(id);
    if (!s || s.sink !== this.sink || this.broker.sessions.get(id) !== s) {
      throw new PeerwayError('SESSION_NOT_FOUND', `session ${id} does not exist on this connection (stopped, or its service went away)`);
    }
    return s;
  }
}
