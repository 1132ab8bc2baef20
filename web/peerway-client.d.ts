// Types of the Peerway browser client (web/peerway-client.js, `peerway/browser`). Values travel as JSON:
// int64 as decimal strings, binary as base64 strings.

export type ErrorCode =
  | 'SERVICE_NOT_FOUND' | 'METHOD_NOT_FOUND' | 'EVENT_NOT_FOUND' | 'PATH_NOT_FOUND' | 'SESSION_NOT_FOUND' | 'BAD_ARGUMENT'
  | 'BAD_RESULT' | 'IMPLEMENTATION_ERROR' | 'NOT_IMPLEMENTED' | 'TIMEOUT' | 'ABORTED' | 'SERVICE_GONE' | 'CONNECTION_CLOSED'
  | 'CONNECT_FAILED' | 'DUPLICATE_SERVICE' | 'PROTOCOL' | 'VERSION_MISMATCH' | 'FRAME_TOO_LARGE' | 'DEFINITION_INVALID'
  | 'CONFIG_INVALID' | 'USAGE' | 'BEARER_UNKNOWN' | 'BEARER_MISSING' | 'LINK_FAILED' | 'UNAUTHORIZED' | 'POLICY_DENIED'
  | 'LIMIT_EXCEEDED' | 'INTERNAL';

/** Every failure of the client: a stable code (docs/errors.md), a message that names the fix, maybe details. */
export class PeerwayError extends Error {
  readonly name: 'PeerwayError';
  readonly code: ErrorCode;
  readonly details?: Record<string, unknown>;
  constructor(code: string, message: string, details?: Record<string, unknown>, cause?: unknown);
  static fromWire(error: { code: string; message: string; details?: Record<string, unknown> }): PeerwayError;
}

export interface RequestOptions {
  /** Deadline of this request (default: the client's `timeoutMs`, 10 s). */
  timeoutMs?: number;
  signal?: AbortSignal;
}

export interface ConnectOptions {
  /** A token of the server's access policy; without one the connection is `anonymous`. */
  token?: string;
  /** Default deadline of each request (default 10 s). */
  timeoutMs?: number;
  /** Deadline to open the socket and say hello (default 10 s). */
  connectTimeoutMs?: number;
  signal?: AbortSignal;
}

export interface ServiceListing {
  name: string;
  fullname?: string;
  version?: string;
  location: 'in-process' | 'remote';
  origin: string;
  sessions: number;
}

export interface FieldJson {
  name: string;
  /** `int`, `Point`, `string[]` for a repeated one. */
  type: string;
}

export interface RuntimeDataJson {
  name: string;
  path: string;
  type?: string;
  default?: unknown;
  repeated: boolean;
  children?: RuntimeDataJson[];
}

/** A service definition as JSON (what `describe` answers). */
export interface DefinitionJson {
  name: string;
  fullname?: string;
  version?: string;
  types: { name: string; fields: FieldJson[] }[];
  methods: { name: string; arguments: FieldJson[]; returns: string }[];
  events: { name: string; arguments: FieldJson[] }[];
  runtimeData: RuntimeDataJson;
  routing?: {
    endpoints: { name: string; bearer: string; host?: string; port?: number }[];
    routes: { link: string; linkType: string; required: boolean; resources: { kind: string; name?: string }[] }[];
  };
}

export interface RouteListing {
  linkType: 'direct' | 'server';
  link?: string;
  bearer?: string;
}

export interface SessionListing {
  session: string;
  service: string;
  identity: string;
  client: string;
  startedAt: string;
  attached: boolean;
  /** Per resource key (`method:NAME`, `event:NAME`, `data:PATH`). */
  routes: Record<string, RouteListing>;
  warnings: string[];
}

export interface RelayCounters {
  calls: number;
  eventsIn: number;
  eventsOut: number;
  dataIn: number;
  dataOut: number;
}

export interface RelayStats {
  services: Record<string, { location: 'in-process' | 'remote'; sessions: number } & RelayCounters>;
  sessions: number;
  limits?: Record<string, number>;
  health?: { connections: number; partialFrameBytes: number; slowConsumersClosed: number; coalesced: number };
  policy?: { mode: 'enforced' | 'notify' | 'none'; denied: number; wouldDeny: number };
}

export interface Subscription {
  close(): Promise<void>;
}

export interface Watch<T> extends Subscription {
  /** The value when the watch started; later ones go to the handler. */
  snapshot: T;
}

export interface ServiceEvent {
  name: string;
  args: Record<string, unknown>;
  /** Always `server`: a browser takes the server route. */
  route: 'server';
}

export interface DataChange {
  path: string;
  value: unknown;
  route: 'server';
}

/** Turns a gateway address (nothing: this page's own) into its WebSocket URL. */
export function socketUrl(url?: string | URL): string;

/** Connects to a gateway's `/ws` and says hello. */
export function connect(url?: string | URL, options?: ConnectOptions): Promise<PeerwayClient>;

export class PeerwayClient {
  readonly url: string;
  /** Who the server says this connection is. */
  readonly identity: string;
  /** Whether the server has an access policy. */
  readonly policy: boolean;
  readonly limits?: { maxMessageBytes: number; maxInFlight: number; softQueuedBytes: number; maxHeldBytes: number };
  readonly closed: boolean;
  on(event: 'close', listener: (error: PeerwayError) => void): () => void;
  on(event: 'error', listener: (error: PeerwayError) => void): () => void;
  services(options?: RequestOptions): Promise<ServiceListing[]>;
  describe(service: string, options?: RequestOptions): Promise<DefinitionJson>;
  stats(options?: RequestOptions): Promise<RelayStats>;
  sessions(options?: RequestOptions): Promise<SessionListing[]>;
  watchStats(handler: (stats: RelayStats) => void, options?: RequestOptions): Promise<Watch<RelayStats>>;
  watchSessions(handler: (sessions: SessionListing[]) => void, options?: RequestOptions): Promise<Watch<SessionListing[]>>;
  startSession(service: string, options?: RequestOptions): Promise<Session>;
  close(): void;
}

export class Session {
  readonly id: string;
  readonly service: string;
  readonly location: 'in-process' | 'remote';
  readonly definition: DefinitionJson;
  readonly ended: boolean;
  on(event: 'ended', listener: (error: PeerwayError) => void): () => void;
  call<T = unknown>(method: string, args?: Record<string, unknown>, options?: RequestOptions): Promise<T>;
  onEvent(name: string | undefined, listener: (event: ServiceEvent) => void, options?: RequestOptions): Promise<Subscription>;
  watch(path: string, listener: (change: DataChange) => void, options?: RequestOptions): Promise<Watch<unknown>>;
  stop(options?: RequestOptions): Promise<void>;
}
