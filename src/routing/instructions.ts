import { PeerwayError } from '../errors.js';
import { readXmlTree } from '../definition/xml-tree.js';
import type { BearerAddress } from '../bearer/bearer.js';
import type { ResourceKey, RouteAlternative } from './route-table.js';
import { parseResourceKey, resourceKey } from './route-table.js';
import type { ResourceChoice } from './route-chooser.js';

/** A link the client may open: where it is and the token that binds it to this session. */
export interface LinkInstruction {
  name: string;
  address: BearerAddress;
  token: string;
}

export interface RoutingInstructions {
  service: string;
  session: string;
  links: LinkInstruction[];
  resources: Map<ResourceKey, ResourceChoice>;
}

const esc = (v: string) => v.replace(/&/g, '&amp;').replace(/"/g, '&quot;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

/**
 * Renders the per-session routing instructions the service sends the client (through the server) when a
 * session starts. XML, as in the seed; every resource is listed with its usable routes in order, and
 * skipped routes are kept with the reason so a user can see why a client did not get a direct route.
 */
export function renderInstructions(ri: RoutingInstructions): string {
  const out = [`<routing-instructions service="${esc(ri.service)}" session="${esc(ri.session)}" version="1">`];
  for (const l of ri.links) {
    const a = l.address;
    const where = a.path !== undefined ? ` path="${esc(a.path)}"` : '';
    const hostPort = a.host !== undefined ? ` host="${esc(a.host)}" port="${a.port ?? 0}"` : '';
    out.push(`  <link name="${esc(l.name)}" bearer="${esc(a.bearer)}"${hostPort}${where} token="${esc(l.token)}"/>`);
  }
  for (const [key, choice] of ri.resources) {
    const { kind, name } = parseResourceKey(key);
    out.push(`  <resource kind="${kind}" ${kind === 'runtimedata' ? 'path' : 'name'}="${esc(name)}">`);
    for (const r of choice.usable) out.push(`    ${renderRoute('route', r)}/>`);
    for (const s of choice.skipped) out.push(`    ${renderRoute('skipped', s.alternative)} reason="${esc(s.reason)}"/>`);
    out.push('  </resource>');
  }
  out.push('</routing-instructions>');
  return out.join('\n');
}

function renderRoute(tag: string, r: RouteAlternative): string {
  return `<${tag} linkType="${r.linkType}"${r.link && r.linkType === 'direct' ? ` link="${esc(r.link)}"` : ''}${r.bearer ? ` bearer="${esc(r.bearer)}"` : ''}${r.required ? ' required="true"' : ''}`;
}

/** Parses routing instructions received from the server; malformed instructions are a PROTOCOL error. */
export function parseInstructions(xml: string): RoutingInstructions {
  const { root, syntaxError } = readXmlTree(xml, 'routing-instructions');
  const bad = (why: string) => new PeerwayError('PROTOCOL', `malformed routing instructions: ${why}`);
  if (syntaxError || !root) throw bad(syntaxError?.message ?? 'empty');
  if (root.name !== 'routing-instructions') throw bad(`root element is <${root.name}>`);
  const attr = (el: typeof root, name: string) => el.attributes.get(name)?.value;
  const ri: RoutingInstructions = { service: attr(root, 'service') ?? '', session: attr(root, 'session') ?? '', links: [], resources: new Map() };
  for (const el of root.children) {
    if (el.name === 'link') {
      const bearer = attr(el, 'bearer');
      const name = attr(el, 'name');
      const token = attr(el, 'token');
      if (!bearer || !name || !token) throw bad('a <link> lacks name, bearer or token');
      const address: BearerAddress = { bearer };
      const host = attr(el, 'host');
      const port = attr(el, 'port');
      const path = attr(el, 'path');
      if (host !== undefined) address.host = host;
      if (port !== undefined) address.port = Number(port);
      if (path !== undefined) address.path = path;
      ri.links.push({ name, address, token });
    } else if (el.name === 'resource') {
      const kind = attr(el, 'kind') as 'method' | 'event' | 'runtimedata' | undefined;
      if (kind !== 'method' && kind !== 'event' && kind !== 'runtimedata') throw bad(`unknown resource kind "${kind}"`);
      const name = attr(el, kind === 'runtimedata' ? 'path' : 'name') ?? '';
      const choice: ResourceChoice = { usable: [], skipped: [] };
      for (const r of el.children) {
        const alt: RouteAlternative = { linkType: attr(r, 'linkType') === 'direct' ? 'direct' : 'server', required: attr(r, 'required') === 'true' };
        const link = attr(r, 'link');
        const bearer = attr(r, 'bearer');
        if (link) alt.link = link;
        if (bearer) alt.bearer = bearer;
        if (r.name === 'route') choice.usable.push(alt);
        else if (r.name === 'skipped') choice.skipped.push({ alternative: alt, reason: attr(r, 'reason') ?? '' });
      }
      ri.resources.set(resourceKey(kind, name), choice);
    }
  }
  return ri;
}
