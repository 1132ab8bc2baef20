import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { PeerwayError } from '../../src/errors.js';
import { getBearer } from '../../src/bearer/registry.js';
import { parseInstructions } from '../../src/routing/instructions.js';
import { dialHandshake } from '../../src/wire/handshake.js';
import { PROTOCOL_VERSION, type Message } from '../../src/wire/messages.js';
import { fixture, startRunner, startServer } from '../helpers/harness.js';
import { RawPeer } from '../helpers/raw-peer.js';

/**
 * What a runner serves on one link of a session, driven by hand (a well-behaved client never sends these):
 * the session a request names, resources not routed to the link, unknown names and kinds, and what happens
 * to a link's subscriptions when its connection is replaced.
 */

const LAB = fixture('p2p', 'lab.xml');
const TCP = 'connect.bearer.tcp';
const UDP = 'connect.bearer.udp';

/** A raw client with a ready Lab session: echo on link reliable, counter on rt_link (tick via the server). */
async function labSession(t: TestContext, serverArgs: string[] = [], withUdp = false) {
  const server = await startServer(t, serverArgs);
  const runner = await startRunner(t, server.url, [LAB]);
  const owner = await RawPeer.connect(server.port);
  t.after(() => owner.close());
  const started = (await owner.request({ type: 'start', service: 'Lab', client: { bearers: withUdp ? [TCP, UDP] : [TCP], host: 'x', version: PROTOCOL_VERSION } })) as {
    value: { session: string; routing: string };
  };
  const { session, routing } = started.value;
  const routes = {
    'method:echo': { linkType: 'direct', link: 'reliable' },
    'data:counter': { linkType: 'direct', link: 'rt_link' },
    ...(withUdp ? { 'event:tick': { linkType: 'direct', link: 'unreliable' } } : {}),
  };
  const ready = await owner.request({ type: 'ready', session, routes });
  assert.equal(ready.type, 'reply', JSON.stringify(ready));
  const links = parseInstructions(routing).links;
  const openLink = async (name: string) => {
    const l = links.find((x) => x.name === name)!;
    const peer = await RawPeer.connect(l.address.port!, { role: 'link', token: l.token, session, link: name });
    t.after(() => peer.close());
    assert.equal(peer.received[0]?.type, 'welcome', JSON.stringify(peer.received[0]));
    return peer;
  };
  /** The udp link, through the client's own dialer (a RawPeer speaks tcp only). */
  const openUdpLink = async (name: string) => {
    const l = links.find((x) => x.name === name)!;
    const connection = await getBearer(l.address.bearer).connect(l.address, { timeoutMs: 2000 });
    const channel = await dialHandshake(connection, `link ${name}`, { role: 'link', token: l.token, session, link: name, timeoutMs: 2000 });
    channel.start({});
    t.after(() => channel.close('test over'));
    return channel;
  };
  return { runner, owner, session, links, openLink, openUdpLink };
}

/** The answer's error code and message, or 'reply' and its value. */
function outcome(m: Message): { code: string; message: string } | { reply: unknown } {
  const a = m as unknown as { type: string; error?: { code: string; message: string }; value?: unknown };
  return a.type === 'error' ? { code: a.error!.code, message: a.error!.message } : { reply: a.value };
}

function refused(m: Message, code: string, message: RegExp): void {
  const o = outcome(m);
  assert.ok('code' in o, `expected ${code}, got ${JSON.stringify(o)}`);
  assert.equal(o.code, code, o.message);
  assert.match(o.message, message);
}

test('a request on a link names its own session or none: another session id is UNAUTHORIZED', async (t) => {
  const { session, openLink } = await labSession(t);
  const reliable = await openLink('reliable');
  assert.deepEqual(outcome(await reliable.request({ type: 'call', session, method: 'echo', args: { text: 'a' } })), { reply: 'a via direct' });
  assert.deepEqual(outcome(await reliable.request({ type: 'call', method: 'echo', args: { text: 'b' } })), { reply: 'b via direct' }, "no session named: the link's own");
  const another = /^link reliable belongs to another session$/;
  refused(await reliable.request({ type: 'call', session: 'someone-else', method: 'echo', args: { text: 'c' } }), 'UNAUTHORIZED', another);
  refused(await reliable.request({ type: 'subscribe', session: 'someone-else', kind: 'event', name: 'tick' }), 'UNAUTHORIZED', another);
  refused(await reliable.request({ type: 'unsubscribe', session: 'someone-else', kind: 'event', name: 'tick' }), 'UNAUTHORIZED', another);
});

