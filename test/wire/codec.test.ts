import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { Unpackr } from 'msgpackr';
import { decodeMessage, encodeMessage } from '../../src/wire/codec.js';
import type { Message } from '../../src/wire/messages.js';
import { PeerwayError } from '../../src/errors.js';

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
