import { EventEmitter } from 'node:events';
import { PeerwayError } from '../errors.js';
import type { BearerAddress, ConnectOptions } from '../bearer/bearer.js';
import { formatBearerUrl, getBearer } from '../bearer/registry.js';
import type { Channel } from '../wire/channel.js';
import { dialHandshake } from '../wire/handshake.js';
import type { OpenSession, Push, Request } from '../wire/messages.js';
import type { Logger } from '../logger.js';
import { silentLogger } from '../logger.js';
import type { ServiceRuntime } from '../service/service-runtime.js';

export interface RunnerOptions {
  /** The server to register with; its bearer is also the built-in `reliable` link's bearer. */
  server: BearerAddress;
  services: ServiceRuntime[];
  logger?: Logger;
  /** Bearer attributes for the server connection (certificates for ssl, …). */
  connectOptions?: ConnectOptions;
  /** Delay before the first reconnect attempt; doubles up to `maxRetryMs`. */
  minRetryMs?: number;
  maxRetryMs?: number;
}

/** Errors that retrying cannot fix: the runner stops and reports them (exit code 2 from the CLI). */
const FATAL_REGISTRATION_CODES = new Set(['DUPLICATE_SERVICE', 'DEFINITION_INVALID', 'VERSION_MISMATCH']);

interface RunnerSession {
  service: ServiceRuntime;
}

/**
 * Hosts remote services: connects to the server as a client of role `runner`, registers its services,
 * serves relayed calls and publishes events and runtime data. When the server goes away it says so and
 * reconnects with backoff, registering again with the current runtime data.
 *
 * Events: `registered` (names), `disconnected` (reason), `fatal` (PeerwayError; the runner has stopped).
 */
export class PeerwayRunner extends EventEmitter {
  readonly log: Logger;
  private channel: Channel | undefined;
  private readonly byName = new Map<string, ServiceRuntime>();
  private readonly sessions = new Map<string, RunnerSession>();
  private stopped = false;
  private retryTimer: NodeJS.Timeout | undefined;
  private retryMs: number;
  private everRegistered = false;

  constructor(private readonly options: RunnerOptions) {
    super();
    this.log = options.logger ?? silentLogger();
    this.retryMs = options.minRetryMs ?? 250;
    for (const s of options.services) {
      this.byName.set(s.name, s);
      s.addOutput({
        event: (name, args) => this.forward({ type: 'event', service: s.name, name, args }),
        data: (path, value) => this.forward({ type: 'data', service: s.name, path, value }),
      });
    }
  }

  get serverUrl(): string {
    return formatBearerUrl(this.options.server);
  }

  get connected(): boolean {
    return this.channel !== undefined && !this.channel.closed;
  }

  /** Connects and registers. Resolves after the first successful registration; keeps retrying until then. */
  start(): Promise<string[]> {
    return new Promise((resolve, reject) => {
      const onRegistered = (names: string[]) => {
        this.off('fatal', onFatal);
        resolve(names);
      };
      const onFatal = (err: PeerwayError) => {
        this.off('registered', onRegistered);
        reject(err);
      };
      this.once('registered', onRegistered);
      this.once('fatal', onFatal);
      void this.attempt();
    });
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.retryTimer);
    this.channel?.close('runner stopping');
    await Promise.all(this.options.services.map((s) => s.stop()));
  }

  private async attempt(): Promise<void> {
    if (this.stopped) return;
    const url = this.serverUrl;
    try {
      const connection = await getBearer(this.options.server.bearer).connect(this.options.server, this.options.connectOptions);
      const channel = await dialHandshake(connection, `server at ${url}`, { role: 'runner', agent: `peerway-runner/${process.pid}` });
      this.channel = channel;
      channel.start({
        request: (m) => this.request(m),
        push: (m) => this.push(m),
        close: (info) => this.onClose(channel, info.reason),
      });
      const services = this.options.services.map((s) => ({
        name: s.name,
        xml: s.definition.source,
        file: s.definition.file,
        data: s.tree.snapshot(),
      }));
      const reply = await channel.request<{ registered: string[] }>({ type: 'register', services });
      this.retryMs = this.options.minRetryMs ?? 250;
      this.log.info({ server: url, services: reply.registered }, this.everRegistered ? 're-registered after reconnect' : 'registered');
      this.everRegistered = true;
      this.emit('registered', reply.registered);
    } catch (err) {
      const error = PeerwayError.from(err);
      if (FATAL_REGISTRATION_CODES.has(error.code)) {
        this.stopped = true;
        this.channel?.close(error.message);
        this.emit('fatal', error);
        return;
      }
      this.log.warn({ server: url, reason: error.message }, `cannot reach the server; retrying in ${this.retryMs} ms`);
      this.scheduleRetry();
    }
  }

  private onClose(channel: Channel, reason: string): void {
    if (this.channel !== channel) return;
    this.channel = undefined;
    this.sessions.clear();
    if (this.stopped) return;
    this.log.warn({ server: this.serverUrl, reason }, `the server went away; reconnecting in ${this.retryMs} ms`);
    this.emit('disconnected', reason);
    this.scheduleRetry();
  }

  private scheduleRetry(): void {
    if (this.stopped) return;
    clearTimeout(this.retryTimer);
    this.retryTimer = setTimeout(() => void this.attempt(), this.retryMs);
    this.retryMs = Math.min(this.retryMs * 2, this.options.maxRetryMs ?? 5000);
  }

  private request(m: Request): unknown {
    switch (m.type) {
      case 'open':
        return this.open(m);
      case 'call': {
        const service = this.service(m.service ?? '');
        return service.invoke(m.method, m.args, { session: m.session, route: 'server' });
      }
      default:
        throw new PeerwayError('PROTOCOL', `a runner does not answer "${m.type}" requests`);
    }
  }

  private open(m: OpenSession): Record<string, never> {
    const service = this.service(m.service);
    this.sessions.set(m.session, { service });
    this.log.debug({ session: m.session, service: m.service }, 'session opened');
    return {};
  }

  private push(m: Push): void {
    if (m.type === 'close') {
      this.sessions.delete(m.session);
      this.log.debug({ session: m.session }, 'session closed');
    }
  }

  private service(name: string): ServiceRuntime {
    const s = this.byName.get(name);
    if (!s) throw new PeerwayError('SERVICE_NOT_FOUND', `this runner does not host a service named "${name}"`);
    return s;
  }

  private forward(message: Push): void {
    const channel = this.channel;
    if (!channel || channel.closed) return; // the server gets a full snapshot when we register again
    try {
      channel.send(message);
    } catch (err) {
      this.log.warn({ reason: (err as Error).message }, 'could not forward to the server');
    }
  }
}
