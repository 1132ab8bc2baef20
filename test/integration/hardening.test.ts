import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { PeerwayError } from '../../src/errors.js';
import { getBearer } from '../../src/bearer/registry.js';
import { parseInstructions } from '../../src/routing/instructions.js';
import { encodeMessage } from '../../src/wire/codec.js';
import { dialHandshake } from '../../src/wire/handshake.js';
import { PROTOCOL_VERSION, type Message } from '../../src/wire/messages.js';
import { startPeerway } from '../../src/cli/peerway-process.js';
import { connectClient, fixture, startRunner, startServer } from '../helpers/harness.js';
import { RawPeer, rssMb } from '../helpers/raw-peer.js';

/**
 * The attacks and careless deployments of the hardening issue, each on real processes: the server and
 * runner survive, what is attacked is refused or dropped with a logged reason, memory stays bounded, and
 * a well-behaved client keeps being served.
 */

const HARD = fixture('p2p', 'hard.xml');
const LAB = fixture('p2p', 'lab.xml');
const SECURE = fixture('p2p', 'ssl-required.xml');

const errorOf = (m: Message) => (m.type === 'error' ? m.error : undefined);

async function goodClientWorks(url: string, t: import('node:test').TestContext): Promise<void> {
  const s = await (await connectClient(t, url)).startSession('Hard');
  assert.equal(await s.call('hello'), 'hello');
}

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

test('a connection that sends half a frame after its hello is dropped by the keepalive', async (t) => {
  const server = await startServer(t, ['--keepalive', '300', '--keepalive-timeout', '300']);
  await startRunner(t, server.url, [HARD]);
  const bad = await RawPeer.connect(server.port);
  bad.socket.write(Buffer.from([0, 0, 1])); // three bytes of a four-byte length
  await Promise.race([bad.closed, new Promise((_, reject) => setTimeout(() => reject(new Error('still open after 5 s')), 5000))]);
  await server.proc.waitFor(/stopped answering: no reply to a keepalive within 300 ms/, { stream: 'stderr' });
  await goodClientWorks(server.url, t);
});

test('a frozen runner is dropped by the keepalive, its name comes free, and a runner waiting for it registers', async (t) => {
  const server = await startServer(t, ['--keepalive', '300', '--keepalive-timeout', '300']);
  const frozen = await startRunner(t, server.url, [HARD], ['--keepalive', '0']);
  const replacement = startPeerway(['runner', '--server', server.url, HARD]);
  t.after(() => replacement.stop());
  await replacement.waitFor(/the server refused the registration; retrying/, { stream: 'stderr' });
  frozen.child.kill('SIGSTOP');
  t.after(() => frozen.child.kill('SIGKILL'));
  await server.proc.waitFor(/service unregistered/, { stream: 'stderr' });
  await replacement.waitFor(/^registered Hard/m, { timeoutMs: 15_000 });
  await goodClientWorks(server.url, t);
});

