import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Collector, connectClient, fixture, startRunner, startServer } from '../helpers/harness.js';
import type { DataChange, ServiceEvent } from '../../src/client/session.js';

const TYPES = fixture('definitions', 'types.xml');

async function remoteTypes(t: import('node:test').TestContext) {
  const server = await startServer(t);
  await startRunner(t, server.url, [TYPES]);
  return server;
}

test('a runtime-data watch gets the snapshot first, then every change', async (t) => {
  const server = await remoteTypes(t);
  const client = await connectClient(t, server.url);
  const s = await client.startSession('Types');
  const changes = new Collector<DataChange>();
  const { snapshot } = await s.watch('', changes.push);
  const tree = snapshot as Record<string, unknown>;
  assert.equal(tree.count, 7);
  assert.equal(tree.label, 'hello');
  assert.equal(tree.big, 9007199254740993n);
  assert.deepEqual(tree.position, { x: 1.5, y: 0 });

  await s.call('setCount', { value: 11 });
  await s.call('setPosition', { x: 3, y: 4 });
  const got = await changes.next(2);
  assert.deepEqual(got.map((c) => [c.path, c.value, c.route]), [
    ['count', 11, 'server'],
    ['position', { x: 3, y: 4 }, 'server'],
  ]);
  // The client's copy follows the changes.
  assert.equal(s.data.get('count'), 11);
  assert.equal(s.data.get('position.y'), 4);
});

test('a watch on a sub-path only hears changes that touch it', async (t) => {
  const server = await remoteTypes(t);
  const client = await connectClient(t, server.url);
  const s = await client.startSession('Types');
  const changes = new Collector<DataChange>();
  const { snapshot } = await s.watch('position.x', changes.push);
  assert.equal(snapshot, 1.5);
  await s.call('setCount', { value: 1 }); // elsewhere in the tree: not delivered
  await s.call('setPosition', { x: 9, y: 9 }); // the parent object: delivered
  await changes.next(1);
  await s.call('add', { a: 1, b: 1 }); // a round trip, so a stray delivery would have arrived by now
  assert.deepEqual(changes.items.map((c) => c.path), ['position']);
});

test('events reach subscribers of that event and of all events, in order', async (t) => {
  const server = await remoteTypes(t);
  const client = await connectClient(t, server.url);
  const s = await client.startSession('Types');
  const named = new Collector<ServiceEvent>();
  const all = new Collector<ServiceEvent>();
  await s.onEvent('ping', named.push);
  await s.onEvent(undefined, all.push);
  await s.call('emitPing', { count: 5 });
  const got = await named.next(5);
  await all.next(5);
  assert.deepEqual(got.map((e) => e.args.seq), [1, 2, 3, 4, 5]);
  assert.equal(got[0].args.note, 'ping 1');
  assert.equal(got[0].route, 'server');
});

test('two clients at once each get their own events, data and results', async (t) => {
  const server = await remoteTypes(t);
  const a = await (await connectClient(t, server.url)).startSession('Types');
  const b = await (await connectClient(t, server.url)).startSession('Types');
  const aData = new Collector<DataChange>();
  const bData = new Collector<DataChange>();
  const bEvents = new Collector<ServiceEvent>();
  await a.watch('count', aData.push);
  await b.watch('count', bData.push);
  await b.onEvent('ping', bEvents.push);
  const results = await Promise.all(Array.from({ length: 20 }, (_, i) => (i % 2 ? a : b).call('add', { a: i, b: 1000 })));
  assert.deepEqual(results, Array.from({ length: 20 }, (_, i) => i + 1000));
  await a.call('setCount', { value: 99 });
  await aData.next(1);
  await bData.next(1);
  assert.equal(bData.items[0].value, 99);
  await a.call('emitPing', { count: 2 });
  await bEvents.next(2);
});

test('the server keeps the latest runtime data of a service even with nobody watching', async (t) => {
  const server = await remoteTypes(t);
  const writer = await (await connectClient(t, server.url)).startSession('Types');
  await writer.call('setCount', { value: 1234 });
  const reader = await (await connectClient(t, server.url)).startSession('Types');
  const { snapshot } = await reader.watch('count', () => {});
  assert.equal(snapshot, 1234);
});
