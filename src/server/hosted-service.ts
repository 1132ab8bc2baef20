import type { ServiceDefinition } from '../definition/model.js';
import type { RequestOptions } from '../wire/channel.js';
import type { ChosenRoute, OpenSession, SessionGrants, SessionOpened } from '../wire/messages.js';

/** What the server tells a service when a session opens: the `open` request without its id. */
export type SessionOpening = Omit<OpenSession, 'type' | 'id'>;

/**
 * A service as the server sees it, wherever it runs. The server relays through this interface only, so
 * in-process and remote services are interchangeable for sessions, calls and subscriptions.
 */
export interface HostedService {
  readonly name: string;
  readonly definition: ServiceDefinition;
  readonly location: 'in-process' | 'remote';
  /** Where it runs, for listings (`in-process`, or the runner's address). */
  readonly origin: string;
  /** The bearer of the built-in `reliable` link: the one its runner reached the server with. */
  readonly reliableBearer?: string;
  openSession(opening: SessionOpening, options: RequestOptions): Promise<SessionOpened>;
  /** The client opened its links; these are the routes it took. */
  sessionReady(session: string, routes: Record<string, ChosenRoute>, options: RequestOptions): Promise<void>;
  closeSession(session: string): void;
  /** The policy's decisions for a session changed: a service with direct links enforces them from now on. */
  updateGrants(session: string, grants: SessionGrants): void;
  /** The result, or a promise of it: an in-process method that answers at once needs no promise. */
  call(session: string, method: string, args: Record<string, unknown>, options: RequestOptions): unknown;
}
