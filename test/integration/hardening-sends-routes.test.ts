import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { PeerwayError } from '../../src/errors.js';
import { getBearer } from '../../src/bearer/registry.js';
import { parseInstructions } from '../../src/routing/instructions.js';
import { encodeMessage } from '../../src/wire/codec.js';
import { dialHandshake } from '../../src/wire/handshake.js';
import { PROTOCOL_VERSION, type Message } from '../../src/wire/messages.js';
import { connectClient, fixture, startRunner, startServer } from '../helpers/harness.js';
import { HARD } from '../helpers/hard-service.js';
import { RawPeer } from '../helpers/raw-peer.js';

/**
 * The attacks and careless deployments of the hardening issue, each on real processes: the server and
 * runner survive, what is attacked is refused or dropped with a logged reason, memory stays bounded, and
 * a well-behaved client keeps being served.
 */

const LAB = fixture('p2p', 'lab.xml');
const SECURE = fixture('p2p', 'ssl-required.xml');

const errorOf = (m: Message) => (m.type === 'error' ? m.error : undefined);

test('a reply above the frame limit fails that call with FRAME_TOO_LARGE at the caller; nothing crashes', async (t) => {
  const server = await startServer(t);
  const runner = await startRunner(t, server.url, [HARD]);
  const s = await (await connectClient(t, server.url)).startSession('Hard');
  await assert.rejects(s.call('bigAsync', { size: 17_000_000 }), (e: PeerwayError) => e.code === 'FRAME_TOO_LARGE' && /above the limit/.test(e.message));
  assert.equal(runner.child.exitCode, null, 'the runner is alive');
  assert.equal(server.proc.child.exitCode, null, 'the server is alive');
  assert.equal(await s.call('hello'), 'hello');
});

test('a relayed reply that grows past the limit with the wider request id fails that call, and the server lives', async (t) => {
  const limit = 100_000;
  const server = await startServer(t, ['--max-message-bytes', String(limit)]);
  // A fake runner whose reply is exactly at the limit with its own (one-byte) request id.
  const connection = await getBearer('connect.bearer.tcp').connect({ bearer: 'connect.bearer.tcp', host: '127.0.0.1', port: server.port });
  const fake = await dialHandshake(connection, 'server', { role: 'runner' });
  t.after(() => fake.close());
  fake.start({
    requests: {
      open: () => ({}),
      ready: () => undefined,
      call: (m) => {
        let size = limit - 30;
        while (encodeMessage({ type: 'reply', id: m.id, value: 'y'.repeat(size) }).length < limit) size++;
        return 'y'.repeat(size);
      },
    },
  });
  await fake.request({ type: 'register', services: [{ name: 'Fake', file: 'fake.xml', xml: '<service name="Fake"><methods><method name="big" returns="string"/></methods></service>' }] });
  const client = await RawPeer.connect(server.port);
  t.after(() => client.close());
  client.useIdsFrom(70_000); // five bytes on the wire, where the runner's id to the server takes one
  const started = await client.request({ type: 'start', service: 'Fake', client: { bearers: [], host: 'x', version: PROTOCOL_VERSION } });
  assert.equal(started.type, 'reply');
  const session = (started as { value: { session: string } }).value.session;
  await client.request({ type: 'ready', session, routes: {} });
  const answer = await client.request({ type: 'call', session, method: 'big', args: {} });
  assert.equal(errorOf(answer)?.code, 'FRAME_TOO_LARGE');
  assert.equal(server.proc.child.exitCode, null);
  const good = await connectClient(t, server.url);
  assert.deepEqual((await good.services()).map((x) => x.name), ['Fake']);
});

