import { test } from 'node:test';
import assert from 'node:assert/strict';
import { unlink } from 'node:fs/promises';
import { Collector, connectClient, example, fixture, startRunner, startServer } from '../helpers/harness.js';
import { withOwnSocket } from '../helpers/own-socket.js';
import type { DataChange, ServiceEvent } from '../../src/client/session.js';
import { PeerwayError } from '../../src/errors.js';
import { parseInstructions } from '../../src/routing/instructions.js';
import { getBearer } from '../../src/bearer/registry.js';
import { dialHandshake } from '../../src/wire/handshake.js';
import { makeTestCertificates } from '../helpers/certs.js';

const LAB = fixture('p2p', 'lab.xml');

async function labSetup(t: import('node:test').TestContext) {
  const server = await startServer(t);
  const runner = await startRunner(t, server.url, [LAB], ['--log-level', 'debug']);
  return { server, runner };
}

test("the seed's ForkedRuntimeData delivers runtime data directly while the server's copy also updates", async (t) => {
  const server = await startServer(t);
  await startRunner(t, server.url, [example('forked-runtime-data.xml')], ['--impl', fixture('p2p', 'forked.mjs')]);
  const direct = await (await connectClient(t, server.url)).startSession('ForkedRuntimeData');
  assert.deepEqual(direct.routeFor('runtimedata', 'value'), { linkType: 'direct', link: 'rt_link', bearer: 'connect.bearer.tcp' });
  const changes = new Collector<DataChange>();
  await direct.watch('value', changes.push);
  const got = await changes.next(3);
  assert.ok(got.every((c) => c.route === 'direct' && c.link === 'rt_link'), JSON.stringify(got));

  // A client without tcp peer-to-peer takes the server route and reads the server's copy, which is current.
  const viaServer = await (await connectClient(t, server.url, { bearers: [] })).startSession('ForkedRuntimeData');
  assert.deepEqual(viaServer.routeFor('runtimedata', 'value'), { linkType: 'server' });
  const { snapshot } = await viaServer.watch('value', () => {});
  assert.ok((snapshot as number) >= (got[0].value as number), `server copy ${String(snapshot)} lags behind ${String(got[0].value)}`);
  const stats = await (await connectClient(t, server.url)).stats();
  // Each change the direct client saw went to the server too, in the same turn and long before this request.
  assert.ok(stats.services.ForkedRuntimeData.dataIn >= got.length, 'the service publishes to the server');
});

test('a method on the reliable link and an event on the unreliable link bypass the server', async (t) => {
  const { server } = await labSetup(t);
  const client = await connectClient(t, server.url);
  const s = await client.startSession('Lab');
  assert.equal(s.routeFor('method', 'echo').link, 'reliable');
  assert.deepEqual(s.routeFor('event', 'tick'), { linkType: 'direct', link: 'unreliable', bearer: 'connect.bearer.udp' });
  const ticks = new Collector<ServiceEvent>();
  await s.onEvent('tick', ticks.push);
  for (let i = 0; i < 20; i++) assert.equal(await s.call('echo', { text: `hi${i}` }), `hi${i} via direct`);
  await s.call('emitTicks', { count: 3 }); // this trigger itself is server-routed: one relayed call
  const got = await ticks.next(3);
  assert.ok(got.every((e) => e.route === 'direct' && e.link === 'unreliable'));
  const stats = (await client.stats()).services.Lab;
  assert.equal(stats.calls, 1, 'only the server-routed trigger went through the server');
  assert.equal(stats.eventsIn, 0, 'no event reached the server');
  assert.equal(stats.eventsOut, 0);
});

