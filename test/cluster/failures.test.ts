import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startPeerway } from '../../src/cli/peerway-process.js';
import type { PeerwayClient } from '../../src/client/client.js';
import type { ServiceEvent, Session } from '../../src/client/session.js';
import { PeerwayError } from '../../src/errors.js';
import { Collector, connectClient, fixture, runPeerway, startRunner, startServer } from '../helpers/harness.js';
import { FAST_CLUSTER, startNatsCluster } from '../helpers/nats-cluster.js';

const TYPES = fixture('definitions', 'types.xml');

async function listed(client: PeerwayClient, service: string, present = true): Promise<void> {
  for (let i = 0; i < 150; i++) {
    if ((await client.services()).some((s) => s.name === service) === present) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  assert.fail(`${service} ${present ? 'never listed' : 'still listed'}`);
}

/** Calls `add` over and over on `session` until `stop()`; every call's outcome is kept. */
function load(session: Session, loops = 3): { stop(): Promise<void>; ok: () => number; errors: PeerwayError[] } {
  let running = true;
  let ok = 0;
  const errors: PeerwayError[] = [];
  const loop = async () => {
    for (let i = 0; running; i++) {
      try {
        assert.equal(await session.call('add', { a: i, b: 1 }, { timeoutMs: 5000 }), i + 1);
        ok++;
      } catch (err) {
        errors.push(err as PeerwayError);
        await new Promise((r) => setTimeout(r, 50));
      }
    }
  };
  const done = Promise.all(Array.from({ length: loops }, loop));
  return {
    stop: async () => {
      running = false;
      await done;
    },
    ok: () => ok,
    errors,
  };
}

test('kill -9 of the server that holds a service mid-load: relayed calls fail typed, sessions end with SERVICE_GONE, and resume when it is back', async (t) => {
  const nats = await startNatsCluster(t);
  const a = await startServer(t, ['--cluster', nats.nodes[0].url, '--name', 'a', ...FAST_CLUSTER]);
  const b = await startServer(t, ['--cluster', nats.nodes[1].url, '--name', 'b', ...FAST_CLUSTER]);
  const c = await startServer(t, ['--cluster', nats.nodes[2].url, '--name', 'c', ...FAST_CLUSTER]);
  await startRunner(t, a.url, [TYPES], ['--timeout', '2000']);
  // A client that restores its sessions (the default), and one that does not.
  const restoring = await connectClient(t, b.url, { reconnect: { restoreTimeoutMs: 60_000 } });
  const plain = await connectClient(t, c.url, { reconnect: false });
  await listed(restoring, 'Types');
  await listed(plain, 'Types');
  const s = await restoring.startSession('Types');
  const p = await plain.startSession('Types');
  const ended = new Promise<PeerwayError>((resolve) => p.once('ended', resolve));
  const restored = new Promise((resolve) => s.once('restored', resolve));

  const work = load(s);
  const slow = s.call('slow', { ms: 60_000 }, { timeoutMs: 90_000 }).then(
    () => assert.fail('the slow call cannot succeed: its server was killed'),
    (e: PeerwayError) => e,
  );
  for (let i = 0; i < 100 && work.ok() < 20; i++) await new Promise((r) => setTimeout(r, 50));
  assert.ok(work.ok() >= 20, 'calls flow before the kill');
  a.proc.child.kill('SIGKILL');
  const killed = Date.now();

  // The slow call in flight fails as soon as server a is taken out (expiry 1 s), not at its 60 s deadline.
  const slowError = await slow;
  assert.equal(slowError.code, 'SERVICE_GONE', slowError.message);
  assert.ok(Date.now() - killed < 15_000, 'no relayed call hangs past the expiry');
  const endedWith = await ended;
  assert.equal(endedWith.code, 'SERVICE_GONE');
  assert.match(endedWith.message, /server a vanished from the cluster/);
  await listed(plain, 'Types', false);
  const before = work.ok();

  // Server a comes back on its port; its runner registers again; b's client session is started again.
  const again = startPeerway(['server', '--listen', `tcp://127.0.0.1:${a.port}`, '--cluster', nats.nodes[0].url, '--name', 'a', ...FAST_CLUSTER]);
  t.after(() => again.stop());
  await again.waitFor(/^cluster a joined/m);
  await restored;
  for (let i = 0; i < 200 && work.ok() < before + 20; i++) await new Promise((r) => setTimeout(r, 50));
  await work.stop();
  assert.ok(work.ok() >= before + 20, `calls flow again on the restored session (${work.ok() - before} after the kill)`);
  for (const e of work.errors) {
    assert.ok(e instanceof PeerwayError, String(e));
    assert.ok(['SERVICE_GONE', 'TIMEOUT', 'CONNECTION_CLOSED', 'SESSION_NOT_FOUND'].includes(e.code), `${e.code}: ${e.message}`);
  }
});

test('kill -9 of the NATS node a server is connected to mid-load: it reconnects to another node and its sessions go on', async (t) => {
  const nats = await startNatsCluster(t);
  const a = await startServer(t, ['--cluster', nats.nodes[0].url, '--name', 'a', '--cluster-heartbeat', '200', '--cluster-expire', '5000']);
  const b = await startServer(t, ['--cluster', `${nats.nodes[1].url},${nats.nodes[2].url}`, '--name', 'b', '--cluster-heartbeat', '200', '--cluster-expire', '5000']);
  await startRunner(t, a.url, [TYPES]);
  const client = await connectClient(t, b.url);
  await listed(client, 'Types');
  const s = await client.startSession('Types');
  let sessionEnded = false;
  s.once('ended', () => (sessionEnded = true));
  const events = new Collector<ServiceEvent>();
  await s.onEvent('ping', events.push);

  const work = load(s);
  for (let i = 0; i < 100 && work.ok() < 20; i++) await new Promise((r) => setTimeout(r, 50));
  const via = (await client.stats()).cluster?.nats;
  const node = nats.nodes.find((n) => n.url.endsWith(`:${via?.split(':').pop()}`));
  assert.ok(node && node !== nats.nodes[0], `b is on node 2 or 3 (${via})`);
  await node.kill();
  let now: string | null | undefined = via;
  for (let i = 0; i < 100 && (now === via || now === null); i++) {
    await new Promise((r) => setTimeout(r, 100));
    now = (await client.stats()).cluster?.nats;
  }
  assert.ok(now && now !== via, `b moved to another node (${via} → ${now})`);
  const before = work.ok();
  for (let i = 0; i < 200 && work.ok() < before + 20; i++) await new Promise((r) => setTimeout(r, 50));
  await work.stop();
  assert.ok(work.ok() >= before + 20, 'calls go on after the reconnect');
  for (const e of work.errors) assert.ok(['TIMEOUT', 'CONNECTION_CLOSED'].includes(e.code), `${e.code}: ${e.message}`);
  // Events come through the new node too, on the same session.
  await s.call('emitPing', { count: 3 });
  assert.deepEqual((await events.next(3)).map((e) => e.args.seq), [1, 2, 3]);
  assert.equal(sessionEnded, false, 'the session was never lost');
  assert.deepEqual((await client.services()).map((x) => x.name), ['Types']);
});

test('kill -9 of the server a client is on: the owning server ends the sessions it held for it once it expires', async (t) => {
  const nats = await startNatsCluster(t);
  const a = await startServer(t, ['--cluster', nats.nodes[0].url, '--name', 'a', ...FAST_CLUSTER]);
  const b = await startServer(t, ['--cluster', nats.nodes[1].url, '--name', 'b', ...FAST_CLUSTER]);
  const runner = await startRunner(t, a.url, [TYPES], ['--log-level', 'debug']);
  const client = await connectClient(t, b.url, { reconnect: false });
  await listed(client, 'Types');
  const s = await client.startSession('Types');
  await s.onEvent('ping', () => undefined);
  const owner = await connectClient(t, a.url);
  assert.equal((await owner.stats()).services.Types.sessions, 1);
  b.proc.child.kill('SIGKILL');
  for (let i = 0; i < 100 && (await owner.stats()).services.Types.sessions > 0; i++) await new Promise((r) => setTimeout(r, 100));
  assert.equal((await owner.stats()).services.Types.sessions, 0, 'the session b held is gone from a');
  assert.match(a.proc.stderr(), /server b vanished from the cluster/);
  // The runner was told to close it, as when a client of a goes away for good.
  const m = await runner.waitFor(/session closed by the server.*/, { stream: 'stderr', timeoutMs: 5000 });
  assert.ok(m[0].includes(s.id), m[0]);
});

test('with NATS credentials the cluster link is authenticated: a server without them cannot join', async (t) => {
  const nats = await startNatsCluster(t, 3, { auth: { user: 'peerway', password: 's3cret' } });
  const a = await startServer(t, ['--cluster', nats.nodes[0].url, '--name', 'a', ...FAST_CLUSTER, '--service', TYPES], { PEERWAY_CLUSTER_USER: 'peerway', PEERWAY_CLUSTER_PASSWORD: 's3cret' });
  await a.proc.waitFor(/^cluster a joined/m);
  assert.doesNotMatch(a.proc.stderr(), /cluster link is open/);
  const b = await startServer(t, ['--cluster', nats.nodes[1].url, '--name', 'b', ...FAST_CLUSTER, '--cluster-user', 'peerway'], { PEERWAY_CLUSTER_PASSWORD: 's3cret' });
  const client = await connectClient(t, b.url);
  await listed(client, 'Types');
  const s = await client.startSession('Types');
  assert.equal(await s.call('add', { a: 20, b: 22 }), 42);

  const refused = await runPeerway(['server', '--listen', 'tcp://127.0.0.1:0', '--cluster', nats.nodes[2].url, '--name', 'intruder']);
  assert.equal(refused.code, 1, refused.stderr);
  assert.match(refused.stderr, /CONNECT_FAILED/);
  assert.match(refused.stderr, /NATS refused the credentials/);
});

test('with TLS to NATS and a client certificate the cluster link is authenticated: a server without one cannot join', async (t) => {
  const { makeTestCertificates } = await import('../helpers/certs.js');
  const certs = await makeTestCertificates();
  const nats = await startNatsCluster(t, 1, { tls: { certificate: certs.server.certificate, key: certs.server.key, ca: certs.ca.certificate, verify: true } });
  const url = nats.nodes[0].url.replace('nats://', 'tls://');
  const tlsArgs = ['--cluster-tls-ca', certs.ca.certificate, '--cluster-tls-cert', certs.client.certificate, '--cluster-tls-key', certs.client.key];
  const a = await startServer(t, ['--cluster', url, '--name', 'a', ...FAST_CLUSTER, ...tlsArgs, '--service', TYPES]);
  await a.proc.waitFor(/^cluster a joined/m);
  assert.doesNotMatch(a.proc.stderr(), /cluster link is open/);
  const b = await startServer(t, ['--cluster', url, '--name', 'b', ...FAST_CLUSTER, ...tlsArgs]);
  const client = await connectClient(t, b.url);
  await listed(client, 'Types');
  assert.equal(await (await client.startSession('Types')).call('add', { a: 1, b: 2 }), 3);

  // Trusting the NATS server is not enough: without a client certificate NATS refuses the connection.
  const refused = await runPeerway(['server', '--listen', 'tcp://127.0.0.1:0', '--cluster', url, '--name', 'intruder', '--cluster-tls-ca', certs.ca.certificate]);
  assert.equal(refused.code, 1, refused.stderr);
  assert.match(refused.stderr, /CONNECT_FAILED/);
});
