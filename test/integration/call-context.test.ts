import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { ServiceEvent, Session } from '../../src/client/session.js';
import type { PeerwayError } from '../../src/errors.js';
import type { Action, Authorizer, Decision, Identity, Resource } from '../../src/policy/authorizer.js';
import { PeerwayRunner } from '../../src/runner/runner.js';
import { PeerwayServer } from '../../src/server/server.js';
import { loadService } from '../../src/service/load-service.js';
import { Collector, connectClient, fixture, startRunner, startServer } from '../helpers/harness.js';

/**
 * The core's seams on real connections (#9): the caller's identity in a remote service's call context on
 * either route, the authorization point of each side deciding pushes as well as requests, and a method
 * that throws being logged with its service and method.
 */

const sha = (token: string) => createHash('sha256').update(token, 'utf8').digest('hex');
const GATE = fixture('policy', 'gate.xml');

function policyFile(t: TestContext, text: string): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'peerway-call-context-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const file = path.join(dir, 'policy.yaml');
  writeFileSync(file, text);
  return file;
}

/** An authorizer that records what it is asked and denies what `denied` holds (`action:name`), as `because`. */
class RecordingAuthorizer implements Authorizer {
  readonly asked: string[] = [];
  denied = new Set<string>();
  authorize(identity: Identity, action: Action, resource: Resource): Decision {
    this.asked.push(`${identity.name} ${action} ${resource.service}${resource.name !== undefined ? `.${resource.name}` : ''}`);
    return resource.name !== undefined && this.denied.has(`${action}:${resource.name}`) ? { allowed: false, reason: 'the test authorizer says no' } : { allowed: true };
  }
}

/** Emits `secret` then `open` (n) and resolves with what a subscription to every event got once `open` arrived. */
async function emitAndCollect(s: Session, all: Collector<ServiceEvent>, n: number): Promise<[string, unknown, string][]> {
  const before = all.items.filter((e) => e.name === 'open').length;
  await s.call('emit', { first: 'secret', second: 'open', n });
  const deadline = Date.now() + 5000;
  while (all.items.filter((e) => e.name === 'open').length === before) {
    if (Date.now() > deadline) assert.fail(`open ${n} did not arrive within 5 s: ${JSON.stringify(all.items)}`);
    await new Promise((r) => setTimeout(r, 20));
  }
  return all.items.map((e) => [e.name, e.args.n, e.route]);
}

test("the caller's identity (from its token) reaches a remote service's implementation, on a direct link and through the server", async (t) => {
  const file = policyFile(
    t,
    `mode: enforced
identities:
  hmi: { token_sha256: ${sha('hmi-token')} }
statements:
  - allow: { who: "*", service: Gate, actions: [describe, register, call] }
`,
  );
  const server = await startServer(t, ['--policy', file]);
  await startRunner(t, server.url, [GATE]);
  const hmi = await (await connectClient(t, server.url, { token: 'hmi-token' })).startSession('Gate');
  assert.equal(hmi.routeFor('method', 'whoami').linkType, 'direct');
  assert.equal(hmi.routeFor('method', 'relayed').linkType, 'server');
  assert.equal(await hmi.call('whoami'), 'hmi direct');
  assert.equal(await hmi.call('relayed'), 'hmi server');
  const viaServer = await (await connectClient(t, server.url, { token: 'hmi-token', bearers: [] })).startSession('Gate');
  assert.equal(viaServer.routeFor('method', 'whoami').linkType, 'server');
  assert.equal(await viaServer.call('whoami'), 'hmi server');
  // Another caller on the same service is told apart: the identity is the caller's, not the runner's or the first one's.
  const anonymous = await (await connectClient(t, server.url)).startSession('Gate');
  assert.equal(await anonymous.call('whoami'), 'anonymous direct');
  assert.equal(await anonymous.call('relayed'), 'anonymous server');
});

