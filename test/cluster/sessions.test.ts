import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Collector, connectClient, fixture, startRunner, startServer, type RunningServer } from '../helpers/harness.js';
import { FAST_CLUSTER, startNatsCluster } from '../helpers/nats-cluster.js';
import type { DataChange, ServiceEvent } from '../../src/client/session.js';
import type { PeerwayClient } from '../../src/client/client.js';
import type { PeerwayError } from '../../src/errors.js';

const TYPES = fixture('definitions', 'types.xml');
const LAB = fixture('p2p', 'lab.xml');

/** Three NATS nodes, three Peerway servers (a, b, c) each joined to its own node; a runner of `files` on a. */
async function threeServers(t: TestContext, files: string[], extra: { a?: string[]; b?: string[]; c?: string[] } = {}): Promise<{ a: RunningServer; b: RunningServer; c: RunningServer }> {
  const nats = await startNatsCluster(t);
  const a = await startServer(t, ['--cluster', nats.nodes[0].url, '--name', 'a', ...FAST_CLUSTER, ...(extra.a ?? [])]);
  const b = await startServer(t, ['--cluster', nats.nodes[1].url, '--name', 'b', ...FAST_CLUSTER, ...(extra.b ?? [])]);
  const c = await startServer(t, ['--cluster', nats.nodes[2].url, '--name', 'c', ...FAST_CLUSTER, ...(extra.c ?? [])]);
  if (files.length > 0) await startRunner(t, a.url, files);
  return { a, b, c };
}

/** Waits (bounded) until the client's server lists `service`. */
async function listed(client: PeerwayClient, service: string): Promise<void> {
  for (let i = 0; i < 100; i++) {
    if ((await client.services()).some((s) => s.name === service)) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  assert.fail(`${service} never listed`);
}

test('a client of server b calls, hears events and watches runtime data of a service on a runner of server a', async (t) => {
  const { a, b, c } = await threeServers(t, [TYPES]);
  const client = await connectClient(t, b.url);
  await listed(client, 'Types');
  const s = await client.startSession('Types');
  assert.equal(await s.call('add', { a: 2, b: 3 }), 5);
  assert.deepEqual(await s.call('echoPoint', { value: { x: 1, y: 2, label: 'p' } }), { x: 1, y: 2, label: 'p' });
  assert.equal(await s.call('echoInt64', { value: 9007199254740993n }), 9007199254740993n);
  await assert.rejects(s.call('fail', { message: 'boom' }), (e: PeerwayError) => e.code === 'IMPLEMENTATION_ERROR' && /boom/.test(e.message));
  // NATS carries at most max_payload (1 MiB by default) in one message: a bigger call is refused, typed.
  await assert.rejects(s.call('echoBinary', { value: new Uint8Array(2 * 1024 * 1024) }), (e: PeerwayError) => e.code === 'LIMIT_EXCEEDED' && /max_payload/.test(e.message));
  assert.equal((await s.call<Uint8Array>('echoBinary', { value: new Uint8Array(512 * 1024) })).length, 512 * 1024);

  const events = new Collector<ServiceEvent>();
  await s.onEvent('ping', events.push);
  const changes = new Collector<DataChange>();
  const { snapshot } = await s.watch('count', changes.push);
  assert.equal(snapshot, 7);
  await s.call('emitPing', { count: 5 });
  await s.call('setCount', { value: 11 });
  assert.deepEqual((await events.next(5)).map((e) => e.args.seq), [1, 2, 3, 4, 5]);
  assert.deepEqual((await changes.next(1)).map((c) => [c.path, c.value, c.route]), [['count', 11, 'server']]);

  // A client of a third server, at the same time: the same traffic, once per server over NATS.
  const other = await connectClient(t, c.url);
  await listed(other, 'Types');
  const s2 = await other.startSession('Types');
  const { snapshot: whole } = await s2.watch('', () => undefined);
  assert.equal((whole as Record<string, unknown>).count, 11, 'a new session reads the current copy');
  const both = new Collector<ServiceEvent>();
  await s2.onEvent('ping', both.push);
  await s.call('emitPing', { count: 2 });
  assert.deepEqual((await both.next(2)).map((e) => e.args.seq), [1, 2]);
  assert.deepEqual((await events.next(7)).slice(5).map((e) => e.args.seq), [1, 2]);

  // The owning server counts what it relayed and the sessions held through other servers.
  const owner = await connectClient(t, a.url);
  const stats = (await owner.stats()).services.Types;
  assert.equal(stats.sessions, 2);
  assert.equal(stats.calls, 8, JSON.stringify(stats)); // the 2 MiB call never reached a
  await s.stop();
  await s2.stop();
  for (let i = 0; i < 50 && (await owner.stats()).services.Types.sessions > 0; i++) await new Promise((r) => setTimeout(r, 100));
  assert.equal((await owner.stats()).services.Types.sessions, 0, 'stopping on b and c ends the sessions on a');
});

test('a relayed call fails with TIMEOUT at the deadline of the server its client is on', async (t) => {
  const { b } = await threeServers(t, [TYPES], { b: ['--relay-timeout', '1500'] });
  const client = await connectClient(t, b.url, { timeoutMs: 10_000 });
  await listed(client, 'Types');
  const s = await client.startSession('Types');
  const started = Date.now();
  await assert.rejects(s.call('slow', { ms: 8000 }), (e: PeerwayError) => e.code === 'TIMEOUT');
  const took = Date.now() - started;
  assert.ok(took < 6000, `failed after ${took} ms, long before the service would have answered`);
  assert.equal(await s.call('add', { a: 1, b: 1 }), 2, 'the session goes on');
});

test('a client of server b takes the direct routes to a runner registered with server a', async (t) => {
  const { a, b } = await threeServers(t, [LAB]);
  const client = await connectClient(t, b.url);
  await listed(client, 'Lab');
  const s = await client.startSession('Lab');
  assert.equal(s.routeFor('method', 'echo').link, 'reliable');
  assert.equal(s.routeFor('event', 'tick').linkType, 'direct');
  for (let i = 0; i < 5; i++) assert.equal(await s.call('echo', { text: `hi${i}` }), `hi${i} via direct`);
  const ticks = new Collector<ServiceEvent>();
  await s.onEvent('tick', ticks.push);
  await s.call('emitTicks', { count: 3 }); // server-routed: b → NATS → a → runner
  assert.ok((await ticks.next(3)).every((e) => e.route === 'direct'));
  const onA = (await (await connectClient(t, a.url)).stats()).services.Lab;
  const onB = (await client.stats()).services.Lab;
  assert.equal(onA.calls, 1, 'only the server-routed trigger reached server a');
  assert.equal(onB.calls, 1, 'and server b');
  assert.equal(onA.eventsIn, 0, 'no tick went through any server');
});

const sha = (token: string) => createHash('sha256').update(token, 'utf8').digest('hex');

function policyFile(t: TestContext, name: string, text: string): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'peerway-cluster-policy-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const file = path.join(dir, name);
  writeFileSync(file, text);
  return file;
}

