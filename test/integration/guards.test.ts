import { test } from 'node:test';
import assert from 'node:assert/strict';
import { unlink } from 'node:fs/promises';
import type { DataChange, ServiceEvent } from '../../src/client/session.js';
import type { PeerwayError } from '../../src/errors.js';
import { getBearer } from '../../src/bearer/registry.js';
import { parseInstructions } from '../../src/routing/instructions.js';
import { dialHandshake } from '../../src/wire/handshake.js';
import { startPeerway } from '../../src/cli/peerway-process.js';
import { Collector, connectClient, fixture, startRunner, startServer } from '../helpers/harness.js';
import { withOwnSocket } from '../helpers/own-socket.js';

/**
 * Security and routing behaviour that a one-line bug could break without another test noticing: each test
 * here was written against such a bug (docs/testing.md lists them).
 */

const LAB = fixture('p2p', 'lab.xml');
const ECHO_IMPL = fixture('p2p', 'ipc-first.mjs');
const TYPES = fixture('definitions', 'types.xml');

async function labSetup(t: import('node:test').TestContext) {
  const server = await startServer(t);
  const runner = await startRunner(t, server.url, [LAB], ['--log-level', 'debug']);
  return { server, runner };
}

/** Opens a link the way a client does: dials `link`'s address, and says hello naming `helloLink`. */
async function dialLink(routingXml: string, link: string, session: string, token: string, helloLink = link) {
  const l = parseInstructions(routingXml).links.find((x) => x.name === link)!;
  const connection = await getBearer(l.address.bearer).connect(l.address, { timeoutMs: 2000 });
  return dialHandshake(connection, `link ${link}`, { role: 'link', token, session, link: helloLink, timeoutMs: 2000 });
}

const tokenOf = (routingXml: string, link: string) => parseInstructions(routingXml).links.find((l) => l.name === link)!.token;

test('a link token of any other length or content is refused with the same UNAUTHORIZED answer', async (t) => {
  const { server } = await labSetup(t);
  const s = await (await connectClient(t, server.url)).startSession('Lab');
  const token = tokenOf(s.routing!, 'reliable');
  const refused = (e: PeerwayError) => e.code === 'UNAUTHORIZED' && e.message === 'link reliable of Lab: no live session matches this session id and token (forged, or the session has ended)';
  const changedLast = token.slice(0, -1) + (token.endsWith('A') ? 'B' : 'A');
  const nonAscii = 'é'.repeat(token.length); // the right length in characters, not in bytes
  for (const forged of ['', token.slice(0, -1), `${token}x`, token + token, changedLast, nonAscii]) {
    await assert.rejects(dialLink(s.routing!, 'reliable', s.id, forged), refused, `token ${JSON.stringify(forged)}`);
  }
  const ok = await dialLink(s.routing!, 'reliable', s.id, token);
  ok.start({});
  ok.close();
});

test('a link hello that names another link than the one it connected to is refused', async (t) => {
  const { server } = await labSetup(t);
  const s = await (await connectClient(t, server.url)).startSession('Lab');
  // rt_link's address, the session's valid token, but the hello says "reliable".
  await assert.rejects(
    dialLink(s.routing!, 'rt_link', s.id, tokenOf(s.routing!, 'rt_link'), 'reliable'),
    (e: PeerwayError) => e.code === 'UNAUTHORIZED' && e.message === 'link rt_link of Lab: the hello names link "reliable"',
  );
});

test('when the first direct link fails to open, the next direct route is taken, not the server route', async (t) => {
  const server = await startServer(t);
  const { file, socket } = await withOwnSocket(t, fixture('p2p', 'ipc-then-tcp.xml'));
  await startRunner(t, server.url, [file], ['--impl', ECHO_IMPL]);
  await unlink(socket); // same host: ipc is offered, but it cannot be opened
  const client = await connectClient(t, server.url);
  const warnings: string[] = [];
  client.on('warning', (w: string) => warnings.push(w));
  const s = await client.startSession('IpcThenTcp');
  assert.deepEqual(s.routeFor('method', 'echo'), { linkType: 'direct', link: 'net', bearer: 'connect.bearer.tcp' });
  assert.equal(await s.call('echo', { text: 'a' }), 'a via direct');
  assert.equal(warnings.length, 1);
  assert.match(warnings[0], /^IpcThenTcp method "echo": link ipc \(connect\.bearer\.local\) could not be opened: .*; using link net instead$/);
});

test('a required route whose link fails to open fails the session start with LINK_FAILED, never falls back', async (t) => {
  const server = await startServer(t);
  const { file, socket } = await withOwnSocket(t, fixture('p2p', 'ipc-required.xml'));
  await startRunner(t, server.url, [file], ['--impl', ECHO_IMPL]);
  await unlink(socket);
  const client = await connectClient(t, server.url);
  await assert.rejects(client.startSession('IpcRequired'), (e: PeerwayError) => {
    assert.equal(e.code, 'LINK_FAILED');
    assert.ok(e.message.startsWith('service IpcRequired requires the direct connect.bearer.local link "ipc" for method "echo", and it could not be opened: '), e.message);
    assert.ok(e.message.includes(`no socket at ${socket}`), e.message);
    return true;
  });
  assert.equal((await client.stats()).sessions, 0, 'the failed session was stopped');
});

