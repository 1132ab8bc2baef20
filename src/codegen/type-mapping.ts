import type { ScalarTypeName, TypeRef } from '../definition/model.js';

/**
 * Definition types → TypeScript types, for each target. The one place that knows how a value of the
 * definition looks in JavaScript; everything else asks {@link tsType}.
 *
 * `node`: the values the Node client and a service implementation see (`definition/values.ts` normal form):
 * int64 is a number while it is exact and a bigint beyond 2^53, binary a Uint8Array (a Buffer is one).
 * `browser`: the JSON forms the gateway's `/ws` uses (docs/browser.md): int64 a number while exact and a
 * decimal string beyond (a string is accepted on the way in too), binary a base64 string.
 */

export type CodegenTarget = 'node' | 'browser';
export const CODEGEN_TARGETS: readonly CodegenTarget[] = ['node', 'browser'];

const SCALARS: Record<CodegenTarget, Record<ScalarTypeName | 'void', string>> = {
  node: {
    void: 'void',
    bool: 'boolean',
    int: 'number',
    int64: 'number | bigint',
    float: 'number',
    double: 'number',
    string: 'string',
    binary: 'Uint8Array',
  },
  browser: {
    void: 'void',
    bool: 'boolean',
    int: 'number',
    int64: 'number | string',
    float: 'number',
    double: 'number',
    string: 'string',
    binary: 'string',
  },
};

/** One line per scalar type, for the comment at the top of a generated module. */
export function scalarLegend(target: CodegenTarget): string[] {
  if (target === 'node') {
    return [
      'bool → boolean; int, float, double → number; int64 → number | bigint (a number while exact, a bigint',
      'beyond 2^53; either is accepted); string → string; binary → Uint8Array; lists → arrays; structs → interfaces.',
    ];
  }
  return [
    'Values in their JSON form, as the gateway sends them: bool → boolean; int, float, double → number;',
    'int64 → number | string (a number while exact, a decimal string beyond 2^53); string → string;',
    'binary → string (base64; hex:… is accepted too); lists → arrays; structs → interfaces.',
  ];
}

/** Whether `name` is a scalar (or void) rather than a struct declared in the definition. */
export function isScalar(name: string): name is ScalarTypeName | 'void' {
  return Object.prototype.hasOwnProperty.call(SCALARS.node, name);
}

/**
 * The TypeScript type of a value of `type`: the scalar's type, the struct interface's name (declared by
 * the module under the struct's own name), and `T[]` for a list (`repeated="true"`, or Kanzi Connect's
 * `type="repeated T"`, which the definition model records the same way). A runtime-data list with its own
 * item schema (`datatype="list"`) is a list of objects in the model: `data-paths.ts` renders it.
 */
export function tsType(type: TypeRef, target: CodegenTarget): string {
  const one = isScalar(type.name) ? SCALARS[target][type.name] : type.name;
  return type.repeated ? listOf(one) : one;
}

/** `T[]`, with parentheses around a union (`(number | bigint)[]`). */
export function listOf(item: string): string {
  return /[|&]/.test(item) ? `(${item})[]` : `${item}[]`;
}

/** `int`, `Point`, `float[]`: the definition's spelling of a type, for doc comments. */
export function definitionTypeText(type: TypeRef): string {
  return type.repeated ? `${type.name}[]` : type.name;
}
