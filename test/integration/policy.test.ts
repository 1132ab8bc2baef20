import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { DataChange } from '../../src/client/session.js';
import type { PeerwayError } from '../../src/errors.js';
import { connect } from '../../src/client/client.js';
import { connectClient, example, fixture, runPeerway, startRunner, startServer } from '../helpers/harness.js';

/** The access policy on real processes: identities, decisions on both routes, live conditions, reload. */

const sha = (token: string) => createHash('sha256').update(token, 'utf8').digest('hex');
const CLIMATE = example('climate.xml');
const TYPES = fixture('definitions', 'types.xml');

function policyFile(t: import('node:test').TestContext, text: string): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'peerway-policy-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const file = path.join(dir, 'policy.yaml');
  writeFileSync(file, text);
  return file;
}

const STANDARD = (mode: 'enforced' | 'notify' = 'enforced') => `mode: ${mode}
identities:
  hmi:            { token_sha256: ${sha('hmi-token')} }
  climate-runner: { token_sha256: ${sha('climate-runner-token')} }
  types-runner:   { token_sha256: ${sha('types-runner-token')} }
  diagnostics:    { token_sha256: ${sha('diagnostics-token')} }
statements:
  - allow: { who: "*", service: "*", actions: [describe] }
  - allow: { who: climate-runner, service: Climate, actions: [register] }
  - allow: { who: types-runner, service: Types, actions: [register] }
  - allow: { who: hmi, service: [Climate, Types], actions: [call, subscribe, read] }
  - deny:  { who: hmi, service: Climate, read: [cabin.fan] }
  - deny:  { who: hmi, service: Climate, call: [setTemperature], when: { "Types:count": { gt: 10 } } }
  - allow: { who: diagnostics, service: "*", actions: [call, subscribe, read] }
`;

async function policyStack(t: import('node:test').TestContext, mode: 'enforced' | 'notify' = 'enforced') {
  const file = policyFile(t, STANDARD(mode));
  const server = await startServer(t, ['--policy', file]);
  await startRunner(t, server.url, [CLIMATE], ['--token', 'climate-runner-token']);
  await startRunner(t, server.url, [TYPES], [], { PEERWAY_TOKEN: 'types-runner-token' });
  return { server, file };
}

test('tokens: the right one names the identity, a wrong one is refused at the hello, none is anonymous', async (t) => {
  const { server } = await policyStack(t);
  await assert.rejects(connect(server.url, { token: 'not-a-token', connectTimeoutMs: 10_000 }), (e: PeerwayError) => e.code === 'UNAUTHORIZED' && /not one the server knows/.test(e.message));
  const anonymous = await connectClient(t, server.url);
  assert.deepEqual((await anonymous.services()).map((s) => s.name).sort(), ['Climate', 'Types'], 'describe is allowed to everyone');
  await assert.rejects(anonymous.startSession('Climate'), (e: PeerwayError) => e.code === 'POLICY_DENIED' && /^anonymous may not start a session with Climate/.test(e.message));
  const hmi = await connectClient(t, server.url, { token: 'hmi-token' });
  const s = await hmi.startSession('Types');
  assert.equal(await s.call('add', { a: 1, b: 2 }), 3);
});

test('guessing tokens is slowed after a few failures, and a right token still gets in at once', async (t) => {
  const { server } = await policyStack(t);
  const tries: number[] = [];
  for (let i = 0; i < 6; i++) {
    const started = Date.now();
    await assert.rejects(connect(server.url, { token: `guess-${i}`, connectTimeoutMs: 10_000 }), { code: 'UNAUTHORIZED' });
    tries.push(Date.now() - started);
  }
  assert.ok(tries[4] >= 240 && tries[5] >= 480, `refusals took ${tries.join(', ')} ms: from the fourth failure on, each waits longer`);
  const hmi = await connectClient(t, server.url, { token: 'hmi-token' });
  assert.equal((await (await hmi.startSession('Types')).call('add', { a: 2, b: 2 })), 4);
});

