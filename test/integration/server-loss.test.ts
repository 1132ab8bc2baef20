import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { DataChange, ServiceEvent } from '../../src/client/session.js';
import type { PeerwayError } from '../../src/errors.js';
import { startPeerway } from '../../src/cli/peerway-process.js';
import { Collector, connectClient, fixture, startRunner, startServer } from '../helpers/harness.js';

/** Real processes: what a session does when its server connection goes, and when the server comes back. */

const LAB = fixture('p2p', 'lab.xml');

test('the server dies while a direct link is healthy: the link keeps carrying calls until the session is stopped', async (t) => {
  const server = await startServer(t);
  const runner = await startRunner(t, server.url, [LAB]);
  const client = await connectClient(t, server.url);
  const s = await client.startSession('Lab');
  assert.equal(s.routeFor('method', 'echo').linkType, 'direct');
  const disconnected = new Promise((resolve) => client.once('disconnected', resolve));
  server.proc.child.kill('SIGKILL');
  await disconnected;
  await runner.waitFor(/the server went away/, { stream: 'stderr' });
  for (let i = 0; i < 3; i++) assert.equal(await s.call('echo', { text: `t${i}` }), `t${i} via direct`);
  // A server-routed call waits for the connection to come back, within its timeout, then fails typed.
  await assert.rejects(s.call('setCounter', { value: 1 }, { timeoutMs: 300 }), (e: PeerwayError) => e.code === 'CONNECTION_CLOSED' && /still reconnecting after 300 ms/.test(e.message));
  assert.equal(s.ended, false);
  await s.stop();
  await assert.rejects(s.call('echo', { text: 'x' }), { code: 'SESSION_NOT_FOUND' });
});

test('listeners that throw on a real connection: delivery goes on, another session is untouched, the error is reported', async (t) => {
  const server = await startServer(t);
  await startRunner(t, server.url, [LAB]);
  // Without udp, tick comes through the server; counter comes directly over its tcp link: both paths covered.
  const client = await connectClient(t, server.url, { bearers: ['connect.bearer.tcp'] });
  const faulty = await client.startSession('Lab');
  const healthy = await client.startSession('Lab');
  assert.equal(faulty.routeFor('event', 'tick').linkType, 'server');
  assert.equal(faulty.routeFor('runtimedata', 'counter').linkType, 'direct');
  const errors: PeerwayError[] = [];
  faulty.on('error', (e: PeerwayError) => errors.push(e));
  const events = new Collector<ServiceEvent>();
  const counters = new Collector<DataChange>();
  await faulty.onEvent('tick', () => {
    throw new Error('event bug');
  });
  await faulty.watch('counter', () => {
    throw new Error('watch bug');
  });
  await faulty.onEvent('tick', events.push);
  await faulty.watch('counter', counters.push);
  const other = new Collector<ServiceEvent>();
  await healthy.onEvent('tick', other.push);
  await healthy.call('emitTicks', { count: 2 });
  await healthy.call('setCounter', { value: 1 });
  await healthy.call('setCounter', { value: 2 });
  assert.deepEqual((await events.next(2)).map((e) => [e.args.seq, e.route]), [[1, 'server'], [2, 'server']]);
  assert.deepEqual((await counters.next(2)).map((c) => [c.value, c.route]), [[1, 'direct'], [2, 'direct']]);
  assert.deepEqual((await other.next(2)).map((e) => e.args.seq), [1, 2]);
  assert.equal(errors.length, 4, errors.map((e) => e.message).join('; '));
  assert.ok(errors.every((e) => e.code === 'IMPLEMENTATION_ERROR' && /threw: (event|watch) bug$/.test(e.message)));
  assert.equal(await faulty.call('echo', { text: 'ok' }), 'ok via direct');
  assert.equal(client.closed, false);
});

test('after a server restart the runner closes the sessions it kept, and the client starts them again by itself', async (t) => {
  const server = await startServer(t);
  const runner = await startRunner(t, server.url, [LAB]);
  const client = await connectClient(t, server.url);
  const s = await client.startSession('Lab');
  const before = s.id;
  const restored = new Promise<{ restarted: boolean }>((resolve) => s.once('restored', resolve));
  server.proc.child.kill('SIGKILL');
  await runner.waitFor(/the server went away/, { stream: 'stderr' });
  const again = startPeerway(['server', '--listen', `tcp://127.0.0.1:${server.port}`]);
  t.after(() => again.stop());
  await again.waitFor(/listening/);
  await runner.waitFor(/re-registered after reconnect/, { stream: 'stderr', timeoutMs: 10_000 });
  assert.deepEqual(await restored, { restarted: true });
  assert.notEqual(s.id, before);
  assert.equal(s.ended, false);
  assert.equal(await s.call('echo', { text: 'new' }), 'new via direct');
});
