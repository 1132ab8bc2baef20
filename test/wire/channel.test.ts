import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { tcpBearer } from '../../src/bearer/tcp.js';
import type { MessageConnection } from '../../src/bearer/bearer.js';
import { acceptHandshake, dialHandshake } from '../../src/wire/handshake.js';
import { Channel } from '../../src/wire/channel.js';
import { PeerwayError } from '../../src/errors.js';
import { FrameDecoder, encodeFrame } from '../../src/wire/frame-decoder.js';
import { decodeMessage, encodeMessage } from '../../src/wire/codec.js';
import { PROTOCOL_VERSION, REQUEST_TYPES, type Request } from '../../src/wire/messages.js';

/** A real TCP listener that runs the accepting side of the handshake and answers requests with `answer`. */
async function listen(t: import('node:test').TestContext, answer: (m: Request) => unknown, onAccepted?: (c: Channel) => void) {
  const refused: PeerwayError[] = [];
  const listener = await tcpBearer.listen({ bearer: tcpBearer.id, host: '127.0.0.1', port: 0 }, (conn: MessageConnection) => {
    acceptHandshake(conn, 'test', { roles: ['client'], peer: 'test-server' }).then(
      ({ channel }) => {
        channel.setHandlers({ requests: Object.fromEntries(REQUEST_TYPES.map((type) => [type, answer])) });
        onAccepted?.(channel);
      },
      (err: unknown) => refused.push(PeerwayError.from(err)),
    );
  });
  t.after(() => listener.close());
  return { port: listener.address.port!, refused };
}

test('requests get their replies and typed errors over a real TCP connection', async (t) => {
  const { port } = await listen(t, (m) => {
    if (m.type === 'list') return ['a'];
    throw new PeerwayError('SERVICE_NOT_FOUND', 'nope');
  });
  const conn = await tcpBearer.connect({ bearer: tcpBearer.id, host: '127.0.0.1', port });
  const channel = await dialHandshake(conn, 'server', { role: 'client' });
  channel.start({});
  t.after(() => channel.close());
  assert.deepEqual(await channel.request({ type: 'list' }), ['a']);
  await assert.rejects(channel.request({ type: 'stats' }), (e: PeerwayError) => e.code === 'SERVICE_NOT_FOUND' && e.message === 'nope');
});

test('a request without an answer fails with TIMEOUT instead of hanging', async (t) => {
  const { port } = await listen(t, () => new Promise(() => {}));
  const channel = await dialHandshake(await tcpBearer.connect({ bearer: tcpBearer.id, host: '127.0.0.1', port }), 'server', { role: 'client' });
  channel.start({});
  t.after(() => channel.close());
  await assert.rejects(channel.request({ type: 'list' }, { timeoutMs: 100 }), (e: PeerwayError) => e.code === 'TIMEOUT');
  const ac = new AbortController();
  const pending = channel.request({ type: 'list' }, { signal: ac.signal, timeoutMs: 5000 });
  ac.abort();
  await assert.rejects(pending, (e: PeerwayError) => e.code === 'ABORTED');
});

test('pending requests fail with CONNECTION_CLOSED when the peer goes away', async (t) => {
  let server: Channel | undefined;
  const { port } = await listen(t, () => new Promise(() => {}), (c) => (server = c));
  const channel = await dialHandshake(await tcpBearer.connect({ bearer: tcpBearer.id, host: '127.0.0.1', port }), 'server', { role: 'client' });
  channel.start({});
  const pending = channel.request({ type: 'list' }, { timeoutMs: 5000 });
  while (!server) await new Promise((r) => setTimeout(r, 5));
  server.close('bye');
  await assert.rejects(pending, (e: PeerwayError) => e.code === 'CONNECTION_CLOSED');
});

test('a hello with another protocol version is refused with VERSION_MISMATCH and a close', async (t) => {
  const { port, refused } = await listen(t, () => null);
  const conn = await tcpBearer.connect({ bearer: tcpBearer.id, host: '127.0.0.1', port });
  await assert.rejects(dialHandshake(conn, 'server', { role: 'client', version: 99 }), (e: PeerwayError) => e.code === 'VERSION_MISMATCH' && /version 99/.test(e.message));
  assert.equal(refused[0]?.code, 'VERSION_MISMATCH');
});

