import type { LinkDecl, Position, ResourceKind, ServiceDefinition } from '../definition/model.js';

/**
 * A resource as routing sees it: `method:NAME`, `event:NAME` or `data:PATH`. Runtime data is routed by
 * subtree: the paths that route selectors name (plus the root '') are its resources, and a change at a
 * path belongs to the longest of them that contains it.
 */
export type ResourceKey = string;

export function resourceKey(kind: ResourceKind, name: string): ResourceKey {
  return `${kind === 'runtimedata' ? 'data' : kind}:${name}`;
}

export function parseResourceKey(key: ResourceKey): { kind: ResourceKind; name: string } {
  const i = key.indexOf(':');
  const prefix = key.slice(0, i);
  return { kind: prefix === 'data' ? 'runtimedata' : (prefix as ResourceKind), name: key.slice(i + 1) };
}

/** A resource in words, for messages: `method "setTemperature"`, `runtime data "cabin"`, `runtime data (all)`. */
export function describeResource(key: ResourceKey): string {
  const { kind, name } = parseResourceKey(key);
  return kind === 'runtimedata' ? `runtime data ${name ? `"${name}"` : '(all)'}` : `${kind} "${name}"`;
}

/** One way to reach a resource, in document order (direct_and_server is already split in two). */
export interface RouteAlternative {
  linkType: 'direct' | 'server';
  /** The link name (for server routes only a label from the XML, if any). */
  link?: string;
  /** The link's bearer (direct routes). */
  bearer?: string;
  required: boolean;
  pos?: Position;
}

/** The links every remote service has without configuration; their bearers are filled in by the runner. */
export const RELIABLE_LINK = 'reliable';
export const UNRELIABLE_LINK = 'unreliable';
export const UDP_BEARER = 'connect.bearer.udp';

/**
 * The routing section of a definition, resolved into alternatives per resource. Built once per service;
 * the per-client choice is made by the route chooser.
 */
export class RouteTable {
  private readonly byKey = new Map<ResourceKey, RouteAlternative[]>();
  /** The declared methods' keys, made once: a key built for each call is a string to flatten and hash again. */
  private readonly methodKeys = new Map<string, ResourceKey>();
  /** Runtime-data subtrees that routes name, longest first (for dataKey lookups). */
  private readonly dataPaths: string[];
  /** Links used by direct routes, with the built-in ones resolved to `reliableBearer` / udp. */
  readonly links = new Map<string, LinkDecl>();
  /** Whether the service publishes runtime data to the server on its primary connection (DESIGN §4). */
  readonly publishesDataToServer: boolean;
  readonly hasRouting: boolean;

  constructor(readonly definition: ServiceDefinition, reliableBearer: string) {
    const routing = definition.routing;
    this.hasRouting = routing !== undefined;
    const declared = new Map((routing?.endpoints ?? []).map((l) => [l.name, l]));
    const linkFor = (name: string, pos: Position): LinkDecl => {
      const builtin = name === RELIABLE_LINK ? reliableBearer : name === UNRELIABLE_LINK ? UDP_BEARER : undefined;
      const decl = declared.get(name) ?? { name, bearer: builtin ?? 'connect.bearer.tcp', attributes: {}, implicit: true, pos };
      this.links.set(name, decl);
      return decl;
    };

    const paths = new Set<string>(['']);
    for (const r of routing?.routes ?? []) for (const s of r.selectors) if (s.kind === 'runtimedata') paths.add(s.name ?? '');
    this.dataPaths = [...paths].sort((a, b) => b.length - a.length);

    for (const m of definition.methods.keys()) this.methodKeys.set(m, resourceKey('method', m));
    const keys: ResourceKey[] = [
      ...this.methodKeys.values(),
      ...[...definition.events.keys()].map((e) => resourceKey('event', e)),
      ...this.dataPaths.map((p) => resourceKey('runtimedata', p)),
    ];
    for (const key of keys) this.byKey.set(key, []);

    for (const route of routing?.routes ?? []) {
      const kinds: ('direct' | 'server')[] = route.linkType === 'direct_and_server' ? ['direct', 'server'] : [route.linkType];
      for (const linkType of kinds) {
        const alternative: RouteAlternative =
          linkType === 'direct'
            ? { linkType, link: route.link, bearer: linkFor(route.link, route.pos).bearer, required: route.required, pos: route.pos }
            : { linkType, link: route.link, required: false, pos: route.pos };
        for (const key of this.keysSelectedBy(route.selectors)) this.byKey.get(key)!.push(alternative);
      }
    }
    // The seed's rule: runtime data goes to the server whenever some runtime-data route is a server route.
    // Without a routing section every resource is server-routed, so the server's copy must stay current too.
    this.publishesDataToServer =
      !this.hasRouting || [...this.byKey].some(([k, alts]) => k.startsWith('data:') && (alts.length === 0 || alts.some((a) => a.linkType === 'server')));
  }

  /** Every resource of the service, in a stable order. */
  keys(): ResourceKey[] {
    return [...this.byKey.keys()];
  }

  /** The key of a method, declared or not; only the declared ones are kept (a peer may send any name). */
  methodKey(method: string): ResourceKey {
    return this.methodKeys.get(method) ?? resourceKey('method', method);
  }

  /** The routes naming this resource, in document order; empty means "server" (no route names it). */
  alternatives(key: ResourceKey): readonly RouteAlternative[] {
    return this.byKey.get(key) ?? [];
  }

  /** The runtime-data resource a change at `path` belongs to: the longest routed subtree containing it. */
  dataKey(path: string): ResourceKey {
    for (const p of this.dataPaths) {
      if (p === '' || path === p || path.startsWith(p + '.')) return resourceKey('runtimedata', p);
    }
    return resourceKey('runtimedata', '');
  }

  /** Runtime-data resources overlapping a watch at `path` (its own subtree and any routed subtree inside it). */
  dataKeysUnder(path: string): ResourceKey[] {
    const own = this.dataKey(path);
    const inner = this.dataPaths.filter((p) => p !== '' && path !== p && (path === '' || p.startsWith(path + '.'))).map((p) => resourceKey('runtimedata', p));
    return [own, ...inner];
  }

  private keysSelectedBy(selectors: { kind: ResourceKind; name?: string }[]): ResourceKey[] {
    const out: ResourceKey[] = [];
    for (const s of selectors) {
      if (s.name !== undefined && s.name !== '') {
        out.push(resourceKey(s.kind, s.name));
        continue;
      }
      const all =
        s.kind === 'method' ? [...this.definition.methods.keys()] : s.kind === 'event' ? [...this.definition.events.keys()] : this.dataPaths;
      for (const n of all) out.push(resourceKey(s.kind, n));
    }
    return out;
  }
}
