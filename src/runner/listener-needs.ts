import { PeerwayError } from '../errors.js';
import type { BearerAttributes } from '../bearer/bearer.js';
import { getBearer, hasBearer } from '../bearer/registry.js';
import { RELIABLE_LINK, type RouteTable } from '../routing/route-table.js';

/**
 * Some link listeners cannot start without attributes of their own (an ssl link presents a certificate
 * and its key: `Bearer.listenerNeeds`), from the runner's adapter for the bearer (--link-cert/--link-key,
 * the adapter of --config) or the `<link>` itself. Checked before the runner connects, so the operator
 * learns it at start-up rather than from a client's fallback warning: returns a CONFIG_INVALID error
 * naming every service and link concerned and the fix.
 */
export function missingListenerAttributes(
  services: Iterable<{ name: string; table: RouteTable }>,
  adapters: Record<string, BearerAttributes>,
): PeerwayError | undefined {
  const problems: string[] = [];
  const bearers = new Set<string>();
  for (const { name, table } of services) {
    for (const [link, decl] of table.links) {
      const needs = hasBearer(decl.bearer) ? getBearer(decl.bearer).listenerNeeds ?? [] : [];
      const attributes = { ...adapters[decl.bearer], ...decl.attributes };
      if (needs.every((n) => attributes[n])) continue;
      bearers.add(decl.bearer);
      problems.push(
        link === RELIABLE_LINK
          ? `service ${name} routes resources on the built-in link "${link}", which uses ${decl.bearer} because this runner reaches the server over ${getBearer(decl.bearer).schemes[0]}`
          : `service ${name} declares the ${decl.bearer} link "${link}"`,
      );
    }
  }
  if (problems.length === 0) return undefined;
  const fixes = [...bearers].map((bearer) => {
    const b = getBearer(bearer);
    const needs = b.listenerNeeds ?? [];
    return b.listenerHelp ?? `a ${bearer} link listens with ${needs.join(' and ')}: set them in the ${bearer} <connectionadapter> of --config (in code: the runner's adapters["${bearer}"])`;
  });
  return new PeerwayError('CONFIG_INVALID', `${problems.join('; ')}; ${fixes.join('; ')}`, { details: { problems } });
}
