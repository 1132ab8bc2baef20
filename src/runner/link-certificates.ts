import { PeerwayError } from '../errors.js';
import type { BearerAttributes } from '../bearer/bearer.js';
import { RELIABLE_LINK, type RouteTable } from '../routing/route-table.js';

const SSL = 'connect.bearer.ssl';

/**
 * An ssl link listener presents a certificate, so it cannot start without `certificate` and `key` — from
 * the runner's ssl adapter (--link-cert/--link-key, the ssl adapter of --config) or the `<link>` itself.
 * Checked before the runner connects, so the operator learns it at start-up rather than from a client's
 * fallback warning: returns a CONFIG_INVALID error naming every service and link concerned and the fix.
 */
export function missingLinkCertificates(
  services: Iterable<{ name: string; table: RouteTable }>,
  adapters: Record<string, BearerAttributes>,
): PeerwayError | undefined {
  const problems: string[] = [];
  for (const { name, table } of services) {
    for (const [link, decl] of table.links) {
      if (decl.bearer !== SSL) continue;
      const attributes = { ...adapters[SSL], ...decl.attributes };
      if (attributes.certificate && attributes.key) continue;
      problems.push(
        link === RELIABLE_LINK
          ? `service ${name} routes resources on the built-in link "${link}", which uses ${SSL} because this runner reaches the server over ssl`
          : `service ${name} declares the ${SSL} link "${link}"`,
      );
    }
  }
  if (problems.length === 0) return undefined;
  return new PeerwayError(
    'CONFIG_INVALID',
    `${problems.join('; ')}; an ssl link listens with a certificate and its key, and this runner has none: ` +
      'pass --link-cert FILE --link-key FILE, or add <attribute name="certificate" value="FILE"/> and <attribute name="key" value="FILE"/> ' +
      `to the ${SSL} <connectionadapter> of --config (in code: the runner's adapters["${SSL}"].certificate and .key)`,
    { details: { problems } },
  );
}