test("both servers' policies decide for a remote identity: the owner's denial reaches the client of another server", async (t) => {
  const identities = `identities:\n  alice: { token_sha256: ${sha('alice-token')} }\n  bob:   { token_sha256: ${sha('bob-token')} }\n`;
  // Server a owns Types: bob may not call add nor read count there.
  const onA = policyFile(
    t,
    'a.yaml',
    `${identities}statements:
  - allow: { who: "*", service: "*", actions: [describe, register] }
  - allow: { who: [alice, bob], service: Types, actions: [call, subscribe, read] }
  - deny:  { who: bob, service: Types, call: [add] }
  - deny:  { who: bob, service: Types, read: [count] }
`,
  );
  // Server b, where the clients are: alice may not call echoString.
  const onB = policyFile(
    t,
    'b.yaml',
    `${identities}statements:
  - allow: { who: "*", service: "*", actions: [describe, call, subscribe, read] }
  - deny:  { who: alice, service: Types, call: [echoString] }
`,
  );
  const { b } = await threeServers(t, [TYPES], { a: ['--policy', onA], b: ['--policy', onB] });
  const alice = await connectClient(t, b.url, { token: 'alice-token' });
  const bob = await connectClient(t, b.url, { token: 'bob-token' });
  const nobody = await connectClient(t, b.url);
  await listed(alice, 'Types');

  const sa = await alice.startSession('Types');
  assert.equal(await sa.call('add', { a: 1, b: 2 }), 3);
  await assert.rejects(sa.call('echoString', { value: 'x' }), (e: PeerwayError) => e.code === 'POLICY_DENIED' && /alice/.test(e.message));

  const sb = await bob.startSession('Types');
  assert.equal(await sb.call('echoString', { value: 'x' }), 'x');
  await assert.rejects(sb.call('add', { a: 1, b: 2 }), (e: PeerwayError) => e.code === 'POLICY_DENIED' && /bob/.test(e.message));
  await sa.call('setCount', { value: 42 });
  assert.equal((await sa.watch('count', () => undefined)).snapshot, 42);
  await assert.rejects(sb.watch('count', () => undefined), (e: PeerwayError) => e.code === 'POLICY_DENIED' && /bob may not read Types "count"/.test(e.message));
  const seen = new Collector<DataChange>();
  await sb.watch('', seen.push);
  assert.equal(sb.data.get('count'), 7, "the owner's denied path is left out of what b answers: bob's copy keeps its default");
  await sa.call('setCount', { value: 43 });
  await sa.call('setPosition', { x: 5, y: 6 });
  const got = await seen.next(1);
  assert.deepEqual(got.map((c) => c.path), ['position'], 'bob hears the position, never the count');

  // anonymous may do everything on b, nothing on a: the session is refused by a.
  await assert.rejects(nobody.startSession('Types'), (e: PeerwayError) => e.code === 'POLICY_DENIED' && /anonymous/.test(e.message));
});

