import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { connectClient, fixture, startRunner, startServer } from '../helpers/harness.js';
import { PeerwayError } from '../../src/errors.js';
import { encodeFrame } from '../../src/wire/frame-decoder.js';
import { encodeMessage } from '../../src/wire/codec.js';
import { PROTOCOL_VERSION } from '../../src/wire/messages.js';

const TYPES = fixture('definitions', 'types.xml');

test('a runner killed mid-call fails the pending call with SERVICE_GONE and ends the session', async (t) => {
  const server = await startServer(t);
  const runner = await startRunner(t, server.url, [TYPES]);
  const client = await connectClient(t, server.url);
  const s = await client.startSession('Types');
  const ended = new Promise<PeerwayError>((resolve) => s.once('ended', resolve));
  const pending = s.call('slow', { ms: 10_000 }, { timeoutMs: 8000 });
  await runner.waitFor(/slow call started/, { stream: 'stderr' });
  runner.child.kill('SIGKILL');
  await assert.rejects(pending, (e: PeerwayError) => e.code === 'SERVICE_GONE' && /Types/.test(e.message));
  assert.equal((await ended).code, 'SERVICE_GONE');
  await assert.rejects(s.call('nothing'), (e: PeerwayError) => e.code === 'SERVICE_GONE');
  await assert.rejects(client.startSession('Types'), (e: PeerwayError) => e.code === 'SERVICE_NOT_FOUND');
});

test('the server closing fails pending calls with CONNECTION_CLOSED, not a hang', async (t) => {
  const server = await startServer(t);
  const runner = await startRunner(t, server.url, [TYPES]);
  const client = await connectClient(t, server.url);
  const s = await client.startSession('Types');
  const pending = s.call('slow', { ms: 10_000 }, { timeoutMs: 8000 });
  await runner.waitFor(/slow call started/, { stream: 'stderr' });
  server.proc.child.kill('SIGKILL');
  await assert.rejects(pending, (e: PeerwayError) => e.code === 'CONNECTION_CLOSED');
});

/** Opens a raw socket, says hello as a client, and returns it. */
async function rawClient(port: number, hello = true): Promise<net.Socket> {
  const sock = net.connect(port, '127.0.0.1');
  await new Promise((r, j) => sock.once('connect', r).once('error', j));
  if (hello) {
    sock.write(encodeFrame(encodeMessage({ type: 'hello', version: PROTOCOL_VERSION, role: 'client' })));
    await new Promise((r) => sock.once('data', r)); // the welcome: the hello is complete
  }
  sock.resume(); // drain what the server sends, so its close is seen
  return sock;
}

function closed(sock: net.Socket): Promise<void> {
  return new Promise((r) => (sock.destroyed ? r() : sock.once('close', () => r())));
}

const malformed: [string, Buffer, RegExp][] = [
  ['a frame above the size limit', Buffer.from([0x7f, 0xff, 0xff, 0xff, 1, 2, 3]), /frame of 2147483647 bytes, above the limit/],
  ['an undecodable body', encodeFrame(Buffer.from([0xc1, 0xc1])), /undecodable message body/],
  ['a body that is not a message', encodeFrame(encodeMessage([1, 2, 3] as never)), /not a map with a string .*type/],
  ['an unknown message type', encodeFrame(encodeMessage({ type: 'teleport' } as never)), /unexpected message type .*teleport/],
];

for (const [what, bytes, logged] of malformed) {
  test(`${what} closes that connection with a logged reason while other clients keep working`, async (t) => {
    const server = await startServer(t, ['--service', TYPES]);
    const good = await connectClient(t, server.url);
    const s = await good.startSession('Types');
    const bad = await rawClient(server.port);
    bad.write(bytes);
    await closed(bad);
    await server.proc.waitFor(logged, { stream: 'stderr', timeoutMs: 5000 });
    assert.equal(await s.call('add', { a: 20, b: 22 }), 42);
  });
}

test('a client that sends garbage before any hello is closed without disturbing the server', async (t) => {
  const server = await startServer(t, ['--service', TYPES]);
  const bad = await rawClient(server.port, false);
  bad.write('GET / HTTP/1.1\r\nHost: x\r\n\r\n');
  await closed(bad);
  const good = await connectClient(t, server.url);
  assert.deepEqual((await good.services()).map((x) => x.name), ['Types']);
});

test('a client with another protocol version gets VERSION_MISMATCH, not a hang', async (t) => {
  const server = await startServer(t);
  const sock = await rawClient(server.port, false);
  sock.write(encodeFrame(encodeMessage({ type: 'hello', version: 999, role: 'client' })));
  const chunks: Buffer[] = [];
  sock.on('data', (c) => chunks.push(c));
  await closed(sock);
  const { decodeMessage } = await import('../../src/wire/codec.js');
  const reply = decodeMessage(Buffer.concat(chunks).subarray(4));
  assert.equal(reply.type, 'error');
  assert.equal((reply as { error: { code: string } }).error.code, 'VERSION_MISMATCH');
});

test('connecting to a port where nothing listens fails fast with CONNECT_FAILED', async () => {
  const { connect } = await import('../../src/client/client.js');
  const probe = net.createServer();
  await new Promise<void>((r) => probe.listen(0, '127.0.0.1', r));
  const port = (probe.address() as net.AddressInfo).port;
  await new Promise((r) => probe.close(r));
  await assert.rejects(connect(`tcp://127.0.0.1:${port}`), (e: PeerwayError) => e.code === 'CONNECT_FAILED' && /refused/.test(e.message));
});
