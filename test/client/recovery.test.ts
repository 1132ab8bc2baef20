import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import type { PeerwayClient } from '../../src/client/client.js';
import type { DataChange, ServiceEvent, Session } from '../../src/client/session.js';
import type { PeerwayError } from '../../src/errors.js';
import { PeerwayRunner } from '../../src/runner/runner.js';
import { loadService } from '../../src/service/load-service.js';
import type { Channel } from '../../src/wire/channel.js';
import { Collector } from '../helpers/harness.js';
import { MEM_LAB, memoryStack } from '../helpers/in-memory.js';

/** Recovery on connect.bearer.memory: the client brings its sessions back by itself. */

function cutServerConnection(client: PeerwayClient): Promise<unknown> {
  const lost = new Promise((resolve) => client.once('disconnected', resolve));
  (client as unknown as { channel: Channel }).channel.connection.close('cable pulled');
  return lost;
}

function once<T>(emitter: { once(event: string, listener: (value: T) => void): unknown }, event: string): Promise<T> {
  return new Promise((resolve) => emitter.once(event, resolve));
}

/** A runner like the stack's, for the same services: the service's process "restarted". */
async function startAnotherRunner(t: TestContext, stack: Awaited<ReturnType<typeof memoryStack>>): Promise<PeerwayRunner> {
  const runtime = await loadService(MEM_LAB.xml, MEM_LAB.impl);
  const runner = new PeerwayRunner({ server: stack.address, services: [runtime], minRetryMs: 10, maxRetryMs: 50 });
  await runner.start();
  t.after(() => runner.stop());
  return runner;
}

test('the server connection drops: the client dials again by itself, the same session is attached, a server-routed call made meanwhile waits and succeeds', async (t) => {
  const stack = await memoryStack(t, [MEM_LAB]);
  const client = await stack.client();
  const s = await client.startSession('MemLab');
  const id = s.id;
  const restored = once<{ session: Session; restarted: boolean }>(client, 'session-restored');
  const reconnected = once(client, 'reconnected');
  await cutServerConnection(client);
  const during = s.call('setCounter', { value: 7 }); // server route, made while disconnected
  assert.equal(await s.call('echo', { text: 'd' }), 'd via direct', 'the direct link never stopped');
  await during;
  await reconnected;
  const r = await restored;
  assert.equal(r.session, s);
  assert.equal(r.restarted, false);
  assert.equal(s.id, id, 'attached, not started again');
  assert.equal((await stack.clients[0].stats()).sessions, 1);
});

test('the server forgot the session while the client was away: it is started again, subscriptions and watches made again, the watcher gets a fresh snapshot', async (t) => {
  const stack = await memoryStack(t, [MEM_LAB], { server: { detachedSessionTtlMs: 1 } });
  const client = await stack.client({ reconnect: { initialDelayMs: 100 } });
  const s = await client.startSession('MemLab');
  const id = s.id;
  const ticks = new Collector<ServiceEvent>();
  const labels = new Collector<DataChange>();
  await s.onEvent('tick', ticks.push);
  await s.watch('label', labels.push);
  const restored = once<{ restarted: boolean }>(s, 'restored');
  await cutServerConnection(client);
  // Meanwhile the service changes a value the client no longer sees.
  stack.runner!['byName'].get('MemLab')!.runtime.set('label', 'changed while away');
  assert.deepEqual(await restored, { restarted: true });
  assert.notEqual(s.id, id);
  assert.deepEqual((await labels.next(1)).map((c) => [c.value, c.restored]), [['changed while away', true]]);
  await s.call('emitTicks', { count: 2 });
  assert.deepEqual((await ticks.next(2)).map((e) => [e.args.seq, e.route]), [
    [1, 'direct'],
    [2, 'direct'],
  ]);
  assert.equal((await stack.clients[0].stats()).sessions, 1, 'the old session is gone from the server, one new one');
});

test("the service's process restarts: its sessions are started again by themselves, calls made meanwhile wait for that", async (t) => {
  const stack = await memoryStack(t, [MEM_LAB]);
  const client = await stack.client();
  const s = await client.startSession('MemLab');
  const counters = new Collector<DataChange>();
  await s.watch('counter', counters.push);
  const restored = once<{ session: Session; restarted: boolean }>(client, 'session-restored');
  await stack.runner!.stop();
  const pending = s.call('echo', { text: 'waited' }, { timeoutMs: 5000 });
  await startAnotherRunner(t, stack);
  assert.equal(await pending, 'waited via direct');
  assert.equal((await restored).restarted, true);
  assert.equal(s.ended, false);
  await s.call('setCounter', { value: 3 });
  const seen = await counters.next(2);
  assert.deepEqual(
    seen.map((c) => [c.value, c.restored]),
    [
      [0, true],
      [3, undefined],
    ],
  );
});