test('two clients with different bearers reach the same event by different routes at the same time', async (t) => {
  const { server } = await labSetup(t);
  const withUdp = await (await connectClient(t, server.url)).startSession('Lab');
  const noUdp = await (await connectClient(t, server.url, { bearers: ['connect.bearer.tcp'] })).startSession('Lab');
  assert.equal(withUdp.routeFor('event', 'tick').linkType, 'direct');
  assert.equal(noUdp.routeFor('event', 'tick').linkType, 'server');
  assert.match(noUdp.routing!, /<skipped linkType="direct" link="unreliable" bearer="connect\.bearer\.udp" reason="the client has no connect\.bearer\.udp bearer"\/>/);
  const a = new Collector<ServiceEvent>();
  const b = new Collector<ServiceEvent>();
  await withUdp.onEvent('tick', a.push);
  await noUdp.onEvent(undefined, b.push);
  await withUdp.call('emitTicks', { count: 2 });
  assert.deepEqual((await a.next(2)).map((e) => [e.route, e.args.seq]), [['direct', 1], ['direct', 2]]);
  assert.deepEqual((await b.next(2)).map((e) => [e.route, e.args.seq]), [['server', 1], ['server', 2]]);
  await new Promise((r) => setTimeout(r, 100));
  assert.equal(a.items.length, 2, 'the direct client gets no duplicate from the server');
  const stats = (await withUdp.call('echo', { text: 'x' }), (await (await connectClient(t, server.url)).stats()).services.Lab);
  assert.equal(stats.eventsOut, 2, 'the server relayed the events only to the client without udp');
});

test('a direct link that cannot be opened falls back to the next route with a warning saying why', async (t) => {
  const server = await startServer(t);
  const { file, socket } = await withOwnSocket(t, fixture('p2p', 'ipc-first.xml'));
  await startRunner(t, server.url, [file]);
  // Same host, so the local route is chosen; but the socket is gone, so opening the link fails.
  await unlink(socket);
  const client = await connectClient(t, server.url);
  const warnings: string[] = [];
  client.on('warning', (w: string) => warnings.push(w));
  const s = await client.startSession('IpcFirst');
  assert.equal(s.routeFor('method', 'echo').linkType, 'server');
  assert.equal(warnings.length, 1);
  assert.match(warnings[0], /^IpcFirst method "echo": link ipc \(connect\.bearer\.local\) could not be opened: .*; using the server route instead$/);
  assert.ok(warnings[0].includes(`no socket at ${socket}`), warnings[0]);
  assert.equal(await s.call('echo', { text: 'a' }), 'a via server');
});

