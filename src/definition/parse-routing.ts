import { didYouMean } from './did-you-mean.js';
import type { LinkDecl, LinkType, ResourceKind, RouteDecl, RoutingSection, Selector, ServiceDefinition } from './model.js';
import { IDENTIFIER, NameScope, type ParseContext } from './parse-context.js';
import { findRuntimeDataNode } from './runtime-data-tree.js';
import type { XmlAttribute, XmlElement } from './xml-tree.js';

/**
 * `<routing>` → {@link RoutingSection}, with the consistency rules of DESIGN §4 checked here so the
 * route chooser can trust the model: every direct route names a link that exists (explicit, built-in or
 * declared implicitly by a route's bearer), bearers agree, selectors name real resources.
 */

/** Links every remote service has without configuration. */
export const BUILTIN_LINKS = ['reliable', 'unreliable'] as const;
/** The values `linkType` may take. */
export const LINK_TYPES: readonly LinkType[] = ['direct', 'server', 'direct_and_server'];

const SELECTOR_ATTRIBUTE: Record<ResourceKind, string> = { method: 'name', event: 'name', runtimedata: 'path' };
const isBuiltinLink = (name: string): boolean => (BUILTIN_LINKS as readonly string[]).includes(name);
const at = (el: { pos: { line: number; column: number } }): string => `${el.pos.line}:${el.pos.column}`;

type Targets = Pick<ServiceDefinition, 'methods' | 'events' | 'runtimeData'>;

interface ParsedRoute {
  route: RouteDecl;
  el: XmlElement;
  /** The bearer attribute when its value is a known bearer (unknown ones are already reported). */
  bearer?: XmlAttribute;
}

/** Reads `<routing>`; `targets` supplies the methods, events and runtime data selectors may name. */
export function parseRouting(el: XmlElement, ctx: ParseContext, targets: Targets): RoutingSection {
  ctx.checkAttributes(el, []);
  const links = new NameScope<LinkDecl>(ctx, 'link');
  const routes: ParsedRoute[] = [];
  let endpoints: XmlElement | undefined;
  for (const child of ctx.checkChildren(el, ['p2p-endpoints', 'route'])) {
    if (child.name === 'route') {
      const parsed = parseRoute(child, ctx, targets);
      if (parsed) routes.push(parsed);
    } else if (endpoints) {
      ctx.error(child.pos, `<p2p-endpoints> appears twice; the first is at ${at(endpoints)}; merge them into one`);
    } else {
      endpoints = child;
      ctx.checkAttributes(child, []);
      for (const linkEl of ctx.checkChildren(child, ['link'])) {
        const link = parseLink(linkEl, ctx);
        if (link) links.add(link.name, link, linkEl.pos);
      }
    }
  }

  // Implicit links come from direct routes carrying a bearer; collected before any route is checked,
  // so a route may use a link that a later route declares.
  const implicit = new Map<string, { link: LinkDecl; route: ParsedRoute }>();
  for (const parsed of routes) {
    const { route, bearer } = parsed;
    if (route.linkType === 'server' || !bearer || isBuiltinLink(route.link) || links.items.has(route.link)) continue;
    if (implicit.has(route.link)) continue;
    const link: LinkDecl = { name: route.link, bearer: bearer.value, attributes: {}, implicit: true, pos: route.pos };
    implicit.set(route.link, { link, route: parsed });
  }
  for (const parsed of routes) checkRouteLink(parsed, ctx, links.items, implicit);

  return {
    endpoints: [...links.items.values(), ...[...implicit.values()].map((i) => i.link)],
    routes: routes.map((r) => r.route),
    pos: el.pos,
  };
}

function checkBearer(attr: XmlAttribute, ctx: ParseContext): boolean {
  const known = ctx.bearers;
  if (known === undefined ? attr.value !== '' : known.includes(attr.value)) return true;
  const list = known?.join(', ') ?? 'none';
  ctx.error(attr.pos, `unknown bearer "${attr.value}"${didYouMean(attr.value, known ?? [])}; known bearers: ${list}`);
  return false;
}

function parseLink(el: XmlElement, ctx: ParseContext): LinkDecl | undefined {
  ctx.checkChildren(el, []);
  const name = ctx.identifier(el, 'name', 'link');
  const bearerAttr = ctx.required(el, 'bearer', `<link name="${name ?? 'rt_link'}" bearer="connect.bearer.tcp" port="0"/>`);
  const bearerOk = bearerAttr !== undefined && checkBearer(bearerAttr, ctx);
  if (name && isBuiltinLink(name)) {
    ctx.error(el.attributes.get('name')?.pos ?? el.pos, `link "${name}" is built in and cannot be redeclared; give this link another name`);
    return undefined;
  }
  const link: LinkDecl = { name: name ?? '', bearer: bearerAttr?.value ?? '', attributes: {}, implicit: false, pos: el.pos };
  for (const attr of el.attributes.values()) {
    if (attr.name === 'host') link.host = attr.value;
    else if (attr.name === 'port') {
      if (/^\d{1,5}$/.test(attr.value) && Number(attr.value) <= 65535) link.port = Number(attr.value);
      else ctx.error(attr.pos, `port "${attr.value}" of link "${link.name}" must be a whole number from 0 to 65535 (0 picks a free port)`);
    } else if (attr.name !== 'name' && attr.name !== 'bearer') link.attributes[attr.name] = attr.value;
  }
  return name && bearerOk ? link : undefined;
}

