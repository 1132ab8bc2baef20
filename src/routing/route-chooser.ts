import { PeerwayError } from '../errors.js';
import { getBearer, hasBearer } from '../bearer/registry.js';
import type { ClientProfile } from '../wire/messages.js';
import type { ResourceKey, RouteAlternative, RouteTable } from './route-table.js';
import { describeResource } from './route-table.js';

/** Why a direct route cannot be used by a given client, or undefined when it can. */
export type LinkCheck = (alternative: RouteAlternative, client: ClientProfile) => string | undefined;

export interface ResourceChoice {
  /** Usable routes for this client, best first; the client takes the first whose link opens. */
  usable: RouteAlternative[];
  /** Routes skipped for this client, with the reason (shown by `peerway call --verbose`). */
  skipped: { alternative: RouteAlternative; reason: string }[];
}

/** The implicit server route: always usable, used when no route names a resource or none is usable. */
export const SERVER_ROUTE: RouteAlternative = { linkType: 'server', required: false };

/**
 * Picks, per resource, the routes this client can use, in document order (DESIGN §4). A server route is
 * always usable; a direct route when `linkCheck` finds no reason against it. A `required` direct route
 * ends the list (no fallback past it); if it is unusable the whole session start fails with BEARER_MISSING
 * naming the service, the resource, the bearer and how to configure it.
 */
export function chooseRoutes(table: RouteTable, client: ClientProfile, linkCheck: LinkCheck): Map<ResourceKey, ResourceChoice> {
  const choices = new Map<ResourceKey, ResourceChoice>();
  for (const key of table.keys()) {
    const choice: ResourceChoice = { usable: [], skipped: [] };
    let closed = false;
    for (const alt of table.alternatives(key)) {
      const reason = alt.linkType === 'server' ? undefined : linkCheck(alt, client);
      if (reason === undefined) choice.usable.push(alt);
      else choice.skipped.push({ alternative: alt, reason });
      if (alt.required) {
        if (reason !== undefined && choice.usable.length === 0) throw requiredRouteError(table, key, alt, reason);
        closed = true;
        break;
      }
    }
    if (!closed && !choice.usable.some((a) => a.linkType === 'server')) choice.usable.push(SERVER_ROUTE);
    choices.set(key, choice);
  }
  return choices;
}

/** Where the service side runs, for the bearers whose reach is one host or one process. */
export interface ServicePlace {
  host: string;
  process: string;
}

/**
 * The standard "can this client use that direct route" rules: the client has the bearer, and the bearer
 * reaches from the client to the service (a same-host bearer needs the same host, a same-process one the
 * same process); then the link must be up.
 */
export function standardLinkCheck(service: ServicePlace, linkDown: (link: string) => string | undefined): LinkCheck {
  return (alt, client) => {
    const bearer = alt.bearer ?? '';
    if (!client.bearers.includes(bearer)) return `the client has no ${bearer} bearer`;
    const reach = hasBearer(bearer) ? getBearer(bearer).reach ?? 'network' : 'network';
    if (reach === 'host' && client.host !== service.host) return `${bearer} works only on the same host, and the client is on another host`;
    if (reach === 'process' && client.process !== service.process) return `${bearer} works only inside one process, and the client is in another process`;
    return linkDown(alt.link ?? '');
  };
}

function requiredRouteError(table: RouteTable, key: ResourceKey, alt: RouteAlternative, reason: string): PeerwayError {
  const resource = describeResource(key);
  const where = alt.pos ? ` (${alt.pos.file}:${alt.pos.line}:${alt.pos.column})` : '';
  return new PeerwayError(
    'BEARER_MISSING',
    `service ${table.definition.name} requires a direct ${alt.bearer} link "${alt.link}" for ${resource}${where}, and this client cannot use it: ${reason}. ` +
      howToConfigure(alt.bearer ?? ''),
    { details: { service: table.definition.name, resource: key, bearer: alt.bearer, link: alt.link } },
  );
}

/** The fix for a client that cannot use a bearer, as the bearer words it (CLI, configuration file, code). */
export function howToConfigure(bearer: string): string {
  return (hasBearer(bearer) ? getBearer(bearer).howToConfigure : undefined) ?? `Enable the ${bearer} bearer on the client`;
}
