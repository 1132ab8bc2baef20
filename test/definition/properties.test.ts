import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import fc from 'fast-check';
import { DefinitionError } from '../../src/definition/definition-error.js';
import type { ServiceDefinition, TypeRef } from '../../src/definition/model.js';
import { parseDefinition } from '../../src/definition/parse-definition.js';
import { findQuoteHints, fixTypographicQuotes, scanQuoteProblems } from '../../src/definition/quote-hints.js';
import { checkValue } from '../../src/definition/values.js';
import { fromJsonValue, parseTextValue, toJsonValue } from '../../src/definition/value-text.js';
import { PeerwayError } from '../../src/errors.js';
import '../helpers/property-seed.js';

// From the fixed seed of test/helpers/property-seed.ts.

const typesFile = 'test/fixtures/definitions/types.xml';
const def = parseDefinition(readFileSync(typesFile, 'utf8'), typesFile);

/** Values valid for `type`, including the non-normal forms checkValue accepts (bigints, Buffers). */
function valueOf(d: ServiceDefinition, type: TypeRef): fc.Arbitrary<unknown> {
  if (type.repeated) return fc.array(valueOf(d, { name: type.name, repeated: false }), { maxLength: 4 });
  switch (type.name) {
    case 'bool':
      return fc.boolean();
    case 'int':
      return fc.integer({ min: -2147483648, max: 2147483647 });
    case 'int64':
      return fc.oneof(fc.maxSafeInteger(), fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n }));
    case 'float':
    case 'double':
      return fc.double({ noNaN: true, noDefaultInfinity: true });
    case 'string':
      return fc.string();
    case 'binary':
      return fc.oneof(fc.uint8Array({ maxLength: 16 }), fc.uint8Array({ maxLength: 16 }).map((b) => Buffer.from(b)));
  }
  const struct = d.types.get(type.name);
  assert.ok(struct, `no struct ${type.name}`);
  return fc.record(Object.fromEntries(struct.fields.map((f) => [f.name, valueOf(d, f.type)])));
}

/** What checkValue should turn a valid value into. */
function normal(value: unknown): unknown {
  if (typeof value === 'bigint') return value >= BigInt(Number.MIN_SAFE_INTEGER) && value <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(value) : value;
  if (Array.isArray(value)) return value.map(normal);
  if (value instanceof Uint8Array) return value;
  if (typeof value === 'object' && value !== null) return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, normal(v)]));
  return value;
}

/** Plain-object form for comparison: checkValue accepts null-prototype objects and may copy them. */
function canon(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(canon);
  if (value instanceof Uint8Array) return Uint8Array.from(value);
  if (typeof value === 'object' && value !== null) return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, canon(v)]));
  return value;
}

const allTypes: TypeRef[] = ['bool', 'int', 'int64', 'float', 'double', 'string', 'binary', 'Point', 'Shape'].flatMap((name) => [
  { name, repeated: false },
  { name, repeated: true },
]);

test('checkValue accepts every valid value of every type and normalises it', () => {
  for (const type of allTypes) {
    fc.assert(
      fc.property(valueOf(def, type), (value) => {
        assert.deepEqual(canon(checkValue(def, type, value, 'v')), canon(normal(value)));
      }),
      { numRuns: 60 },
    );
  }
});

test('values survive the JSON form: fromJsonValue(JSON(toJsonValue(v))) equals checkValue(v)', () => {
  for (const type of allTypes) {
    fc.assert(
      fc.property(valueOf(def, type), (value) => {
        const json = JSON.parse(JSON.stringify(toJsonValue(value))) as unknown;
        const back = fromJsonValue(def, type, json, 'v');
        const expected = checkValue(def, type, value, 'v');
        // -0 does not survive JSON; everything else must.
        assert.deepEqual(JSON.stringify(toJsonValue(back)), JSON.stringify(toJsonValue(expected)));
      }),
      { numRuns: 40 },
    );
  }
});

