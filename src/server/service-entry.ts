import type { ServiceDefinition } from '../definition/model.js';
import { RuntimeDataTree } from '../definition/runtime-data-tree.js';
import { RouteTable } from '../routing/route-table.js';
import type { RelayCounters } from '../wire/messages.js';
import { SharedPush } from '../wire/shared-push.js';
import type { HostedService } from './hosted-service.js';
import { dataPaths } from '../policy/grants.js';

/** A session as a service's fan-out sees it: what it wants, and how to hand it a push. */
export interface Subscriber {
  wantsEvent(name: string): boolean;
  /** `key` is the runtime-data resource the change belongs to (see RouteTable.dataKey). */
  wantsData(path: string, key: string): boolean;
  /**
   * Delivers an event; false when the session's policy or state kept it back. `shared` is the same
   * publish encoded once for every session that gets it unchanged (see SharedPush).
   */
  pushEvent(name: string, args: Record<string, unknown>, shared?: SharedPush): boolean;
  pushData(path: string, value: unknown, shared?: SharedPush): boolean;
}

/**
 * The server's record of one registered service: how to reach it, its live sessions, the server's copy of
 * its runtime data (kept current from the updates the service publishes) and relay counters.
 */
export class ServiceEntry {
  readonly sessions = new Set<Subscriber>();
  /**
   * Fan-out targets that are not sessions: they get what sessions get but are not counted as sessions or
   * in `eventsOut`/`dataOut` (a cluster link passing the service's traffic on once for all the sessions
   * other servers hold with it).
   */
  readonly taps = new Set<Subscriber>();
  readonly runtimeData: RuntimeDataTree;
  readonly counters: RelayCounters = { calls: 0, eventsIn: 0, eventsOut: 0, dataIn: 0, dataOut: 0 };
  readonly registeredAt = new Date();
  /** Used to tell which runtime-data resource a change belongs to (sessions may take it directly). */
  readonly routeTable: RouteTable;

  /** Every runtime-data path of the definition: the policy decides reads per path. */
  readonly nodePaths: ReadonlySet<string>;

  constructor(
    readonly hosted: HostedService,
    initialData?: unknown,
    /** Told of every runtime-data update, after the copy took it (policy conditions read the copy). */
    private readonly onData: (path: string) => void = () => undefined,
  ) {
    this.runtimeData = new RuntimeDataTree(hosted.definition);
    this.routeTable = new RouteTable(hosted.definition, hosted.reliableBearer ?? '');
    this.nodePaths = new Set(dataPaths(hosted.definition.runtimeData));
    if (initialData !== undefined && initialData !== null) this.runtimeData.apply('', initialData);
  }

  get name(): string {
    return this.hosted.name;
  }

  get definition(): ServiceDefinition {
    return this.hosted.definition;
  }

  /** An event from the service: forward to every session subscribed to it. */
  publishEvent(name: string, args: Record<string, unknown>): void {
    this.counters.eventsIn++;
    // Made only when sessions can share it: a lone session's push is encoded as before, at no extra cost.
    const shared = this.sessions.size > 1 ? new SharedPush({ type: 'event', name, args }) : undefined;
    for (const s of this.sessions) {
      if (s.wantsEvent(name) && s.pushEvent(name, args, shared)) this.counters.eventsOut++;
    }
    for (const t of this.taps) if (t.wantsEvent(name)) t.pushEvent(name, args, shared);
  }

  /** A runtime-data update from the service: keep the copy current, then forward to interested sessions. */
  publishData(path: string, value: unknown): void {
    this.counters.dataIn++;
    this.runtimeData.apply(path, value);
    this.onData(path);
    const key = this.routeTable.dataKey(path);
    const shared = this.sessions.size > 1 ? new SharedPush({ type: 'data', path, value }) : undefined;
    for (const s of this.sessions) {
      if (s.wantsData(path, key) && s.pushData(path, value, shared)) this.counters.dataOut++;
    }
    for (const t of this.taps) if (t.wantsData(path, key)) t.pushData(path, value, shared);
  }
}
