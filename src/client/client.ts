import { EventEmitter } from 'node:events';
import { PeerwayError } from '../errors.js';
import type { BearerAddress, BearerAttributes } from '../bearer/bearer.js';
import { availableBearerIds, formatBearerUrl, getBearer, parseBearerUrl } from '../bearer/registry.js';
import { parseDefinition } from '../definition/parse-definition.js';
import type { ServiceDefinition } from '../definition/model.js';
import type { Channel, RequestOptions } from '../wire/channel.js';
import { DEFAULT_REQUEST_TIMEOUT_MS } from '../wire/channel.js';
import { dialHandshake } from '../wire/handshake.js';
import type { Push } from '../wire/messages.js';
import { PROTOCOL_VERSION } from '../wire/messages.js';
import type { Logger } from '../logger.js';
import { silentLogger } from '../logger.js';
import type { ServiceListing } from '../server/server.js';
import type { SessionStartReply } from '../server/client-handler.js';
import { hostId } from './host-id.js';
import { explainHelloFailure } from './hello-failure.js';
import { missingAdapterWarnings } from './adapter-warnings.js';
import { Session } from './session.js';
import { openRoutes } from './link-opener.js';
import { parseInstructions } from '../routing/instructions.js';

export interface ClientOptions {
  /** Time allowed to connect and complete the hello (default 10 s). */
  connectTimeoutMs?: number;
  /** Default time allowed for each call and request (default 10 s); per-call options override it. */
  timeoutMs?: number;
  signal?: AbortSignal;
  logger?: Logger;
  /** Bearer attributes for the server connection (certificates for ssl, …). */
  attributes?: BearerAttributes;
  /** Largest message sent or accepted. */
  maxMessageBytes?: number;
  /** Software name reported to the server, for its logs. */
  agent?: string;
  /**
   * Connection adapters: attributes per bearer id, used for the server connection and for peer-to-peer
   * links (e.g. `{ 'connect.bearer.ssl': { ca: 'ca.pem' } }`). Configuring an ssl adapter is what lets
   * this client take ssl peer-to-peer routes.
   */
  adapters?: Record<string, BearerAttributes>;
  /**
   * Bearers this client offers for peer-to-peer routes. Default: tcp, udp, local and ws, plus ssl when an
   * ssl adapter is configured or the server connection itself is ssl.
   */
  bearers?: string[];
  /** Time allowed to open each peer-to-peer link at session start (default 3 s); a slower link falls back. */
  linkTimeoutMs?: number;
}

const DEFAULT_P2P_BEARERS = ['connect.bearer.tcp', 'connect.bearer.udp', 'connect.bearer.local', 'connect.bearer.ws'];

/** The bearers a client announces at session start (see ClientOptions.bearers). */
export function offeredBearers(options: ClientOptions, serverBearer: string): string[] {
  if (options.bearers) return options.bearers.filter((b) => availableBearerIds().includes(b));
  const out = new Set(DEFAULT_P2P_BEARERS.filter((b) => availableBearerIds().includes(b)));
  if (options.adapters?.['connect.bearer.ssl'] || serverBearer === 'connect.bearer.ssl') out.add('connect.bearer.ssl');
  return [...out];
}

export interface StartSessionOptions extends RequestOptions {}

export interface RelayStats {
  services: Record<string, { location: string; sessions: number; calls: number; eventsIn: number; eventsOut: number; dataIn: number; dataOut: number }>;
  sessions: number;
}

/**
 * Connects to a Peerway server. `url` is `tcp://HOST:PORT` (or another registered bearer's scheme).
 *
 * ```ts
 * const client = await connect('tcp://127.0.0.1:2002');
 * const climate = await client.startSession('Climate');
 * await climate.call('setTemperature', { zone: 1, celsius: 22.5 });
 * ```
 */
export async function connect(url: string | BearerAddress, options: ClientOptions = {}): Promise<PeerwayClient> {
  const address = typeof url === 'string' ? parseBearerUrl(url) : url;
  const label = `server at ${formatBearerUrl(address)}`;
  const attributes = options.attributes ?? options.adapters?.[address.bearer];
  const connection = await getBearer(address.bearer).connect(address, {
    ...(attributes ? { attributes } : {}),
    ...(options.maxMessageBytes ? { maxMessageBytes: options.maxMessageBytes } : {}),
    ...(options.signal ? { signal: options.signal } : {}),
    timeoutMs: options.connectTimeoutMs ?? 10_000,
  });
  const channel = await dialHandshake(connection, label, {
    role: 'client',
    agent: options.agent ?? `peerway-client/${process.pid}`,
    timeoutMs: options.connectTimeoutMs ?? 10_000,
    ...(options.signal ? { signal: options.signal } : {}),
  }).catch((err: unknown) => {
    throw explainHelloFailure(err, address);
  });
  return new PeerwayClient(channel, address, options);
}

/**
 * A connection to a Peerway server. Every pending call fails with a typed error (CONNECTION_CLOSED) if the
 * connection drops; nothing waits forever.
 *
 * Events: `close` ({ reason, error? }).
 */
