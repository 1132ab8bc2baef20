import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { connectClient, fixture, startRunner, startServer } from '../helpers/harness.js';
import type { Session } from '../../src/client/session.js';
import { PeerwayError } from '../../src/errors.js';

const TYPES = fixture('definitions', 'types.xml');

/** The same checks for a service hosted by a runner and for one loaded into the server. */
for (const location of ['remote', 'in-process'] as const) {
  describe(`calls to a ${location} service`, () => {
    async function session(t: import('node:test').TestContext): Promise<Session> {
      const server = await startServer(t, location === 'in-process' ? ['--service', TYPES] : []);
      if (location === 'remote') await startRunner(t, server.url, [TYPES]);
      const client = await connectClient(t, server.url);
      const s = await client.startSession('Types');
      assert.equal(s.location, location);
      return s;
    }

    test('every type round-trips through a call', async (t) => {
      const s = await session(t);
      assert.equal(await s.call('echoBool', { value: true }), true);
      assert.equal(await s.call('echoInt', { value: -2147483648 }), -2147483648);
      assert.equal(await s.call('echoInt64', { value: 2n ** 62n }), 2n ** 62n);
      assert.equal(await s.call('echoInt64', { value: 42 }), 42);
      assert.equal(await s.call('echoFloat', { value: 1.25 }), 1.25);
      assert.equal(await s.call('echoDouble', { value: Math.PI }), Math.PI);
      assert.equal(await s.call('echoString', { value: 'grüße 🚗' }), 'grüße 🚗');
      assert.deepEqual(Buffer.from(await s.call<Uint8Array>('echoBinary', { value: Buffer.from([0, 255, 7]) })), Buffer.from([0, 255, 7]));
      const point = { x: 1.5, y: -2, label: 'p' };
      assert.deepEqual(await s.call('echoPoint', { value: point }), point);
      const shape = { name: 'tri', points: [point, { x: 0, y: 0, label: '' }] };
      assert.deepEqual(await s.call('echoShape', { value: shape }), shape);
      assert.deepEqual(await s.call('echoInts', { value: [1, 2, 3] }), [1, 2, 3]);
      assert.equal(await s.call('add', { a: 2, b: 40 }), 42);
      assert.equal(await s.call('nothing'), undefined);
    });

    test('a wrong argument type fails with BAD_ARGUMENT naming the argument', async (t) => {
      const s = await session(t);
      await assert.rejects(s.call('add', { a: 'two', b: 1 }), (e: PeerwayError) => e.code === 'BAD_ARGUMENT' && /argument "a"/.test(e.message));
      await assert.rejects(s.call('add', { a: 1 }), (e: PeerwayError) => e.code === 'BAD_ARGUMENT' && /"b"/.test(e.message));
      await assert.rejects(s.call('add', { a: 1, b: 2, c: 3 }), (e: PeerwayError) => e.code === 'BAD_ARGUMENT' && /"c"/.test(e.message));
      await assert.rejects(s.call('echoPoint', { value: { x: 1, y: 2 } }), (e: PeerwayError) => e.code === 'BAD_ARGUMENT' && /label/.test(e.message));
    });

    test('the service checks arguments too, so a client that skips checks gets BAD_ARGUMENT', async (t) => {
      const s = await session(t);
      // Reach past the client-side check and send a wrongly typed call on the wire.
      const channel = (s as unknown as { server: import('../../src/client/session.js').ServerAccess }).server.channel();
      await assert.rejects(
        channel.request({ type: 'call', session: s.id, method: 'add', args: { a: 'x', b: 1 } }),
        (e: PeerwayError) => e.code === 'BAD_ARGUMENT' && /Types\.add argument "a"/.test(e.message),
      );
    });

    test('an unknown method fails with METHOD_NOT_FOUND listing the methods', async (t) => {
      const s = await session(t);
      await assert.rejects(s.call('nope'), (e: PeerwayError) => e.code === 'METHOD_NOT_FOUND' && /echoBool/.test(e.message));
    });

    test('an implementation that throws gives IMPLEMENTATION_ERROR with its message', async (t) => {
      const s = await session(t);
      await assert.rejects(s.call('fail', { message: 'boom' }), (e: PeerwayError) => e.code === 'IMPLEMENTATION_ERROR' && /boom/.test(e.message));
      // The service keeps working afterwards.
      assert.equal(await s.call('add', { a: 1, b: 1 }), 2);
    });

    test('a result that does not match the definition fails with BAD_RESULT', async (t) => {
      const s = await session(t);
      await assert.rejects(s.call('badResult'), (e: PeerwayError) => e.code === 'BAD_RESULT' && /badResult/.test(e.message));
    });

    test('a call slower than its timeout fails with TIMEOUT, and the session keeps working', async (t) => {
      const s = await session(t);
      await assert.rejects(s.call('slow', { ms: 1500 }, { timeoutMs: 200 }), (e: PeerwayError) => e.code === 'TIMEOUT');
      assert.equal(await s.call('slow', { ms: 10 }), 10);
    });
  });
}

test('starting a session with an unknown service fails with SERVICE_NOT_FOUND listing the services', async (t) => {
  const server = await startServer(t, ['--service', TYPES]);
  const client = await connectClient(t, server.url);
  await assert.rejects(client.startSession('Nope'), (e: PeerwayError) => e.code === 'SERVICE_NOT_FOUND' && /"Nope"/.test(e.message) && /Types/.test(e.message));
});

test('a stopped session refuses further calls with SESSION_NOT_FOUND', async (t) => {
  const server = await startServer(t, ['--service', TYPES]);
  const client = await connectClient(t, server.url);
  const s = await client.startSession('Types');
  await s.stop();
  await assert.rejects(s.call('nothing'), (e: PeerwayError) => e.code === 'SESSION_NOT_FOUND');
});
