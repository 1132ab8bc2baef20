import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { DataChange, ServiceEvent, Session } from '../../src/client/session.js';
import { PeerwayError } from '../../src/errors.js';
import { startPeerway } from '../../src/cli/peerway-process.js';
import { Collector, connectClient, fixture, startRunner, startServer } from '../helpers/harness.js';

/** Recovery on real processes: runners and servers killed with -9 and started again; the client copes alone. */

const KEEPER = fixture('recovery', 'keeper.xml');

function once<T>(emitter: { once(event: string, listener: (value: T) => void): unknown }, event: string, timeoutMs = 15_000): Promise<T> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no "${event}" within ${timeoutMs} ms`)), timeoutMs);
    emitter.once(event, (value: T) => {
      clearTimeout(timer);
      resolve(value);
    });
  });
}

test('a runner killed with -9: calls in flight fail at once with SERVICE_GONE on either route; restarted, the session comes back with its watch and subscription', async (t) => {
  const server = await startServer(t);
  const runner = await startRunner(t, server.url, [KEEPER]);
  const client = await connectClient(t, server.url);
  const s = await client.startSession('Keeper');
  const values = new Collector<DataChange>();
  const bumps = new Collector<ServiceEvent>();
  await s.watch('n', values.push);
  await s.onEvent('bumped', bumps.push);
  const direct = s.call('slowDirect', { ms: 8000 }).then(() => undefined, (e: PeerwayError) => e);
  const relayed = s.call('slowServer', { ms: 8000 }).then(() => undefined, (e: PeerwayError) => e);
  await runner.waitFor(/slow call started[^]*slow call started/, { stream: 'stderr' });
  const killedAt = Date.now();
  runner.child.kill('SIGKILL');
  const [d, r] = await Promise.all([direct, relayed]);
  assert.equal(d?.code, 'SERVICE_GONE', String(d));
  assert.equal(r?.code, 'SERVICE_GONE', String(r));
  assert.ok(Date.now() - killedAt < 4000, 'failed when the runner died, not when the calls would have ended');

  const restored = once<{ session: Session; restarted: boolean }>(client, 'session-restored');
  await startRunner(t, server.url, [KEEPER]);
  assert.equal((await restored).restarted, true);
  assert.equal(await s.call('bump'), 1, 'the new runner counts from zero');
  assert.deepEqual((await bumps.next(1)).map((e) => [e.args.n, e.route]), [[1, 'direct']]);
  const seen = await values.next(2);
  assert.deepEqual(
    seen.map((c) => [c.value, c.restored ?? false]),
    [
      [0, true],
      [1, false],
    ],
  );
});

test('the server killed with -9: direct links carry calls meanwhile; restarted on its port, the client reconnects and its sessions come back by themselves', async (t) => {
  const server = await startServer(t);
  const runner = await startRunner(t, server.url, [KEEPER]);
  const client = await connectClient(t, server.url);
  const s = await client.startSession('Keeper');
  const values = new Collector<DataChange>();
  await s.watch('n', values.push);
  const disconnected = once(client, 'disconnected');
  server.proc.child.kill('SIGKILL');
  await disconnected;
  assert.equal(await s.call('echo', { text: 'meanwhile' }), 'meanwhile via direct');
  const reconnected = once(client, 'reconnected', 20_000);
  const restored = once<{ restarted: boolean }>(s, 'restored', 20_000);
  const again = startPeerway(['server', '--listen', server.url]);
  t.after(() => again.stop());
  await again.waitFor(/listening/);
  await reconnected;
  await runner.waitFor(/re-registered after reconnect/, { stream: 'stderr', timeoutMs: 10_000 });
  assert.equal((await restored).restarted, true, 'a new server does not know the old session: it is started again');
  assert.equal(await s.call('bump'), 1);
  await values.next(2);
  assert.equal(values.items.at(-1)?.value, 1);
  assert.equal(s.ended, false);
});

test('peerway watch keeps printing across a runner kill -9 and a server restart, without being restarted', async (t) => {
  const server = await startServer(t);
  let runner = await startRunner(t, server.url, [KEEPER]);
  const watch = startPeerway(['watch', '--server', server.url, 'Keeper', '--path', 'n', '--no-events']);
  t.after(() => watch.stop());
  await watch.waitFor(/"initial":true/);
  const client = await connectClient(t, server.url);
  let s = await client.startSession('Keeper');
  await s.call('bump');
  await watch.waitFor(/"value":1,"route":"direct"/);

  const restored = once(s, 'restored');
  runner.child.kill('SIGKILL');
  runner = await startRunner(t, server.url, [KEEPER]);
  await watch.waitFor(/session started again/, { stream: 'stderr', timeoutMs: 15_000 });
  await restored;
  assert.equal(await s.call('bump'), 1);
  await watch.waitFor(/"value":0,"route":"direct","restored":true[^]*"value":1,"route":"direct"/);

  server.proc.child.kill('SIGKILL');
  await watch.waitFor(/lost .*reconnecting/, { stream: 'stderr' });
  const again = startPeerway(['server', '--listen', server.url]);
  t.after(() => again.stop());
  await again.waitFor(/listening/);
  await runner.waitFor(/re-registered after reconnect/, { stream: 'stderr', timeoutMs: 10_000 });
  s = await (await connectClient(t, server.url)).startSession('Keeper');
  await watch.waitFor(/session started again[^]*session started again/, { stream: 'stderr', timeoutMs: 15_000 });
  assert.equal(await s.call('bump'), 2);
  await watch.waitFor(/"value":2,"route":"direct"/);
  assert.equal(watch.child.exitCode, null, 'the watch is still running');
});

test('every call the caller saw acknowledged ran exactly once, across a runner kill -9 and a server kill -9', async (t) => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'peerway-journal-'));
  const journal = path.join(dir, 'journal');
  const env = { KEEPER_JOURNAL: journal };
  const server = await startServer(t);
  let runner = await startRunner(t, server.url, [KEEPER], [], env);
  const client = await connectClient(t, server.url, { timeoutMs: 10_000 });
  const s = await client.startSession('Keeper');
  const acknowledged: string[] = [];
  const failed: string[] = [];
  let stop = false;
  const load = (async () => {
    // Bounded in count and time, and it stops when told.
    const until = Date.now() + 60_000;
    for (let i = 0; i < 200_000 && !stop && Date.now() < until; i++) {
      const id = `c${i}`;
      try {
        acknowledged.push(await s.call<string>('record', { id }));
      } catch (err) {
        failed.push(`${id}:${(err as PeerwayError).code}`);
      }
    }
  })();
  const progress = async (n: number) => {
    const until = Date.now() + 15_000;
    while (acknowledged.length < n && Date.now() < until) await new Promise((r) => setTimeout(r, 20));
  };
  await progress(50);
  runner.child.kill('SIGKILL');
  runner = await startRunner(t, server.url, [KEEPER], [], env);
  const after = acknowledged.length;
  await progress(after + 50);
  server.proc.child.kill('SIGKILL');
  const again = startPeerway(['server', '--listen', server.url]);
  t.after(() => again.stop());
  await again.waitFor(/listening/);
  await runner.waitFor(/re-registered after reconnect/, { stream: 'stderr', timeoutMs: 10_000 });
  const later = acknowledged.length;
  await progress(later + 50);
  stop = true;
  await load;
  assert.ok(acknowledged.length > later, 'calls went on after both restarts');
  const ran = (await readFile(journal, 'utf8')).trim().split('\n');
  const counts = new Map<string, number>();
  for (const id of ran) counts.set(id, (counts.get(id) ?? 0) + 1);
  for (const id of acknowledged) assert.equal(counts.get(id), 1, `${id} was acknowledged and ran ${counts.get(id) ?? 0} times`);
  assert.deepEqual([...counts].filter(([, n]) => n > 1), [], 'no call ran twice');
  // Failures are allowed only as the typed errors of a peer dying under the call.
  for (const f of failed) assert.match(f, /:(SERVICE_GONE|CONNECTION_CLOSED)$/);
});
