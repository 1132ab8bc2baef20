import type { Identity } from '../policy/authorizer.js';
import type { Broker } from '../server/broker.js';
import { pushCounters } from '../wire/push-outbox.js';

/** One socket's watch of the session list or the relay counters. */
export interface ListingWatcher {
  identity: Identity;
  /** Called with the new listing (sessions or stats, as the caller may see them). */
  send(kind: 'sessions' | 'stats', value: unknown): void;
}

/** How often the broker's state is compared; stats are sent at most every other tick (about 2×/s). */
const TICK_MS = 250;
const STATS_EVERY_TICKS = 2;

/**
 * Pushes the session list and the relay counters to the browser sockets that watch them, when they change.
 *
 * The broker announces neither session changes nor counter changes, so this compares, on the server side,
 * a cheap fingerprint of its state (session ids, the identity of each session's route table, warnings;
 * per-service counters) every 250 ms while someone watches, and only when it moved asks the broker for each
 * watcher's listing (through its identity, so the policy filters it) and sends it if that differs from what
 * the watcher last got. Browsers never poll, and an idle server costs one fingerprint per tick. Stats are
 * sent at most every 500 ms: counters can move thousands of times a second.
 */
export class ListingWatch {
  private readonly watchers = new Map<ListingWatcher, { sessions?: string; stats?: string }>();
  private timer: NodeJS.Timeout | undefined;
  private ticks = 0;
  private sessionsPrint = '';
  private statsPrint = '';
  /**
   * Denials (and notify-mode would-be denials) counted while this computed stats for watchers: the broker
   * audits the policy filter of a listing. Kept out of the fingerprint, or watching would feed itself.
   */
  private readonly own = { denied: 0, wouldDeny: 0 };
  private readonly routeTables = new WeakMap<object, number>();
  private routeTableCount = 0;

  constructor(private readonly broker: Broker) {}

  /** Starts (or keeps) `watcher`'s watch of `kind`; it gets the next change (the caller sent the current listing). */
  watch(watcher: ListingWatcher, kind: 'sessions' | 'stats', current: unknown): void {
    const seen = this.watchers.get(watcher) ?? {};
    seen[kind] = JSON.stringify(current);
    this.watchers.set(watcher, seen);
    if (!this.timer) {
      this.sessionsPrint = this.sessionsFingerprint();
      this.statsPrint = this.statsFingerprint();
      this.timer = setInterval(() => this.tick(), TICK_MS);
      this.timer.unref();
    }
  }

  /** Stops `watcher`'s watch of `kind` (both when omitted: the socket closed). */
  unwatch(watcher: ListingWatcher, kind?: 'sessions' | 'stats'): void {
    const seen = this.watchers.get(watcher);
    if (!seen) return;
    if (kind) delete seen[kind];
    if (!kind || (seen.sessions === undefined && seen.stats === undefined)) this.watchers.delete(watcher);
    if (this.watchers.size === 0) this.close();
  }

  close(): void {
    clearInterval(this.timer);
    this.timer = undefined;
    this.watchers.clear();
  }

  private tick(): void {
    this.ticks++;
    const sessions = this.sessionsFingerprint();
    if (sessions !== this.sessionsPrint) {
      this.sessionsPrint = sessions;
      for (const [watcher, seen] of this.watchers) {
        if (seen.sessions !== undefined) this.offer(watcher, seen, 'sessions', () => this.broker.listSessions(watcher.identity));
      }
    }
    if (this.ticks % STATS_EVERY_TICKS !== 0) return;
    const stats = this.statsFingerprint();
    if (stats === this.statsPrint) return;
    const counters = this.broker.authorizer.counters;
    const before = { ...counters };
    for (const [watcher, seen] of this.watchers) {
      if (seen.stats !== undefined) this.offer(watcher, seen, 'stats', () => this.broker.stats(watcher.identity));
    }
    this.own.denied += counters.denied - before.denied;
    this.own.wouldDeny += counters.wouldDeny - before.wouldDeny;
    this.statsPrint = this.statsFingerprint();
  }

  private offer(watcher: ListingWatcher, seen: { sessions?: string; stats?: string }, kind: 'sessions' | 'stats', listing: () => unknown): void {
    const value = listing();
    const text = JSON.stringify(value);
    if (text === seen[kind]) return;
    seen[kind] = text;
    watcher.send(kind, value);
  }

  /** Changes when a session starts, stops, reports its routes (a new route table object) or detaches. */
  private sessionsFingerprint(): string {
    let print = '';
    for (const s of this.broker.sessions.values()) {
      let table = this.routeTables.get(s.routes);
      if (table === undefined) {
        table = ++this.routeTableCount;
        this.routeTables.set(s.routes, table);
      }
      print += `${s.id}:${table}:${s.warnings.length}:${s.sink ? 1 : 0};`;
    }
    return print;
  }

  /** Changes when a relay counter, a service, a session count or a process-wide bound counter moves. */
  private statsFingerprint(): string {
    let print = `${this.broker.sessions.size}|${pushCounters.coalesced}|${pushCounters.slowConsumersClosed}|`;
    const policy = this.broker.authorizer.counters;
    print += `${policy.denied - this.own.denied}|${policy.wouldDeny - this.own.wouldDeny}|`;
    for (const [name, e] of this.broker.services) {
      const c = e.counters;
      print += `${name}:${e.sessions.size}:${c.calls}:${c.eventsIn}:${c.eventsOut}:${c.dataIn}:${c.dataOut};`;
    }
    return print;
  }
}
