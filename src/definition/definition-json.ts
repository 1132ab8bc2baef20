import type { EventDef, Field, MethodDef, RuntimeDataNode, ServiceDefinition, TypeRef } from './model.js';
import { toJsonValue } from './value-text.js';

/** A type as JSON shows it: `int`, `Point`, `string[]` for a repeated one. */
export type TypeName = string;

export interface FieldJson {
  name: string;
  type: TypeName;
}

export interface RuntimeDataJson {
  name: string;
  path: string;
  /** Leaves have a type and a default; objects have children. `[]` marks a repeated one. */
  type?: TypeName;
  default?: unknown;
  /** A list (a repeated leaf, or a list of objects whose `children` describe one element). */
  repeated: boolean;
  children?: RuntimeDataJson[];
  /** `persistent="1"`: the value is kept across restarts. */
  persistent?: true;
  /** Kanzi Connect's `controller`, as written (Peerway does not act on it). */
  controller?: string;
}

/** A service definition as the JSON API, OpenAPI and the inspector show it (positions left out). */
export interface DefinitionJson {
  name: string;
  fullname?: string;
  version?: string;
  description?: string;
  /** Every attribute of `<service>` as written (Kanzi Connect's `namespace`, `package`, `type` …). */
  attributes: Record<string, string>;
  types: { name: string; fields: FieldJson[] }[];
  methods: { name: string; arguments: FieldJson[]; returns: TypeName }[];
  events: { name: string; arguments: FieldJson[] }[];
  runtimeData: RuntimeDataJson;
  routing?: {
    endpoints: { name: string; bearer: string; host?: string; port?: number }[];
    routes: { link: string; linkType: string; required: boolean; resources: { kind: string; name?: string }[] }[];
  };
}

export function typeName(type: TypeRef): TypeName {
  return type.repeated ? `${type.name}[]` : type.name;
}

const fieldJson = (f: Field): FieldJson => ({ name: f.name, type: typeName(f.type) });

function runtimeDataJson(node: RuntimeDataNode): RuntimeDataJson {
  const extra = { ...(node.persistent ? { persistent: true as const } : {}), ...(node.controller !== undefined ? { controller: node.controller } : {}) };
  if (node.kind === 'leaf') {
    return { name: node.name, path: node.path, type: typeName(node.type), default: toJsonValue(node.default), repeated: node.type.repeated, ...extra };
  }
  return { name: node.name, path: node.path, repeated: node.repeated, children: node.children.map(runtimeDataJson), ...extra };
}

/** The JSON form of a definition: what a browser or an HTTP client needs to call and read it. */
export function definitionToJson(definition: ServiceDefinition): DefinitionJson {
  const routing = definition.routing;
  return {
    name: definition.name,
    ...(definition.fullname ? { fullname: definition.fullname } : {}),
    ...(definition.version ? { version: definition.version } : {}),
    ...(definition.description !== undefined ? { description: definition.description } : {}),
    attributes: { ...definition.attributes },
    types: [...definition.types.values()].map((t) => ({ name: t.name, fields: t.fields.map(fieldJson) })),
    methods: [...definition.methods.values()].map((m: MethodDef) => ({ name: m.name, arguments: m.arguments.map(fieldJson), returns: typeName(m.returns) })),
    events: [...definition.events.values()].map((e: EventDef) => ({ name: e.name, arguments: e.arguments.map(fieldJson) })),
    runtimeData: runtimeDataJson(definition.runtimeData),
    ...(routing
      ? {
          routing: {
            endpoints: routing.endpoints.map((l) => ({ name: l.name, bearer: l.bearer, ...(l.host ? { host: l.host } : {}), ...(l.port !== undefined ? { port: l.port } : {}) })),
            routes: routing.routes.map((r) => ({ link: r.link, linkType: r.linkType, required: r.required, resources: r.selectors.map((s) => ({ kind: s.kind, ...(s.name ? { name: s.name } : {}) })) })),
          },
        }
      : {}),
  };
}