function parseRoute(el: XmlElement, ctx: ParseContext, targets: Targets): ParsedRoute | undefined {
  ctx.checkAttributes(el, ['link', 'linkType', 'bearer', 'required']);
  const linkAttr = ctx.required(el, 'link', '<route link="reliable" linkType="direct">');
  const typeAttr = ctx.required(el, 'linkType', '<route link="reliable" linkType="direct">');
  let linkType: LinkType | undefined;
  if (typeAttr) {
    if ((LINK_TYPES as readonly string[]).includes(typeAttr.value)) linkType = typeAttr.value as LinkType;
    else {
      ctx.error(
        typeAttr.pos,
        `linkType "${typeAttr.value}" is not valid${didYouMean(typeAttr.value, LINK_TYPES)}; use direct (peer-to-peer), server (relayed by the server) or direct_and_server (both)`,
      );
    }
  }
  if (linkAttr && !IDENTIFIER.test(linkAttr.value)) {
    ctx.error(linkAttr.pos, `link name "${linkAttr.value}" is not an identifier; use letters, digits and _ and do not start with a digit`);
  }
  const bearerAttr = el.attributes.get('bearer');
  const bearerOk = bearerAttr !== undefined && checkBearer(bearerAttr, ctx);
  const required = ctx.flag(el, 'required');
  const requiredAttr = el.attributes.get('required');
  if (required && linkType === 'server' && requiredAttr) {
    ctx.error(
      requiredAttr.pos,
      `required="true" applies only to direct routes (a server route is always usable); remove it, or use linkType="direct" or "direct_and_server"`,
    );
  }
  const selectors: Selector[] = [];
  for (const selEl of ctx.checkChildren(el, ['method', 'event', 'runtimedata'])) {
    const selector = parseSelector(selEl, ctx, targets);
    if (selector) selectors.push(selector);
  }
  if (el.children.length === 0) {
    ctx.warning(el.pos, `this route selects nothing; add <method/>, <event/> or <runtimedata/> (without a name they select all of that kind)`);
  }
  if (!linkAttr || !linkType) return undefined;
  const route: RouteDecl = { link: linkAttr.value, linkType, required, selectors, pos: el.pos };
  if (bearerAttr) route.bearer = bearerAttr.value;
  return bearerOk ? { route, el, bearer: bearerAttr } : { route, el };
}

function parseSelector(el: XmlElement, ctx: ParseContext, targets: Targets): Selector | undefined {
  const kind = el.name as ResourceKind;
  const attrName = SELECTOR_ATTRIBUTE[kind];
  ctx.checkAttributes(el, [attrName]);
  ctx.checkChildren(el, []);
  const attr = el.attributes.get(attrName);
  const selector: Selector = { kind, pos: el.pos };
  if (!attr || attr.value === '') return selector;
  selector.name = attr.value;
  if (kind === 'runtimedata') {
    const found = findRuntimeDataNode(targets.runtimeData, attr.value);
    if ('problem' in found) ctx.error(attr.pos, `route selects runtime data "${attr.value}", which does not exist: ${found.problem}`);
    return selector;
  }
  const declared = kind === 'method' ? targets.methods : targets.events;
  if (!declared.has(attr.value)) {
    const names = [...declared.keys()];
    const list = names.length === 0 ? `the service declares no ${kind}s` : `${kind}s: ${names.join(', ')}`;
    ctx.error(attr.pos, `route selects ${kind} "${attr.value}", which the service does not declare${didYouMean(attr.value, names)}; ${list}`);
  }
  return selector;
}

/** Checks that a route's link exists and that its bearer agrees with the link's. */
function checkRouteLink(
  parsed: ParsedRoute,
  ctx: ParseContext,
  explicit: Map<string, LinkDecl>,
  implicit: Map<string, { link: LinkDecl; route: ParsedRoute }>,
): void {
  const { route, el } = parsed;
  const bearerAttr = el.attributes.get('bearer');
  const bearer = parsed.bearer?.value;
  if (isBuiltinLink(route.link)) {
    if (bearerAttr) {
      const why = route.link === 'reliable' ? 'uses the bearer the runner reached the server with' : 'always uses connect.bearer.udp';
      ctx.error(
        bearerAttr.pos,
        `a route on the built-in link "${route.link}" cannot set a bearer (that link ${why}); remove bearer, or name another link to declare one with this bearer`,
      );
    }
    return;
  }
  const declared = explicit.get(route.link);
  if (declared) {
    if (bearer && declared.bearer !== '' && bearer !== declared.bearer && bearerAttr) {
      ctx.error(
        bearerAttr.pos,
        `route bearer "${bearer}" differs from link "${route.link}" declared with bearer "${declared.bearer}" at ${at(declared)}; remove bearer from the route or make the two the same`,
      );
    }
    return;
  }
  const shared = implicit.get(route.link);
  if (shared) {
    if (bearer && bearer !== shared.link.bearer && bearerAttr) {
      ctx.error(
        bearerAttr.pos,
        `link "${route.link}" is declared by the route at ${at(shared.route.route)} with bearer "${shared.link.bearer}"; routes naming the same link share it, so use the same bearer`,
      );
    }
    return;
  }
  // A server route's link is only a label: the server relays over the service's own connection.
  if (route.linkType === 'server' || bearerAttr) return;
  const names = [...explicit.keys(), ...implicit.keys(), ...BUILTIN_LINKS];
  ctx.error(
    el.attributes.get('link')?.pos ?? el.pos,
    `link "${route.link}" is not declared${didYouMean(route.link, names)}; declare it in <p2p-endpoints>, add bearer="connect.bearer.tcp" to this route to declare it here, or use the built-in link "reliable" or "unreliable"`,
  );
}