test("the server's copy of runtime data starts from what the runner registered, also after the server restarts", async (t) => {
  const server = await startServer(t);
  const runner = await startRunner(t, server.url, [TYPES]);
  const first = await connectClient(t, server.url);
  await (await first.startSession('Types')).call('setCount', { value: 99 });
  server.proc.child.kill('SIGKILL');
  await runner.waitFor(/server went away/, { stream: 'stderr' });
  const again = startPeerway(['server', '--listen', server.url]);
  t.after(() => again.stop());
  await again.waitFor(/listening/);
  await runner.waitFor(/re-registered after reconnect/, { stream: 'stderr', timeoutMs: 10_000 });
  const s = await (await connectClient(t, server.url)).startSession('Types');
  assert.deepEqual((await s.watch('count', () => {})).snapshot, 99, 'not the definition default 7: the registration carried the value');
  assert.deepEqual(s.data.get('position'), { x: 1.5, y: 0 });
});

test('a subscriber to all events gets a directly routed event once, never also the server copy', async (t) => {
  const { server } = await labSetup(t);
  const direct = await (await connectClient(t, server.url)).startSession('Lab');
  // A client without udp takes the server route for tick, so the runner does send ticks to the server too.
  const viaServer = await (await connectClient(t, server.url, { bearers: ['connect.bearer.tcp'] })).startSession('Lab');
  assert.equal(direct.routeFor('event', 'tick').linkType, 'direct');
  const all = new Collector<ServiceEvent>();
  await direct.onEvent(undefined, all.push);
  const relayed = new Collector<ServiceEvent>();
  await viaServer.onEvent('tick', relayed.push);
  await viaServer.call('emitTicks', { count: 2 });
  assert.deepEqual((await relayed.next(2)).map((e) => e.route), ['server', 'server']);
  // Barrier: the server relays in order on one connection, so a copy sent to `direct` would be in before this reply.
  await direct.call('setCounter', { value: 1 });
  assert.ok(all.items.every((e) => e.route === 'direct'), JSON.stringify(all.items));
  assert.ok(all.items.length <= 2, `got ${all.items.length} events for 2 ticks`);
});

test("closing a subscription removes its listener and stops the server's relaying", async (t) => {
  const { server } = await labSetup(t);
  const client = await connectClient(t, server.url, { bearers: ['connect.bearer.tcp'] });
  const s = await client.startSession('Lab');
  const heard: ServiceEvent[] = [];
  const sub = await s.onEvent('tick', (e) => heard.push(e));
  await s.call('emitTicks', { count: 1 });
  assert.equal(heard.length, 1, 'the reply comes after the relayed event on the same connection');
  const before = (await client.stats()).services.Lab.eventsOut;
  await sub.close();
  await s.call('emitTicks', { count: 2 }); // the barrier: a relayed event would arrive before this reply
  assert.equal(heard.length, 1, 'the listener was removed');
  assert.equal((await client.stats()).services.Lab.eventsOut, before, 'the server stopped relaying tick to this session');
});

test('closing a runtime-data watch on a direct link removes its listener and stops the link pushes', async (t) => {
  const { server } = await labSetup(t);
  const s = await (await connectClient(t, server.url)).startSession('Lab');
  assert.equal(s.routeFor('runtimedata', 'counter').link, 'rt_link');
  const seen: DataChange[] = [];
  const watch = await s.watch('counter', (c) => seen.push(c));
  await s.call('setCounter', { value: 1 });
  const barrier = new Collector<DataChange>();
  // A second watch on rt_link: its reply follows any earlier push on that link.
  const second = await s.watch('counter', barrier.push);
  assert.deepEqual(seen.map((c) => [c.value, c.route]), [[1, 'direct']]);
  await watch.close();
  await s.call('setCounter', { value: 2 });
  await barrier.next(1);
  assert.deepEqual(seen.map((c) => c.value), [1], 'the closed watch heard nothing more');
  await second.close();
  await s.call('setCounter', { value: 3 });
  // A new watch's listener is in place before its subscribe goes out on rt_link, and the runner pushed
  // the change (if it still pushed) before answering setCounter: it would reach this listener first.
  const late = new Collector<DataChange>();
  const third = await s.watch('counter', late.push);
  assert.equal(third.snapshot, 3);
  assert.deepEqual(late.items, [], 'the link stopped pushing once no watch was left');
  assert.deepEqual(barrier.items.map((c) => c.value), [2]);
});