test('a runner without the register right cannot take a service name (the hijack fails)', async (t) => {
  const { server } = await policyStack(t);
  const hijack = await runPeerway(['runner', '--server', server.url, '--token', 'hmi-token', fixture('memory', 'whoami.xml')], { timeoutMs: 4000 });
  assert.match(hijack.stderr, /the server refused the registration; retrying .*hmi may not register WhoAmI: no statement allows it/);
  await server.proc.waitFor(/"audit":"denied","identity":"hmi","action":"register","service":"WhoAmI"/, { stream: 'stderr' });
  const hmi = await connectClient(t, server.url, { token: 'hmi-token' });
  assert.deepEqual((await hmi.services()).map((s) => s.name).sort(), ['Climate', 'Types']);
});

test('a denied call fails with the same POLICY_DENIED on a direct link and on the server route, and flips live with its condition', async (t) => {
  const { server } = await policyStack(t);
  const direct = await (await connectClient(t, server.url, { token: 'hmi-token' })).startSession('Climate');
  const viaServer = await (await connectClient(t, server.url, { token: 'hmi-token', bearers: [] })).startSession('Climate');
  assert.equal(direct.routeFor('method', 'setTemperature').linkType, 'direct');
  assert.equal(viaServer.routeFor('method', 'setTemperature').linkType, 'server');
  assert.equal(await direct.call('setTemperature', { zone: 1, celsius: 22 }), true);
  assert.equal(await viaServer.call('setTemperature', { zone: 1, celsius: 22 }), true);

  // Another service's runtime data flips the condition: the session already open is denied at once.
  const types = await (await connectClient(t, server.url, { token: 'hmi-token' })).startSession('Types');
  await types.call('setCount', { value: 11 });
  const denied = async (s: typeof direct) => {
    const deadline = Date.now() + 5000;
    for (;;) {
      try {
        await s.call('setTemperature', { zone: 1, celsius: 23 });
      } catch (err) {
        return err as PeerwayError;
      }
      if (Date.now() > deadline) assert.fail('setTemperature was still allowed 5 s after the condition flipped');
      await new Promise((r) => setTimeout(r, 50));
    }
  };
  const onLink = await denied(direct);
  const onServer = await denied(viaServer);
  assert.equal(onLink.code, 'POLICY_DENIED');
  assert.equal(onLink.message, onServer.message);
  assert.match(onLink.message, /^hmi may not call Climate "setTemperature": denied by statement 6 \(.*policy\.yaml:\d+:\d+\) while Types:count gt 10 \(now 11\)$/);
  await types.call('setCount', { value: 3 });
  const deadline = Date.now() + 5000;
  while (Date.now() < deadline) {
    if ((await direct.call('setTemperature', { zone: 1, celsius: 24 }).catch(() => false)) === true) break;
    await new Promise((r) => setTimeout(r, 50));
  }
  assert.equal(await direct.call('setTemperature', { zone: 1, celsius: 24 }), true, 'allowed again once the condition is false');
  assert.ok((await (await connectClient(t, server.url)).stats()).policy!.denied >= 1, 'the server counted its denial');
});

