import { test } from 'node:test';
import assert from 'node:assert/strict';
import { joinCluster } from '../../src/cluster/cluster-link.js';
import { MEM_LAB, memoryStack } from '../helpers/in-memory.js';
import { startNatsCluster } from '../helpers/nats-cluster.js';
import type { Broker } from '../../src/server/broker.js';
import type { PeerwayError } from '../../src/errors.js';

/** Waits (bounded) until `check` holds. */
let debug: () => unknown = () => null;
async function until(what: string, check: () => boolean): Promise<void> {
  for (let i = 0; i < 200; i++) {
    if (check()) return;
    await new Promise((r) => setTimeout(r, 25));
  }
  assert.fail(`${what}: ${JSON.stringify(debug())}`);
}

const holder = (b: Broker) => b.listServices({ name: 'anonymous' }).find((s) => s.name === 'MemLab')?.server;

test('two servers that registered one name before they heard of each other settle on the earlier registration', async (t) => {
  const nats = await startNatsCluster(t, 1);
  // Two servers in this process, each with a runner of MemLab: both registered it, the first one earlier.
  const first = await memoryStack(t, [MEM_LAB]);
  await new Promise((r) => setTimeout(r, 20));
  const second = await memoryStack(t, [MEM_LAB]);
  const refusals: PeerwayError[] = [];
  second.runner!.on('fatal', (e: PeerwayError) => refusals.push(e));
  const options = { servers: [nats.urls], heartbeatMs: 100, expireMs: 1000 };
  // "z-first" sorts after "a-second": the tie-break by name is not what decides here, the time is.
  const links = await Promise.all([joinCluster(first.server.broker, { ...options, name: 'z-first' }, first.server.log), joinCluster(second.server.broker, { ...options, name: 'a-second' }, second.server.log)]);
  t.after(() => Promise.all(links.map((l) => l.close())));
  debug = () => [first.server.broker.listServices({ name: 'anonymous' }), second.server.broker.listServices({ name: 'anonymous' }), first.server.broker.stats({ name: 'anonymous' }).cluster, second.server.broker.stats({ name: 'anonymous' }).cluster];

  await until(`both servers say MemLab is z-first's`, () => holder(first.server.broker) === 'z-first' && holder(second.server.broker) === 'z-first');
  // The evicted runner is told why, and keeps trying as after a local duplicate; the name stays z-first's.
  assert.equal(first.server.broker.services.get('MemLab')?.hosted.server, undefined, 'z-first kept its own registration');
  assert.equal(second.server.broker.services.get('MemLab')?.hosted.server, 'z-first');
  await new Promise((r) => setTimeout(r, 500));
  assert.equal(holder(second.server.broker), 'z-first');
  assert.deepEqual(refusals, [], 'a taken name is retried, never fatal');

  // A client of the second server reaches the first server's MemLab.
  const client = await second.client();
  const s = await client.startSession('MemLab');
  assert.match(String(await s.call('echo', { text: 'hi' })), /^hi via /);
});
