import type { RuntimeDataNode, TypeRef } from '../definition/model.js';
import type { TypeScope } from '../definition/values.js';
import { toJsonValue } from '../definition/value-text.js';

/**
 * A value as Kanzi Connect's HTTP API shows it: every scalar as a string, floats with six decimals
 * (`"1.500000"`), whole numbers in decimal (`"14"`, int64 exactly), booleans as `"1"` / `"0"`, binary as
 * base64; structs and lists keep their shape with their scalars written so. Tools written against Kanzi
 * parse these strings; the JSON API under `/api/` keeps JSON types.
 */
export function kanziValue(value: unknown, type: TypeRef, scope: TypeScope): unknown {
  if (value === undefined || value === null) return value;
  if (type.repeated) {
    const item: TypeRef = { ...type, repeated: false };
    return Array.isArray(value) ? value.map((v) => kanziValue(v, item, scope)) : toJsonValue(value);
  }
  switch (type.name) {
    case 'bool':
      return value === true ? '1' : '0';
    case 'int':
    case 'int64':
      return typeof value === 'number' || typeof value === 'bigint' ? value.toString() : toJsonValue(value);
    case 'float':
    case 'double':
      return typeof value === 'number' ? value.toFixed(6) : toJsonValue(value);
    case 'string':
      return value;
    case 'binary':
      return toJsonValue(value);
  }
  const struct = scope.types.get(type.name);
  if (!struct || typeof value !== 'object') return toJsonValue(value);
  const record = value as Record<string, unknown>;
  const out: Record<string, unknown> = {};
  for (const field of struct.fields) {
    if (field.name in record) out[field.name] = kanziValue(record[field.name], field.type, scope);
  }
  return out;
}

/**
 * Runtime data (the server's copy, or a part of it) as Kanzi shows it: the tree's shape, every leaf
 * written by `kanziValue`. Parts left out (denied to the caller) stay out.
 */
export function kanziRuntimeData(node: RuntimeDataNode, value: unknown, scope: TypeScope): unknown {
  if (value === undefined || value === null) return value;
  if (node.kind === 'leaf') return kanziValue(value, node.type, scope);
  if (node.repeated) {
    const item: RuntimeDataNode = { ...node, repeated: false };
    return Array.isArray(value) ? value.map((v) => kanziRuntimeData(item, v, scope)) : toJsonValue(value);
  }
  if (typeof value !== 'object') return toJsonValue(value);
  const record = value as Record<string, unknown>;
  const out: Record<string, unknown> = {};
  for (const child of node.children) {
    if (child.name in record) out[child.name] = kanziRuntimeData(child, record[child.name], scope);
  }
  return out;
}