test('subscribing on a link: an unknown event is EVENT_NOT_FOUND, one not routed to the link is PROTOCOL, so is an unknown kind', async (t) => {
  const { session, openLink } = await labSession(t);
  const rt = await openLink('rt_link');
  refused(await rt.request({ type: 'subscribe', session, kind: 'event', name: 'nope' }), 'EVENT_NOT_FOUND', /^service Lab has no event "nope"$/);
  // tick goes via the server in this session: it is served on no link.
  refused(await rt.request({ type: 'subscribe', session, kind: 'event', name: 'tick' }), 'PROTOCOL', /^event "tick" of Lab is not routed to link rt_link for this session/);
  // An unknown kind never reaches the link's handler: the message's fields are checked first (so link-handler's own check is defence in depth).
  refused(await rt.request({ type: 'subscribe', session, kind: 'bogus', name: '' }), 'PROTOCOL', /kind/);
  assert.deepEqual(outcome(await rt.request({ type: 'subscribe', session, kind: 'data', name: 'counter' })), { reply: 0 });
});

test("a link's connection replaced by a new one: the old one's close leaves the new one and its subscriptions in place", async (t) => {
  const { owner, session, openLink } = await labSession(t);
  const first = await openLink('rt_link');
  const second = await openLink('rt_link');
  await first.closed; // the runner closes the replaced connection
  assert.deepEqual(outcome(await second.request({ type: 'subscribe', session, kind: 'data', name: 'counter' })), { reply: 0 });
  assert.equal((await owner.request({ type: 'call', session, method: 'setCounter', args: { value: 5 } })).type, 'reply');
  await second.until(() => second.received.some((m) => m.type === 'data'), 'the data push on the new connection');
});

test("the server policy's decisions hold on a link: a denied event cannot be subscribed, a data snapshot comes without the denied paths", async (t) => {
  const dir = mkdtempSync(path.join(tmpdir(), 'peerway-policy-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const policy = path.join(dir, 'policy.yaml');
  writeFileSync(
    policy,
    `mode: enforced
statements:
  - allow: { who: "*", service: "*", actions: [describe, register, call, subscribe, read] }
  - deny:  { who: "*", service: Lab, subscribe: [tick] }
  - deny:  { who: "*", service: Lab, read: [label] }
`,
  );
  const { session, openLink, openUdpLink } = await labSession(t, ['--policy', policy], true);
  const unreliable = await openUdpLink('unreliable');
  await assert.rejects(unreliable.request({ type: 'subscribe', session, kind: 'event', name: 'tick' }), (e: PeerwayError) => {
    assert.equal(e.code, 'POLICY_DENIED', e.message);
    return true;
  });
  const rt = await openLink('rt_link');
  // The whole tree, watched on rt_link (counter is routed there): label is denied, so it is left out.
  assert.deepEqual(outcome(await rt.request({ type: 'subscribe', session, kind: 'data', name: '' })), { reply: { counter: 0 } });
  assert.deepEqual(outcome(await rt.request({ type: 'subscribe', session, kind: 'data', name: 'counter' })), { reply: 0 });
});

test('a refused link hello (a forged token, another link named) is answered UNAUTHORIZED and the runner goes on serving the session', async (t) => {
  const { runner, owner, session, links, openLink } = await labSession(t);
  const reliable = links.find((l) => l.name === 'reliable')!;
  for (const hello of [{ token: `${reliable.token}x`, link: 'reliable' }, { token: reliable.token, link: 'rt_link' }]) {
    const forged = await RawPeer.connect(reliable.address.port!, { role: 'link', session, ...hello });
    t.after(() => forged.close());
    refused(forged.received[0], 'UNAUTHORIZED', /^link reliable of Lab: /);
    await forged.closed;
  }
  // Give an unhandled failure of the refusal the time to end the runner.
  await new Promise((r) => setTimeout(r, 300));
  assert.equal(runner.child.exitCode, null, `the runner exited; its log:\n${runner.stderr().slice(-3000)}`);
  const link = await openLink('reliable');
  assert.deepEqual(outcome(await link.request({ type: 'call', session, method: 'echo', args: { text: 'a' } })), { reply: 'a via direct' });
  assert.equal((await owner.request({ type: 'call', session, method: 'setCounter', args: { value: 1 } })).type, 'reply');
});
