import { PeerwayError } from '../errors.js';
import type { ServiceDefinition } from '../definition/model.js';
import type { Channel, RequestOptions } from '../wire/channel.js';
import type { ChosenRoute } from '../wire/messages.js';
import type { HostedService, SessionOpened, SessionOpening } from './hosted-service.js';

/** A service hosted by a runner; the server reaches it over the runner's connection. */
export class RemoteService implements HostedService {
  readonly location = 'remote' as const;

  constructor(
    readonly definition: ServiceDefinition,
    private readonly runner: Channel,
    readonly origin: string,
  ) {}

  get name(): string {
    return this.definition.name;
  }

  async openSession(opening: SessionOpening, options: RequestOptions): Promise<SessionOpened> {
    const reply = await this.relay(() => this.runner.request<SessionOpened | undefined>({ type: 'open', ...opening }, options));
    return reply ?? {};
  }

  async sessionReady(session: string, routes: Record<string, ChosenRoute>, options: RequestOptions): Promise<void> {
    await this.relay(() => this.runner.request({ type: 'ready', session, routes }, options));
  }

  closeSession(session: string): void {
    if (this.runner.closed) return;
    try {
      this.runner.send({ type: 'close', session });
    } catch {
      // The runner is going away; its sessions are cleaned up by the disconnect handler.
    }
  }

  call(session: string, method: string, args: Record<string, unknown>, options: RequestOptions): Promise<unknown> {
    return this.relay(() => this.runner.request({ type: 'call', session, service: this.name, method, args }, options));
  }

  /**
   * A runner connection that drops mid-request means the service is gone: say so with SERVICE_GONE.
   * A plain .then, not async/await: relayed calls are the server's hot path, and this adds one promise, not three.
   */
  private relay<T>(send: () => Promise<T>): Promise<T> {
    return send().then(undefined, (err: unknown) => {
      if (err instanceof PeerwayError && err.code === 'CONNECTION_CLOSED') {
        throw new PeerwayError('SERVICE_GONE', `service ${this.name} went away: its runner at ${this.origin} disconnected`, { cause: err });
      }
      throw err;
    });
  }
}
