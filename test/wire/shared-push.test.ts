import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { PeerwayError } from '../../src/errors.js';
import { MAX_NESTING_DEPTH, decodeMessage, encodeMessage } from '../../src/wire/codec.js';
import type { DataPush, EventPush } from '../../src/wire/messages.js';
import { SharedPush, type PublishedPush } from '../../src/wire/shared-push.js';
import '../helpers/property-seed.js';

/** What a per-session encode gives: the reference the spliced copies must equal byte for byte. */
function perSession(push: PublishedPush, session: string): Buffer {
  const message: EventPush | DataPush = push.type === 'event' ? { type: 'event', session, name: push.name, args: push.args } : { type: 'data', session, path: push.path, value: push.value };
  return Buffer.from(encodeMessage(message));
}

// Every MessagePack str form (fixstr up to 31 bytes, str8, str16, str32) and non-ASCII ids, whose byte
// length differs from their length.
const IDS = ['', 'a', 'AbCdEfGhIjKl', 'x'.repeat(31), 'y'.repeat(32), 'z'.repeat(255), 'w'.repeat(256), 'v'.repeat(70_000), 'sé', '会话-1', '🙂'.repeat(20)];

test('a shared push spliced for sessions with ids of every length is byte for byte the per-session encoding', () => {
  const pushes: PublishedPush[] = [
    { type: 'data', path: 'counter', value: 1_000_000 },
    { type: 'data', path: '', value: { n: 5, secret: 's3cret', list: [1, 2, { deep: true }], blob: new Uint8Array([1, 2, 3]) } },
    { type: 'data', path: 'cabin.fan', value: null },
    { type: 'event', name: 'bumped', args: { n: 3 } },
    { type: 'event', name: 'e'.repeat(40), args: {} },
  ];
  for (const push of pushes) {
    // The first session of a publish gets the whole encoding, the later ones the splice: each id goes first once.
    for (const first of IDS) {
      const shared = new SharedPush(push);
      for (const session of [first, ...IDS]) {
        const bytes = Buffer.from(shared.encodeFor(session));
        assert.deepEqual(bytes, perSession(push, session), `${push.type} for a session id of ${session.length} characters after one of ${first.length}`);
        const decoded = decodeMessage(Buffer.from(bytes));
        assert.deepEqual(decoded, decodeMessage(perSession(push, session)));
        assert.equal((decoded as EventPush | DataPush).session, session);
      }
    }
  }
});

test('spliced copies are buffers of their own: a later copy does not change an earlier one', () => {
  const shared = new SharedPush({ type: 'data', path: 'p', value: 'v' });
  const a = Buffer.from(shared.encodeFor('first'));
  const b = shared.encodeFor('second');
  const c = shared.encodeFor('third');
  assert.deepEqual(Buffer.from(shared.encodeFor('first')), a);
  assert.deepEqual(Buffer.from(b), perSession(shared.push, 'second'));
  assert.deepEqual(Buffer.from(c), perSession(shared.push, 'third'));
});

test('any runtime-data value or event argument encodes the same shared as per session (property)', () => {
  const value = fc.jsonValue({ maxDepth: 4 });
  const push: fc.Arbitrary<PublishedPush> = fc.oneof(
    fc.record({ type: fc.constant('data' as const), path: fc.string({ maxLength: 40 }), value }),
    fc.record({ type: fc.constant('event' as const), name: fc.string({ maxLength: 40 }), args: fc.dictionary(fc.string({ maxLength: 10 }), value, { maxKeys: 5 }) }),
  );
  fc.assert(
    fc.property(push, fc.array(fc.string({ unit: 'grapheme', maxLength: 40 }), { minLength: 1, maxLength: 6 }), (p, sessions) => {
      const shared = new SharedPush(p);
      for (const s of sessions) assert.deepEqual(Buffer.from(shared.encodeFor(s)), perSession(p, s));
    }),
  );
});

test('a push that cannot be encoded fails with the same error for every session', () => {
  let deep: unknown = 1;
  for (let i = 0; i < MAX_NESTING_DEPTH + 5; i++) deep = [deep];
  const shared = new SharedPush({ type: 'data', path: 'x', value: deep });
  for (const session of ['one', 'two', 'three']) {
    assert.throws(() => shared.encodeFor(session), (e: PeerwayError) => e instanceof PeerwayError && e.code === 'PROTOCOL');
  }
});