test("the owner's decisions that change live (a when condition) reach the sessions other servers hold", async (t) => {
  const identities = `identities:\n  alice: { token_sha256: ${sha('alice-token')} }\n  bob:   { token_sha256: ${sha('bob-token')} }\n`;
  const onA = policyFile(
    t,
    'a.yaml',
    `${identities}statements:
  - allow: { who: "*", service: "*", actions: [describe, register] }
  - allow: { who: [alice, bob], service: Types, actions: [call, subscribe, read] }
  - deny:  { who: bob, service: Types, read: [count], when: { "Types:count": { gt: 10 } } }
`,
  );
  const onB = policyFile(t, 'b.yaml', `${identities}statements:\n  - allow: { who: "*", service: "*", actions: [describe, call, subscribe, read] }\n`);
  const { b } = await threeServers(t, [TYPES], { a: ['--policy', onA], b: ['--policy', onB] });
  const alice = await connectClient(t, b.url, { token: 'alice-token' });
  const bob = await connectClient(t, b.url, { token: 'bob-token' });
  await listed(alice, 'Types');
  const sa = await alice.startSession('Types');
  const sb = await bob.startSession('Types');
  const seen = new Collector<DataChange>();
  await sb.watch('', seen.push);
  await sa.call('setCount', { value: 5 });
  assert.deepEqual((await seen.next(1)).map((c) => [c.path, c.value]), [['count', 5]], 'allowed while count ≤ 10');

  await sa.call('setCount', { value: 11 }); // a's condition flips: bob may no longer read count
  await assert.rejects(sb.watch('count', () => undefined), (e: PeerwayError) => e.code === 'POLICY_DENIED' && /bob may not read Types "count"/.test(e.message));
  // a re-decides its sessions within 50 ms of the change and tells b; until b has heard, a count may still
  // reach bob. Each round sets count, then position; once a round brings the position alone, b has heard.
  const countsIn = (from: number) => seen.items.slice(from).filter((c) => c.path === 'count').length;
  let clean = -1;
  for (let round = 0; round < 40 && clean < 0; round++) {
    const from = seen.items.length;
    await sa.call('setCount', { value: 12 + round });
    await sa.call('setPosition', { x: round, y: round });
    while (!seen.items.slice(from).some((c) => c.path === 'position')) await seen.next(seen.items.length + 1);
    if (countsIn(from) === 0) clean = round;
  }
  assert.ok(clean >= 0, 'bob stopped hearing count');
  // From then on, never again.
  const from = seen.items.length;
  for (let i = 0; i < 3; i++) {
    await sa.call('setCount', { value: 100 + i });
    await sa.call('setPosition', { x: 100 + i, y: 0 });
  }
  while (seen.items.slice(from).filter((c) => c.path === 'position').length < 3) await seen.next(seen.items.length + 1);
  assert.equal(countsIn(from), 0, JSON.stringify(seen.items.slice(from)));
  assert.ok((sb.data.get('count') as number) < 100, "bob's copy keeps the last count he was allowed");
});
