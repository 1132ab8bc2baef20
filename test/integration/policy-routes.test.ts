import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { ServiceEvent, Session } from '../../src/client/session.js';
import type { PeerwayError } from '../../src/errors.js';
import { startPeerway } from '../../src/cli/peerway-process.js';
import { Collector, connectClient, fixture, runPeerway, startRunner, startServer } from '../helpers/harness.js';

/**
 * The access policy on every route, on real processes: what the server decides reaches the runner's direct
 * links (events too), changes there when the policy is reloaded (SIGHUP or an edit of the file), and stays
 * in force while the server is unreachable. Also the server's start-up warnings and the token flag.
 */

const sha = (token: string) => createHash('sha256').update(token, 'utf8').digest('hex');
const GATE = fixture('policy', 'gate.xml');
const TYPES = fixture('definitions', 'types.xml');

function policyFile(t: TestContext, text: string): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'peerway-policy-routes-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const file = path.join(dir, 'policy.yaml');
  writeFileSync(file, text);
  return file;
}

/** hmi may call and subscribe on Gate, but never hear `secret` nor call `ask` when `denyAsk`. */
const GATE_POLICY = (extra = '') => `mode: enforced
identities:
  hmi:         { token_sha256: ${sha('hmi-token')} }
  gate-runner: { token_sha256: ${sha('gate-runner-token')} }
statements:
  - allow: { who: "*", service: "*", actions: [describe] }
  - allow: { who: gate-runner, service: Gate, actions: [register] }
  - allow: { who: hmi, service: Gate, actions: [call, subscribe] }
  - deny:  { who: hmi, service: Gate, subscribe: [secret] }
${extra}`;

const DENY_ASK = '  - deny:  { who: hmi, service: Gate, call: [ask] }\n';

async function gateStack(t: TestContext, extra = '') {
  const file = policyFile(t, GATE_POLICY(extra));
  const server = await startServer(t, ['--policy', file]);
  const runner = await startRunner(t, server.url, [GATE], ['--token', 'gate-runner-token', '--log-level', 'debug']);
  return { server, runner, file };
}

/** A session of hmi on Gate: direct routes with the default bearers, everything through the server with none. */
async function hmiSession(t: TestContext, url: string, route: 'direct' | 'server'): Promise<Session> {
  const client = await connectClient(t, url, { token: 'hmi-token', ...(route === 'server' ? { bearers: [] } : {}) });
  const s = await client.startSession('Gate');
  assert.equal(s.routeFor('method', 'ask').linkType, route);
  assert.equal(s.routeFor('event', 'secret').linkType, route);
  assert.equal(s.routeFor('event', 'open').linkType, route);
  return s;
}

