import type { ChosenRoute } from '../wire/messages.js';
import type { RoutingInstructions } from '../routing/instructions.js';
import { howToConfigure } from '../routing/route-chooser.js';
import { describeResource } from '../routing/route-table.js';

/**
 * The seed's "different protocol" case when the route allows fallback: the service offered a direct route
 * on a bearer this client has no adapter for (typically connect.bearer.ssl), so the client took the next
 * route. That works, but more slowly than the service intended, so say so once per link, with the fix.
 * Bearers the caller left out on purpose (an explicit `bearers` list) are not warned about.
 */
export function missingAdapterWarnings(instructions: RoutingInstructions, routes: Record<string, ChosenRoute>, offered: readonly string[]): string[] {
  const byLink = new Map<string, { bearer: string; resources: string[]; taken: Set<string> }>();
  for (const [key, choice] of instructions.resources) {
    for (const { alternative: alt } of choice.skipped) {
      if (alt.linkType !== 'direct' || !alt.bearer || offered.includes(alt.bearer)) continue;
      const entry = byLink.get(alt.link ?? '') ?? { bearer: alt.bearer, resources: [], taken: new Set<string>() };
      entry.resources.push(describeResource(key));
      const chosen = routes[key];
      entry.taken.add(chosen?.linkType === 'direct' ? `link ${chosen.link}` : 'the server route');
      byLink.set(alt.link ?? '', entry);
    }
  }
  return [...byLink].map(
    ([link, e]) =>
      `${instructions.service}: the direct ${e.bearer} route on link "${link}" (for ${e.resources.join(', ')}) was skipped because this client has no ${e.bearer} connection adapter; ` +
      `using ${[...e.taken].join(' and ')} instead. ${howToConfigure(e.bearer)}`,
  );
}