test('a wrong role is refused with a message naming the roles accepted', async (t) => {
  const { port } = await listen(t, () => null);
  const conn = await tcpBearer.connect({ bearer: tcpBearer.id, host: '127.0.0.1', port });
  await assert.rejects(dialHandshake(conn, 'server', { role: 'runner' }), (e: PeerwayError) => e.code === 'PROTOCOL' && /"runner" is not accepted/.test(e.message));
});

test('a first message other than hello closes the connection with the reason', async (t) => {
  const { port, refused } = await listen(t, () => null);
  const sock = net.connect(port, '127.0.0.1');
  await new Promise((r) => sock.once('connect', r));
  sock.resume(); // read (and drop) the error notice, so the peer's close is seen
  sock.write(encodeFrame(encodeMessage({ type: 'list', id: 1 })));
  await new Promise((r) => sock.once('close', r));
  assert.match(refused[0].message, /first message must be "hello"/);
});

test('requests with different timeouts each fail at their own deadline, shortest first', async (t) => {
  const { port } = await listen(t, () => new Promise(() => {}));
  const channel = await dialHandshake(await tcpBearer.connect({ bearer: tcpBearer.id, host: '127.0.0.1', port }), 'server', { role: 'client' });
  channel.start({});
  t.after(() => channel.close());
  const started = performance.now();
  const failedAt = new Map<number, number>();
  // The long one is sent first, so the shorter ones must pull the channel's one timer earlier.
  const requests = [600, 300, 80].map((ms) =>
    channel.request({ type: 'list' }, { timeoutMs: ms }).then(
      () => assert.fail('no answer was expected'),
      (e: PeerwayError) => {
        assert.equal(e.code, 'TIMEOUT');
        assert.match(e.message, new RegExp(`within ${ms} ms`));
        failedAt.set(ms, performance.now() - started);
      },
    ),
  );
  await Promise.all(requests);
  for (const ms of [600, 300, 80]) assert.ok(failedAt.get(ms)! >= ms - 1, `the ${ms} ms request failed after ${failedAt.get(ms)} ms`);
  assert.ok(failedAt.get(80)! < failedAt.get(300)! && failedAt.get(300)! < failedAt.get(600)!);
  assert.equal(channel.pendingCount, 0);
});

test('answered requests leave no timer behind once the channel closes', async (t) => {
  const { port } = await listen(t, () => 'ok');
  const timers = () => process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;
  const before = timers();
  const channel = await dialHandshake(await tcpBearer.connect({ bearer: tcpBearer.id, host: '127.0.0.1', port }), 'server', { role: 'client' });
  channel.start({});
  for (let i = 0; i < 100; i++) assert.equal(await channel.request({ type: 'list' }, { timeoutMs: 60_000 }), 'ok');
  // One timer for the whole channel, however many requests went by.
  assert.ok(timers() - before <= 1, `${timers() - before} timers for one channel`);
  channel.close();
  while (!channel.closed || channel.closeInfo === undefined) await new Promise((r) => setTimeout(r, 5));
  assert.equal(timers(), before);
});

test('mapError rewrites the error of a request that fails, and of one sent on a closed channel', async (t) => {
  let server: Channel | undefined;
  const { port } = await listen(t, () => new Promise(() => {}), (c) => (server = c));
  const channel = await dialHandshake(await tcpBearer.connect({ bearer: tcpBearer.id, host: '127.0.0.1', port }), 'server', { role: 'client' });
  channel.start({});
  const gone = (e: PeerwayError) => (e.code === 'CONNECTION_CLOSED' ? new PeerwayError('SERVICE_GONE', `gone: ${e.message}`) : e);
  const pending = channel.request({ type: 'list' }, { timeoutMs: 5000, mapError: gone });
  while (!server) await new Promise((r) => setTimeout(r, 5));
  server.close('bye');
  await assert.rejects(pending, (e: PeerwayError) => e.code === 'SERVICE_GONE' && /^gone: /.test(e.message));
  await assert.rejects(channel.request({ type: 'list' }, { mapError: gone }), (e: PeerwayError) => e.code === 'SERVICE_GONE');
  // Errors it does not rewrite pass through unchanged.
  await assert.rejects(channel.request({ type: 'list' }, { mapError: (e) => e }), (e: PeerwayError) => e.code === 'CONNECTION_CLOSED');
});

