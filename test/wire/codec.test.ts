import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { Unpackr } from 'msgpackr';
import { MAX_NESTING_DEPTH, decodeMessage, encodeMessage, nestedDeeperThan } from '../../src/wire/codec.js';
import type { Message } from '../../src/wire/messages.js';
import { PeerwayError } from '../../src/errors.js';
import '../helpers/property-seed.js';

test('a message round-trips through the codec with every value kind intact', () => {
  const message: Message = {
    type: 'call',
    id: 7,
    session: 'abc',
    method: 'echo',
    args: { i: -5, big: 2n ** 60n, f: 1.5, s: 'häj', b: true, bin: Buffer.from([1, 2, 3]), list: [1, 2], nested: { x: null } },
  };
  const decoded = decodeMessage(encodeMessage(message));
  assert.deepEqual(decoded, message);
});

test('the encoding is plain MessagePack that a generic reader understands', () => {
  const generic = new Unpackr({ useRecords: false });
  assert.deepEqual(generic.unpack(encodeMessage({ type: 'list', id: 1 })), { type: 'list', id: 1 });
});

test('bytes that are not a message map with a string type are a PROTOCOL error', () => {
  for (const bad of [Buffer.from([0xc1]), encodeMessage([1, 2] as unknown as Message), Buffer.from([0x81, 0xa1, 0x61, 0x01])]) {
    assert.throws(() => decodeMessage(bad), (e: unknown) => e instanceof PeerwayError && e.code === 'PROTOCOL');
  }
});

test('decoding arbitrary bytes only ever throws PROTOCOL errors', () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 64 }), (bytes) => {
      try {
        decodeMessage(bytes);
      } catch (e) {
        assert.ok(e instanceof PeerwayError && e.code === 'PROTOCOL', String(e));
      }
    }),
    { numRuns: 500 },
  );
});

/** Nesting of maps and arrays in a decoded value, the value's own container being level 1. */
function depthOf(value: unknown): number {
  if (Array.isArray(value)) return 1 + Math.max(0, ...value.map(depthOf));
  if (typeof value === 'object' && value !== null && !(value instanceof Uint8Array)) return 1 + Math.max(0, ...Object.values(value).map(depthOf));
  return 0;
}

test('the nesting scan measures what the decoder builds, for any MessagePack value and any limit', () => {
  const generic = new Unpackr({ useRecords: false, moreTypes: false, int64AsType: 'bigint' });
  const value = fc.letrec<{ v: unknown }>((tie) => ({
    v: fc.oneof(
      { depthSize: 'medium' },
      fc.oneof(fc.integer(), fc.double(), fc.bigInt({ min: -(2n ** 63n), max: 2n ** 64n - 1n }), fc.string({ maxLength: 300 }), fc.uint8Array({ maxLength: 300 }), fc.boolean(), fc.constant(null)),
      fc.array(tie('v'), { maxLength: 20 }),
      fc.dictionary(fc.string({ maxLength: 8 }), tie('v'), { maxKeys: 20 }),
    ),
  })).v;
  fc.assert(
    fc.property(value, fc.integer({ min: 0, max: 12 }), (v, limit) => {
      const bytes = encodeMessage(v as Message);
      const depth = depthOf(generic.unpack(bytes));
      // The scan skips bodies too short to be deeper than the limit; call it on what it must read.
      assert.equal(nestedDeeperThan(bytes, limit), bytes.length > limit && depth > limit, `depth ${depth}, limit ${limit}`);
    }),
    { numRuns: 500 },
  );
});

test(`a message nested deeper than ${MAX_NESTING_DEPTH} levels is refused as PROTOCOL naming the limit and, when it says them, its type and id`, () => {
  let args: unknown = 1;
  for (let i = 0; i < MAX_NESTING_DEPTH - 2; i++) args = [args];
  const message = (value: unknown) => ({ type: 'call', id: 7, session: 's', method: 'm', args: { value } }) as unknown as Message;
  // The message's map, args and the innermost array: exactly the limit, and one more.
  assert.doesNotThrow(() => decodeMessage(encodeMessage(message(args))));
  assert.throws(() => encodeMessage(message([args])), (e: unknown) => e instanceof PeerwayError && e.code === 'PROTOCOL' && /deeper than 1000 levels/.test(e.message));
  // A map of four entries whose last value is 60,000 arrays deep, as an attacker would write it.
  const header = Buffer.from(encodeMessage({ type: 'call', id: 7, session: 's', method: 'm', args: null } as unknown as Message));
  const deep = Buffer.concat([header.subarray(0, header.length - 1), Buffer.alloc(60_000, 0x91), Buffer.from([0xc0])]);
  assert.throws(
    () => decodeMessage(deep),
    (e: unknown) => e instanceof PeerwayError && e.code === 'PROTOCOL' && e.details?.limit === MAX_NESTING_DEPTH && e.details.type === 'call' && e.details.id === 7,
  );
  // Nor when the body is not well-formed: bytes after the map, or a map cut short (its last entries would
  // be read as part of the deep value by any decoder): refused as a whole.
  for (const malformed of [Buffer.concat([deep, Buffer.from([0x01])]), Buffer.concat([Buffer.from([0x86]), deep.subarray(1)])]) {
    assert.throws(() => decodeMessage(malformed), (e: unknown) => e instanceof PeerwayError && e.code === 'PROTOCOL' && e.details?.type === undefined && e.details?.id === undefined);
  }
  // Without a map around it there is nothing to answer: no type, no id.
  assert.throws(() => decodeMessage(Buffer.alloc(60_000, 0x91)), (e: unknown) => e instanceof PeerwayError && e.code === 'PROTOCOL' && e.details?.type === undefined);
});

