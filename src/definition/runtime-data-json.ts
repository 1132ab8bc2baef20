import type { RuntimeDataNode } from './model.js';
import { fromJsonValue } from './value-text.js';
import { isPlainObject, type TypeScope } from './values.js';

/**
 * The typed value of a runtime-data node from its JSON form (what `toJsonValue` gives, e.g. a value
 * saved to a file or received over HTTP): binary from base64 or `hex:…`, int64 from decimal strings, through
 * objects and lists of objects. Leaves are checked as {@link fromJsonValue} checks them; an object or a
 * list is only converted, so check the result with `RuntimeDataTree.set`, which names what does not fit.
 * @throws PeerwayError `BAD_ARGUMENT` for a leaf value that does not fit its type.
 */
export function runtimeDataFromJson(scope: TypeScope, node: RuntimeDataNode, json: unknown, where: string): unknown {
  if (node.kind === 'leaf') return fromJsonValue(scope, node.type, json, where);
  if (node.repeated) return Array.isArray(json) ? json.map((item, i) => objectFromJson(scope, node.children, item, `${where}[${i}]`)) : json;
  return objectFromJson(scope, node.children, json, where);
}

function objectFromJson(scope: TypeScope, children: readonly RuntimeDataNode[], json: unknown, where: string): unknown {
  if (!isPlainObject(json)) return json;
  const out: Record<string, unknown> = { ...json };
  for (const child of children) {
    if (!Object.prototype.hasOwnProperty.call(json, child.name)) continue;
    out[child.name] = runtimeDataFromJson(scope, child, json[child.name], `${where}.${child.name}`);
  }
  return out;
}
