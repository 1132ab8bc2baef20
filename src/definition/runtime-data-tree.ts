import { PeerwayError } from '../errors.js';
import { didYouMean } from './did-you-mean.js';
import type { RuntimeDataNode, RuntimeDataObject, ServiceDefinition, TypeRef } from './model.js';
import { checkValue, describeType, describeValue, isPlainObject, type TypeScope } from './values.js';

/**
 * The live values of a service's runtime data, shaped by its definition. Paths are dot paths from the
 * root ('' is the whole tree); a numeric segment indexes a list (`zones.1.celsius`) and a struct-typed
 * leaf can be entered by field name (`shape.name`).
 */

/** What the value at some path must look like. */
type Schema =
  | { kind: 'object'; node: RuntimeDataObject }
  | { kind: 'list'; of: Schema }
  | { kind: 'value'; type: TypeRef };

const nodeSchemas = new WeakMap<RuntimeDataNode, Schema>();
const typeSchemas = new WeakMap<TypeRef, Schema>();
const childIndexes = new WeakMap<RuntimeDataObject, Map<string, RuntimeDataNode>>();

function schemaOfNode(node: RuntimeDataNode): Schema {
  let schema = nodeSchemas.get(node);
  if (!schema) {
    if (node.kind === 'leaf') schema = schemaOfType(node.type);
    else {
      const one: Schema = { kind: 'object', node };
      schema = node.repeated ? { kind: 'list', of: one } : one;
    }
    nodeSchemas.set(node, schema);
  }
  return schema;
}

function schemaOfType(type: TypeRef): Schema {
  let schema = typeSchemas.get(type);
  if (!schema) {
    schema = type.repeated ? { kind: 'list', of: { kind: 'value', type: { name: type.name, repeated: false } } } : { kind: 'value', type };
    typeSchemas.set(type, schema);
  }
  return schema;
}

function childOf(node: RuntimeDataObject, name: string): RuntimeDataNode | undefined {
  let index = childIndexes.get(node);
  if (!index) {
    index = new Map(node.children.map((c) => [c.name, c]));
    childIndexes.set(node, index);
  }
  return index.get(name);
}

const label = (walked: string): string => (walked === '' ? 'the root' : `"${walked}"`);

function notFound(service: string, path: string, problem: string): PeerwayError {
  const owner = service === '' ? '' : ` of service ${service}`;
  return new PeerwayError('PATH_NOT_FOUND', `no runtime data at "${path}"${owner}: ${problem}`, { details: { path } });
}

function missingChild(node: RuntimeDataObject, walked: string, segment: string): string {
  const names = node.children.map((c) => c.name);
  const list = names.length === 0 ? 'it has no children' : `its children are: ${names.join(', ')}`;
  return `${label(walked)} has no child "${segment}"${didYouMean(segment, names)}; ${list}`;
}

/**
 * Finds the definition node for `path`. With `indices` (value paths), a list must be followed by a
 * numeric segment, which addresses an element whose node is the list's own; without (definition paths,
 * as in route selectors) the nodes inside a list are named directly (`zones.celsius`). Segments that go into a
 * struct-typed leaf are checked against `scope` when given, and the leaf is returned.
 * Returns a problem description instead of throwing, for callers that collect diagnostics.
 */
export function findRuntimeDataNode(
  root: RuntimeDataObject,
  path: string,
  options: { indices?: boolean; scope?: TypeScope } = {},
): { node: RuntimeDataNode } | { problem: string } {
  if (path === '') return { node: root };
  let node: RuntimeDataNode = root;
  let schema = schemaOfNode(root);
  let walked = '';
  for (const segment of path.split('.')) {
    if (segment === '') return { problem: `"${path}" has an empty segment; write paths like cabin.temperature` };
    // Definition paths (route selectors) name the nodes inside a list without an index.
    if (schema.kind === 'list' && !options.indices) schema = schema.of;
    if (schema.kind === 'list' && options.indices && /^\d+$/.test(segment)) {
      schema = schema.of;
    } else if (schema.kind === 'object') {
      const child = childOf(schema.node, segment);
      if (!child) return { problem: missingChild(schema.node, walked, segment) };
      node = child;
      schema = schemaOfNode(child);
    } else if (schema.kind === 'list') {
      return { problem: `${label(walked)} is a list; the next segment must be an element index` };
    } else {
      const struct = options.scope?.types.get(schema.type.name);
      const field = struct?.fields.find((f) => f.name === segment);
      if (!field) {
        const fields = struct ? `; its fields are: ${struct.fields.map((f) => f.name).join(', ')}` : '';
        return { problem: `${label(walked)} is a leaf of type ${schema.type.name} and has no child "${segment}"${fields}` };
      }
      schema = schemaOfType(field.type);
    }
    walked = walked === '' ? segment : `${walked}.${segment}`;
  }
  return { node };
}