/** Calls `ask` until it is denied (the new decisions travel to the runner on their own connection). */
async function deniedSoon(s: Session, what: string): Promise<PeerwayError> {
  const deadline = Date.now() + 5000;
  for (;;) {
    try {
      await s.call('ask');
    } catch (err) {
      return err as PeerwayError;
    }
    if (Date.now() > deadline) assert.fail(`${what}: ask was still allowed 5 s later`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

test('a denied event is never delivered over the binary protocol: a named subscribe is refused and a subscribe to all drops it, on the direct link and on the server route', async (t) => {
  const { server } = await gateStack(t);
  for (const route of ['direct', 'server'] as const) {
    const s = await hmiSession(t, server.url, route);
    await assert.rejects(
      s.onEvent('secret', () => assert.fail(`a secret event arrived over the ${route} route`)),
      (e: PeerwayError) => e.code === 'POLICY_DENIED' && /^hmi may not subscribe Gate "secret": denied by statement 4 \(.*policy\.yaml:\d+:\d+\)$/.test(e.message),
      `the named subscribe over the ${route} route`,
    );
    const all = new Collector<ServiceEvent>();
    await s.onEvent(undefined, all.push);
    // `secret` is emitted first, then `open`, on the same route: had `secret` been delivered, it would be here first.
    await s.call('emit', { first: 'secret', second: 'open', n: 1 });
    await s.call('emit', { first: 'open', second: 'secret', n: 2 });
    await s.call('emit', { first: 'secret', second: 'open', n: 3 });
    const got = await all.next(3);
    assert.deepEqual(
      got.map((e) => [e.name, e.args.n, e.route]),
      [
        ['open', 1, route],
        ['open', 2, route],
        ['open', 3, route],
      ],
      `over the ${route} route only the allowed event arrives`,
    );
    assert.equal(all.items.length, 3);
  }
});

test('a policy reload on SIGHUP changes a decision for a session already open on a direct route, without dropping it', async (t) => {
  const { server, file } = await gateStack(t);
  const s = await hmiSession(t, server.url, 'direct');
  assert.equal(await s.call('ask'), 'answered hmi');
  writeFileSync(file, GATE_POLICY(DENY_ASK));
  server.proc.child.kill('SIGHUP');
  await server.proc.waitFor(/policy reloaded \{.*"why":"SIGHUP"/, { stream: 'stderr' });
  const denied = await deniedSoon(s, 'after the SIGHUP reload');
  assert.equal(denied.code, 'POLICY_DENIED');
  assert.match(denied.message, /^hmi may not call Gate "ask": denied by statement 5 \(.*policy\.yaml:\d+:\d+\)$/);
  assert.equal(s.routeFor('method', 'ask').linkType, 'direct', 'the denial came from the link, where the call went');
  assert.equal(s.ended, false);
  assert.equal(await s.call('whoami'), 'hmi direct', 'the same session goes on over its link');
});

test('editing the policy file (no signal) reloads it: a session open on a direct route is denied, then allowed again', async (t) => {
  const { server, file } = await gateStack(t);
  const s = await hmiSession(t, server.url, 'direct');
  assert.equal(await s.call('ask'), 'answered hmi');
  writeFileSync(file, GATE_POLICY(DENY_ASK));
  await server.proc.waitFor(/policy reloaded \{.*"why":"file changed"/, { stream: 'stderr' });
  const denied = await deniedSoon(s, 'after the file changed');
  assert.equal(denied.code, 'POLICY_DENIED');
  assert.match(denied.message, /^hmi may not call Gate "ask": denied by statement 5/);
  // The watch goes on watching: a second edit takes the deny away again.
  writeFileSync(file, GATE_POLICY());
  const deadline = Date.now() + 5000;
  while ((await s.call('ask').catch(() => 'denied')) !== 'answered hmi') {
    if (Date.now() > deadline) assert.fail('ask was still denied 5 s after the second edit of the policy file');
    await new Promise((r) => setTimeout(r, 50));
  }
  assert.equal(s.ended, false);
});

for (const signal of ['SIGKILL', 'SIGSTOP'] as const) {
  test(`while the server is unreachable (${signal}), the runner keeps enforcing the last decisions it received on its direct links`, async (t) => {
    const file = policyFile(t, GATE_POLICY(DENY_ASK));
    const server = await startServer(t, ['--policy', file]);
    // A frozen server closes nothing: the runner finds out by its keepalive (short here), as it would in the field.
    const runner = await startRunner(t, server.url, [GATE], ['--token', 'gate-runner-token', '--keepalive', '300', '--keepalive-timeout', '300']);
    const client = await connectClient(t, server.url, { token: 'hmi-token' });
    const s = await client.startSession('Gate');
    assert.equal(s.routeFor('method', 'ask').linkType, 'direct');
    await assert.rejects(s.call('ask'), { code: 'POLICY_DENIED' }, 'denied while the server is there');
    assert.equal(await s.call('whoami'), 'hmi direct');

    if (signal === 'SIGSTOP') t.after(() => server.proc.child.kill('SIGCONT'));
    server.proc.child.kill(signal);
    await runner.waitFor(/the server went away/, { stream: 'stderr' });
    for (let i = 0; i < 3; i++) {
      await assert.rejects(
        s.call('ask'),
        (e: PeerwayError) => e.code === 'POLICY_DENIED' && /^hmi may not call Gate "ask": denied by statement 5/.test(e.message),
        'the denied call stays denied without the server',
      );
      assert.equal(await s.call('whoami'), 'hmi direct', 'the allowed call still works without the server');
    }
    // Subscribing on the link needs no server: the denied named subscribe is still refused there.
    await assert.rejects(s.onEvent('secret', () => {}), { code: 'POLICY_DENIED' }, 'the denied subscribe stays denied without the server');
    assert.equal(s.ended, false);
    if (signal === 'SIGSTOP') server.proc.child.kill('SIGCONT'); // so that it stops at once when the test ends
  });
}

test('peerway server listening beyond loopback without a policy warns at start; on loopback, or with a policy, it does not', async (t) => {
  const WARNING = /listening beyond this machine without an access policy: anyone who reaches this address may call, read and register anything \(give --policy FILE\)/;
  // Binds the wildcard address on an ephemeral port and sends nothing: no traffic leaves the machine.
  const open = startPeerway(['server', '--listen', 'tcp://0.0.0.0:0']);
  t.after(() => open.stop());
  await open.waitFor(WARNING, { stream: 'stderr' });
  const quiet = async (args: string[]) => {
    const p = startPeerway(['server', ...args]);
    t.after(() => p.stop());
    await p.waitFor(/listening connect\.bearer\.tcp/);
    await p.stop(); // every line it wrote is in by the time it exited
    assert.doesNotMatch(p.stderr(), WARNING, `peerway server ${args.join(' ')}`);
    return p;
  };
  await quiet(['--listen', 'tcp://127.0.0.1:0']);
  const withPolicy = await quiet(['--listen', 'tcp://0.0.0.0:0', '--policy', policyFile(t, GATE_POLICY())]);
  assert.match(withPolicy.stderr(), /policy loaded/);
});

test('--token wins over PEERWAY_TOKEN, for a runner and for a client command', async (t) => {
  const file = policyFile(t, GATE_POLICY());
  const server = await startServer(t, ['--policy', file]);
  // With the environment's token, the hello is refused: only the flag's token lets the runner register.
  await startRunner(t, server.url, [GATE], ['--token', 'gate-runner-token'], { PEERWAY_TOKEN: 'not-a-token' });
  const call = await runPeerway(['call', '--server', server.url, '--token', 'hmi-token', 'Gate', 'relayed'], { env: { PEERWAY_TOKEN: 'gate-runner-token' } });
  assert.equal(call.code, 0, call.stdout + call.stderr);
  assert.match(call.stdout, /hmi server/, 'the call ran as hmi (the flag), not as gate-runner (the environment)');
  const envOnly = await runPeerway(['call', '--server', server.url, 'Gate', 'relayed'], { env: { PEERWAY_TOKEN: 'hmi-token' } });
  assert.equal(envOnly.code, 0, envOnly.stdout + envOnly.stderr);
  assert.match(envOnly.stdout, /hmi server/, 'without the flag, PEERWAY_TOKEN is used');
});

test('names a policy gets wrong are warned on the server once the services register, each once, and a service that is registered is never called unknown', async (t) => {
  const file = policyFile(
    t,
    `mode: enforced
statements:
  - allow: { who: "*", service: "*", actions: [describe, register] }
  - allow: { who: "*", service: Gaet, actions: [call] }
  - allow: { who: "*", service: Gate, call: [whoami, nosuch] }
  - allow: { who: "*", service: Types, call: [add] }
`,
  );
  const server = await startServer(t, ['--policy', file]);
  await startRunner(t, server.url, [TYPES]);
  const gate = await startRunner(t, server.url, [GATE]);
  await server.proc.waitFor(/service registered \{"service":"Gate"/, { stream: 'stderr' });
  // Gate's runner restarts: registering the same service again says nothing new about the policy.
  await gate.stop();
  await server.proc.waitFor(/service unregistered \{"service":"Gate"/, { stream: 'stderr' });
  await startRunner(t, server.url, [GATE]);
  await server.proc.waitFor(/(service registered \{"service":"Gate"[\s\S]*){2}/, { stream: 'stderr' });
  const warnings = server.proc.stderr().split('\n').filter((l) => /WARN .*policy\.yaml:\d+:\d+: warning/.test(l));
  const gaet = warnings.filter((l) => /policy\.yaml:4:\d+: warning: no service "Gaet" is registered \(did you mean "Gate"\?\)/.test(l));
  const nosuch = warnings.filter((l) => /policy\.yaml:5:\d+: warning: "nosuch" matches no method of Gate; methods: whoami, ask, relayed, emit, boom/.test(l));
  assert.equal(gaet.length, 1, `the misspelt service is warned once:\n${warnings.join('\n')}`);
  assert.equal(nosuch.length, 1, `the unknown method is warned once:\n${warnings.join('\n')}`);
  // Types registered first: when Gate registers, Types is registered, and no warning may say otherwise.
  assert.deepEqual(
    warnings.filter((l) => /no service "Types" is registered/.test(l)),
    [],
    'a registered service is never called unknown when another one registers',
  );
});
