import { ANONYMOUS, identityNamed, type Identity } from '../policy/authorizer.js';
import type { ServiceRuntime } from '../service/service-runtime.js';
import type { SessionOpened } from '../wire/messages.js';
import type { HostedService, SessionOpening } from './hosted-service.js';

/**
 * A service loaded into the server process. All its traffic uses the client's server connection, so its
 * `<routing>` section is ignored (as the seed says for services in the server's process).
 */
export class InProcessService implements HostedService {
  readonly location = 'in-process' as const;
  readonly origin = 'in-process';
  /** Who each open session belongs to, for the calls' context. */
  private readonly identities = new Map<string, Identity>();

  constructor(readonly runtime: ServiceRuntime) {}

  get name(): string {
    return this.runtime.name;
  }

  get definition() {
    return this.runtime.definition;
  }

  openSession(opening: SessionOpening): Promise<SessionOpened> {
    this.identities.set(opening.session, identityNamed(opening.identity));
    return Promise.resolve({});
  }

  sessionReady(): Promise<void> {
    return Promise.resolve();
  }

  closeSession(session: string): void {
    this.identities.delete(session);
  }

  /** All of an in-process service's traffic goes through the server, which enforces the policy itself. */
  updateGrants(): void {}

  call(session: string, method: string, args: Record<string, unknown>): unknown {
    return this.runtime.invoke(method, args, { session, route: 'server', identity: this.identities.get(session) ?? ANONYMOUS });
  }
}
