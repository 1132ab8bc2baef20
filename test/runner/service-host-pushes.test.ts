// ServiceHost in process: which routes a session is offered, and where each event and runtime-data change
// goes (a session's direct link, the server, nobody). Mutation testing (docs/testing.md) found these
// decisions unguarded by the tests on real processes, where a wrong push is dropped by the client.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseDefinition } from '../../src/definition/parse-definition.js';
import { silentLogger } from '../../src/logger.js';
import type { ServiceHost } from '../../src/runner/service-host.js';
import { ServiceRuntime } from '../../src/service/service-runtime.js';
import type { Channel } from '../../src/wire/channel.js';
import { decodeMessage } from '../../src/wire/codec.js';
import { resolveLimits } from '../../src/wire/limits.js';
import { PROTOCOL_VERSION, type Push } from '../../src/wire/messages.js';
import { recordingLogger, testServiceHost } from '../helpers/service-host.js';

const PUSHES = `<service name="Pushes">
  <methods><method name="ping" returns="int"/></methods>
  <events>
    <event name="tick"><argument name="seq" type="int"/></event>
    <event name="alarm"/>
  </events>
  <runtime-data>
    <counter type="int" default="3"/>
  </runtime-data>
  <routing>
    <route link="d" linkType="direct" bearer="connect.bearer.tcp"><event name="tick"/><runtimedata/></route>
    <route link="only" linkType="direct" bearer="connect.bearer.tcp" required="true"><event name="alarm"/></route>
    <route link="s" linkType="server" bearer="connect.bearer.tcp"><method name="ping"/></route>
  </routing>
</service>`;

const client = { bearers: ['connect.bearer.tcp'], host: 'h', version: PROTOCOL_VERSION };

async function host(xml = PUSHES, log = silentLogger()): Promise<{ host: ServiceHost; toServer: Push[] }> {
  const toServer: Push[] = [];
  const runtime = new ServiceRuntime(parseDefinition(xml, 'pushes.xml'), { methods: { ping: () => 1 } }, silentLogger());
  const h = testServiceHost(runtime, { log, toServer: (m) => void toServer.push(m) });
  await h.openLinks();
  return { host: h, toServer };
}

/** A session's link as the host's pushes see it: what is sent on it, decoded. */
function attachLink(h: ServiceHost, session: string, link: string): { sent: unknown[]; close(): void } {
  const sent: unknown[] = [];
  let closed = false;
  const channel = {
    get closed() {
      return closed;
    },
    queuedBytes: 0,
    peerLabel: 'test link',
    sendEncoded: (bytes: Uint8Array) => void sent.push(decodeMessage(bytes)),
    fail: () => undefined,
    close: () => undefined,
  } as unknown as Channel;
  h.session(session).addLink(link, channel, resolveLimits(), () => undefined);
  return { sent, close: () => (closed = true) };
}

const allDirect = { 'event:tick': { linkType: 'direct', link: 'd' }, 'data:': { linkType: 'direct', link: 'd' }, 'event:alarm': { linkType: 'direct', link: 'only' } };

test('open offers the links of direct routes only, with the session token, and names exactly the resources refused through the server', async (t) => {
  const { host: h } = await host();
  t.after(() => h.closeLinks());
  const opened = h.open('s1', client, { name: 'anonymous' });
  const token = h.session('s1').token;
  const links = [...String(opened.routing).matchAll(/<link name="(\w+)"[^>]* token="([^"]*)"/g)].map((m) => ({ name: m[1], token: m[2] }));
  assert.deepEqual(links.map((l) => l.name).sort(), ['d', 'only'], 'link s serves only a server route: not offered');
  for (const l of links) assert.equal(l.token, token);
  assert.deepEqual(opened.serverRefused, ['event:alarm']);
  h.assertServerRoute('s1', 'event:tick');
  assert.throws(() => h.assertServerRoute('s1', 'event:alarm'), { code: 'BEARER_MISSING' });
  // A route the service never offered directly is refused when the client reports it.
  assert.throws(() => h.ready('s1', { ...allDirect, 'method:ping': { linkType: 'direct', link: 's' } }), { code: 'PROTOCOL' });
  assert.throws(() => h.ready('s1', { 'event:tick': { linkType: 'direct', link: 'd' } }), { code: 'BEARER_MISSING' });
  h.ready('s1', allDirect);
});

test('open answers nothing to route for a service without routing, and no serverRefused when nothing is refused', async (t) => {
  const plain = await host('<service name="Plain"><methods><method name="ping" returns="int"/></methods></service>');
  t.after(() => plain.host.closeLinks());
  assert.deepEqual(plain.host.open('s1', client, { name: 'anonymous' }), {});
  const optional = await host(PUSHES.replace(' required="true"', ''));
  t.after(() => optional.host.closeLinks());
  const opened = optional.host.open('s1', client, { name: 'anonymous' });
  assert.ok(opened.routing);
  assert.equal('serverRefused' in opened, false);
});

