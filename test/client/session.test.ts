import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { PeerwayClient } from '../../src/client/client.js';
import type { DataChange, ServiceEvent } from '../../src/client/session.js';
import type { PeerwayError } from '../../src/errors.js';
import type { Channel } from '../../src/wire/channel.js';
import { Collector } from '../helpers/harness.js';
import { MEM_LAB, memoryStack } from '../helpers/in-memory.js';

/** The client session on connect.bearer.memory: a server, a runner and clients in this process. */

/** Cuts the client's server connection as a network failure would, leaving the server running. */
function cutServerConnection(client: PeerwayClient): Promise<unknown> {
  const lost = new Promise((resolve) => client.once('disconnected', resolve));
  (client as unknown as { channel: Channel }).channel.connection.close('cable pulled');
  return lost;
}

test('a session takes the direct memory route its service offers, and the server route for the rest', async (t) => {
  const stack = await memoryStack(t, [MEM_LAB]);
  const s = await (await stack.client()).startSession('MemLab');
  assert.deepEqual(s.routeFor('method', 'echo'), { linkType: 'direct', link: 'mem', bearer: 'connect.bearer.memory' });
  assert.deepEqual(s.routeFor('method', 'setCounter'), { linkType: 'server' });
  assert.equal(await s.call('echo', { text: 'a' }), 'a via direct');
  const stats = (await stack.clients[0].stats()).services.MemLab;
  assert.equal(stats.calls, 0, 'the direct call did not pass the server');
});

test('a call that fails before it is sent rejects rather than throws: unknown method, bad argument, ended session', async (t) => {
  const stack = await memoryStack(t, [MEM_LAB]);
  const s = await (await stack.client()).startSession('MemLab');
  const unknown = s.call('nope');
  assert.ok(unknown instanceof Promise);
  await assert.rejects(unknown, (e: PeerwayError) => e.code === 'METHOD_NOT_FOUND');
  await assert.rejects(s.call('echo', { text: 1 }), (e: PeerwayError) => e.code === 'BAD_ARGUMENT' && /MemLab\.echo argument "text"/.test(e.message));
  assert.equal(await s.call('echo', { text: 'b' }), 'b via direct');
  await s.stop();
  await assert.rejects(s.call('echo', { text: 'c' }), (e: PeerwayError) => e.code === 'SESSION_NOT_FOUND');
});

test('a client that does not offer the memory bearer gets the server route, with the reason in its instructions', async (t) => {
  const stack = await memoryStack(t, [MEM_LAB]);
  const s = await (await stack.client({ bearers: [] })).startSession('MemLab');
  assert.deepEqual(s.routeFor('method', 'echo'), { linkType: 'server' });
  assert.match(s.routing!, /<skipped linkType="direct" link="mem" bearer="connect\.bearer\.memory" reason="the client has no connect\.bearer\.memory bearer"\/>/);
  assert.equal(await s.call('echo', { text: 'a' }), 'a via server');
});

test('an event listener and a watch listener that throw: delivery goes on, other sessions are untouched, the error is reported', async (t) => {
  const stack = await memoryStack(t, [MEM_LAB]);
  const client = await stack.client();
  const faulty = await client.startSession('MemLab');
  const healthy = await client.startSession('MemLab');
  const errors: PeerwayError[] = [];
  faulty.on('error', (e: PeerwayError) => errors.push(e));
  const faultyEvents = new Collector<ServiceEvent>();
  const faultyData = new Collector<DataChange>();
  await faulty.onEvent('tick', () => {
    throw new Error('event listener bug');
  });
  await faulty.onEvent('tick', faultyEvents.push);
  await faulty.watch('counter', () => {
    throw new Error('watch listener bug');
  });
  await faulty.watch('counter', faultyData.push);
  const healthyEvents = new Collector<ServiceEvent>();
  await healthy.onEvent('tick', healthyEvents.push);

  await healthy.call('emitTicks', { count: 3 });
  await healthy.call('setCounter', { value: 7 });
  await healthy.call('setCounter', { value: 8 });
  assert.deepEqual((await faultyEvents.next(3)).map((e) => e.args.seq), [1, 2, 3], 'the other listener of the same event got every event');
  assert.deepEqual((await faultyData.next(2)).map((c) => c.value), [7, 8]);
  assert.deepEqual((await healthyEvents.next(3)).map((e) => e.args.seq), [1, 2, 3]);
  assert.equal(errors.length, 5, errors.map((e) => e.message).join('\n'));
  assert.ok(errors.every((e) => e.code === 'IMPLEMENTATION_ERROR'));
  assert.match(errors[0].message, /^MemLab session \S+: the listener of event "tick" threw: event listener bug$/);
  assert.ok(errors.some((e) => /the watch of "counter" threw: watch listener bug/.test(e.message)));
  assert.equal(await faulty.call('echo', { text: 'still' }), 'still via direct');
  assert.equal(client.closed, false, 'the connection stayed open');
});