test('a same-host client gets the local (IPC) route and a client on another host gets the next one', async (t) => {
  const server = await startServer(t);
  await startRunner(t, server.url, [fixture('p2p', 'ipc-first.xml')]);
  const local = await (await connectClient(t, server.url)).startSession('IpcFirst');
  assert.deepEqual(local.routeFor('method', 'echo'), { linkType: 'direct', link: 'ipc', bearer: 'connect.bearer.local' });
  assert.equal(await local.call('echo', { text: 'a' }), 'a via direct');
  process.env.PEERWAY_HOST_ID = 'another-host';
  try {
    const remote = await (await connectClient(t, server.url)).startSession('IpcFirst');
    assert.equal(remote.routeFor('method', 'echo').linkType, 'server');
    assert.match(remote.routing!, /reason="connect\.bearer\.local works only on the same host/);
  } finally {
    delete process.env.PEERWAY_HOST_ID;
  }
});

test('a required route the client cannot use fails the session start with the bearer and the fix', async (t) => {
  const server = await startServer(t);
  const certs = await makeTestCertificates();
  await startRunner(t, server.url, [fixture('p2p', 'ssl-required.xml')], ['--link-cert', certs.server.certificate, '--link-key', certs.server.key]);
  const client = await connectClient(t, server.url);
  await assert.rejects(client.startSession('Secure'), (e: PeerwayError) => {
    assert.equal(e.code, 'BEARER_MISSING');
    assert.match(e.message, /service Secure requires a direct connect\.bearer\.ssl link "secure" for method "echo"/);
    assert.match(e.message, /the client has no connect\.bearer\.ssl bearer/);
    assert.match(e.message, /--ca FILE/);
    return true;
  });
});

/** Opens a link the way a client does, with a chosen session id and token. */
async function dialLink(routingXml: string, link: string, session: string, token: string) {
  const ri = parseInstructions(routingXml);
  const l = ri.links.find((x) => x.name === link)!;
  const connection = await getBearer(l.address.bearer).connect(l.address, { timeoutMs: 2000 });
  return dialHandshake(connection, `link ${link}`, { role: 'link', token, session, link, timeoutMs: 2000 });
}

test('one runtime-data change reaches every session on its own link, and link pushes carry no session id', async (t) => {
  const server = await startServer(t);
  await startRunner(t, server.url, [example('forked-runtime-data.xml')], ['--impl', fixture('p2p', 'forked.mjs')]);
  // The second client does not recover its links: the raw link below takes its place on the runner.
  const sessions = [
    await (await connectClient(t, server.url)).startSession('ForkedRuntimeData'),
    await (await connectClient(t, server.url, { reconnect: false })).startSession('ForkedRuntimeData'),
  ];
  const seen = sessions.map(() => new Collector<DataChange>());
  await Promise.all(sessions.map((s, i) => s.watch('value', seen[i].push)));
  const [first, second] = await Promise.all(seen.map((c) => c.next(4)));
  for (const got of [first, second]) assert.ok(got.every((c) => c.route === 'direct' && c.link === 'rt_link'), JSON.stringify(got));
  // Both sessions saw the same changes: the values one received after the other subscribed are in both lists.
  const values = (got: DataChange[]) => got.map((c) => c.value as number);
  const common = values(first).filter((v) => values(second).includes(v));
  assert.ok(common.length >= 2, `first ${values(first).join()} second ${values(second).join()}`);

  // On the wire, a push on a link is just the change: the link already says which session it belongs to.
  const s = sessions[1];
  const raw = await dialLink(s.routing!, 'rt_link', s.id, parseInstructions(s.routing!).links[0].token);
  t.after(() => raw.close());
  const pushes = new Collector<Record<string, unknown>>();
  raw.start({ push: (m) => pushes.push(m as unknown as Record<string, unknown>) });
  await raw.request({ type: 'subscribe', session: s.id, kind: 'data', name: 'value' });
  const [push] = await pushes.next(1);
  assert.deepEqual(Object.keys(push).sort(), ['path', 'type', 'value']);
  assert.equal(push.type, 'data');
});

test('a forged, reused or borrowed token is rejected and logged', async (t) => {
  const { server, runner } = await labSetup(t);
  const client = await connectClient(t, server.url);
  const a = await client.startSession('Lab');
  const b = await client.startSession('Lab');
  const tokenA = parseInstructions(a.routing!).links[0].token;
  const unauthorized = (e: PeerwayError) => e.code === 'UNAUTHORIZED' && /no live session matches/.test(e.message);
  await assert.rejects(dialLink(a.routing!, 'reliable', a.id, 'forged-token-forged-token-forged'), unauthorized);
  await assert.rejects(dialLink(a.routing!, 'reliable', b.id, tokenA), unauthorized, 'a token never works for another session');
  const ok = await dialLink(a.routing!, 'reliable', a.id, tokenA);
  ok.start({});
  ok.close();
  await a.stop();
  await assert.rejects(dialLink(a.routing!, 'reliable', a.id, tokenA), unauthorized, 'a stopped session token is dead');
  await runner.waitFor(/link connection refused.*no live session matches/, { stream: 'stderr' });
});

test('stopping a session closes its links', async (t) => {
  const { server, runner } = await labSetup(t);
  const client = await connectClient(t, server.url);
  const s = await client.startSession('Lab');
  const links = parseInstructions(s.routing!).links.filter((l) => l.address.bearer !== 'connect.bearer.udp');
  // A second connection on each stream link, as the client's own: the runner must close both ends it holds.
  const extras = await Promise.all(links.map((l) => dialLink(s.routing!, l.name, s.id, l.token)));
  const reasons = extras.map((c) => new Promise<string>((resolve) => c.start({ close: (info) => resolve(info.reason) })));
  await s.stop();
  assert.deepEqual(await Promise.all(reasons), links.map(() => 'closed by peer'), 'the runner closed every link of the session');
  for (const l of links) await runner.waitFor(new RegExp(`link closed .*"link":"${l.name}","reason":"session stopped"`), { stream: 'stderr' });
  await assert.rejects(dialLink(s.routing!, 'reliable', s.id, links[0].token), (e: PeerwayError) => e.code === 'UNAUTHORIZED', 'and its token is dead');
});

test('in-process services ignore routing: every resource uses the server connection', async (t) => {
  const server = await startServer(t, ['--service', LAB]);
  const client = await connectClient(t, server.url);
  const s = await client.startSession('Lab');
  assert.equal(s.routing, undefined);
  assert.deepEqual(s.routeFor('method', 'echo'), { linkType: 'server' });
  assert.equal(await s.call('echo', { text: 'a' }), 'a via server');
  const ticks = new Collector<ServiceEvent>();
  await s.onEvent('tick', ticks.push);
  await s.call('emitTicks', { count: 1 });
  assert.equal((await ticks.next(1))[0].route, 'server');
});

test('runtime data on a direct_and_server route goes directly to the client and to the server copy', async (t) => {
  const { server } = await labSetup(t);
  const client = await connectClient(t, server.url);
  const s = await client.startSession('Lab');
  const changes = new Collector<DataChange>();
  await s.watch('', changes.push);
  await s.call('setCounter', { value: 5 });
  const [first] = await changes.next(1);
  assert.deepEqual([first.path, first.value, first.route, first.link], ['counter', 5, 'direct', 'rt_link']);
  const stats = (await client.stats()).services.Lab;
  assert.equal(stats.dataIn, 1, 'the server copy got the update');
  assert.equal(stats.dataOut, 0, 'the server did not relay it to the direct client');
  const other = await (await connectClient(t, server.url, { bearers: [] })).startSession('Lab');
  assert.equal((await other.watch('counter', () => {})).snapshot, 5);
});

test('an event bigger than one udp datagram arrives whole over the unreliable link; one above its message limit is refused with a clear reason, and the link carries on', async (t) => {
  const { server, runner } = await labSetup(t);
  const s = await (await connectClient(t, server.url)).startSession('Lab');
  const ticks = new Collector<ServiceEvent>();
  await s.onEvent('tick', ticks.push);
  // Resent until it arrives: a lost fragment loses the whole message, as a lost datagram would.
  const big = () => ticks.items.find((e) => e.args.seq === 0 && (e.args.note as string).length === 5000);
  for (const deadline = Date.now() + 5000; !big() && Date.now() < deadline; ) {
    await s.call('emitBig', { size: 5000 });
    await ticks.next(ticks.items.length + 1, 200).catch(() => undefined);
  }
  assert.ok(big(), 'the 5000-byte event arrived in fragments');
  assert.deepEqual([big()!.route, big()!.link], ['direct', 'unreliable']);
  await s.call('emitBig', { size: 1_048_576 });
  await runner.waitFor(/could not send on link .*"link":"unreliable","reason":"message of \d+ bytes is above the connect\.bearer\.udp message limit \(limit 1048576 bytes\); send large messages over a reliable link, or raise attribute maxMessageBytes/, { stream: 'stderr' });
  const before = ticks.items.length;
  for (const deadline = Date.now() + 5000; ticks.items.length === before && Date.now() < deadline; ) {
    await s.call('emitTicks', { count: 1 });
    await ticks.next(before + 1, 200).catch(() => undefined);
  }
  assert.ok(ticks.items.length > before, 'small events still go through after the refused one');
  assert.ok(ticks.items.every((e) => (e.args.note as string).length < 1_048_576), 'the refused event never arrived');
});