test("the server's authorization point decides pushes: a denied event reaches nobody, on either route, until it allows it", async (t) => {
  const authorizer = new RecordingAuthorizer();
  authorizer.denied.add('subscribe:secret');
  const server = new PeerwayServer({ listen: [{ bearer: 'connect.bearer.tcp', host: '127.0.0.1', port: 0 }], authorizer });
  const [address] = await server.start();
  t.after(() => server.stop());
  const url = `tcp://127.0.0.1:${address.port}`;
  await startRunner(t, url, [GATE]);
  for (const route of ['direct', 'server'] as const) {
    const client = await connectClient(t, url, route === 'server' ? { bearers: [] } : {});
    const s = await client.startSession('Gate');
    assert.equal(s.routeFor('event', 'secret').linkType, route);
    await assert.rejects(s.onEvent('secret', () => {}), (e: PeerwayError) => e.code === 'POLICY_DENIED' && e.message === 'anonymous may not subscribe Gate "secret": the test authorizer says no');
    const all = new Collector<ServiceEvent>();
    await s.onEvent(undefined, all.push);
    assert.deepEqual(await emitAndCollect(s, all, 1), [['open', 1, route]], `over the ${route} route the denied push was dropped`);
    assert.ok(authorizer.asked.includes('anonymous subscribe Gate.secret'), 'the decision was asked of the authorizer');

    // The authorizer changes its mind; told so (as a policy reload does), the same session gets the event.
    authorizer.denied.delete('subscribe:secret');
    server.broker.setAuthorizer(authorizer);
    const deadline = Date.now() + 5000;
    for (let n = 2; !all.items.some((e) => e.name === 'secret'); n++) {
      if (Date.now() > deadline) assert.fail(`secret still dropped over the ${route} route 5 s after the authorizer allowed it`);
      await emitAndCollect(s, all, n);
    }
    assert.equal(all.items.find((e) => e.name === 'secret')?.route, route);
    authorizer.denied.add('subscribe:secret');
    server.broker.setAuthorizer(authorizer);
  }
});

test("a runner's own authorizer decides requests and pushes on its direct links", async (t) => {
  const server = await startServer(t);
  const authorizer = new RecordingAuthorizer();
  authorizer.denied.add('call:ask');
  authorizer.denied.add('subscribe:secret');
  const runtime = await loadService(GATE);
  const runner = new PeerwayRunner({ server: { bearer: 'connect.bearer.tcp', host: '127.0.0.1', port: server.port }, services: [runtime], authorizer });
  t.after(async () => {
    await runner.stop();
    await runtime.stop();
  });
  await runner.start();
  const s = await (await connectClient(t, server.url)).startSession('Gate');
  assert.equal(s.routeFor('method', 'ask').linkType, 'direct');
  assert.equal(s.routeFor('event', 'secret').linkType, 'direct');
  await assert.rejects(s.call('ask'), (e: PeerwayError) => e.code === 'POLICY_DENIED' && e.message === 'anonymous may not call Gate "ask": the test authorizer says no', 'the runner refuses the call its authorizer denies');
  assert.equal(await s.call('whoami'), 'anonymous direct');
  await assert.rejects(s.onEvent('secret', () => {}), (e: PeerwayError) => e.code === 'POLICY_DENIED' && e.message === 'anonymous may not subscribe Gate "secret": the test authorizer says no');
  const all = new Collector<ServiceEvent>();
  await s.onEvent(undefined, all.push);
  assert.deepEqual(await emitAndCollect(s, all, 1), [['open', 1, 'direct']], 'the push the runner denied was dropped on the link');
  for (const asked of ['anonymous call Gate.ask', 'anonymous call Gate.whoami', 'anonymous subscribe Gate.secret', 'anonymous subscribe Gate.open']) {
    assert.ok(authorizer.asked.includes(asked), `the runner asked "${asked}": ${authorizer.asked.join('; ')}`);
  }
  authorizer.denied.delete('subscribe:secret'); // decided push by push: the next secret goes out
  await emitAndCollect(s, all, 2);
  assert.deepEqual(
    all.items.map((e) => [e.name, e.args.n]),
    [
      ['open', 1],
      ['secret', 2],
      ['open', 2],
    ],
  );
});

test('a method that throws fails the call and logs a line naming the service and the method, in a runner and in the server', async (t) => {
  const server = await startServer(t, ['--service', GATE]);
  const inProcess = await (await connectClient(t, server.url)).startSession('Gate');
  await assert.rejects(inProcess.call('boom', { message: 'in-process kaboom' }), (e: PeerwayError) => e.code === 'IMPLEMENTATION_ERROR' && /^Gate\.boom threw: in-process kaboom$/.test(e.message));
  await server.proc.waitFor(/WARN \(server\): method threw \{"service":"Gate","method":"boom"[^\n]*\n\s+err: \{[^}]*"message": "in-process kaboom"/, { stream: 'stderr' });
  assert.equal(await inProcess.call('whoami'), 'anonymous server', 'the service goes on');

  const other = await startServer(t);
  const runner = await startRunner(t, other.url, [GATE]);
  const remote = await (await connectClient(t, other.url)).startSession('Gate');
  await assert.rejects(remote.call('boom', { message: 'remote kaboom' }), (e: PeerwayError) => e.code === 'IMPLEMENTATION_ERROR' && /^Gate\.boom threw: remote kaboom$/.test(e.message));
  await runner.waitFor(/WARN \(runner\): method threw \{"service":"Gate","method":"boom"[^\n]*\n\s+err: \{[^}]*"message": "remote kaboom"/, { stream: 'stderr' });
  assert.equal(await remote.call('whoami'), 'anonymous direct', 'the runner goes on');
});
