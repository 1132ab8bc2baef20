import { test } from 'node:test';
import assert from 'node:assert/strict';
import { connectClient, example, fixture, runPeerway, startRunner, startServer } from '../helpers/harness.js';
import { FAST_CLUSTER, startNatsCluster } from '../helpers/nats-cluster.js';
import type { ServiceListing } from '../../src/wire/messages.js';

const TYPES = fixture('definitions', 'types.xml');

async function listOn(url: string): Promise<ServiceListing[]> {
  const r = await runPeerway(['services', '--server', url, '--json']);
  assert.equal(r.code, 0, r.stderr);
  return r.stdout.trim().split('\n').filter(Boolean).map((l) => JSON.parse(l) as ServiceListing);
}

/** Polls (bounded) until `check` holds for the listing of `url`. */
async function listingUntil(url: string, what: string, check: (l: ServiceListing[]) => boolean): Promise<ServiceListing[]> {
  let last: ServiceListing[] = [];
  for (let i = 0; i < 100; i++) {
    last = await listOn(url);
    if (check(last)) return last;
    await new Promise((r) => setTimeout(r, 100));
  }
  assert.fail(`${what}; last listing: ${JSON.stringify(last)}`);
}

test('every server of a three-node cluster lists every service with the server it is registered with', async (t) => {
  const nats = await startNatsCluster(t);
  const a = await startServer(t, ['--cluster', nats.nodes[0].url, '--name', 'a', ...FAST_CLUSTER]);
  const b = await startServer(t, ['--cluster', nats.nodes[1].url, '--name', 'b', ...FAST_CLUSTER]);
  const c = await startServer(t, ['--cluster', nats.nodes[2].url, '--name', 'c', ...FAST_CLUSTER, '--service', example('climate.xml')]);
  await a.proc.waitFor(/^cluster a joined/m);
  // Without credentials the server says the cluster link is open.
  assert.match(a.proc.stderr(), /the cluster link is open/);
  await startRunner(t, a.url, [TYPES]);

  for (const s of [a, b, c]) {
    const list = await listingUntil(s.url, 'both services listed', (l) => l.length === 2);
    const byName = Object.fromEntries(list.map((x) => [x.name, x]));
    assert.equal(byName.Types.server, 'a');
    assert.equal(byName.Types.location, 'remote');
    assert.equal(byName.Types.version, '1');
    assert.equal(byName.Climate.server, 'c');
    assert.equal(byName.Climate.location, 'in-process');
  }
  // The table names the server too.
  const table = await runPeerway(['services', '--server', b.url]);
  assert.match(table.stdout, /^NAME\s+FULLNAME\s+VERSION\s+SERVER\s+SESSIONS\s+RUNS IN$/m);
  assert.match(table.stdout, /^Types\s+-\s+1\s+a\s+0\s+peerway-runner/m);
  // Stats say which servers are heard.
  const client = await connectClient(t, b.url);
  const stats = await client.stats();
  assert.equal(stats.cluster?.server, 'b');
  assert.deepEqual(Object.keys(stats.cluster?.peers ?? {}).sort(), ['a', 'c']);
});

test('a name registered on a second server is refused like a local duplicate, and free again once the first goes', async (t) => {
  const nats = await startNatsCluster(t);
  const a = await startServer(t, ['--cluster', nats.nodes[0].url, '--name', 'a', ...FAST_CLUSTER]);
  const b = await startServer(t, ['--cluster', nats.nodes[1].url, '--name', 'b', ...FAST_CLUSTER]);
  const first = await startRunner(t, a.url, [TYPES]);
  await listingUntil(b.url, 'Types listed on b', (l) => l.some((s) => s.name === 'Types' && s.server === 'a'));

  const { startPeerway } = await import('../../src/cli/peerway-process.js');
  const second = startPeerway(['runner', '--server', b.url, TYPES]);
  t.after(() => second.stop());
  const m = await second.waitFor(/refused the registration.*/, { stream: 'stderr' });
  assert.match(m[0], /Types is already registered .*on server a/);
  assert.doesNotMatch(second.stdout(), /^registered/m);

  // The first registration goes; the name is free, and the second runner gets it on its next try.
  await first.stop();
  await second.waitFor(/^registered Types/m, { timeoutMs: 15_000 });
  const list = await listingUntil(a.url, 'Types now listed on a as registered with b', (l) => l.some((s) => s.name === 'Types' && s.server === 'b'));
  assert.equal(list.length, 1);
});

test('a server that stops says goodbye; one that is killed leaves every registry once its heartbeats stop', async (t) => {
  const nats = await startNatsCluster(t);
  const a = await startServer(t, ['--cluster', nats.nodes[0].url, '--name', 'a', ...FAST_CLUSTER, '--service', example('climate.xml')]);
  const b = await startServer(t, ['--cluster', nats.nodes[1].url, '--name', 'b', ...FAST_CLUSTER, '--service', TYPES]);
  const c = await startServer(t, ['--cluster', nats.nodes[2].url, '--name', 'c', ...FAST_CLUSTER]);
  await listingUntil(c.url, 'both listed on c', (l) => l.length === 2);

  await a.proc.stop();
  await listingUntil(c.url, 'Climate gone from c after a stopped', (l) => l.length === 1 && l[0].name === 'Types');

  b.proc.child.kill('SIGKILL');
  await b.proc.exited;
  const gone = Date.now();
  await listingUntil(c.url, 'Types gone from c after b was killed', (l) => l.length === 0);
  // Expiry is 1 s here (--cluster-expire); polling adds a little.
  assert.ok(Date.now() - gone < 10_000);
  assert.match(c.proc.stderr(), /server b vanished from the cluster \(no heartbeat for 1000 ms\)/);
});

test('a second server with the name of a live one is refused at start', async (t) => {
  const nats = await startNatsCluster(t, 1);
  await startServer(t, ['--cluster', nats.urls, '--name', 'a', ...FAST_CLUSTER]);
  const r = await runPeerway(['server', '--listen', 'tcp://127.0.0.1:0', '--cluster', nats.urls, '--name', 'a']);
  assert.equal(r.code, 2, r.stderr);
  assert.match(r.stderr, /another Peerway server of the cluster already has that name/);
  const bad = await runPeerway(['server', '--listen', 'tcp://127.0.0.1:0', '--cluster', nats.urls]);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /--cluster needs --name NAME/);
});
