import { describeResource, parseResourceKey, RouteTable, type ResourceKey, type RouteAlternative } from './route-table.js';
import type { Diagnostic, Position, RuntimeDataNode, ServiceDefinition, TypeRef } from '../definition/model.js';
import { findRuntimeDataNode } from '../definition/runtime-data-tree.js';
import { getBearer, hasBearer } from '../bearer/registry.js';

const where = (p: Position) => `${p.file}:${p.line}:${p.column}`;
const samePlace = (a: Position, b: Position) => a.file === b.file && a.line === b.line && a.column === b.column;

/**
 * Routes that can never be chosen for some resource, as warnings at the route's position. The client takes,
 * per resource, the first route in document order whose link opens (RouteTable.alternatives), so a route
 * is dead after a `required` one (nothing past it is tried), after a server route (always usable), and
 * after a direct route on the same link (if that link did not open, this one will not either). A
 * `direct_and_server` route counts as dead only when both of its halves are.
 */
export function unreachableRoutes(definition: ServiceDefinition): Diagnostic[] {
  if (!definition.routing) return [];
  // The built-in "reliable" link's bearer is the runner's; which one does not matter for shadowing.
  const table = new RouteTable(definition, 'connect.bearer.tcp');
  const found = new Map<string, { pos: Position; reason: string; resources: ResourceKey[] }>();
  for (const key of table.keys()) {
    const live: Position[] = [];
    const dead: { pos: Position; reason: string }[] = [];
    const firstOnLink = new Map<string, RouteAlternative>();
    let end: RouteAlternative | undefined;
    for (const alt of table.alternatives(key)) {
      const pos = alt.pos;
      if (!pos) continue;
      const earlier = alt.linkType === 'direct' ? firstOnLink.get(alt.link ?? '') : undefined;
      let reason: string | undefined;
      if (end?.pos && !samePlace(end.pos, pos)) {
        reason = end.required
          ? `the route at ${where(end.pos)} comes first and is required, so no route after it is tried`
          : `the route at ${where(end.pos)} comes first and goes via the server, which always works, so no route after it is tried`;
      } else if (earlier?.pos && !samePlace(earlier.pos, pos)) {
        reason = `the route at ${where(earlier.pos)} comes first on the same link "${alt.link}": when that link cannot be opened, this one cannot either`;
      }
      if (reason) dead.push({ pos, reason });
      else live.push(pos);
      if (alt.linkType === 'direct' && !firstOnLink.has(alt.link ?? '')) firstOnLink.set(alt.link ?? '', alt);
      if (!end && (alt.required || alt.linkType === 'server')) end = alt;
    }
    for (const d of dead) {
      if (live.some((p) => samePlace(p, d.pos))) continue;
      const id = `${where(d.pos)} ${d.reason}`;
      const entry = found.get(id) ?? { pos: d.pos, reason: d.reason, resources: [] };
      if (!entry.resources.includes(key)) entry.resources.push(key);
      found.set(id, entry);
    }
  }
  return [...found.values()]
    .sort((a, b) => a.pos.line - b.pos.line || a.pos.column - b.pos.column)
    .map((f) => ({
      file: f.pos.file,
      line: f.pos.line,
      column: f.pos.column,
      severity: 'warning' as const,
      message: `this route can never be chosen for ${resourceList(f.resources)}: ${f.reason}`,
    }));
}

function resourceList(keys: ResourceKey[]): string {
  const shown = keys.slice(0, 5).map(describeResource).join(', ');
  return keys.length > 5 ? `${shown} and ${keys.length - 5} more` : shown;
}


/** The payload of one datagram of `bearer` when it carries messages in datagrams (udp), else undefined. */
function datagramBytes(bearer: string | undefined): number | undefined {
  return bearer !== undefined && hasBearer(bearer) ? getBearer(bearer).datagramPayloadBytes : undefined;
}

/**
 * Events and runtime data routed to a datagram link (udp) whose values can be bigger than one datagram:
 * strings, binaries and lists have no bound. They still travel (in fragments), but a lost fragment loses the
 * whole message, and one above the link's message limit (1 MiB) is not sent at all: worth knowing at
 * `check` time.
 */
export function unreliableSizeWarnings(definition: ServiceDefinition): Diagnostic[] {
  if (!definition.routing) return [];
  const table = new RouteTable(definition, 'connect.bearer.tcp');
  const out: Diagnostic[] = [];
  const seen = new Set<string>();
  for (const key of table.keys()) {
    const route = table.alternatives(key).find((a) => a.linkType === 'direct' && datagramBytes(a.bearer) !== undefined);
    if (!route?.pos || !mayExceedDatagram(definition, key)) continue;
    const id = `${where(route.pos)} ${key}`;
    if (seen.has(id)) continue;
    seen.add(id);
    out.push({
      file: route.pos.file,
      line: route.pos.line,
      column: route.pos.column,
      severity: 'warning',
      message:
        `${describeResource(key)} goes on the unreliable link "${route.link}" (${route.bearer}), and its values can be bigger than one datagram (${datagramBytes(route.bearer)} bytes): ` +
        'they then travel in fragments, a lost fragment loses the whole message, and above the link\'s message limit (1 MiB) it is not sent; route it to a reliable link if it can grow',
    });
  }
  return out;
}

/** Whether the values of a resource have no size bound (a string, binary or list somewhere in them). */
function mayExceedDatagram(definition: ServiceDefinition, key: ResourceKey): boolean {
  const { kind, name } = parseResourceKey(key);
  if (kind === 'event') return definition.events.get(name)?.arguments.some((f) => unbounded(definition, f.type)) ?? false;
  if (kind === 'runtimedata') {
    const found = findRuntimeDataNode(definition.runtimeData, name);
    return 'node' in found && nodeUnbounded(definition, found.node);
  }
  return false;
}

function nodeUnbounded(definition: ServiceDefinition, node: RuntimeDataNode): boolean {
  if (node.kind === 'leaf') return unbounded(definition, node.type);
  return node.repeated || node.children.some((c) => nodeUnbounded(definition, c));
}

/** A string, binary or list anywhere in the type (struct fields included; the definition has no cycles). */
function unbounded(definition: ServiceDefinition, type: TypeRef, depth = 0): boolean {
  if (type.repeated || type.name === 'string' || type.name === 'binary') return true;
  const struct = definition.types.get(type.name);
  return depth < 64 && struct !== undefined && struct.fields.some((f) => unbounded(definition, f.type, depth + 1));
}