test('result turns a reply into what the request resolves with, and what it throws rejects the request as it is, past mapError', async (t) => {
  const { port } = await listen(t, (m) => {
    if (m.type === 'list') return ['a', 'b'];
    throw new PeerwayError('SERVICE_NOT_FOUND', 'nope');
  });
  const channel = await dialHandshake(await tcpBearer.connect({ bearer: tcpBearer.id, host: '127.0.0.1', port }), 'server', { role: 'client' });
  channel.start({});
  t.after(() => channel.close());
  const everything = () => new PeerwayError('SERVICE_GONE', 'mapped');
  assert.equal(await channel.request({ type: 'list' }, { result: (v) => (v as string[]).length }), 2);
  const bad = new PeerwayError('BAD_RESULT', 'not a count');
  await assert.rejects(
    channel.request({ type: 'list' }, { mapError: everything, result: () => { throw bad; } }),
    (e: unknown) => e === bad,
  );
  // An error reply never reaches result; mapError still rewrites it.
  let ran = false;
  await assert.rejects(
    channel.request({ type: 'stats' }, { mapError: everything, result: () => (ran = true) }),
    (e: PeerwayError) => e.code === 'SERVICE_GONE',
  );
  assert.equal(ran, false);
});

test('a peer that stops answering is dropped when the keepalive gives up: pending requests fail and the close handler runs without waiting for the frozen peer to close its end', async (t) => {
  // A frozen process: its kernel takes our bytes and our FIN, its application never answers or closes.
  const order: string[] = [];
  let peerSawClose!: () => void;
  const peerClosed = new Promise<void>((resolve) => (peerSawClose = resolve));
  const sockets = new Set<net.Socket>();
  const frozen = net.createServer({ allowHalfOpen: true }, (sock) => {
    sockets.add(sock);
    sock.on('error', () => undefined);
    const decoder = new FrameDecoder();
    let welcomed = false;
    sock.on('data', (chunk: Buffer) =>
      decoder.push(chunk, (frame) => {
        if (welcomed || decodeMessage(Buffer.from(frame)).type !== 'hello') return;
        welcomed = true;
        sock.write(encodeFrame(encodeMessage({ type: 'welcome', version: PROTOCOL_VERSION, peer: 'frozen' })));
      }),
    );
    sock.on('end', () => {
      order.push('the peer got our FIN');
      peerSawClose();
    });
  });
  await new Promise<void>((resolve) => frozen.listen(0, '127.0.0.1', resolve));
  t.after(() => {
    for (const s of sockets) s.destroy();
    frozen.close();
  });
  const port = (frozen.address() as net.AddressInfo).port;
  const channel = await dialHandshake(await tcpBearer.connect({ bearer: tcpBearer.id, host: '127.0.0.1', port }), 'frozen', { role: 'client' });
  channel.start({ close: (info) => order.push(`close handler: ${info.error?.code}`) });
  channel.configure({ keepAliveMs: 100, keepAliveTimeoutMs: 100 });
  const failed = channel.request({ type: 'list' }, { timeoutMs: 30_000 }).then(
    () => assert.fail('the frozen peer answered'),
    (e: PeerwayError) => {
      order.push(`request failed: ${e.code}`);
      return e;
    },
  );
  const error = await failed;
  assert.match(error.message, /frozen stopped answering: no reply to a keepalive within 100 ms/);
  assert.equal(channel.closed, true);
  await peerClosed; // the FIN still goes out
  // Dropped at once, not once the connection's close completes (a frozen peer never completes it).
  assert.deepEqual(order, ['close handler: TIMEOUT', 'request failed: TIMEOUT', 'the peer got our FIN']);
});
