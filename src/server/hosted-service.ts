import type { ServiceDefinition } from '../definition/model.js';
import type { PeerwayError } from '../errors.js';
import type { RequestOptions } from '../wire/channel.js';
import type { ChosenRoute, OpenSession, SessionGrants, SessionOpened, SubscriptionKind } from '../wire/messages.js';

/** What the server tells a service when a session opens: the `open` request without its id. */
export type SessionOpening = Omit<OpenSession, 'type' | 'id'>;

/** What a service answers when a session opens. */
export interface HostedSessionOpened extends SessionOpened {
  /**
   * A service registered with another server of a cluster: that server's own policy decisions for the
   * session. Both servers' policies apply, so the session enforces this server's denials and these.
   */
  peerGrants?: SessionGrants;
}

/**
 * A service as the server sees it, wherever it runs. The server relays through this interface only, so
 * in-process services, services on runners and services registered with another server of a cluster are
 * interchangeable for sessions, calls and subscriptions.
 */
export interface HostedService {
  readonly name: string;
  readonly definition: ServiceDefinition;
  readonly location: 'in-process' | 'remote';
  /** Where it runs, for listings (`in-process`, or the runner's address). */
  readonly origin: string;
  /** The server of a cluster it is registered with, when that is another server than this one. */
  readonly server?: string;
  /** The bearer of the built-in `reliable` link: the one its runner reached the server with. */
  readonly reliableBearer?: string;
  openSession(opening: SessionOpening, options: RequestOptions): Promise<HostedSessionOpened>;
  /** The client opened its links; these are the routes it took. */
  sessionReady(session: string, routes: Record<string, ChosenRoute>, options: RequestOptions): Promise<void>;
  closeSession(session: string): void;
  /**
   * The policy's decisions for a session changed. `grants` is what the session must enforce (a service
   * with direct links enforces it from now on); `own` is this server's part of it, which differs only for
   * sessions relayed between servers of a cluster (each passes its own decisions to the other).
   */
  updateGrants(session: string, grants: SessionGrants, own: SessionGrants): void;
  /** The result, or a promise of it: an in-process method that answers at once needs no promise. */
  call(session: string, method: string, args: Record<string, unknown>, options: RequestOptions): unknown;
  /**
   * A subscription this server allowed, passed on to where the service is registered when that server
   * decides too (a service of another server of a cluster); rejects with that server's refusal.
   */
  subscribe?(session: string, kind: SubscriptionKind, name: string, options: RequestOptions): Promise<void>;
  unsubscribe?(session: string, kind: SubscriptionKind, name: string): void;
  /**
   * The service lost its name to a registration elsewhere in a cluster that came first: whatever hosts it
   * is told with `reason` (a runner's connection is closed with it, so the runner registers again later).
   * Absent when there is nobody to tell (in-process services).
   */
  evict?(reason: PeerwayError): void;
}
