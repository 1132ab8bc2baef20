import { PeerwayError } from '../errors.js';
import type { RoutingInstructions } from '../routing/instructions.js';
import { describeResource } from '../routing/route-table.js';
import { takenRoutes } from './link-opener.js';
import type { Session } from './session.js';

export interface FailoverHooks {
  warn(text: string): void;
  /** Try the link again in the background; when it is back its resources move back to it. */
  later(): void;
}

/**
 * A direct link of a live session dropped (the peer's host went away, a cable, a firewall): its resources
 * move to the next route the instructions list for them (another link, or the server), the service is
 * told, subscriptions follow, and the link is tried again to move them back. A resource whose only route
 * is that link (`required`) stays on it and fails with LINK_FAILED until it is back.
 *
 * What is guaranteed across the switch: no event is delivered twice (the server stops relaying a resource
 * as soon as the session reports it direct, and the dead link carries nothing); runtime data converges
 * (each watch gets a fresh snapshot on its new route); events the service emitted between the link's
 * loss and the switch (the time to notice, plus one round trip) are not delivered.
 */
export function failOver(session: Session, instructions: RoutingInstructions, link: string, reason: string, hooks: FailoverHooks): void {
  const links = session.openLinks();
  links.delete(link);
  const before = session.chosenRoutes;
  const { routes } = takenRoutes(instructions, new Set(links.keys()), new Map([[link, reason]]), true);
  const moved = Object.keys(before).filter((k) => before[k]?.linkType === 'direct' && before[k]?.link === link);
  hooks.later();
  if (moved.length === 0) return;
  const stuck = moved.filter((k) => routes[k]?.link === link);
  const where = (k: string) => (routes[k]?.linkType === 'direct' ? `link ${routes[k]?.link}` : 'the server route');
  const parts = moved.filter((k) => !stuck.includes(k)).map((k) => `${describeResource(k)} → ${where(k)}`);
  hooks.warn(
    `${session.service}: direct link ${link} dropped (${reason})` +
      (parts.length > 0 ? `; moved ${parts.join(', ')}` : '') +
      (stuck.length > 0 ? `; ${stuck.map(describeResource).join(', ')} need this link and fail with LINK_FAILED until it is back` : '') +
      '; the link is tried again and they move back when it is up',
  );
  session.reroute(links, routes).catch((err: unknown) => {
    // The server may be away too (then the reconnect reports the routes) or the session ending meanwhile.
    if (!session.ended) hooks.warn(`${session.service}: could not report the failover of link ${link}: ${PeerwayError.from(err).message}`);
  });
}