test("runtime data starts going to the server with the service's current value, once, when the first session takes the server route", async (t) => {
  const { host: h, toServer } = await host();
  t.after(() => h.closeLinks());
  h.open('s1', client, { name: 'anonymous' });
  assert.deepEqual(toServer, [{ type: 'data', service: 'Pushes', path: '', value: { counter: 3 } }], 'seeded at the first session');
  h.open('s2', client, { name: 'anonymous' });
  h.ready('s1', allDirect);
  assert.equal(toServer.length, 1, 'not again while a session still takes the server route');
  h.runtime.set('counter', 5);
  assert.deepEqual(toServer.at(-1), { type: 'data', service: 'Pushes', path: 'counter', value: 5 }, 'changes go to the server while s2 reads there');
  h.close('s2');
  h.close('nope'); // an unknown session: nothing to do
  const before = toServer.length;
  h.runtime.set('counter', 6);
  h.runtime.emit('tick', { seq: 1 });
  assert.equal(toServer.length, before, 'nobody takes the server route: nothing goes there');
  h.open('s3', client, { name: 'anonymous' });
  assert.deepEqual(toServer.slice(before), [{ type: 'data', service: 'Pushes', path: '', value: { counter: 6 } }], 'seeded again, with the current value');
});

test('a service that publishes its runtime data to the server anyway is not seeded per session', async (t) => {
  const { host: h, toServer } = await host(PUSHES.replace('<runtimedata/></route>', '</route>'));
  t.after(() => h.closeLinks());
  h.open('s1', client, { name: 'anonymous' });
  assert.deepEqual(toServer, []);
  h.runtime.set('counter', 4);
  assert.deepEqual(toServer, [{ type: 'data', service: 'Pushes', path: 'counter', value: 4 }]);
});

test('events and runtime data go on a direct link only to sessions subscribed there and allowed, and not on a closed link', async (t) => {
  const { host: h, toServer } = await host();
  t.after(() => h.closeLinks());
  for (const id of ['s1', 's2', 's3']) {
    h.open(id, client, { name: 'anonymous' });
    h.ready(id, allDirect);
  }
  const subscribed = attachLink(h, 's1', 'd');
  const unsubscribed = attachLink(h, 's2', 'd');
  const denied = attachLink(h, 's3', 'd');
  for (const id of ['s1', 's3']) {
    h.session(id).subscribe('d', 'event', 'tick');
    h.session(id).subscribe('d', 'data', 'counter');
  }
  h.setGrants('s3', { denied: { 'subscribe:tick': 'no ticks for you', 'read:counter': 'no counter for you' } });
  h.setGrants('nope', { denied: {} }); // an unknown session: nothing to do
  toServer.length = 0;
  h.runtime.emit('tick', { seq: 7 });
  h.runtime.set('counter', 9);
  assert.deepEqual(subscribed.sent, [
    { type: 'event', name: 'tick', args: { seq: 7 } },
    { type: 'data', path: 'counter', value: 9 },
  ]);
  assert.deepEqual(unsubscribed.sent, [], 'not subscribed on its link');
  assert.deepEqual(denied.sent, [], "the session's grants deny both");
  assert.deepEqual(toServer, [], 'every session reads directly: nothing for the server');
  subscribed.close();
  h.runtime.emit('tick', { seq: 8 });
  assert.equal(subscribed.sent.length, 2, 'a closed link gets nothing more');
});

test('a change wider than what a session may read goes on its link without the denied parts; the other sessions get it whole', async (t) => {
  const { host: h } = await host(PUSHES.replace('<counter type="int" default="3"/>', '<counter type="int" default="3"/><label type="string" default="x"/>'));
  t.after(() => h.closeLinks());
  const seen: Record<string, unknown[]> = {};
  for (const id of ['whole', 'redacted']) {
    h.open(id, client, { name: 'anonymous' });
    h.ready(id, allDirect);
    seen[id] = attachLink(h, id, 'd').sent;
    h.session(id).subscribe('d', 'data', '');
  }
  h.setGrants('redacted', { denied: { 'read:counter': 'not this one' } });
  h.runtime.set('', { counter: 4, label: 'y' });
  assert.deepEqual(seen.whole, [{ type: 'data', path: '', value: { counter: 4, label: 'y' } }]);
  assert.deepEqual(seen.redacted, [{ type: 'data', path: '', value: { label: 'y' } }]);
});

test('a subscription left on a link that is not open sends nothing and breaks nothing', async (t) => {
  const { host: h } = await host();
  t.after(() => h.closeLinks());
  h.open('s1', client, { name: 'anonymous' });
  h.ready('s1', allDirect);
  h.session('s1').subscribe('d', 'event', 'tick');
  h.session('s1').subscribe('d', 'data', 'counter');
  h.runtime.emit('tick', { seq: 1 });
  h.runtime.set('counter', 2);
  assert.equal(h.session('s1').links.size, 0);
});

test('a direct request the grants allow is not logged as denied; one they deny is logged for the audit and refused', async (t) => {
  const { log, entries } = recordingLogger<{ level: number; msg: string; audit?: string; name?: string; route?: string }>();
  const { host: h } = await host(PUSHES, log);
  t.after(() => h.closeLinks());
  h.open('s1', client, { name: 'anonymous' }, { denied: { 'call:ping': 'not today' } });
  h.ready('s1', allDirect);
  const s = h.session('s1');
  h.authorize(s, 'subscribe', 'tick');
  assert.equal(h.allows(s, 'subscribe', 'tick'), true);
  assert.deepEqual(entries.filter((e) => e.msg === 'policy denied'), [], 'nothing denied yet');
  assert.throws(() => h.authorize(s, 'call', 'ping'), { code: 'POLICY_DENIED' });
  assert.equal(h.allows(s, 'call', 'ping'), false);
  assert.deepEqual(
    entries.filter((e) => e.msg === 'policy denied').map((e) => [e.audit, e.name, e.route]),
    [['denied', 'ping', 'direct']],
  );
});
