import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { Packr, Unpackr } from 'msgpackr';
import { MessagePackWriter } from '../../src/wire/msgpack-writer.js';
import '../helpers/property-seed.js';

// The reference: what Peerway encoded with before (msgpackr, records off), read by a generic MessagePack reader.
const reference = new Packr({ useRecords: false, int64AsType: 'auto' as 'bigint', encodeUndefinedAsNil: true, moreTypes: false });
const reader = new Unpackr({ useRecords: false, int64AsType: 'auto' as 'bigint' });

function assertSameAsReference(writer: MessagePackWriter, value: unknown): void {
  const ours = writer.encode(value);
  assert.deepEqual(reader.unpack(ours), reader.unpack(reference.pack(value)));
}

/** Values of every kind Peerway messages carry: JSON-like values, binary, bigint, undefined. */
const values = fc.letrec((tie) => ({
  value: fc.oneof(
    { depthSize: 'small' },
    fc.constant(null),
    fc.constant(undefined),
    fc.boolean(),
    fc.integer({ min: -(2 ** 31), max: 2 ** 32 }),
    fc.maxSafeInteger(),
    fc.double(),
    fc.bigInt({ min: -(2n ** 63n), max: 2n ** 64n - 1n }),
    fc.string({ unit: 'binary', maxLength: 80 }),
    fc.string({ unit: 'grapheme', maxLength: 40 }),
    fc.uint8Array({ maxLength: 300 }),
    fc.array(tie('value'), { maxLength: 20 }),
    fc.dictionary(fc.string({ maxLength: 12 }), tie('value'), { maxKeys: 20 }),
  ),
})).value;

test('the writer encodes every kind of value so that a generic reader reads what msgpackr wrote', () => {
  const writer = new MessagePackWriter();
  fc.assert(fc.property(values, (v) => assertSameAsReference(writer, v)), { numRuns: 2000 });
});

test('integers, strings, binaries, arrays and maps at every header boundary decode exactly', () => {
  const writer = new MessagePackWriter();
  const ints = [0, 127, 128, 255, 256, 65535, 65536, 2 ** 32 - 1, 2 ** 32, Number.MAX_SAFE_INTEGER, -1, -32, -33, -128, -129, -32768, -32769, -(2 ** 31), -(2 ** 31) - 1, Number.MIN_SAFE_INTEGER];
  for (const n of ints) assert.equal(reader.unpack(writer.encode(n)), n, `integer ${n}`);
  for (const n of [2 ** 53, -(2 ** 60), 1.5, -0.25, Infinity, -Infinity]) assert.equal(reader.unpack(writer.encode(n)), n, `number ${n}`);
  assert.ok(Number.isNaN(reader.unpack(writer.encode(NaN))));
  for (const n of [2n ** 63n - 1n, -(2n ** 63n), 2n ** 64n - 1n, 0n]) assertSameAsReference(writer, n);
  // UTF-8 lengths around 31/32, 255/256, 65535/65536 bytes, from ASCII and from 2- and 3-byte characters.
  for (const unit of ['a', 'é', '€']) {
    for (const bytes of [31, 32, 33, 93, 255, 256, 65535, 65536, 70000]) {
      const s = unit.repeat(Math.ceil(bytes / Buffer.byteLength(unit)));
      assert.equal(reader.unpack(writer.encode(s)), s, `${s.length} × ${unit}`);
    }
  }
  assert.equal(reader.unpack(writer.encode('abc\u{1F600}é')), 'abc\u{1F600}é');
  for (const length of [0, 255, 256, 65535, 65536, 200_000]) {
    const b = Buffer.alloc(length, 7);
    assert.deepEqual(reader.unpack(writer.encode(b)), b, `binary of ${length}`);
  }
  for (const length of [15, 16, 65535, 65536]) {
    const a = Array.from({ length }, (_, i) => i % 200);
    assert.deepEqual(reader.unpack(writer.encode(a)), a, `array of ${length}`);
    const m = Object.fromEntries(a.map((v, i) => [`k${i}`, v]));
    assert.deepEqual(reader.unpack(writer.encode(m)), m, `map of ${length}`);
  }
});

test('earlier encodings stay intact while later ones fill and outgrow the chunk', () => {
  const writer = new MessagePackWriter();
  const kept: Array<{ value: unknown; bytes: Buffer }> = [];
  for (let i = 0; i < 3000; i++) {
    // Mostly small messages, with a few that are larger than a whole chunk.
    const value = i % 500 === 499 ? { type: 'data', path: 'big', value: 'x'.repeat(100_000 + i) } : { type: 'reply', id: i, value: `v${i}` };
    kept.push({ value, bytes: writer.encode(value) });
  }
  for (const { value, bytes } of kept) assert.deepEqual(reader.unpack(bytes), value);
});

test('a key first met when the chunk is nearly full is cached with its own bytes', () => {
  const writer = new MessagePackWriter();
  // Fill the chunk until an encoding has to move mid-way, each time with a key never seen before.
  for (let i = 0; i < 400; i++) {
    const value = { [`key-${i}`]: 'y'.repeat(300), filler: 'z'.repeat(i * 7) };
    assert.deepEqual(reader.unpack(writer.encode(value)), value);
    assert.deepEqual(reader.unpack(writer.encode(value)), value, 'the second time, from the key cache');
  }
});

test('more distinct keys than the cache holds still encode correctly', () => {
  const writer = new MessagePackWriter();
  for (let i = 0; i < 5000; i++) {
    const value = { [`k${i}`]: i, [`long-key-${'q'.repeat(70)}-${i}`]: true };
    assert.deepEqual(reader.unpack(writer.encode(value)), value);
  }
});

test('values that are not plain data encode as msgpackr encodes them', () => {
  const writer = new MessagePackWriter();
  class Point {
    constructor(
      readonly x: number,
      readonly y: number,
    ) {}
  }
  for (const v of [new Date(1_700_000_000_000), new Map([['a', 1]]), new Set([1, 2]), new Point(1, 2), { nested: new Date(0) }, Object.create(null)]) {
    assertSameAsReference(writer, v);
  }
});

test('a bigint beyond 64 bits is refused with a RangeError that says why', () => {
  const writer = new MessagePackWriter();
  assert.throws(() => writer.encode({ v: 2n ** 64n }), (e: unknown) => e instanceof RangeError && /does not fit in 64 bits/.test(e.message));
  // The writer is still usable afterwards.
  assert.deepEqual(reader.unpack(writer.encode({ ok: 1 })), { ok: 1 });
});

test('a reply encoded without its object has the bytes of the object { type: "reply", id, value }', () => {
  const writer = new MessagePackWriter();
  const ids = fc.oneof(fc.nat(), fc.maxSafeInteger(), fc.double());
  fc.assert(
    fc.property(ids, values, (id, value) => {
      assert.deepEqual(writer.encodeReply(id, value), writer.encode({ type: 'reply', id, value }));
    }),
    { numRuns: 1000 },
  );
});

test('a reply nests as deep as the object form may, and one level deeper fails the same way', () => {
  const writer = new MessagePackWriter(4);
  const nested = (levels: number): unknown => (levels === 0 ? 1 : [nested(levels - 1)]);
  assert.deepEqual(writer.encodeReply(7, nested(3)), writer.encode({ type: 'reply', id: 7, value: nested(3) }));
  assert.throws(() => writer.encode({ type: 'reply', id: 7, value: nested(4) }), /deeper than 4 levels/);
  assert.throws(() => writer.encodeReply(7, nested(4)), /deeper than 4 levels/);
});