test('subscribers that never read get runtime data coalesced, then are dropped; memory stays bounded and good clients are served', async (t) => {
  const server = await startServer(t, ['--soft-queued-bytes', '262144', '--max-held-bytes', '2097152']);
  const runner = await startRunner(t, server.url, [HARD], ['--soft-queued-bytes', '262144', '--max-held-bytes', '2097152']);
  const slow: RawPeer[] = [];
  for (let i = 0; i < 4; i++) {
    const raw = await RawPeer.connect(server.port);
    t.after(() => raw.close());
    const started = (await raw.request({ type: 'start', service: 'Hard', client: { bearers: [], host: 'x', version: PROTOCOL_VERSION } })) as { value: { session: string } };
    const session = started.value.session;
    await raw.request({ type: 'ready', session, routes: {} });
    await raw.request({ type: 'subscribe', session, kind: 'data', name: '' });
    await raw.request({ type: 'subscribe', session, kind: 'event' });
    raw.pause();
    slow.push(raw);
  }
  // And one that takes blob directly from the runner, on the reliable link, and never reads either.
  const viaLink = await RawPeer.connect(server.port);
  t.after(() => viaLink.close());
  const linked = (await viaLink.request({ type: 'start', service: 'Hard', client: { bearers: ['connect.bearer.tcp'], host: 'x', version: PROTOCOL_VERSION } })) as {
    value: { session: string; routing: string };
  };
  const link = parseInstructions(linked.value.routing).links.find((l) => l.name === 'reliable')!;
  const linkPeer = await RawPeer.connect(link.address.port!, { role: 'link', token: link.token, session: linked.value.session, link: 'reliable' });
  t.after(() => linkPeer.close());
  await viaLink.request({ type: 'ready', session: linked.value.session, routes: { 'data:blob': { linkType: 'direct', link: 'reliable' } } });
  await linkPeer.request({ type: 'subscribe', session: linked.value.session, kind: 'data', name: 'blob' });
  linkPeer.pause();
  const good = await (await connectClient(t, server.url, { bearers: [] })).startSession('Hard');
  let seen = 0;
  await good.watch('n', () => seen++);
  // About 25 MB/s for 3 s: two pushes (blob and event) of 128 KiB every 10 ms, to each subscriber.
  await good.call('publish', { kbPerTick: 128, ticks: 300 });
  await server.proc.waitFor(/does not keep up with its subscriptions/, { stream: 'stderr', timeoutMs: 10_000 });
  const deadline = Date.now() + 10_000;
  while (seen < 250 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  assert.ok(seen >= 250, `the good client saw ${seen} updates`);
  // The link subscriber was held to the latest blob (coalesced), not dropped: once it reads, it has the last one.
  linkPeer.socket.resume();
  const lastBlob = () => linkPeer.received.filter((m) => m.type === 'data').at(-1) as { value: string } | undefined;
  await linkPeer.until(() => lastBlob()?.value.startsWith('299x') === true, 'the latest blob on the link', 10_000);
  // A paused socket sees the close only once it reads what was queued before it.
  for (const raw of slow) raw.socket.resume();
  for (const raw of slow) await Promise.race([raw.closed, new Promise((r) => setTimeout(r, 5000))]);
  // (The notice that says why sits behind what they did not read: a peer that never reads never sees it.)
  assert.equal(server.proc.stderr().match(/does not keep up with its subscriptions/g)?.length, 4, 'each drop is logged with the reason');
  assert.deepEqual(slow.map((r) => r.isClosed), slow.map(() => true), `every slow subscriber was dropped; server log:\n${server.proc.stderr().slice(-3000)}`);
  const server_mb = rssMb(server.proc.child.pid!);
  const runner_mb = rssMb(runner.child.pid!);
  assert.ok(server_mb < 200, `server RSS ${server_mb.toFixed(0)} MB`);
  assert.ok(runner_mb < 200, `runner RSS ${runner_mb.toFixed(0)} MB`);
  const stats = await (await connectClient(t, server.url)).stats();
  assert.ok(stats.health!.slowConsumersClosed >= 4);
  assert.equal(stats.limits!.maxHeldBytes, 2097152);
});

test('partial frames across connections are bounded: past the budget a connection is dropped, and the memory comes back', async (t) => {
  const server = await startServer(t, ['--max-partial-frame-bytes', String(4 * 1024 * 1024)]);
  await startRunner(t, server.url, [HARD]);
  const peers: RawPeer[] = [];
  const header = Buffer.alloc(4);
  header.writeUInt32BE(15 * 1024 * 1024);
  for (let i = 0; i < 8; i++) {
    const p = await RawPeer.connect(server.port);
    t.after(() => p.close());
    p.socket.write(header);
    p.socket.write(Buffer.alloc(1024 * 1024, 1)); // 1 MiB of a 15 MiB frame each: 8 MiB against a 4 MiB budget
    peers.push(p);
  }
  await server.proc.waitFor(/unfinished frames across all connections hold \d+ bytes, above the limit of 4194304/, { stream: 'stderr', timeoutMs: 10_000 });
  const deadline = Date.now() + 5000;
  while (peers.filter((p) => p.isClosed).length < 4 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  assert.ok(peers.filter((p) => p.isClosed).length >= 4, 'the connections past the budget were dropped');
  await goodClientWorks(server.url, t);
  for (const p of peers) p.close();
  const stats = await (await connectClient(t, server.url)).stats();
  const settle = Date.now() + 5000;
  let held = stats.health!.partialFrameBytes;
  while (held > 0 && Date.now() < settle) {
    await new Promise((r) => setTimeout(r, 50));
    held = (await (await connectClient(t, server.url)).stats()).health!.partialFrameBytes;
  }
  assert.equal(held, 0, 'the partial frames were given back when their peers went');
});

test('a client that floods requests without reading the replies is dropped at its queued-bytes bound', async (t) => {
  const server = await startServer(t, ['--max-queued-bytes', String(1024 * 1024)]);
  await startRunner(t, server.url, [HARD]);
  const flood = await RawPeer.connect(server.port);
  t.after(() => flood.close());
  flood.pause();
  const list = encodeMessage({ type: 'stats', id: 1 });
  const frame = Buffer.alloc(4 + list.length);
  frame.writeUInt32BE(list.length);
  frame.set(list, 4);
  for (let i = 0; i < 20_000 && !flood.isClosed; i++) flood.socket.write(frame);
  await server.proc.waitFor(/does not read what it is sent: \d+ bytes queued, above the limit of 1048576/, { stream: 'stderr', timeoutMs: 10_000 });
  assert.ok(rssMb(server.proc.child.pid!) < 200);
  await goodClientWorks(server.url, t);
});

test('more requests in flight than the bound are refused with LIMIT_EXCEEDED, the others answered', async (t) => {
  const server = await startServer(t, ['--max-in-flight', '5']);
  await startRunner(t, server.url, [HARD]);
  const raw = await RawPeer.connect(server.port);
  t.after(() => raw.close());
  const started = (await raw.request({ type: 'start', service: 'Hard', client: { bearers: [], host: 'x', version: PROTOCOL_VERSION } })) as { value: { session: string } };
  const session = started.value.session;
  await raw.request({ type: 'ready', session, routes: {} });
  // slow takes 500 ms: all eight arrive while the first five are still being answered.
  const answers = await Promise.all(Array.from({ length: 8 }, () => raw.request({ type: 'call', session, method: 'slow', args: { ms: 500 } })));
  assert.equal(answers.filter((a) => a.type === 'reply').length, 5);
  assert.deepEqual(answers.filter((a) => a.type === 'error').map((a) => errorOf(a)!.code), ['LIMIT_EXCEEDED', 'LIMIT_EXCEEDED', 'LIMIT_EXCEEDED']);
});

test('sessions per connection are bounded', async (t) => {
  const server = await startServer(t, ['--max-sessions', '2']);
  await startRunner(t, server.url, [HARD]);
  const client = await connectClient(t, server.url);
  await client.startSession('Hard');
  await client.startSession('Hard');
  await assert.rejects(client.startSession('Hard'), (e: PeerwayError) => e.code === 'LIMIT_EXCEEDED' && /already holds 2 sessions/.test(e.message));
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
