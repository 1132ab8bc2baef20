import { PeerwayError } from '../errors.js';
import type { ServiceDefinition } from '../definition/model.js';
import type { Channel, RequestOptions } from '../wire/channel.js';
import type { ChosenRoute, SessionGrants, SessionOpened } from '../wire/messages.js';
import type { HostedService, HostedSessionOpened, SessionOpening } from './hosted-service.js';

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

  get reliableBearer(): string {
    return this.runner.connection.bearer;
  }

  async openSession(opening: SessionOpening, options: RequestOptions): Promise<HostedSessionOpened> {
    const reply = (await this.runner.request({ type: 'open', ...opening }, this.relayed(options))) as SessionOpened | undefined;
    return reply ?? {};
  }

  async sessionReady(session: string, routes: Record<string, ChosenRoute>, options: RequestOptions): Promise<void> {
    await this.runner.request({ type: 'ready', session, routes }, this.relayed(options));
  }

  closeSession(session: string): void {
    if (this.runner.closed) return;
    try {
      this.runner.send({ type: 'close', session });
    } catch {
      // The runner is going away; its sessions are cleaned up by the disconnect handler.
    }
  }

  updateGrants(session: string, grants: SessionGrants): void {
    if (this.runner.closed) return;
    try {
      this.runner.send({ type: 'grants', session, grants });
    } catch {
      // The runner is going away; a session it still holds keeps the last grants until it is closed.
    }
  }

  /** Closes the runner's connection with `reason` as its fatal notice: the runner reconnects and registers again later. */
  evict(reason: PeerwayError): void {
    if (!this.runner.closed) this.runner.fail(reason);
  }

  call(session: string, method: string, args: Record<string, unknown>, options: RequestOptions): Promise<unknown> {
    return this.runner.request({ type: 'call', session, service: this.name, method, args }, this.relayed(options));
  }

  /** A runner connection that drops mid-request means the service is gone: say so with SERVICE_GONE. */
  private readonly serviceGone = (err: PeerwayError): PeerwayError =>
    err.code === 'CONNECTION_CLOSED'
      ? new PeerwayError('SERVICE_GONE', `service ${this.name} went away: its runner at ${this.origin} disconnected`, { cause: err })
      : err;

  private relayed(options: RequestOptions): RequestOptions {
    const relayed: RequestOptions = { mapError: this.serviceGone };
    if (options.timeoutMs !== undefined) relayed.timeoutMs = options.timeoutMs;
    if (options.signal) relayed.signal = options.signal;
    return relayed;
  }
}