test('without an error listener on the session, a listener fault goes to the client, and without one there it is logged', async (t) => {
  const stack = await memoryStack(t, [MEM_LAB]);
  const client = await stack.client();
  const reported: PeerwayError[] = [];
  client.on('error', (e: PeerwayError) => reported.push(e));
  const s = await client.startSession('MemLab');
  await s.onEvent('tick', () => {
    throw new Error('boom');
  });
  await s.call('emitTicks', { count: 2 });
  const deadline = Date.now() + 2000;
  while (reported.length < 2 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
  assert.equal(reported.length, 2);
  assert.match(reported[0].message, /threw: boom$/);
});

test('the server connection drops while a direct link is healthy: the link keeps carrying calls until the session is stopped', async (t) => {
  const stack = await memoryStack(t, [MEM_LAB]);
  const client = await stack.client({ reconnect: false });
  const s = await client.startSession('MemLab');
  const ticks = new Collector<ServiceEvent>();
  await s.onEvent('tick', ticks.push);
  await cutServerConnection(client);
  assert.equal(client.closed, true);
  assert.equal(s.ended, false);
  for (let i = 0; i < 5; i++) assert.equal(await s.call('echo', { text: `x${i}` }), `x${i} via direct`);
  await assert.rejects(s.call('setCounter', { value: 1 }), (e: PeerwayError) => e.code === 'CONNECTION_CLOSED' && /call reconnect\(\)/.test(e.message), 'a server-routed call fails at once, typed');
  // The service still pushes on the link: the runner kept the session.
  const other = await (await stack.client()).startSession('MemLab');
  await other.call('emitTicks', { count: 1 });
  assert.equal((await ticks.next(1))[0].route, 'direct');
  await s.stop();
  await assert.rejects(s.call('echo', { text: 'gone' }), { code: 'SESSION_NOT_FOUND' });
});

test('with recovery off, reconnect() attaches every session to a new connection and makes its server subscriptions again', async (t) => {
  const stack = await memoryStack(t, [MEM_LAB]);
  const client = await stack.client({ reconnect: false });
  const s = await client.startSession('MemLab');
  const changes = new Collector<DataChange>();
  const watch = await s.watch('label', changes.push);
  assert.equal(watch.snapshot, 'x');
  await cutServerConnection(client);
  const reconnected = new Promise((resolve) => client.once('reconnected', resolve));
  await client.reconnect();
  await reconnected;
  assert.equal(client.closed, false);
  await s.call('setCounter', { value: 4 });
  assert.equal((await stack.clients[0].stats()).sessions, 1, 'the same session, not a new one');
  assert.equal(await s.call('echo', { text: 'a' }), 'a via direct');
  // label is server-routed: the watch was made again on the new connection.
  stack.runner!['byName'].get('MemLab')!.runtime.set('label', 'y');
  // First the fresh snapshot taken on the new connection, marked as such; then the change.
  assert.deepEqual((await changes.next(2)).map((c) => [c.path, c.value, c.route, c.restored]), [
    ['label', 'x', 'server', true],
    ['label', 'y', 'server', undefined],
  ]);
});

test('with recovery off, reconnect() starts again a session the server no longer knows: a new id, its links anew', async (t) => {
  const stack = await memoryStack(t, [MEM_LAB], { server: { detachedSessionTtlMs: 50 } });
  const client = await stack.client({ reconnect: false });
  const s = await client.startSession('MemLab');
  const before = s.id;
  const oldLink = s.openLinks().get('mem')!;
  const restored = new Promise((resolve) => s.once('restored', resolve));
  await cutServerConnection(client);
  await new Promise((r) => setTimeout(r, 150)); // past the detached-session time: the server drops it
  await client.reconnect();
  assert.deepEqual(await restored, { restarted: true });
  assert.notEqual(s.id, before);
  assert.equal(s.ended, false);
  assert.equal(oldLink.closed, true, "the old incarnation's link is closed");
  assert.equal(await s.call('echo', { text: 'a' }), 'a via direct');
});

test('client.close() stops its sessions without an `ended` event', async (t) => {
  const stack = await memoryStack(t, [MEM_LAB]);
  const client = await stack.client();
  const s = await client.startSession('MemLab');
  let ended = false;
  s.on('ended', () => (ended = true));
  await client.close();
  assert.equal(s.ended, true);
  assert.equal(ended, false);
  const observer = await stack.client();
  assert.equal((await observer.stats()).sessions, 0, 'the server dropped the sessions at once, not after the detached time');
  await assert.rejects(client.reconnect(), { code: 'CONNECTION_CLOSED' });
});

test('closing a subscription to every event or a watch of the whole tree leaves the named ones running, on both routes', async (t) => {
  const stack = await memoryStack(t, [MEM_LAB]);
  const client = await stack.client();
  const s = await client.startSession('MemLab');
  const ticks = new Collector<ServiceEvent>();
  const labels = new Collector<DataChange>();
  const everyEvent = await s.onEvent(undefined, () => undefined);
  await s.onEvent('tick', ticks.push); // direct: the runner keeps its subscriptions per link
  const wholeTree = await s.watch('', () => undefined);
  await s.watch('label', labels.push); // server route: the server keeps them per session
  await everyEvent.close();
  await wholeTree.close();
  await s.call('emitTicks', { count: 1 });
  stack.runner!['byName'].get('MemLab')!.runtime.set('label', 'still watched');
  assert.deepEqual((await ticks.next(1)).map((e) => e.args.seq), [1]);
  assert.deepEqual((await labels.next(1)).map((c) => c.value), ['still watched']);
});