export class PeerwayClient extends EventEmitter {
  readonly log: Logger;
  private readonly sessions = new Map<string, Session>();
  private readonly definitions = new Map<string, ServiceDefinition>(); // by XML text: parse once
  private readonly timeoutMs: number;

  constructor(
    private readonly channel: Channel,
    readonly serverAddress: BearerAddress,
    private readonly options: ClientOptions,
  ) {
    super();
    this.log = options.logger ?? silentLogger();
    this.timeoutMs = options.timeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS;
    channel.defaultTimeoutMs = this.timeoutMs;
    channel.start({
      push: (m) => this.onPush(m),
      request: (m) => {
        throw new PeerwayError('PROTOCOL', `clients do not answer "${m.type}" requests`);
      },
      close: (info) => {
        const err = new PeerwayError('CONNECTION_CLOSED', `connection to the server at ${formatBearerUrl(serverAddress)} closed: ${info.reason}`);
        for (const s of this.sessions.values()) s.markEnded(err);
        this.sessions.clear();
        this.emit('close', info);
      },
    });
  }

  get closed(): boolean {
    return this.channel.closed;
  }

  /** The services registered on the server. */
  services(options: RequestOptions = {}): Promise<ServiceListing[]> {
    return this.channel.request({ type: 'list' }, options);
  }

  /** Relay counters per service: what went through the server. */
  stats(options: RequestOptions = {}): Promise<RelayStats> {
    return this.channel.request({ type: 'stats' }, options);
  }

  /** Starts a session with a service; fails with SERVICE_NOT_FOUND when it is not registered. */
  async startSession(service: string, options: StartSessionOptions = {}): Promise<Session> {
    const reply = await this.channel.request<SessionStartReply>(
      { type: 'start', service, client: { bearers: offeredBearers(this.options, this.serverAddress.bearer), host: hostId(), version: PROTOCOL_VERSION } },
      options,
    );
    let definition = this.definitions.get(reply.xml);
    if (!definition) {
      definition = parseDefinition(reply.xml, `${reply.service}.xml (from the server)`);
      this.definitions.set(reply.xml, definition);
    }
    const session = new Session(
      { id: reply.session, service: reply.service, location: reply.location, definition, ...(reply.routing ? { routing: reply.routing } : {}) },
      this.channel,
      this.timeoutMs,
      (id) => this.sessions.delete(id),
    );
    this.sessions.set(session.id, session);
    try {
      if (reply.routing) await this.followRouting(session, reply.routing);
      await this.channel.request({ type: 'ready', session: session.id, routes: session.chosenRoutes }, options);
    } catch (err) {
      // The session never became usable: tell the server so the service drops it too.
      await session.stop().catch(() => undefined);
      throw err;
    }
    return session;
  }

  /** Opens the session's links as the routing instructions say, and installs the routes taken. */
  private async followRouting(session: Session, xml: string): Promise<void> {
    const instructions = parseInstructions(xml);
    const opened = await openRoutes(instructions, {
      adapters: this.options.adapters ?? {},
      timeoutMs: this.options.linkTimeoutMs ?? 3000,
      handlersFor: (link) => ({
        push: (m) => {
          if (m.type === 'event') session.deliverEvent(m, 'direct', link);
          else if (m.type === 'data') session.deliverData(m, 'direct', link);
        },
        request: (m) => {
          throw new PeerwayError('PROTOCOL', `clients do not answer "${m.type}" requests on links`);
        },
        close: (info) => {
          if (!session.ended && !this.closed) {
            const text = `${session.service}: direct link ${link} closed (${info.reason}); resources routed on it fail with LINK_FAILED until the session is restarted`;
            this.log.warn({ session: session.id, link }, text);
            this.emit('warning', text);
          }
        },
      }),
    });
    // Unless the caller chose the bearers, a direct route skipped for want of an adapter is worth a warning.
    if (!this.options.bearers) {
      opened.warnings.push(...missingAdapterWarnings(instructions, opened.routes, offeredBearers(this.options, this.serverAddress.bearer)));
    }
    session.attachRoutes(opened.links, opened.routes, opened.warnings);
    for (const w of opened.warnings) {
      this.log.warn({ session: session.id, service: session.service }, w);
      this.emit('warning', w);
    }
  }

  /** Closes the connection; the server ends this client's sessions. */
  async close(): Promise<void> {
    if (this.channel.closed) return;
    const closed = new Promise<void>((resolve) => this.once('close', () => resolve()));
    this.channel.close('client closed');
    await closed;
  }

  private onPush(m: Push): void {
    if (m.type === 'event' || m.type === 'data') {
      const session = m.session ? this.sessions.get(m.session) : undefined;
      if (!session) return; // a push racing with stop(); nothing to deliver to
      if (m.type === 'event') session.deliverEvent(m, 'server');
      else session.deliverData(m, 'server');
    } else if (m.type === 'ended') {
      const session = this.sessions.get(m.session);
      if (!session) return;
      this.sessions.delete(m.session);
      session.markEnded(PeerwayError.fromWire(m.error));
    }
  }
}
