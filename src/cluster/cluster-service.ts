import type { ServiceDefinition } from '../definition/model.js';
import { PeerwayError } from '../errors.js';
import type { HostedService, HostedSessionOpened, SessionOpening } from '../server/hosted-service.js';
import type { ServiceEntry } from '../server/service-entry.js';
import type { RequestOptions } from '../wire/channel.js';
import type { ChosenRoute, SessionGrants, SubscriptionKind } from '../wire/messages.js';
import type { ClusterNotice, ClusterRequest, Opened, ServiceAnnouncement, ServiceTraffic } from './cluster-messages.js';
import type { NatsLink } from './nats-link.js';
import { noticeSubject, requestSubject, trafficSubject } from './subjects.js';

/** Used when a relayed request comes with no deadline (the broker always gives one). */
const FALLBACK_TIMEOUT_MS = 60_000;

/**
 * A service registered with another server of the cluster, as this server's broker sees it: sessions,
 * calls and subscriptions go to that server as NATS requests; its events and runtime data come back on
 * the service's subjects, subscribed only while this server holds sessions with it (events: once one of
 * them subscribed to events). This server's broker decides first (its policy); the owning server decides
 * again with its own, and the session enforces both.
 */
export class ClusterService implements HostedService {
  readonly location: 'in-process' | 'remote';
  readonly origin: string;
  readonly reliableBearer?: string;
  private entry: ServiceEntry | undefined;
  /** The sessions this server holds with the service (they keep the subjects subscribed). */
  private readonly sessions = new Set<string>();
  private dataSub: (() => void) | undefined;
  private eventSub: (() => void) | undefined;
  /** How to fail each request still waiting for the owner's answer. */
  private readonly pending = new Set<(error: PeerwayError) => void>();
  private goneWith: PeerwayError | undefined;

  constructor(
    readonly definition: ServiceDefinition,
    readonly announcement: ServiceAnnouncement,
    /** The server it is registered with. */
    readonly server: string,
    /** This server's name, sent along so the owner knows who holds the session. */
    private readonly self: string,
    private readonly link: NatsLink,
    /**
     * The owner no longer knows a session this server holds (it lost track of this server for longer than
     * its expiry, or restarted): the broker ends it here, so its client starts it again.
     */
    private readonly lost: (session: string, error: PeerwayError) => void = () => undefined,
  ) {
    this.location = announcement.location;
    this.origin = announcement.origin;
    if (announcement.reliableBearer) this.reliableBearer = announcement.reliableBearer;
  }

  get name(): string {
    return this.definition.name;
  }

  /** Whether this server holds a session with the service under that id. */
  holds(session: string): boolean {
    return this.sessions.has(session);
  }

  /** The broker's entry for it, where the relayed events and runtime data are fanned out. */
  attach(entry: ServiceEntry): void {
    this.entry = entry;
  }

  async openSession(opening: SessionOpening, options: RequestOptions): Promise<HostedSessionOpened> {
    // Subscribed before asking, so no change between the owner's answer and the subscription is lost.
    this.sessions.add(opening.session);
    const fresh = this.watchData();
    try {
      const opened = (await this.ask(
        {
          op: 'open',
          from: this.self,
          service: this.name,
          session: opening.session,
          client: opening.client,
          identity: opening.identity ?? 'anonymous',
          label: `server ${this.self}`,
          ...(opening.grants ? { grants: opening.grants } : {}),
          timeoutMs: this.deadline(options),
        },
        options,
      )) as Opened;
      // A copy nobody kept current until now starts from the owner's.
      if (fresh && this.entry && opened.data !== undefined && opened.data !== null) this.entry.runtimeData.apply('', opened.data);
      return {
        ...(typeof opened.routing === 'string' ? { routing: opened.routing } : {}),
        ...(Array.isArray(opened.serverRefused) ? { serverRefused: opened.serverRefused.filter((k) => typeof k === 'string') } : {}),
        peerGrants: opened.grants ?? { denied: {} },
      };
    } catch (err) {
      this.forget(opening.session);
      throw err;
    }
  }

  async sessionReady(session: string, routes: Record<string, ChosenRoute>, options: RequestOptions): Promise<void> {
    await this.ask({ op: 'ready', from: this.self, session, routes, timeoutMs: this.deadline(options) }, options);
  }