test('a denied runtime-data path never reaches the subscriber, on the direct route nor through the server', async (t) => {
  const { server } = await policyStack(t);
  // Someone allowed to see everything drives the fan away from its default (2) and watches it get there.
  const diagnostics = await (await connectClient(t, server.url, { token: 'diagnostics-token' })).startSession('Climate');
  const seen: DataChange[] = [];
  await diagnostics.watch('cabin.fan', (c) => seen.push(c));
  await diagnostics.call('setTemperature', { zone: 1, celsius: 38 });
  const until = Date.now() + 10_000;
  while (!seen.some((c) => c.value !== 2) && Date.now() < until) await new Promise((r) => setTimeout(r, 50));
  const fan = diagnostics.data.get('cabin.fan');
  assert.notEqual(fan, 2, 'the fan moved');
  for (const bearers of [undefined, []]) {
    const s = await (await connectClient(t, server.url, { token: 'hmi-token', ...(bearers ? { bearers } : {}) })).startSession('Climate');
    const route = s.routeFor('data', 'cabin').linkType;
    const changes: DataChange[] = [];
    await s.watch('', (c) => changes.push(c));
    assert.equal(s.data.get('cabin.fan'), 2, `over the ${route} route the snapshot left the fan out: the copy keeps its default`);
    await assert.rejects(s.watch('cabin.fan', () => {}), (e: PeerwayError) => e.code === 'POLICY_DENIED' && /hmi may not read Climate "cabin\.fan"/.test(e.message));
    await s.call('reset'); // sets cabin = { temperature: 21, fan: 2 } and status: the push leaves fan out
    const deadline = Date.now() + 5000;
    while (!changes.some((c) => c.path === 'cabin') && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    assert.deepEqual(changes.find((c) => c.path === 'cabin')?.value, { temperature: 21 }, `over the ${route} route the change came without the denied leaf`);
    assert.ok(!changes.some((c) => c.path === 'cabin.fan'), `no fan change over the ${route} route: ${JSON.stringify(changes)}`);
    await diagnostics.call('setTemperature', { zone: 1, celsius: 38 }); // the fan moves again; the hmi must not hear of it
  }
});

test('reloading the policy on SIGHUP changes decisions without dropping sessions; a broken reload keeps the old one', async (t) => {
  const { server, file } = await policyStack(t);
  const s = await (await connectClient(t, server.url, { token: 'hmi-token' })).startSession('Climate');
  assert.equal(typeof (await s.call('getTemperature', { zone: 1 })), 'number');
  writeFileSync(file, `${STANDARD()}  - deny:  { who: hmi, service: Climate, call: [getTemperature] }\n`); // later wins
  server.proc.child.kill('SIGHUP');
  await server.proc.waitFor(/policy reloaded/, { stream: 'stderr' });
  await assert.rejects(s.call('getTemperature', { zone: 1 }), (e: PeerwayError) => e.code === 'POLICY_DENIED' && /hmi may not call Climate "getTemperature"/.test(e.message));
  assert.equal(s.ended, false);
  assert.equal(await s.call('setTemperature', { zone: 1, celsius: 22 }), true, 'the same session goes on');
  writeFileSync(file, 'mode: enforced\nstatements:\n  - allow: { who: nobody, service: "*", actions: [call] }\n');
  server.proc.child.kill('SIGHUP');
  await server.proc.waitFor(/policy reload failed; the policy in force stays/, { stream: 'stderr' });
  await assert.rejects(s.call('getTemperature', { zone: 1 }), { code: 'POLICY_DENIED' });
});

test('notify mode blocks nothing, but logs and counts what enforced mode would deny', async (t) => {
  const { server } = await policyStack(t, 'notify');
  const anonymous = await connectClient(t, server.url);
  const s = await anonymous.startSession('Climate');
  assert.equal(await s.call('setTemperature', { zone: 1, celsius: 22 }), true);
  await server.proc.waitFor(/policy would deny \(notify mode\).*"audit":"would-deny","identity":"anonymous"/, { stream: 'stderr' });
  const stats = await anonymous.stats();
  assert.equal(stats.policy!.mode, 'notify');
  assert.ok(stats.policy!.wouldDeny >= 1);
  assert.equal(stats.policy!.denied, 0);
});

test('a policy with errors stops the server with file:line:col; the coverage report lists what no statement decides', async (t) => {
  const bad = policyFile(t, 'mode: enforced\nidentities:\n  hmi: { token_sha256: 1234 }\nstatements:\n  - allow: { who: hmi, service: "*", actions: [cal] }\n');
  const run = await runPeerway(['server', '--listen', 'tcp://127.0.0.1:0', '--policy', bad]);
  assert.equal(run.code, 2);
  assert.match(run.stderr, /policy\.yaml:3:\d+: .*64/);
  assert.match(run.stderr, /policy\.yaml:5:\d+: .*"cal".*did you mean "call"/);
  const { server } = await policyStack(t);
  await server.proc.waitFor(/coverage: Climate: no statement decides/, { stream: 'stderr' });
  const check = await runPeerway(['check', '--policy', policyFile(t, STANDARD()), CLIMATE, TYPES]);
  assert.equal(check.code, 0, check.stdout + check.stderr);
  assert.match(check.stdout, /coverage: Types: no statement decides/);
  assert.match(check.stdout, /ok: policy \(enforced\), 7 statement\(s\), 4 identities declared/);
});

test('a client certificate verified over mutual TLS names its identity; a connection without one is anonymous', async (t) => {
  const { makeTestCertificates } = await import('../helpers/certs.js');
  const { startServerWith, writeConfig } = await import('../helpers/adapters.js');
  const certs = await makeTestCertificates();
  const policy = policyFile(
    t,
    `mode: enforced
identities:
  diagnostics: { certificate: "CN=peerway-test-client" }
statements:
  - allow: { who: "*", service: "*", actions: [describe] }
  - allow: { who: anonymous, service: Types, actions: [register] }
  - allow: { who: diagnostics, service: Types, actions: [call, read] }
`,
  );
  const config = await writeConfig(path.dirname(policy), 'tls.xml', [
    { type: 'connect.bearer.ssl', attributes: { port: '0', certificate: certs.server.certificate, key: certs.server.key, ca: certs.ca.certificate } },
    { type: 'connect.bearer.tcp', attributes: { port: '0' } },
  ]);
  const server = await startServerWith(['--config', config, '--policy', policy], 2);
  t.after(() => server.stop());
  await startRunner(t, server.url(1), [TYPES]);
  const withCert = await connect(server.url(0), { adapters: { 'connect.bearer.ssl': { ca: certs.ca.certificate, ...certs.client } }, timeoutMs: 5000 });
  t.after(() => withCert.close());
  assert.equal(await (await withCert.startSession('Types')).call('add', { a: 1, b: 1 }), 2);
  const without = await connect(server.url(0), { adapters: { 'connect.bearer.ssl': { ca: certs.ca.certificate } }, timeoutMs: 5000 });
  t.after(() => without.close());
  await assert.rejects(without.startSession('Types'), (e: PeerwayError) => e.code === 'POLICY_DENIED' && /^anonymous may not start a session with Types/.test(e.message));
});

test('a service the policy hides is left out of listings and of a not-found message, and hiding it is not counted as a denial', async (t) => {
  const file = policyFile(
    t,
    `mode: enforced
identities:
  hmi:          { token_sha256: ${sha('hmi-token')} }
  types-runner: { token_sha256: ${sha('types-runner-token')} }
statements:
  - allow: { who: types-runner, service: Types, actions: [register] }
  - allow: { who: "*", service: Climate, actions: [describe] }
`,
  );
  const server = await startServer(t, ['--policy', file, '--service', CLIMATE]);
  await startRunner(t, server.url, [TYPES], ['--token', 'types-runner-token']);
  const hmi = await connectClient(t, server.url, { token: 'hmi-token' });
  const before = (await hmi.stats()).policy as { denied: number };
  assert.deepEqual((await hmi.services()).map((s) => s.name), ['Climate']);
  assert.deepEqual(Object.keys((await hmi.stats()).services), ['Climate']);
  assert.equal(((await hmi.stats()).policy as { denied: number }).denied, before.denied, 'a filtered listing is not a denial');
  await assert.rejects(hmi.startSession('Nope'), (e: PeerwayError) => e.code === 'SERVICE_NOT_FOUND' && /registered: Climate\)/.test(e.message) && !e.message.includes('Types'));
});
