import type { ServiceDefinition } from '../definition/model.js';
import type { Logger } from '../logger.js';
import { allowAll, type Action, type Authorizer, type Decision, type Identity, type Resource } from '../policy/authorizer.js';

/** Denials so far, for `peerway stats`. */
export interface PolicyCounters {
  /** Requests refused (enforced mode). */
  denied: number;
  /** Requests a `notify` policy let through that `enforced` would have refused. */
  wouldDeny: number;
}

/**
 * The server's authorization point with its audit: every request it decides goes to the current
 * authorizer (the policy, replaced on reload), and every denial, or would-be denial in `notify` mode, is a
 * JSON log line (identity, action, service, name, statement) and a counter.
 */
export class AuditedAuthorizer implements Authorizer {
  readonly counters: PolicyCounters = { denied: 0, wouldDeny: 0 };

  constructor(
    private inner: Authorizer,
    private readonly log: Logger,
  ) {}

  /** The authorizer decisions come from now on (a reloaded policy). */
  replace(inner: Authorizer | undefined): void {
    this.inner = inner ?? allowAll;
  }

  get current(): Authorizer {
    return this.inner;
  }

  authorize(identity: Identity, action: Action, resource: Resource): Decision {
    const decision = this.inner.authorize(identity, action, resource);
    if (!decision.allowed || decision.wouldDeny) this.audit(decision, identity, action, resource);
    return decision;
  }

  authorizeSession(identity: Identity, definition: ServiceDefinition): Decision {
    if (!this.inner.authorizeSession) return this.authorize(identity, 'describe', { service: definition.name });
    const decision = this.inner.authorizeSession(identity, definition);
    if (!decision.allowed || decision.wouldDeny) this.audit(decision, identity, 'describe', { service: definition.name });
    return decision;
  }

  dependencies(): { service: string; path: string }[] {
    return this.inner.dependencies?.() ?? [];
  }

  private audit(decision: Decision, identity: Identity, action: Action, resource: Resource): void {
    const fields = {
      audit: decision.allowed ? 'would-deny' : 'denied',
      identity: identity.name,
      action,
      service: resource.service,
      ...(resource.name !== undefined ? { name: resource.name } : {}),
      ...(decision.statement ? { statement: decision.statement } : {}),
      ...(decision.reason ? { reason: decision.reason } : {}),
    };
    if (decision.allowed) {
      this.counters.wouldDeny++;
      this.log.info(fields, 'policy would deny (notify mode)');
    } else {
      this.counters.denied++;
      this.log.warn(fields, 'policy denied');
    }
  }
}