test('the runner serves on a link only what it offered there, and refuses a link before the session is ready', async (t) => {
  const server = await startServer(t);
  await startRunner(t, server.url, [LAB]);
  const raw = await RawPeer.connect(server.port);
  t.after(() => raw.close());
  const profile = { bearers: ['connect.bearer.tcp', 'connect.bearer.udp'], host: 'x', version: PROTOCOL_VERSION };
  const started = (await raw.request({ type: 'start', service: 'Lab', client: profile })) as { value: { session: string; routing: string } };
  const { session, routing } = started.value;
  const link = parseInstructions(routing).links.find((l) => l.name === 'reliable')!;
  const dial = async () => dialHandshake(await getBearer(link.address.bearer).connect(link.address), 'link', { role: 'link', token: link.token, session, link: 'reliable' });
  const early = await dial();
  early.start({});
  t.after(() => early.close());
  await assert.rejects(early.request({ type: 'call', session, method: 'echo', args: { text: 'a' } }), (e: PeerwayError) => e.code === 'PROTOCOL' && /is not ready yet/.test(e.message));
  // Routes the service never offered are refused at ready, not believed.
  const lie = await raw.request({ type: 'ready', session, routes: { 'method:setCounter': { linkType: 'direct', link: 'reliable' } } });
  assert.equal(errorOf(lie)?.code, 'PROTOCOL');
  assert.match(errorOf(lie)!.message, /did not offer this session a direct route on link "reliable" for method "setCounter"/);
  const honest = await raw.request({ type: 'ready', session, routes: { 'method:echo': { linkType: 'direct', link: 'reliable' } } });
  assert.equal(honest.type, 'reply');
  assert.equal(await early.request({ type: 'call', session, method: 'echo', args: { text: 'a' } }), 'a via direct');
  await assert.rejects(early.request({ type: 'call', session, method: 'setCounter', args: { value: 1 } }), (e: PeerwayError) => /not routed to link reliable/.test(e.message));
  await assert.rejects(early.request({ type: 'subscribe', session, kind: 'data', name: 'label' }), (e: PeerwayError) => /not routed to link reliable/.test(e.message));
});

test('a method whose only route is a required ssl link is never relayed through the server', async (t) => {
  const server = await startServer(t);
  const { makeTestCertificates } = await import('../helpers/certs.js');
  const certs = await makeTestCertificates();
  const runner = await startRunner(t, server.url, [SECURE], ['--link-cert', certs.server.certificate, '--link-key', certs.server.key]);
  const raw = await RawPeer.connect(server.port);
  t.after(() => raw.close());
  // Says it has ssl (so the session starts), then skips the link and calls through the server.
  const started = (await raw.request({ type: 'start', service: 'Secure', client: { bearers: ['connect.bearer.ssl'], host: 'x', version: PROTOCOL_VERSION } })) as {
    value: { session: string };
  };
  const session = started.value.session;
  const skipped = await raw.request({ type: 'ready', session, routes: {} });
  assert.equal(errorOf(skipped)?.code, 'BEARER_MISSING', 'the runner refuses a ready that takes the server route for it');
  const call = await raw.request({ type: 'call', session, method: 'echo', args: { text: 'secret' } });
  assert.equal(errorOf(call)?.code, 'BEARER_MISSING');
  assert.match(errorOf(call)!.message, /requires its direct route for method "echo"; the server does not relay it/);
  assert.doesNotMatch(runner.stderr(), /secret/);
});

test('a hello and the first request in one packet: the request is answered', async (t) => {
  const server = await startServer(t);
  await startRunner(t, server.url, [HARD]);
  const raw = await RawPeer.connect(server.port, false);
  t.after(() => raw.close());
  const hello = encodeMessage({ type: 'hello', version: PROTOCOL_VERSION, role: 'client' });
  const list = encodeMessage({ type: 'list', id: 1 });
  const packet = Buffer.alloc(8 + hello.length + list.length);
  packet.writeUInt32BE(hello.length, 0);
  packet.set(hello, 4);
  packet.writeUInt32BE(list.length, 4 + hello.length);
  packet.set(list, 8 + hello.length);
  raw.socket.write(packet);
  await raw.until(() => raw.received.some((m) => m.type === 'reply'), 'the list reply');
  const reply = raw.received.find((m) => m.type === 'reply') as { value: { name: string }[] };
  assert.deepEqual(reply.value.map((s) => s.name), ['Hard']);
});

test('a runner killed under a pending direct call fails it with SERVICE_GONE, as on the server route', async (t) => {
  const server = await startServer(t);
  const runner = await startRunner(t, server.url, [HARD]);
  const s = await (await connectClient(t, server.url)).startSession('Hard');
  assert.equal(s.routeFor('method', 'slow').linkType, 'direct');
  const pending = s.call('slow', { ms: 10_000 }, { timeoutMs: 8000 });
  await runner.waitFor(/slow call started/, { stream: 'stderr' });
  runner.child.kill('SIGKILL');
  await assert.rejects(pending, (e: PeerwayError) => e.code === 'SERVICE_GONE' && /direct link "reliable" closed/.test(e.message));
});