/** Deep copy of a value tree: plain objects, arrays and byte arrays are copied, scalars shared. */
export function cloneValue<T>(value: T): T {
  if (typeof value !== 'object' || value === null) return value;
  if (value instanceof Uint8Array) return value.slice() as T;
  if (Array.isArray(value)) return value.map(cloneValue) as T;
  const out: Record<string, unknown> = {};
  for (const key of Object.keys(value)) out[key] = cloneValue((value as Record<string, unknown>)[key]);
  return out as T;
}

/** The values of a fresh tree: each leaf's default, an empty list for each list. Without recursion. */
function initialValue(root: RuntimeDataObject): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  const pending: Array<[RuntimeDataObject, Record<string, unknown>]> = [[root, out]];
  for (let next = pending.pop(); next; next = pending.pop()) {
    const [node, values] = next;
    for (const child of node.children) {
      if (child.kind === 'leaf') values[child.name] = cloneValue(child.default);
      else if (child.repeated) values[child.name] = [];
      else {
        const inner: Record<string, unknown> = {};
        values[child.name] = inner;
        pending.push([child, inner]);
      }
    }
  }
  return out;
}

interface Resolved {
  schema: Schema;
  /** The container holding the value (undefined for the root). */
  parent: Record<string | number, unknown> | undefined;
  key: string | number;
  value: unknown;
}

/**
 * Current runtime data values of one service, initialised from the definition's defaults. Every
 * write is checked against the definition; a failed write leaves the tree unchanged.
 */
export class RuntimeDataTree {
  private values: Record<string, unknown>;
  private readonly service: string;

  constructor(private readonly definition: Pick<ServiceDefinition, 'types' | 'runtimeData'> & { name?: string }) {
    this.service = definition.name ?? '';
    this.values = initialValue(definition.runtimeData);
  }

  /**
   * The definition node at `path` ('' is the root; numeric segments after a list are accepted, and
   * segments inside a struct-typed leaf are checked against `scope` when given and yield the leaf).
   * @throws PeerwayError `PATH_NOT_FOUND` naming the path and the valid children where it failed.
   */
  static nodeAt(root: RuntimeDataObject, path: string, scope?: TypeScope): RuntimeDataNode {
    const found = findRuntimeDataNode(root, path, { indices: true, ...(scope ? { scope } : {}) });
    if ('problem' in found) throw notFound('', path, found.problem);
    return found.node;
  }

  /** A copy of the value at `path` ('' = the whole tree as a plain object). @throws `PATH_NOT_FOUND` */
  get(path: string): unknown {
    return cloneValue(this.resolve(path).value);
  }

  /** A deep copy of the whole tree. */
  snapshot(): Record<string, unknown> {
    return cloneValue(this.values);
  }

  /**
   * Checks `value` against the node at `path` (a leaf, a whole object, a list, a list element or a
   * field inside one), stores a copy and returns the stored, normalised value (do not mutate it).
   * @throws PeerwayError `PATH_NOT_FOUND` for an unknown path, `BAD_ARGUMENT` for a value that does not fit.
   */
  set(path: string, value: unknown): unknown {
    const target = this.resolve(path);
    const stored = cloneValue(this.check(target.schema, value, path));
    this.store(target, stored);
    return stored;
  }

  /**
   * Applies an update received from the owner of the data (the server's copy, a client's mirror). The
   * value is taken over without copying (it is fresh from the wire) but still checked and normalised,
   * so a bad path or value throws and leaves the tree as it was.
   */
  apply(path: string, value: unknown): unknown {
    const target = this.resolve(path);
    const checked = this.check(target.schema, value, path);
    this.store(target, checked);
    return checked;
  }

  /**
   * Like `apply`, but an object value may leave children out: those keep their current value. What a
   * client receives can be partial (the access policy leaves out the parts it may not read).
   */
  applyPartial(path: string, value: unknown): void {
    const node = RuntimeDataTree.nodeAt(this.definition.runtimeData, path, this.definition);
    if (node.kind !== 'object' || node.repeated || !isPlainObject(value)) {
      this.apply(path, value);
      return;
    }
    for (const child of node.children) {
      if (Object.prototype.hasOwnProperty.call(value, child.name)) this.applyPartial(child.path, value[child.name]);
    }
  }

