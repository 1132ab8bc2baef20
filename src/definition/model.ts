/**
 * The typed model of a service definition XML file (DESIGN §3).
 * Every node keeps the position it came from so later checks (routing, policy) can report file:line:col.
 */

export interface Position {
  file: string;
  line: number; // 1-based
  column: number; // 1-based
}

export const SCALAR_TYPES = ['bool', 'int', 'int64', 'float', 'double', 'string', 'binary'] as const;
export type ScalarTypeName = (typeof SCALAR_TYPES)[number];

/** A reference to a scalar type or to a custom struct declared in `<types>`; `repeated` makes it a list. */
export interface TypeRef {
  name: string;
  repeated: boolean;
}

export interface Field {
  name: string;
  type: TypeRef;
  pos: Position;
}

/** A custom `<type name="…">` struct: an ordered set of typed fields. */
export interface StructType {
  name: string;
  fields: Field[];
  pos: Position;
}

export interface MethodDef {
  name: string;
  arguments: Field[];
  /** `{ name: 'void', repeated: false }` when the method returns nothing. */
  returns: TypeRef;
  pos: Position;
}

export interface EventDef {
  name: string;
  arguments: Field[];
  pos: Position;
}

/**
 * Runtime data is a tree. An element with a `type` (or Kanzi Connect's `datatype`) attribute is a leaf; one
 * without is an object whose children are its elements. `repeated="true"` on either makes it a list of such
 * leaves/objects; Kanzi Connect's `datatype="list"` is a list of objects whose children are the item schema.
 */
export type RuntimeDataNode = RuntimeDataObject | RuntimeDataLeaf;

/** What every runtime-data node may carry besides its shape (mostly from the Kanzi Connect dialect). */
export interface RuntimeDataNodeOptions {
  /** `persistent="1"`: the runner or server keeps the node's value across restarts (see `service/persistence.ts`). */
  persistent?: boolean;
  /** Kanzi Connect's `controller` attribute, kept as written; Peerway does not act on it. */
  controller?: string;
  /** The element's own name when a `name` attribute gave the node another one (for messages). */
  element?: string;
}

export interface RuntimeDataObject extends RuntimeDataNodeOptions {
  kind: 'object';
  name: string; // '' for the root
  path: string; // dot path from the root, '' for the root
  repeated: boolean;
  children: RuntimeDataNode[];
  pos: Position;
}

export interface RuntimeDataLeaf extends RuntimeDataNodeOptions {
  kind: 'leaf';
  name: string;
  path: string;
  type: TypeRef;
  /** Already converted to the leaf's type; the type's zero value when the XML gives no default. */
  default: unknown;
  pos: Position;
}

export type LinkType = 'direct' | 'server' | 'direct_and_server';

/** An explicit link in `<p2p-endpoints>`, or one declared implicitly by a route carrying a bearer. */
export interface LinkDecl {
  name: string;
  bearer: string;
  host?: string;
  port?: number;
  /** Any other attributes (bearer-specific configuration), kept verbatim. */
  attributes: Record<string, string>;
  implicit: boolean;
  pos: Position;
}

export type ResourceKind = 'method' | 'event' | 'runtimedata';

/** `<method name>`, `<event name>`, `<runtimedata path>`; no name/path means every resource of that kind. */
export interface Selector {
  kind: ResourceKind;
  /** method/event name or runtime-data path; undefined selects all of that kind. */
  name?: string;
  pos: Position;
}

export interface RouteDecl {
  link: string;
  linkType: LinkType;
  bearer?: string;
  required: boolean;
  selectors: Selector[];
  pos: Position;
}

export interface RoutingSection {
  endpoints: LinkDecl[];
  routes: RouteDecl[];
  pos: Position;
}

export interface ServiceDefinition {
  name: string;
  fullname?: string;
  version?: string;
  /** The `description` attribute (Kanzi Connect's spelling), else the text of `<description>`. */
  description?: string;
  /**
   * Every attribute of `<service>` as written, `name` included: Kanzi Connect's `namespace`, `package` and
   * `type` (e.g. `simulated`) are kept here for tools that show or generate from them.
   */
  attributes: Record<string, string>;
  /** Path the definition was read from (or a label such as `<inline>`). */
  file: string;
  /** The XML text, so it can be shipped to the server and to clients unchanged. */
  source: string;
  types: Map<string, StructType>;
  methods: Map<string, MethodDef>;
  events: Map<string, EventDef>;
  /** Root object of the runtime data tree (empty children when the service has none). */
  runtimeData: RuntimeDataObject;
  routing?: RoutingSection;
  /** Non-fatal findings (e.g. suspicious but valid constructs). */
  warnings: Diagnostic[];
}

export interface Diagnostic {
  file: string;
  line: number;
  column: number;
  severity: 'error' | 'warning';
  message: string;
}

/** `file:line:col: message`, the format every definition error is printed in. */
export function formatDiagnostic(d: Diagnostic): string {
  return `${d.file}:${d.line}:${d.column}: ${d.severity === 'warning' ? 'warning: ' : ''}${d.message}`;
}
