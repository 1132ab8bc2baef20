import { PeerwayError } from '../errors.js';
import { RuntimeDataTree } from '../definition/runtime-data-tree.js';
import type { Action } from '../policy/authorizer.js';
import type { RouteTable } from '../routing/route-table.js';
import type { ServiceRuntime } from '../service/service-runtime.js';
import type { RequestHandlers } from '../wire/channel.js';
import type { SubscriptionKind } from '../wire/messages.js';
import type { RunnerSession } from './runner-session.js';
import { redactDenied } from '../policy/redact.js';

/** What a link needs from the service it belongs to (ServiceHost provides it). */
export interface LinkedService {
  readonly name: string;
  readonly runtime: ServiceRuntime;
  readonly table: RouteTable;
  /** The runner's authorization point for direct traffic; throws POLICY_DENIED. */
  authorize(session: RunnerSession, action: Action, name?: string): void;
}

/**
 * Serves one peer-to-peer link of one session. Only resources this session routed to this link are served
 * here: a client cannot reach a resource over a link its routing did not give it, and every request passes
 * the runner's authorization point with the session's identity, so bypassing the server bypasses nothing.
 */
export function serveLink(service: LinkedService, session: RunnerSession, link: string): RequestHandlers {
  const notRouted = (what: string) =>
    new PeerwayError('PROTOCOL', `${what} of ${service.name} is not routed to link ${link} for this session; use the route given in the routing instructions`);
  const ownSession = (id: unknown) => {
    if (id !== undefined && id !== session.id) throw new PeerwayError('UNAUTHORIZED', `link ${link} belongs to another session`);
    // The routes this link may serve are known once the client reported them (checked against the offer).
    if (!session.ready) throw new PeerwayError('PROTOCOL', `session ${session.id} of ${service.name} is not ready yet: report the routes taken (ready) before using link ${link}`);
  };

  const subscribe = (kind: SubscriptionKind, name: string): unknown => {
    const definition = service.runtime.definition;
    if (kind === 'event') {
      if (name && !definition.events.has(name)) {
        throw new PeerwayError('EVENT_NOT_FOUND', `service ${definition.name} has no event "${name}"`);
      }
      if (name && session.directLink(`event:${name}`) !== link) throw notRouted(`event "${name}"`);
      service.authorize(session, 'subscribe', name || undefined);
      session.subscribe(link, 'event', name);
      return undefined;
    }
    if (kind !== 'data') throw new PeerwayError('PROTOCOL', `unknown subscription kind (expected "event" or "data")`);
    RuntimeDataTree.nodeAt(definition.runtimeData, name, definition);
    const routed = service.table.dataKeysUnder(name).some((k) => session.directLink(k) === link);
    if (!routed) throw notRouted(`runtime data "${name}"`);
    service.authorize(session, 'read', name);
    session.subscribe(link, 'data', name);
    const hidden = session.grants.deniedInside(name);
    const snapshot = service.runtime.tree.get(name);
    return hidden.length === 0 ? snapshot : redactDenied(snapshot, name, hidden);
  };

  return {
    call: (m) => {
      ownSession(m.session);
      if (session.directLink(service.table.methodKey(m.method)) !== link) throw notRouted(`method "${m.method}"`);
      service.authorize(session, 'call', m.method);
      return service.runtime.invoke(m.method, m.args, { session: session.id, route: 'direct', identity: session.identity });
    },
    subscribe: (m) => {
      ownSession(m.session);
      return subscribe(m.kind, m.name ?? '');
    },
    unsubscribe: (m) => {
      ownSession(m.session);
      session.unsubscribe(link, m.kind, m.name);
    },
  };
}