test('a value that contains itself is refused with PROTOCOL, not a stack overflow', () => {
  const loop: Record<string, unknown> = { type: 'reply', id: 1 };
  loop.value = loop;
  assert.throws(() => encodeMessage(loop as unknown as Message), (e: unknown) => e instanceof PeerwayError && e.code === 'PROTOCOL');
});

test('calls and replies read without msgpackr decode to what msgpackr makes of the same bytes, whole, cut short, extended or altered', () => {
  const reference = new Unpackr({ useRecords: false, int64AsType: 'auto' as 'bigint', moreTypes: false });
  const key = fc.oneof(fc.constantFrom('type', 'id', 'value', 'args', 'session', 'data', '__proto__', 'constructor', '1', '', 'é'), fc.string({ maxLength: 20 }));
  const scalar = fc.oneof(
    fc.uint8Array({ maxLength: 300 }).map((b) => Buffer.from(b)),
    fc.constantFrom(null, undefined, true, false, 0, 127, 128, 255, 256, 65535, 65536, 2 ** 32 - 1, 2 ** 32, -1, -32, -33, 1.5, 2n ** 63n, 'call', 'reply', 'é', 'x'.repeat(255), 'x'.repeat(256)),
    fc.integer(),
    fc.string({ maxLength: 40 }),
    fc.string({ unit: 'binary', maxLength: 20 }),
  );
  const value = fc.oneof(scalar, fc.dictionary(key, scalar, { maxKeys: 17 }), fc.array(scalar, { maxLength: 3 }), fc.dictionary(key, fc.dictionary(key, scalar, { maxKeys: 2 }), { maxKeys: 2 }));
  const message = fc.oneof(
    fc.record({ type: fc.constant('reply'), id: fc.nat({ max: 2 ** 32 }), value }),
    fc.record({ type: fc.constant('call'), session: fc.string({ maxLength: 40 }), method: fc.string({ maxLength: 8 }), args: value, id: fc.nat() }),
    fc.dictionary(key, value, { maxKeys: 17 }),
  );
  const change = fc.oneof(
    fc.constant((b: Uint8Array) => b),
    fc.constant((b: Uint8Array) => new Uint8Array(b)),
    fc.nat().map((n) => (b: Uint8Array) => b.subarray(0, n % (b.length + 1))),
    fc.uint8Array({ minLength: 1, maxLength: 3 }).map((extra) => (b: Uint8Array) => Buffer.concat([b, extra])),
    fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })).map(([at, byte]) => (b: Uint8Array) => {
      const c = Buffer.from(b);
      if (c.length > 0) c[at % c.length] = byte;
      return c;
    }),
  );
  fc.assert(
    fc.property(message, change, (m, alter) => {
      const body = alter(encodeMessage(m as unknown as Message));
      let expected: unknown;
      try {
        expected = reference.unpack(body);
      } catch {
        assert.throws(() => decodeMessage(body), (e: unknown) => e instanceof PeerwayError && e.code === 'PROTOCOL');
        return;
      }
      if (typeof expected !== 'object' || expected === null || Array.isArray(expected) || typeof (expected as { type?: unknown }).type !== 'string') {
        assert.throws(() => decodeMessage(body), (e: unknown) => e instanceof PeerwayError && e.code === 'PROTOCOL');
        return;
      }
      const ours = decodeMessage(body);
      assert.deepEqual(ours, expected);
      assert.deepEqual(Object.keys(ours), Object.keys(expected));
      for (const [k, v] of Object.entries(expected)) {
        const mine = (ours as unknown as Record<string, unknown>)[k];
        if (v instanceof Uint8Array) assert.equal(Object.getPrototypeOf(mine), Object.getPrototypeOf(v));
      }
    }),
    { numRuns: 5000 },
  );
});
