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
  /** Identifies the client's machine (same-host bearers such as connect.bearer.local). */
  host: string;
  /** Identifies the client's process (same-process bearers such as connect.bearer.memory); optional. */
  process?: string;
  version: number;
}

export interface StartSession {
  type: 'start';
  id: number;
  service: string;
  client: ClientProfile;
}

/**
 * Client → server: binds a session started on an earlier connection to this one (after the connection
 * was lost). `resume` is the secret the start reply carried; subscriptions are not kept: the client
 * subscribes again.
 */
export interface AttachSession {
  type: 'attach';
  id: number;
  session: string;
  resume: string;
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

/**
 * What the server's policy decided for one session, for the service to enforce on its direct links:
 * only the denials, keyed `call:METHOD`, `subscribe:EVENT`, `read:PATH` (every method, event and
 * runtime-data path of the definition that is denied), each with the reason to report (identity, action,
 * statement). An empty map allows everything.
 */
export interface SessionGrants {
  denied: Record<string, string>;
}

/** Server → runner: a client starts a session with one of the runner's services. */
export interface OpenSession {
  type: 'open';
  id: number;
  session: string;
  service: string;
  client: ClientProfile;
  /** Who the client is, as the server authenticated it: the service sees it in every call's context. */
  identity?: string;
  /** The policy's decisions for this session (absent: allow everything); updated later by `grants` pushes. */
  grants?: SessionGrants;
}

export interface Stats {
  type: 'stats';
  id: number;
}

/** Either side: are you there? Answered with an empty reply by the protocol engine itself (keepalive). */
export interface Ping {
  type: 'ping';
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
  /**
   * What went wrong choosing them (a link that could not be opened, a required bearer missing), as the
   * client words it: information for the server's session listing (the inspector shows it).
   */
  warnings?: string[];
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

/** Server → runner: the policy's decisions for a session changed (a condition flipped, the policy was reloaded). */
export interface GrantsChanged {
  type: 'grants';
  session: string;
  grants: SessionGrants;
}

/** Server → client: the session ended without the client asking (service gone, server shutting down). */
export interface SessionEnded {
  type: 'ended';
  session: string;
  error: WireError;
}

// ---- replies --------------------------------------------------------------------------------------

/** One line of the `list` reply. */
export interface ServiceListing {
  name: string;
  fullname?: string;
  version?: string;
  location: 'in-process' | 'remote';
  /** Where it runs: `in-process`, or the runner's address. */
  origin: string;
  /** In a cluster of servers: the name of the server it is registered with (absent outside a cluster). */
  server?: string;
  sessions: number;
}

/** The `start` reply. */
export interface SessionStarted {
  session: string;
  service: string;
  location: 'in-process' | 'remote';
  /** The service definition XML, so the client can check arguments and results locally. */
  xml: string;
  /** Routing instructions XML from the service (remote services with peer-to-peer routes). */
  routing?: string;
  /** Secret that lets this client attach the session to a new connection (`attach`). */
  resume?: string;
}

/** The `attach` reply. */
export interface SessionAttached {
  session: string;
  service: string;
}

/** Relay counters of one service, readable with `peerway stats`: they show what went through the server. */
export interface RelayCounters {
  /** Calls relayed from clients to the service. */
  calls: number;
  /** Events received from the service. */
  eventsIn: number;
  /** Event messages pushed to client sessions. */
  eventsOut: number;
  /** Runtime-data updates received from the service. */
  dataIn: number;
  /** Runtime-data messages pushed to client sessions. */
  dataOut: number;
}

/** The `stats` reply. */
export interface RelayStats {
  services: Record<string, { location: 'in-process' | 'remote'; server?: string; sessions: number } & RelayCounters>;
  sessions: number;
  /** The server's bounds (README, "Limits and guarantees"), by option name. */
  limits?: Record<string, number>;
  /** What those bounds are doing: open connections, bytes of partial frames held, slow consumers dropped, runtime-data pushes coalesced. */
  health?: { connections: number; partialFrameBytes: number; slowConsumersClosed: number; coalesced: number };
  /** The access policy in force (`none` without one) and its denials: refused, and let through in notify mode. */
  policy?: { mode: 'enforced' | 'notify' | 'none'; denied: number; wouldDeny: number };
  /**
   * In a cluster of servers: this server's name, the NATS server its cluster link is connected to (null
   * while it reconnects), and the other servers it hears, with how many services each registered and how
   * long ago (ms) its last heartbeat came.
   */
  cluster?: { server: string; nats: string | null; peers: Record<string, { services: number; lastSeenMs: number }> };
}

/** The `open` reply (runner → server): routing instructions when the service routes anything directly. */
export interface SessionOpened {
  routing?: string;
  /**
   * Resource keys the server must not relay for this session: resources whose only usable routes are
   * `required` direct ones (an ssl-only method must not travel in plaintext through the server).
   */
  serverRefused?: string[];
}

/** The `register` reply. */
export interface Registered {
  registered: string[];
}

/**
 * Every request kind with its message and the value its reply carries: the one place that says what a
 * request answers, so `Channel.request` and the request handlers are typed by it (docs/protocol.md lists
 * the same table; test/docs checks the two agree).
 */
export interface ProtocolRequests {
  list: { request: ListServices; reply: ServiceListing[] };
  start: { request: StartSession; reply: SessionStarted };
  attach: { request: AttachSession; reply: SessionAttached };
  stop: { request: StopSession; reply: void };
  ready: { request: SessionReady; reply: void };
  call: { request: Call; reply: unknown };
  /** Events answer nothing; runtime data answers the current value at the watched path. */
  subscribe: { request: Subscribe; reply: unknown };
  unsubscribe: { request: Unsubscribe; reply: void };
  stats: { request: Stats; reply: RelayStats };
  register: { request: RegisterServices; reply: Registered };
  open: { request: OpenSession; reply: SessionOpened };
  ping: { request: Ping; reply: void };
}

export type RequestType = keyof ProtocolRequests;
export type Request = ProtocolRequests[RequestType]['request'];
/** The value the reply to a request of kind `K` carries. */
export type ReplyTo<K extends RequestType> = ProtocolRequests[K]['reply'];

export type Push = EventPush | DataPush | CloseSession | SessionEnded | GrantsChanged;
export type PushType = Push['type'];

export type Message = Hello | Welcome | Reply | ErrorMessage | Request | Push;

/** Every message kind, by role: the protocol document's tables are checked against these lists. */
// Records rather than arrays, so the compiler says when a kind is added to a union but not listed here.
const REQUEST_KINDS: Record<RequestType, true> = {
  list: true, start: true, attach: true, stop: true, ready: true, call: true, subscribe: true, unsubscribe: true, stats: true, register: true, open: true, ping: true,
};
const PUSH_KINDS: Record<PushType, true> = { event: true, data: true, close: true, ended: true, grants: true };
export const REQUEST_TYPES = Object.keys(REQUEST_KINDS) as RequestType[];
export const PUSH_TYPES = Object.keys(PUSH_KINDS) as PushType[];
export const CONTROL_TYPES: readonly Message['type'][] = ['hello', 'welcome', 'reply', 'error'];

const REQUESTS: ReadonlySet<string> = new Set(REQUEST_TYPES);
const PUSHES: ReadonlySet<string> = new Set(PUSH_TYPES);

export function isRequest(m: Message): m is Request {
  return REQUESTS.has(m.type);
}

export function isPush(m: Message): m is Push {
  return PUSHES.has(m.type);
}

/** Distributes `Omit` over a union, so request bodies keep their discriminant. */
export type RequestBody<R extends Request = Request> = R extends Request ? Omit<R, 'id'> : never;
