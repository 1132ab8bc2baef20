import { PeerwayError } from '../errors.js';
import { didYouMean } from './did-you-mean.js';
import type { Field, ScalarTypeName, ServiceDefinition, StructType, TypeRef } from './model.js';

/**
 * Checking values against definition types: method arguments and results, event arguments and runtime
 * data, on both the client and the service side. The checks run on every call, so the success path
 * allocates nothing when the value is already in normal form and message strings are only built on
 * failure.
 */

/** What the value functions need from a definition: its struct types. */
export type TypeScope = Pick<ServiceDefinition, 'types'>;

const INT32_MIN = -2147483648;
const INT32_MAX = 2147483647;
const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;
const SAFE_MIN = BigInt(Number.MIN_SAFE_INTEGER);
const SAFE_MAX = BigInt(Number.MAX_SAFE_INTEGER);

const SCALAR_WORDS: Record<ScalarTypeName | 'void', string> = {
  void: 'void (no value)',
  bool: 'bool (true or false)',
  int: 'int (whole number from -2147483648 to 2147483647)',
  int64: 'int64 (whole number from -9223372036854775808 to 9223372036854775807)',
  float: 'float (finite number)',
  double: 'double (finite number)',
  string: 'string',
  binary: 'binary (Uint8Array or Buffer)',
};

/**
 * The type in words, as used in error messages: `int (whole number from … to …)`, `list of float
 * (finite number)`, `Point (object with fields x, y, label)` (field names only when `scope` is given).
 */
export function describeType(type: TypeRef, scope?: TypeScope): string {
  let one: string;
  if (Object.prototype.hasOwnProperty.call(SCALAR_WORDS, type.name)) {
    one = SCALAR_WORDS[type.name as ScalarTypeName];
  } else {
    const struct = scope?.types.get(type.name);
    one = struct ? `${type.name} (object with fields ${fieldList(struct)})` : `${type.name} (object)`;
  }
  return type.repeated ? `list of ${one}` : one;
}

function fieldList(struct: StructType): string {
  return struct.fields.length === 0 ? '(none)' : struct.fields.map((f) => f.name).join(', ');
}

/** A short description of what a caller passed, for the "got …" part of messages. */
export function describeValue(value: unknown): string {
  switch (typeof value) {
    case 'string':
      return `${JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value)} (string)`;
    case 'number':
      return `${value} (number)`;
    case 'bigint':
      return `${value}n (bigint)`;
    case 'boolean':
      return `${value} (boolean)`;
    case 'undefined':
      return 'undefined';
    case 'function':
      return 'a function';
    case 'symbol':
      return 'a symbol';
  }
  if (value === null) return 'null';
  if (value instanceof Uint8Array) return `${value.constructor.name} of ${value.length} bytes`;
  if (Array.isArray(value)) return `an array of ${value.length} elements`;
  if (isPlainObject(value)) {
    const keys = Object.keys(value);
    if (keys.length === 0) return 'an empty object';
    return `an object with keys ${keys.slice(0, 5).join(', ')}${keys.length > 5 ? ', …' : ''}`;
  }
  const ctor = (value as object).constructor?.name;
  return ctor ? `a ${ctor}` : 'an object';
}

/** True for `{…}` literals and `Object.create(null)`: the only objects a struct value may be. */
export function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (typeof value !== 'object' || value === null) return false;
  const proto: unknown = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

// ---------------------------------------------------------------------------------------------------
// The checker. Inner functions return FAIL and record why in `failure`; each level on the way out adds
// its path segment, so nothing is allocated unless a value is rejected.

const FAIL: unique symbol = Symbol('fail');
type Checked = unknown;

interface Failure {
  kind: 'type' | 'missing' | 'unknown';
  /** Path segments, innermost first (pushed while unwinding). */
  path: string[];
  type: TypeRef;
  value: unknown;
  struct?: StructType;
  field?: string;
  note?: string;
}

let failure: Failure = { kind: 'type', path: [], type: { name: 'void', repeated: false }, value: undefined };

