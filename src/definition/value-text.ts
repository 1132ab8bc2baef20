import { PeerwayError } from '../errors.js';
import type { TypeRef } from './model.js';
import { checkValue, describeType, describeValue, isPlainObject, type TypeScope } from './values.js';

/**
 * Values written as text (command-line arguments, XML defaults, HTTP query strings) and as JSON (HTTP
 * bodies, WebSocket messages), converted to and from the typed in-memory form.
 */

const INTEGER_TEXT = /^[+-]?\d+$/;
const FLOAT_TEXT = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/;
const HEX_TEXT = /^(?:[0-9a-fA-F]{2})*$/;
const BASE64_TEXT = /^[A-Za-z0-9+/_-]*={0,2}$/;
const SAFE_MIN = BigInt(Number.MIN_SAFE_INTEGER);
const SAFE_MAX = BigInt(Number.MAX_SAFE_INTEGER);

const TEXT_WORDS: Record<string, string> = {
  bool: 'bool (true, false, 1 or 0)',
  binary: 'binary (base64 text, or hex: followed by hex digits)',
};

function textError(type: TypeRef, text: string, where: string, note = ''): PeerwayError {
  const shown = text.length > 40 ? `${text.slice(0, 40)}…` : text;
  const expected = (!type.repeated && TEXT_WORDS[type.name]) || describeType(type);
  return new PeerwayError('BAD_ARGUMENT', `${where} must be ${expected}, got ${JSON.stringify(shown)}${note}`, {
    details: { where, expected },
  });
}

/** Decodes `hex:…` or base64 (standard or URL-safe alphabet); undefined when the text is neither. */
function decodeBinaryText(text: string): Uint8Array | undefined {
  if (text.startsWith('hex:')) {
    const hex = text.slice(4);
    return HEX_TEXT.test(hex) ? Uint8Array.from(Buffer.from(hex, 'hex')) : undefined;
  }
  if (!BASE64_TEXT.test(text) || text.replace(/=+$/, '').length % 4 === 1) return undefined;
  return Uint8Array.from(Buffer.from(text, text.includes('-') || text.includes('_') ? 'base64url' : 'base64'));
}

/** A decimal integer as a number when exact, else a bigint; undefined when out of int64 range. */
function int64FromText(text: string): number | bigint | undefined {
  const big = BigInt(text);
  if (big < -(2n ** 63n) || big > 2n ** 63n - 1n) return undefined;
  return big >= SAFE_MIN && big <= SAFE_MAX ? Number(big) : big;
}

/**
 * Parses a string into `type`: bool accepts true/false/1/0 (any case); int, int64 decimal (int64 beyond
 * the safe range becomes a bigint); float/double decimal or exponent notation; string as is; binary
 * base64 or `hex:…`; structs and lists JSON text (see {@link fromJsonValue}).
 * @throws PeerwayError `BAD_ARGUMENT` naming `where`, the expected type and the text.
 */
export function parseTextValue(scope: TypeScope, type: TypeRef, text: string, where: string): unknown {
  if (type.repeated || scope.types.has(type.name)) {
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch (err) {
      throw textError(type, text, where, ` (not valid JSON: ${(err as Error).message})`);
    }
    return fromJsonValue(scope, type, json, where);
  }
  const trimmed = text.trim();
  switch (type.name) {
    case 'bool': {
      const lower = trimmed.toLowerCase();
      if (lower === 'true' || lower === '1') return true;
      if (lower === 'false' || lower === '0') return false;
      throw textError(type, text, where);
    }
    case 'int': {
      const n = INTEGER_TEXT.test(trimmed) ? Number(trimmed) : NaN;
      if (n >= -2147483648 && n <= 2147483647) return n;
      throw textError(type, text, where);
    }
    case 'int64': {
      const n = INTEGER_TEXT.test(trimmed) ? int64FromText(trimmed) : undefined;
      if (n !== undefined) return n;
      throw textError(type, text, where);
    }
    case 'float':
    case 'double': {
      const n = FLOAT_TEXT.test(trimmed) ? Number(trimmed) : NaN;
      if (Number.isFinite(n)) return n;
      throw textError(type, text, where);
    }
    case 'string':
      return text;
    case 'binary': {
      const bytes = decodeBinaryText(trimmed);
      if (bytes) return bytes;
      throw textError(type, text, where);
    }
  }
  throw textError(type, text, where, ` (${type.name} values cannot be written as text)`);
}

/**
 * Converts a JSON-shaped value (as `JSON.parse` returns it) into `type` and checks it: binary accepts
 * base64 or `hex:…` strings, int64 accepts decimal strings (JSON numbers lose precision past 2^53).
 * Everything else must already have the right JSON type.
 * @throws PeerwayError `BAD_ARGUMENT` as {@link checkValue} does.
 */
export function fromJsonValue(scope: TypeScope, type: TypeRef, json: unknown, where: string): unknown {
  return checkValue(scope, type, convertJson(scope, type, json, where, ''), where);
}

function convertJson(scope: TypeScope, type: TypeRef, json: unknown, where: string, path: string): unknown {
  if (type.repeated) {
    if (!Array.isArray(json)) return json;
    const one: TypeRef = { name: type.name, repeated: false };
    return json.map((item, i) => convertJson(scope, one, item, where, `${path}[${i}]`));
  }
  if (typeof json === 'string' && type.name === 'binary') {
    const bytes = decodeBinaryText(json);
    if (bytes) return bytes;
    const subject = path === '' ? where : `${where} at ${path}`;
    throw new PeerwayError('BAD_ARGUMENT', `${subject} must be ${TEXT_WORDS['binary']}, got ${describeValue(json)}`, {
      details: { where, path },
    });
  }
  if (typeof json === 'string' && type.name === 'int64' && INTEGER_TEXT.test(json)) {
    return int64FromText(json) ?? json;
  }
  const struct = scope.types.get(type.name);
  if (struct && isPlainObject(json)) {
    const out: Record<string, unknown> = { ...json };
    for (const field of struct.fields) {
      if (Object.prototype.hasOwnProperty.call(json, field.name)) {
        out[field.name] = convertJson(scope, field.type, json[field.name], where, `${path}.${field.name}`);
      }
    }
    return out;
  }
  return json;
}

/**
 * The JSON form of a typed value: bigint → decimal string, Uint8Array → base64 string, recursively
 * through arrays and plain objects; everything else unchanged. The inverse of {@link fromJsonValue}.
 */
export function toJsonValue(value: unknown): unknown {
  if (typeof value === 'bigint') return value.toString();
  if (typeof value !== 'object' || value === null) return value;
  if (value instanceof Uint8Array) return Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString('base64');
  if (Array.isArray(value)) return value.map(toJsonValue);
  const out: Record<string, unknown> = {};
  for (const [key, item] of Object.entries(value)) out[key] = toJsonValue(item);
  return out;
}