  private store(target: Resolved, value: unknown): void {
    if (target.parent === undefined) this.values = value as Record<string, unknown>;
    else target.parent[target.key] = value;
  }

  private resolve(path: string): Resolved {
    let resolved: Resolved = { schema: schemaOfNode(this.definition.runtimeData), parent: undefined, key: '', value: this.values };
    if (path === '') return resolved;
    let walked = '';
    for (const segment of path.split('.')) {
      const { schema, value } = resolved;
      if (segment === '') throw notFound(this.service, path, `it has an empty segment; write paths like cabin.temperature`);
      let next: Resolved;
      if (schema.kind === 'list') {
        const list = value as unknown[];
        if (!/^\d+$/.test(segment)) {
          throw notFound(this.service, path, `${label(walked)} is a list, so "${segment}" must be an element index (0 to ${list.length - 1})`);
        }
        const index = Number(segment);
        if (index >= list.length) {
          const range = list.length === 0 ? 'it is empty' : `it has ${list.length} element${list.length === 1 ? '' : 's'} (0 to ${list.length - 1})`;
          throw notFound(this.service, path, `index ${index} is out of range for ${label(walked)}: ${range}`);
        }
        next = { schema: schema.of, parent: list as unknown as Record<number, unknown>, key: index, value: list[index] };
      } else if (schema.kind === 'object') {
        const child = childOf(schema.node, segment);
        if (!child) throw notFound(this.service, path, missingChild(schema.node, walked, segment));
        const parent = value as Record<string, unknown>;
        next = { schema: schemaOfNode(child), parent, key: segment, value: parent[segment] };
      } else {
        const struct = this.definition.types.get(schema.type.name);
        const field = struct?.fields.find((f) => f.name === segment);
        if (!field) {
          const fields = struct ? `; its fields are: ${struct.fields.map((f) => f.name).join(', ')}` : '';
          throw notFound(this.service, path, `${label(walked)} is a leaf of type ${schema.type.name} and has no child "${segment}"${fields}`);
        }
        const parent = value as Record<string, unknown>;
        next = { schema: schemaOfType(field.type), parent, key: segment, value: parent[segment] };
      }
      resolved = next;
      walked = walked === '' ? segment : `${walked}.${segment}`;
    }
    return resolved;
  }

  private where(path: string): string {
    const service = this.service === '' ? '' : `${this.service} `;
    return path === '' ? `${service}runtime data` : `${service}runtime data "${path}"`;
  }

  /** Checks (and normalises) a value for `schema`, naming the exact path of any mismatch. */
  private check(schema: Schema, value: unknown, path: string): unknown {
    if (schema.kind === 'value') return checkValue(this.definition, schema.type, value, this.where(path));
    if (schema.kind === 'list') {
      if (!Array.isArray(value)) {
        throw new PeerwayError('BAD_ARGUMENT', `${this.where(path)} must be a list, got ${describeValue(value)}`, { details: { path } });
      }
      let out: unknown[] | undefined;
      for (let i = 0; i < value.length; i++) {
        const checked = this.check(schema.of, value[i], path === '' ? String(i) : `${path}.${i}`);
        if (checked !== value[i]) (out ??= value.slice())[i] = checked;
      }
      return out ?? value;
    }
    const children = schema.node.children;
    const names = children.map((c) => c.name);
    if (!isPlainObject(value)) {
      throw new PeerwayError('BAD_ARGUMENT', `${this.where(path)} must be an object with ${names.join(', ') || 'no fields'}, got ${describeValue(value)}`, {
        details: { path },
      });
    }
    let out: Record<string, unknown> | undefined;
    for (const child of children) {
      const childPath = path === '' ? child.name : `${path}.${child.name}`;
      if (!Object.prototype.hasOwnProperty.call(value, child.name) || value[child.name] === undefined) {
        const expected = child.kind === 'leaf' ? describeType(child.type, this.definition) : child.repeated ? 'a list of objects' : 'an object';
        throw new PeerwayError('BAD_ARGUMENT', `${this.where(path)} is missing "${child.name}" (${expected}); an object value must give every child: ${names.join(', ')}`, {
          details: { path: childPath },
        });
      }
      const checked = this.check(schemaOfNode(child), value[child.name], childPath);
      if (checked !== value[child.name]) (out ??= { ...value })[child.name] = checked;
    }
    for (const key of Object.keys(value)) {
      if (!names.includes(key)) {
        throw new PeerwayError('BAD_ARGUMENT', `${this.where(path)} has no child "${key}"${didYouMean(key, names)}; its children are: ${names.join(', ')}`, {
          details: { path },
        });
      }
    }
    return out ?? value;
  }
}
