import type { WireError } from '../errors.js';

/**
 * Every message Peerway sends, as a discriminated union on `type`. The protocol is symmetric in shape:
 * either side may send requests (they carry an `id` numbered by the sender), and the other side answers
 * with `reply` or `error` carrying the same id. Pushes (`event`, `data`, …) carry no id and get no answer.
 * docs/protocol.md describes the flows.
 */

/** Bumped on any incompatible change; peers with different versions refuse each other in the hello. */
export const PROTOCOL_VERSION = 1;

/** Who opened the connection: a client, a runner hosting services, or a client opening a peer-to-peer link. */
export type Role = 'client' | 'runner' | 'link';

export interface Hello {
  type: 'hello';
  version: number;
  role: Role;
  /** Free text naming the software (e.g. `peerway-client/0.1.0`), for logs. */
  agent?: string;
  /** Session token; only on `link` connections (peer-to-peer), binds the link to one session. */
  token?: string;
  session?: string;
  link?: string;
}

export interface Welcome {
  type: 'welcome';
  version: number;
  /** Identifies the accepting process in logs. */
  peer: string;
}

/** Answer to a request. */
export interface Reply {
  type: 'reply';
  id: number;
  value?: unknown;
}

/** Failure answer to a request (with `id`), or a fatal notice sent just before closing (without). */
export interface ErrorMessage {
  type: 'error';
  id?: number;
  error: WireError;
}

// ---- requests (carry id) --------------------------------------------------------------------------

export interface ListServices {
  type: 'list';
  id: number;
}

/** What a client tells about itself when starting a session; the service picks routes from it. */
export interface ClientProfile {
  bearers: string[];
  host: string;
  version: number;
}

export interface StartSession {
  type: 'start';
  id: number;
  service: string;
  client: ClientProfile;
}

export interface StopSession {
  type: 'stop';
  id: number;
  session: string;
}

export interface Call {
  type: 'call';
  id: number;
  session: string;
  /** Present on server → runner calls, where one runner hosts several services. */
  service?: string;
  method: string;
  args: Record<string, unknown>;
}

export type SubscriptionKind = 'event' | 'data';

export interface Subscribe {
  type: 'subscribe';
  id: number;
  session: string;
  kind: SubscriptionKind;
  /** Event name, or runtime-data path; absent or '' means everything of that kind. */
  name?: string;
}

export interface Unsubscribe {
  type: 'unsubscribe';
  id: number;
  session: string;
  kind: SubscriptionKind;
  name?: string;
}

export interface RegisterServices {
  type: 'register';
  id: number;
  /** Each service's definition XML and its current runtime data, so the server's copy starts current. */
  services: { name: string; xml: string; file: string; data?: unknown }[];
}

/** Server → runner: a client starts a session with one of the runner's services. */
export interface OpenSession {
  type: 'open';
  id: number;
  session: string;
  service: string;
  client: ClientProfile;
}

export interface Stats {
  type: 'stats';
  id: number;
}

/** The route a client finally took for one resource (after opening links and any fallback). */
export interface ChosenRoute {
  linkType: 'direct' | 'server';
  link?: string;
}

/**
 * Client → server (and server → runner): the links are open and authenticated; these are the routes the
 * client uses. The session counts as running only after this.
 */
export interface SessionReady {
  type: 'ready';
  id: number;
  session: string;
  /** Resource key (`method:NAME`, `event:NAME`, `data:PATH`) → route; resources not listed use the server. */
  routes: Record<string, ChosenRoute>;
}

// ---- pushes (no id) -------------------------------------------------------------------------------

/** An event: runner → server carries `service`; server → client carries `session`; on a link, neither (the link is the session's). */
export interface EventPush {
  type: 'event';
  service?: string;
  session?: string;
  name: string;
  args: Record<string, unknown>;
}

/** A runtime-data change at `path` ('' = whole tree). Same addressing rules as EventPush. */
export interface DataPush {
  type: 'data';
  service?: string;
  session?: string;
  path: string;
  value: unknown;
}

/** Server → runner: the session ended (client stopped it or went away). */
export interface CloseSession {
  type: 'close';
  session: string;
}

/** Server → client: the session ended without the client asking (service gone, server shutting down). */
export interface SessionEnded {
  type: 'ended';
  session: string;
  error: WireError;
}

export type Request =
  | ListServices
  | StartSession
  | StopSession
  | Call
  | Subscribe
  | Unsubscribe
  | RegisterServices
  | OpenSession
  | Stats
  | SessionReady;

export type Push = EventPush | DataPush | CloseSession | SessionEnded;

export type Message = Hello | Welcome | Reply | ErrorMessage | Request | Push;

export type RequestType = Request['type'];

const REQUEST_TYPES: ReadonlySet<string> = new Set<RequestType>([
  'list', 'start', 'stop', 'call', 'subscribe', 'unsubscribe', 'register', 'open', 'stats', 'ready',
]);
const PUSH_TYPES: ReadonlySet<string> = new Set<Push['type']>(['event', 'data', 'close', 'ended']);

export function isRequest(m: Message): m is Request {
  return REQUEST_TYPES.has(m.type);
}

export function isPush(m: Message): m is Push {
  return PUSH_TYPES.has(m.type);
}

/** Distributes `Omit` over a union, so request bodies keep their discriminant. */
export type RequestBody<R extends Request = Request> = R extends Request ? Omit<R, 'id'> : never;