function fail(kind: Failure['kind'], name: string, repeated: boolean, value: unknown, extra: Partial<Failure> = {}): typeof FAIL {
  failure = { kind, path: [], type: { name, repeated }, value, ...extra };
  return FAIL;
}

function checkType(scope: TypeScope, type: TypeRef, value: unknown): Checked {
  return type.repeated ? checkList(scope, type.name, value) : checkOne(scope, type.name, value);
}

function checkList(scope: TypeScope, name: string, value: unknown): Checked {
  if (!Array.isArray(value)) return fail('type', name, true, value);
  let out: unknown[] | undefined;
  for (let i = 0; i < value.length; i++) {
    const item: unknown = value[i];
    const checked = checkOne(scope, name, item);
    if (checked === FAIL) {
      failure.path.push(`[${i}]`);
      return FAIL;
    }
    if (checked !== item) {
      out ??= value.slice();
      out[i] = checked;
    }
  }
  return out ?? value;
}

function checkOne(scope: TypeScope, name: string, value: unknown): Checked {
  switch (name) {
    case 'bool':
      return typeof value === 'boolean' ? value : fail('type', name, false, value);
    case 'int':
      return typeof value === 'number' && Number.isInteger(value) && value >= INT32_MIN && value <= INT32_MAX
        ? value
        : fail('type', name, false, value);
    case 'int64':
      return checkInt64(value);
    case 'float':
    case 'double':
      return typeof value === 'number' && Number.isFinite(value) ? value : fail('type', name, false, value);
    case 'string':
      return typeof value === 'string' ? value : fail('type', name, false, value);
    case 'binary':
      return value instanceof Uint8Array ? value : fail('type', name, false, value);
    case 'void':
      return value === undefined || value === null ? undefined : fail('type', name, false, value);
  }
  const struct = scope.types.get(name);
  if (!struct) throw new PeerwayError('INTERNAL', `type "${name}" is not declared in the definition`);
  return checkStruct(scope, struct, value);
}

function checkInt64(value: unknown): Checked {
  if (typeof value === 'number') {
    if (Number.isSafeInteger(value)) return value;
    if (Number.isInteger(value)) {
      return fail('type', 'int64', false, value, { note: 'beyond the safe integer range of a number; pass a bigint' });
    }
    return fail('type', 'int64', false, value);
  }
  if (typeof value === 'bigint') {
    if (value < INT64_MIN || value > INT64_MAX) return fail('type', 'int64', false, value);
    // Normal form: a number whenever it is exact, so both sides compare and print the same.
    return value >= SAFE_MIN && value <= SAFE_MAX ? Number(value) : value;
  }
  return fail('type', 'int64', false, value);
}

function checkStruct(scope: TypeScope, struct: StructType, value: unknown): Checked {
  if (!isPlainObject(value)) return fail('type', struct.name, false, value);
  let out: Record<string, unknown> | undefined;
  const fields = struct.fields;
  for (let i = 0; i < fields.length; i++) {
    const field = fields[i];
    const item = value[field.name];
    // An inherited property (a field called "constructor") is not a value either.
    if (item === undefined || !Object.prototype.hasOwnProperty.call(value, field.name)) {
      return fail('missing', struct.name, false, value, { struct, field: field.name });
    }
    const checked = checkType(scope, field.type, item);
    if (checked === FAIL) {
      failure.path.push(`.${field.name}`);
      return FAIL;
    }
    if (checked !== item) {
      out ??= { ...value };
      out[field.name] = checked;
    }
  }
  let keys = 0;
  for (const key in value) if (Object.prototype.hasOwnProperty.call(value, key)) keys++;
  if (keys !== fields.length) {
    const unknown = Object.keys(value).find((k) => !fields.some((f) => f.name === k)) ?? '';
    return fail('unknown', struct.name, false, value, { struct, field: unknown });
  }
  return out ?? value;
}