test('checkValue throws nothing but BAD_ARGUMENT for arbitrary input', () => {
  for (const type of allTypes) {
    fc.assert(
      fc.property(fc.anything({ withBigInt: true, withTypedArray: true, withNullPrototype: true }), (value) => {
        try {
          checkValue(def, type, value, 'v');
        } catch (err) {
          assert.ok(err instanceof PeerwayError && err.code === 'BAD_ARGUMENT', String(err));
        }
      }),
      { numRuns: 40 },
    );
  }
});

test('integers written as text parse back to themselves', () => {
  fc.assert(
    fc.property(fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n }), (n) => {
      assert.deepEqual(parseTextValue(def, { name: 'int64', repeated: false }, n.toString(), 'v'), normal(n));
    }),
    { numRuns: 200 },
  );
  fc.assert(
    fc.property(fc.double({ noNaN: true, noDefaultInfinity: true }), (x) => {
      assert.equal(parseTextValue(def, { name: 'double', repeated: false }, String(x), 'v'), Number(String(x)));
    }),
    { numRuns: 200 },
  );
});

const sources = [
  readFileSync('examples/climate.xml', 'utf8'),
  readFileSync(typesFile, 'utf8'),
  readFileSync('test/fixtures/definitions/seed-forked-runtime-data.xml', 'utf8'),
];
const fragments = ['<', '>', '/>', '</', '"', "'", '”', '“', '’', '=', ' ', '\n', '&', '&amp;', '<!--', '-->', '--', ']]>', '<![CDATA[', 'type="int"', 'name="x"', '<method name="m"/>', 'repeated="true"', '\r\n', '\u0000', '<?xml version="1.0"?>'];

/** One edit of a source: delete a span, insert a fragment, or duplicate a span. */
const mutation = fc.tuple(fc.integer({ min: 0, max: 2 }), fc.nat(), fc.nat({ max: 40 }), fc.constantFrom(...fragments));
function mutate(text: string, edits: Array<[number, number, number, string]>): string {
  let out = text;
  for (const [kind, at, len, fragment] of edits) {
    const p = out.length === 0 ? 0 : at % out.length;
    if (kind === 0) out = out.slice(0, p) + out.slice(p + len);
    else if (kind === 1) out = out.slice(0, p) + fragment + out.slice(p);
    else out = out.slice(0, p) + out.slice(p, p + len) + out.slice(p);
  }
  return out;
}

test('parseDefinition throws only DefinitionError, with positions inside the file, on mutated XML', () => {
  fc.assert(
    fc.property(fc.constantFrom(...sources), fc.array(mutation, { minLength: 1, maxLength: 4 }), (source, edits) => {
      const xml = mutate(source, edits);
      const lineCount = xml.split(/\r\n|\r|\n/).length;
      try {
        parseDefinition(xml, 'm.xml');
      } catch (err) {
        if (!(err instanceof DefinitionError)) throw err;
        assert.ok(err.diagnostics.length > 0);
        for (const d of err.diagnostics) {
          assert.ok(d.line >= 1 && d.line <= lineCount && d.column >= 1, `bad position ${d.line}:${d.column}`);
        }
      }
    }),
    { numRuns: 400 },
  );
});

test('fixTypographicQuotes rewrites every typographic delimiter pair and is idempotent', () => {
  fc.assert(
    fc.property(fc.constantFrom(...sources), fc.array(mutation, { maxLength: 3 }), (source, edits) => {
      const xml = mutate(source, edits);
      const once = fixTypographicQuotes(xml);
      assert.equal(once.text.length, xml.length, 'quotes are replaced one for one');
      const left = scanQuoteProblems(once.text).filter((p) => p.kind === 'typographic' && p.closeOffset !== undefined);
      assert.deepEqual(left, [], 'every closed typographic delimiter is rewritten');
      assert.deepEqual(fixTypographicQuotes(once.text), { text: once.text, replaced: 0 });
      findQuoteHints(once.text, 'f.xml');
    }),
    { numRuns: 300 },
  );
});
