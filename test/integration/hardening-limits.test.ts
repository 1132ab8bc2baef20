import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { PeerwayError } from '../../src/errors.js';
import { parseInstructions } from '../../src/routing/instructions.js';
import { encodeMessage } from '../../src/wire/codec.js';
import { PROTOCOL_VERSION, type Message } from '../../src/wire/messages.js';
import { connectClient, startRunner, startServer } from '../helpers/harness.js';
import { HARD, goodClientWorks } from '../helpers/hard-service.js';
import { RawPeer, rssMb } from '../helpers/raw-peer.js';

/**
 * The attacks and careless deployments of the hardening issue, each on real processes: the server and
 * runner survive, what is attacked is refused or dropped with a logged reason, memory stays bounded, and
 * a well-behaved client keeps being served.
 */

const errorOf = (m: Message) => (m.type === 'error' ? m.error : undefined);

test('subscribers that never read get runtime data coalesced, then are dropped; memory stays bounded and good clients are served', async (t) => {
  // The default limits: the bound is 400 MB with the defaults.
  const server = await startServer(t);
  const runner = await startRunner(t, server.url, [HARD]);
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
  assert.ok(server_mb < 400, `server RSS ${server_mb.toFixed(0)} MB`);
  assert.ok(runner_mb < 400, `runner RSS ${runner_mb.toFixed(0)} MB`);
  const stats = await (await connectClient(t, server.url)).stats();
  assert.ok(stats.health!.slowConsumersClosed >= 4);
  assert.equal(stats.limits!.maxHeldBytes, 8 * 1024 * 1024, 'the default, shown by stats');
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

test('a huge or deeply nested registration is refused at once with the reason, and good clients are served', async (t) => {
  const server = await startServer(t);
  await startRunner(t, server.url, [HARD]);
  const fake = await RawPeer.connect(server.port, { role: 'runner' });
  t.after(() => fake.close());
  const huge = `<service name="Huge"><runtime-data>${'<v type="int"/>'.repeat(700_000)}</runtime-data></service>`; // about 10 MB
  const started = Date.now();
  const refused = await fake.request({ type: 'register', services: [{ name: 'Huge', file: 'huge.xml', xml: huge }] }, 10_000);
  assert.equal(refused.type, 'error');
  assert.match((refused as { error: { message: string } }).error.message, /^huge\.xml:1:1: the definition is \d+ bytes \([\d.]+ MiB\), more than the limit of 1048576 bytes/);
  assert.ok(Date.now() - started < 5000, 'refused from its size, not parsed');
  const deep = `<service name="Deep"><runtime-data>${'<a>'.repeat(3000)}${'</a>'.repeat(3000)}</runtime-data></service>`;
  const nested = await fake.request({ type: 'register', services: [{ name: 'Deep', file: 'deep.xml', xml: deep }] });
  assert.match((nested as { error: { code: string; message: string } }).error.message, /^deep\.xml:1:\d+: <a> is nested 257 levels deep; at most 256 are allowed/);
  await goodClientWorks(server.url, t);
});
