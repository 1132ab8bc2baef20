import { test } from 'node:test';
import assert from 'node:assert/strict';
import { joinCluster } from '../../src/cluster/cluster-link.js';
import { PeerwayError } from '../../src/errors.js';
import { MEM_LAB, memoryStack } from '../helpers/in-memory.js';
import { startNatsCluster } from '../helpers/nats-cluster.js';

/**
 * Notices between servers are fire-and-forget: one lost while its receiver was cut off from NATS must not
 * leave a session behind on either side. Here a server forgets a shared session without a word (the
 * broker's own calls, as if the notice had been lost); the periodic comparison cleans up the other side.
 */

async function until(what: string, check: () => boolean): Promise<void> {
  for (let i = 0; i < 200; i++) {
    if (check()) return;
    await new Promise((r) => setTimeout(r, 25));
  }
  assert.fail(what);
}

async function twoServers(t: import('node:test').TestContext) {
  const nats = await startNatsCluster(t, 1);
  const owner = await memoryStack(t, [MEM_LAB]);
  const holder = await memoryStack(t, []);
  const options = { servers: [nats.urls], heartbeatMs: 100, expireMs: 500 };
  const links = await Promise.all([joinCluster(owner.server.broker, { ...options, name: 'owner' }, owner.server.log), joinCluster(holder.server.broker, { ...options, name: 'holder' }, holder.server.log)]);
  t.after(() => Promise.all(links.map((l) => l.close())));
  await until('the holder lists MemLab', () => holder.server.broker.services.has('MemLab'));
  return { owner: owner.server.broker, holder: holder.server.broker, client: await holder.client({ reconnect: false }) };
}

test('a session its holder forgot without a word is stopped on the owning server', async (t) => {
  const { owner, holder, client } = await twoServers(t);
  const s = await client.startSession('MemLab');
  assert.equal(owner.sessions.size, 1);
  holder.endSession(holder.sessions.get(s.id)!, new PeerwayError('SERVICE_GONE', 'forgotten for the test'));
  await until('the owner let go of the session', () => owner.sessions.size === 0);
});

test('a session its owner forgot without a word is ended with SERVICE_GONE on the holding server', async (t) => {
  const { owner, holder, client } = await twoServers(t);
  const s = await client.startSession('MemLab');
  const ended = new Promise<PeerwayError>((resolve) => s.once('ended', resolve));
  owner.remove(owner.sessions.get(s.id)!);
  const error = await ended;
  assert.equal(error.code, 'SERVICE_GONE');
  assert.match(error.message, /was lost on server owner/);
  assert.equal(holder.sessions.size, 0);
});
