import type { ServiceDefinition } from '../definition/model.js';
import { PeerwayError } from '../errors.js';
import type { SessionGrants } from '../wire/messages.js';

/**
 * Who is asking, as the server authenticated it (never as a peer reports itself). Until the policy issue
 * adds credentials, everyone is `anonymous`.
 */
export interface Identity {
  /** The identity's name: `anonymous`, a token's name, or a certificate subject. */
  readonly name: string;
  /** How the server established it; unknown on the service side, which learns only the name. */
  readonly via?: 'anonymous' | 'token' | 'certificate';
}

export const ANONYMOUS: Identity = Object.freeze({ name: 'anonymous', via: 'anonymous' });

/** The identity a service side learns from the server (by name only); `anonymous` when none is given. */
export function identityNamed(name: string | undefined): Identity {
  return name === undefined || name === ANONYMOUS.name ? ANONYMOUS : Object.freeze({ name });
}

/** What can be done to a service (DESIGN §6): the verbs of the policy file. */
export type Action = 'register' | 'describe' | 'call' | 'subscribe' | 'read';

/** What an action applies to: a service, or one of its methods, events or runtime-data paths. */
export interface Resource {
  service: string;
  /** The method (call), event (subscribe) or runtime-data dot path (read); absent for the service itself. */
  name?: string;
}

export interface Decision {
  allowed: boolean;
  /** Why, for the denial's message and the logs. */
  reason?: string;
  /** The policy statement that decided, as `statement 4 (policy.yaml:12:5)`; absent when none did. */
  statement?: string;
  /** The policy's mode when a policy decided: in `notify` mode nothing is blocked. */
  mode?: 'enforced' | 'notify';
  /** `notify` mode: `allowed` is true, but `enforced` mode would have denied it (for logs and counters). */
  wouldDeny?: boolean;
}

/**
 * The one place an access decision is taken on each side: the server asks it for every request and push
 * it handles, a runner for every request and push on its direct links. The policy issue supplies a real
 * one; until then `allowAll` is used.
 */
export interface Authorizer {
  authorize(identity: Identity, action: Action, resource: Resource): Decision;
  /**
   * Whether `identity` may start a session with the service (the policy: `describe` and at least one of
   * `call`, `subscribe`, `read`); without it, `describe` alone decides.
   */
  authorizeSession?(identity: Identity, definition: ServiceDefinition): Decision;
  /** Everything decided for one session, for the service to enforce on its links (see computeGrants). */
  decisionsFor?(identity: Identity, definition: ServiceDefinition): SessionGrants;
  /** The runtime data (`service`, `path`) its decisions read: an update there may change them. */
  dependencies?(): { service: string; path: string }[];
}

const ALLOWED: Decision = Object.freeze({ allowed: true });

/** Allows everything: the behaviour without a policy. */
export const allowAll: Authorizer = { authorize: () => ALLOWED };

/** Asks `authorizer` and throws POLICY_DENIED (naming identity, action and resource) when it refuses. */
export function enforce(authorizer: Authorizer, identity: Identity, action: Action, resource: Resource): void {
  const decision = authorizer.authorize(identity, action, resource);
  if (decision.allowed) return;
  const what =
    resource.name === undefined ? resource.service : resource.name === '' && action === 'read' ? `all runtime data of ${resource.service}` : `${resource.service} "${resource.name}"`;
  throw new PeerwayError('POLICY_DENIED', `${identity.name} may not ${action} ${what}${decision.reason ? `: ${decision.reason}` : ''}`, {
    details: { identity: identity.name, action, service: resource.service, ...(resource.name !== undefined ? { name: resource.name } : {}) },
  });
}
