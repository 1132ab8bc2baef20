import { PeerwayError } from '../errors.js';
import type { BearerAttributes } from '../bearer/bearer.js';
import { Dialer } from '../bearer/dialer.js';
import { formatBearerUrl } from '../bearer/registry.js';
import type { Channel, ChannelHandlers } from '../wire/channel.js';
import type { ChosenRoute } from '../wire/messages.js';
import type { RoutingInstructions } from '../routing/instructions.js';
import { howToConfigure } from '../routing/route-chooser.js';
import { describeResource } from '../routing/route-table.js';

export interface OpenRoutesOptions {
  adapters: Record<string, BearerAttributes>;
  timeoutMs: number;
  /** Handlers for each opened link (pushes arrive on them). */
  handlersFor(link: string): ChannelHandlers;
}

export interface OpenedRoutes {
  links: Map<string, Channel>;
  routes: Record<string, ChosenRoute>;
  warnings: string[];
  /**
   * Links that did not answer within the deadline (rather than refusing): they may come up later, so their
   * dialers are kept; `takenRoutes` with more open links says what to switch to then.
   */
  late: Map<string, Dialer>;
}

/**
 * Follows routing instructions: opens the links (in parallel, each authenticated with the session token,
 * each within the deadline), then takes for each resource the first usable route whose link opened. A link
 * that fails falls back to the next route with a warning saying which resource, which link and why; a
 * `required` route that fails stops the session start with LINK_FAILED and the fix.
 */
export async function openRoutes(instructions: RoutingInstructions, options: OpenRoutesOptions): Promise<OpenedRoutes> {
  const failures = new Map<string, string>();
  const links = new Map<string, Channel>();
  const late = new Map<string, Dialer>();
  await Promise.all(
    instructions.links.map(async (l) => {
      const dialer = linkDialer(instructions, l.name, options);
      try {
        const channel = await dialer.dial();
        channel.start(options.handlersFor(l.name));
        links.set(l.name, channel);
      } catch (err) {
        failures.set(l.name, `${(err as Error).message}`);
        if (err instanceof PeerwayError && err.code === 'TIMEOUT') late.set(l.name, dialer);
      }
    }),
  );

  let taken: TakenRoutes;
  try {
    taken = takenRoutes(instructions, new Set(links.keys()), failures);
  } catch (err) {
    for (const c of links.values()) c.close('session start failed');
    throw err;
  }
  // Links no resource ended up on are closed rather than kept idle.
  const used = new Set(Object.values(taken.routes).map((r) => r.link));
  for (const [name, c] of links) {
    if (!used.has(name)) {
      c.close('not used by any route');
      links.delete(name);
    }
  }
  return { links, routes: taken.routes, warnings: taken.warnings, late };
}

/** A Dialer for one link of the instructions: its address, its token, the deadline. */
export function linkDialer(instructions: RoutingInstructions, name: string, options: Pick<OpenRoutesOptions, 'adapters' | 'timeoutMs'>): Dialer {
  const l = instructions.links.find((x) => x.name === name);
  if (!l) throw new PeerwayError('PROTOCOL', `the routing instructions of ${instructions.service} have no link "${name}"`);
  const attributes = options.adapters[l.address.bearer];
  return new Dialer(l.address, {
    connect: { ...(attributes ? { attributes } : {}), timeoutMs: options.timeoutMs, peer: `the runner of ${instructions.service}` },
    hello: { role: 'link', token: l.token, session: instructions.session, link: l.name, timeoutMs: options.timeoutMs },
    label: `link ${l.name} of ${instructions.service} at ${formatBearerUrl(l.address)}`,
  });
}

export interface TakenRoutes {
  routes: Record<string, ChosenRoute>;
  warnings: string[];
}

/**
 * For each resource, the first usable route whose link is open (`open`), in the order of the instructions;
 * the server route ends every list. `failures` gives the reason for a link that is not open, for the
 * warnings. LINK_FAILED when a `required` route's link is not open, unless `keepRequired`: then the
 * resource stays on that link (and fails with LINK_FAILED until it is back), as after a failover, where
 * stopping the whole session would lose everything else.
 */
export function takenRoutes(
  instructions: RoutingInstructions,
  open: ReadonlySet<string>,
  failures: ReadonlyMap<string, string> = new Map(),
  keepRequired = false,
): TakenRoutes {
  const routes: Record<string, ChosenRoute> = {};
  const warnings: string[] = [];
  for (const [key, choice] of instructions.resources) {
    let chosen: ChosenRoute | undefined;
    const notes: string[] = [];
    for (const alt of choice.usable) {
      if (alt.linkType === 'server') {
        chosen = { linkType: 'server' };
        break;
      }
      const link = alt.link ?? '';
      if (open.has(link)) {
        chosen = { linkType: 'direct', link };
        break;
      }
      const why = failures.get(link) ?? `link ${link} is not in the routing instructions`;
      if (alt.required && keepRequired) {
        chosen = { linkType: 'direct', link };
        break;
      }
      if (alt.required) {
        throw new PeerwayError(
          'LINK_FAILED',
          `service ${instructions.service} requires the direct ${alt.bearer} link "${link}" for ${describeResource(key)}, and it could not be opened: ${why}. ${howToConfigure(alt.bearer ?? '')}`,
          { details: { service: instructions.service, resource: key, link, bearer: alt.bearer } },
        );
      }
      notes.push(`link ${link} (${alt.bearer}) could not be opened: ${why}`);
    }
    chosen ??= { linkType: 'server' };
    if (notes.length > 0) {
      warnings.push(`${instructions.service} ${describeResource(key)}: ${notes.join('; ')}; using ${chosen.linkType === 'direct' ? `link ${chosen.link}` : 'the server route'} instead`);
    }
    routes[key] = chosen;
  }
  return { routes, warnings };
}