test('a service that does not come back: the session is lost after restoreTimeoutMs, typed, and waiting calls fail', async (t) => {
  const stack = await memoryStack(t, [MEM_LAB]);
  const client = await stack.client({ reconnect: { restoreTimeoutMs: 300, initialDelayMs: 20, maxDelayMs: 50 } });
  const s = await client.startSession('MemLab');
  const lost = once<{ session: Session; error: PeerwayError }>(client, 'session-lost');
  const ended = once<PeerwayError>(s, 'ended');
  await stack.runner!.stop();
  const waiting = s.call('echo', { text: 'x' }, { timeoutMs: 5000 });
  const { session, error } = await lost;
  assert.equal(session, s);
  assert.equal(error.code, 'SERVICE_GONE');
  assert.match(error.message, /could not be restored/);
  assert.equal((await ended).code, 'SERVICE_GONE');
  await assert.rejects(waiting, { code: 'SERVICE_GONE' });
  await assert.rejects(s.call('echo', { text: 'y' }), { code: 'SERVICE_GONE' });
});

test('a call made while the server stays away (it shut down, ending the sessions) fails with its own timeout, typed, nothing sent', async (t) => {
  const stack = await memoryStack(t, [MEM_LAB]);
  const client = await stack.client();
  const s = await client.startSession('MemLab');
  const disconnected = once(client, 'disconnected');
  await stack.server.stop();
  await disconnected;
  const started = Date.now();
  await assert.rejects(s.call('setCounter', { value: 1 }, { timeoutMs: 300 }), (e: PeerwayError) => e.code === 'SERVICE_GONE' && /still being restored after 300 ms.*nothing was sent/.test(e.message));
  assert.ok(Date.now() - started >= 250, 'it waited for the connection');
  await client.close();
});

test('a direct link that drops: its resources fail over to the server route with a warning, and move back when the link is up again', async (t) => {
  const stack = await memoryStack(t, [MEM_LAB]);
  const client = await stack.client();
  const s = await client.startSession('MemLab');
  const ticks = new Collector<ServiceEvent>();
  await s.onEvent('tick', ticks.push);
  const warned = new Promise<string>((resolve) => client.on('warning', (w: string) => /dropped/.test(w) && resolve(w)));
  const back = once<{ link: string; resources: string[] }>(client, 'rerouted');
  s.openLinks().get('mem')!.connection.close('cable pulled');
  assert.match(await warned, /^MemLab: direct link mem dropped \(cable pulled\); moved method "echo" → the server route, event "tick" → the server route, runtime data "counter" → the server route; the link is tried again/);
  // On the server route meanwhile (or already back on the link: both are correct answers for the caller).
  assert.match(await s.call('echo', { text: 'a' }), /^a via (server|direct)$/);
  const moved = await back;
  assert.equal(moved.link, 'mem');
  assert.ok(moved.resources.includes('method:echo'));
  assert.equal(s.routeFor('method', 'echo').linkType, 'direct');
  assert.equal(await s.call('echo', { text: 'b' }), 'b via direct');
  await s.call('emitTicks', { count: 3 });
  const seen = await ticks.next(3);
  assert.deepEqual(
    seen.map((e) => [e.args.seq, e.route]),
    [
      [1, 'direct'],
      [2, 'direct'],
      [3, 'direct'],
    ],
  );
  await new Promise((r) => setTimeout(r, 100));
  assert.equal(ticks.items.length, 3, 'no event twice');
});

test('a call made while a dropped link comes back is not sent on it before the service has heard of the move: it goes by the old route and succeeds', async (t) => {
  const stack = await memoryStack(t, [MEM_LAB]);
  const client = await stack.client();
  const s = await client.startSession('MemLab');
  const warned = new Promise<string>((resolve) => client.on('warning', (w: string) => /dropped/.test(w) && resolve(w)));
  const back = once<{ link: string }>(client, 'rerouted');
  s.openLinks().get('mem')!.connection.close('cable pulled');
  await warned;
  // The moment the session reports echo direct again (ready is on its way to the service), a call is made.
  const server = (client as unknown as { channel: Channel }).channel;
  const request = server.request.bind(server);
  let during: Promise<string> | undefined;
  server.request = ((body: Parameters<Channel['request']>[0], options?: Parameters<Channel['request']>[1]) => {
    const sent = request(body, options);
    const routes = (body as { routes?: Record<string, { linkType: string }> }).routes;
    if (body.type === 'ready' && routes?.['method:echo']?.linkType === 'direct') during ??= s.call<string>('echo', { text: 'moving' });
    return sent;
  });
  assert.equal((await back).link, 'mem');
  assert.ok(during, 'a call was made as the link came back');
  assert.equal(await during, 'moving via server');
  assert.equal(s.routeFor('method', 'echo').linkType, 'direct');
  assert.equal(await s.call('echo', { text: 'after' }), 'after via direct');
});

test('a call made as a link drops, before its close is handled, waits for the failover and goes by the server route (nothing was sent on the dead link)', async (t) => {
  const stack = await memoryStack(t, [MEM_LAB]);
  const client = await stack.client();
  const s = await client.startSession('MemLab');
  const warned = new Promise<string>((resolve) => client.on('warning', (w: string) => /dropped/.test(w) && resolve(w)));
  const link = s.openLinks().get('mem')!;
  link.connection.close('cable pulled');
  // The connection is closed, the close not handled yet: the route still names the link.
  assert.equal(link.closed, true);
  assert.equal(link.closeInfo, undefined);
  assert.equal(s.routeFor('method', 'echo').linkType, 'direct');
  assert.equal(await s.call('echo', { text: 'now' }), 'now via server');
  await warned;
});
