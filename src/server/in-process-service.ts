import type { ServiceRuntime } from '../service/service-runtime.js';
import type { HostedService, SessionOpened } from './hosted-service.js';

/**
 * A service loaded into the server process. All its traffic uses the client's server connection, so its
 * `<routing>` section is ignored (as the seed says for services in the server's process).
 */
export class InProcessService implements HostedService {
  readonly location = 'in-process' as const;
  readonly origin = 'in-process';

  constructor(readonly runtime: ServiceRuntime) {}

  get name(): string {
    return this.runtime.name;
  }

  get definition() {
    return this.runtime.definition;
  }

  async openSession(): Promise<SessionOpened> {
    return {};
  }

  async sessionReady(): Promise<void> {}

  closeSession(): void {}

  call(session: string, method: string, args: Record<string, unknown>): unknown {
    return this.runtime.invoke(method, args, { session, route: 'server' });
  }
}