/** Turns the recorded failure into the error thrown to callers. */
function failureError(scope: TypeScope, where: string): PeerwayError {
  const f = failure;
  const path = f.path.reverse().join('');
  const subject = path === '' ? where : `${where} at ${path}`;
  let message: string;
  if (f.kind === 'missing') {
    message = `${subject} is missing field "${f.field}" of ${describeType(f.type, scope)}`;
  } else if (f.kind === 'unknown') {
    const names = f.struct ? f.struct.fields.map((x) => x.name) : [];
    message = `${subject} has unknown field "${f.field}"${didYouMean(f.field ?? '', names)}; ${f.type.name} has fields ${f.struct ? fieldList(f.struct) : ''}`;
  } else {
    message = `${subject} must be ${describeType(f.type, scope)}, got ${describeValue(f.value)}${f.note ? ` (${f.note})` : ''}`;
  }
  return new PeerwayError('BAD_ARGUMENT', message, { details: { where, path, expected: describeType(f.type, scope) } });
}

/**
 * Checks `value` against `type` and returns it in normal form (int64 as a number when exact, else a
 * bigint; `void` as undefined). The same object is returned when nothing needed changing.
 * @param where names the value in the error, e.g. `Climate.setTemperature argument "zone"`.
 * @throws PeerwayError `BAD_ARGUMENT` naming `where`, the inner path (`.points[2].x`), the expected type
 *   in words and what was passed.
 */
export function checkValue(scope: TypeScope, type: TypeRef, value: unknown, where: string): unknown {
  const checked = checkType(scope, type, value);
  if (checked === FAIL) throw failureError(scope, where);
  return checked;
}

/**
 * Checks a call's named arguments against `fields`: each must be present, none may be unknown, each
 * value goes through {@link checkValue}. `where` is e.g. `Climate.setTemperature`. Returns the same
 * object when nothing needed normalising.
 */
export function checkArguments(
  scope: TypeScope,
  fields: readonly Field[],
  args: Record<string, unknown> | undefined,
  where: string,
): Record<string, unknown> {
  const given: unknown = args ?? {};
  if (!isPlainObject(given)) {
    throw new PeerwayError('BAD_ARGUMENT', `${where} arguments must be an object of name → value, got ${describeValue(given)}`, {
      details: { where },
    });
  }
  let out: Record<string, unknown> | undefined;
  for (const field of fields) {
    const item = given[field.name];
    if (item === undefined || !Object.prototype.hasOwnProperty.call(given, field.name)) {
      throw new PeerwayError(
        'BAD_ARGUMENT',
        `${where} argument "${field.name}" is missing; expected ${describeType(field.type, scope)}`,
        { details: { where, argument: field.name } },
      );
    }
    const checked = checkType(scope, field.type, item);
    if (checked === FAIL) throw failureError(scope, `${where} argument "${field.name}"`);
    if (checked !== item) {
      out ??= { ...given };
      out[field.name] = checked;
    }
  }
  let keys = 0;
  for (const key in given) if (Object.prototype.hasOwnProperty.call(given, key)) keys++;
  if (keys !== fields.length) {
    const names = fields.map((f) => f.name);
    const unknown = Object.keys(given).find((k) => !names.includes(k)) ?? '';
    const valid = names.length === 0 ? `${where} takes no arguments` : `valid arguments: ${names.join(', ')}`;
    throw new PeerwayError('BAD_ARGUMENT', `${where} has no argument "${unknown}"${didYouMean(unknown, names)}; ${valid}`, {
      details: { where, argument: unknown },
    });
  }
  return out ?? given;
}

/**
 * A fresh zero value of `type`: false, 0, '', an empty Uint8Array, [] for lists, and an object of zero
 * values for structs (the definition rejects struct cycles, so this terminates).
 */
export function zeroValue(scope: TypeScope, type: TypeRef): unknown {
  if (type.repeated) return [];
  switch (type.name) {
    case 'bool':
      return false;
    case 'int':
    case 'int64':
    case 'float':
    case 'double':
      return 0;
    case 'string':
      return '';
    case 'binary':
      return new Uint8Array(0);
    case 'void':
      return undefined;
  }
  const struct = scope.types.get(type.name);
  if (!struct) throw new PeerwayError('INTERNAL', `type "${type.name}" is not declared in the definition`);
  const out: Record<string, unknown> = {};
  for (const field of struct.fields) out[field.name] = zeroValue(scope, field.type);
  return out;
}