  closeSession(session: string): void {
    if (!this.forget(session)) return;
    this.notify({ op: 'close', from: this.self, session });
  }

  /** This server's decisions changed: the owner merges them with its own and tells the service. */
  updateGrants(session: string, _grants: SessionGrants, own: SessionGrants): void {
    this.notify({ op: 'grants', from: this.self, session, grants: own });
  }

  call(session: string, method: string, args: Record<string, unknown>, options: RequestOptions): Promise<unknown> {
    return this.ask({ op: 'call', from: this.self, session, method, args, timeoutMs: this.deadline(options) }, options);
  }

  async subscribe(session: string, kind: SubscriptionKind, name: string, options: RequestOptions): Promise<void> {
    if (kind === 'event') this.watchEvents();
    await this.ask({ op: 'subscribe', from: this.self, session, kind, name, timeoutMs: this.deadline(options) }, options);
  }

  unsubscribe(session: string, kind: SubscriptionKind, name: string): void {
    this.notify({ op: 'unsubscribe', from: this.self, session, kind, name });
  }

  /** The session ended on the owner's side (or the service went): this server stops counting it. */
  forget(session: string): boolean {
    if (!this.sessions.delete(session)) return false;
    if (this.sessions.size === 0) this.unwatch();
    return true;
  }

  /**
   * The service left this server's registry (its server vanished, said goodbye or unregistered it):
   * requests still waiting fail with `reason` now rather than at their deadline, and nothing more is asked.
   */
  gone(reason: PeerwayError): void {
    this.goneWith ??= reason;
    for (const fail of [...this.pending]) fail(reason);
    this.pending.clear();
    this.sessions.clear();
    this.unwatch();
  }

  /** Unsubscribes everything. */
  private unwatch(): void {
    this.dataSub?.();
    this.eventSub?.();
    this.dataSub = this.eventSub = undefined;
  }

  /** Subscribes the runtime-data subject; true when it was not subscribed yet. */
  private watchData(): boolean {
    if (this.dataSub) return false;
    this.dataSub = this.link.subscribe(trafficSubject(this.server, this.name, 'data'), (m) => this.deliver(m as ServiceTraffic));
    return true;
  }

  private watchEvents(): void {
    this.eventSub ??= this.link.subscribe(trafficSubject(this.server, this.name, 'event'), (m) => this.deliver(m as ServiceTraffic));
  }

  private deliver(m: ServiceTraffic): void {
    const entry = this.entry;
    if (!entry || typeof m !== 'object' || m === null) return;
    if (m.kind === 'event' && typeof m.name === 'string') entry.publishEvent(m.name, isMap(m.args) ? m.args : {});
    else if (m.kind === 'data' && typeof m.path === 'string') entry.publishData(m.path, m.value);
  }

  private ask(request: ClusterRequest, options: RequestOptions): Promise<unknown> {
    if (this.goneWith) return Promise.reject(this.goneWith);
    if (options.signal?.aborted) return Promise.reject(new PeerwayError('ABORTED', `the request to ${this.name} was aborted`));
    return new Promise((resolve, reject) => {
      const fail = (error: PeerwayError) => reject(error);
      this.pending.add(fail);
      this.link.request(requestSubject(this.server), request, options.timeoutMs ?? FALLBACK_TIMEOUT_MS, this.server).then(
        (value) => {
          this.pending.delete(fail);
          resolve(value);
        },
        (err: unknown) => {
          this.pending.delete(fail);
          const error = PeerwayError.from(err);
          if (error.code === 'SESSION_NOT_FOUND' && 'session' in request && request.op !== 'open' && this.sessions.has(request.session)) {
            this.forget(request.session);
            this.lost(request.session, new PeerwayError('SERVICE_GONE', `session ${request.session} with ${this.name} was lost on server ${this.server}; start it again`, { cause: error }));
          }
          reject(error);
        },
      );
    });
  }

  private notify(notice: ClusterNotice): void {
    this.link.publish(noticeSubject(this.server), notice);
  }

  /** The owner gets a little less time than this server waits, so its TIMEOUT (naming the service) arrives first. */
  private deadline(options: RequestOptions): number {
    const t = options.timeoutMs ?? FALLBACK_TIMEOUT_MS;
    return Math.max(1, t - Math.min(250, Math.floor(t / 10)));
  }
}

function isMap(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
