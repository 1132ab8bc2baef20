import { test } from 'node:test';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import assert from 'node:assert/strict';
import { loadDefinitionFile } from '../../src/definition/index.js';
import { PeerwayError } from '../../src/errors.js';
import { ANONYMOUS, type Authorizer, type Identity } from '../../src/policy/authorizer.js';
import { Broker } from '../../src/server/broker.js';
import { BrokerClient } from '../../src/server/broker-client.js';
import type { SessionSink } from '../../src/server/broker-session.js';
import type { HostedService, HostedSessionOpened, SessionOpening } from '../../src/server/hosted-service.js';
import { InProcessService } from '../../src/server/in-process-service.js';
import type { Subscriber } from '../../src/server/service-entry.js';
import type { SharedPush } from '../../src/wire/shared-push.js';
import type { SubscriptionKind } from '../../src/wire/messages.js';
import { startWhoami } from '../helpers/in-memory.js';

/**
 * How the broker keeps one caller's sessions: the per-caller limit, ids a cluster peer gives, the grants
 * a service is sent, a service replaced or a caller gone while a session opens, the warnings a client
 * reports, event and data subscriptions, a session taken over by another connection, the routes a client
 * reports, and the shared fan-out encoding. In process, with a recording front end and service.
 */

const PROFILE = { bearers: [], host: 'h', version: 1 };

class RecordingSink implements SessionSink {
  readonly pushes: unknown[][] = [];
  readonly shared: (SharedPush | undefined)[] = [];
  event(session: string, name: string, args: Record<string, unknown>, shared?: SharedPush): void {
    this.pushes.push(['event', session, name, args]);
    this.shared.push(shared);
  }
  data(session: string, path: string, value: unknown, shared?: SharedPush): void {
    this.pushes.push(['data', session, path, value]);
    this.shared.push(shared);
  }
  ended(session: string, error: PeerwayError): void {
    this.pushes.push(['ended', session, error.code]);
  }
}

/** The in-process service, recording what the broker asks of it and answering as a test says. */
class RecordingService extends InProcessService {
  readonly openings: SessionOpening[] = [];
  readonly closed: string[] = [];
  readonly relayed: [string, SubscriptionKind, string][] = [];
  /** What openSession answers (a promise the test resolves, to act while the session is opening). */
  answer: () => Promise<HostedSessionOpened> = () => Promise.resolve({});
  subscribe?: (session: string, kind: SubscriptionKind, name: string) => Promise<void>;
  unsubscribe?: (session: string, kind: SubscriptionKind, name: string) => void;

  override openSession(opening: SessionOpening): Promise<HostedSessionOpened> {
    this.openings.push(opening);
    void super.openSession(opening);
    return this.answer();
  }

  override closeSession(session: string): void {
    this.closed.push(session);
    super.closeSession(session);
  }

  /** Becomes a service whose subscriptions another server decides too (as a cluster peer's service is). */
  relaying(refuse?: PeerwayError): this {
    this.subscribe = (session, kind, name) => {
      this.relayed.push([session, kind, name]);
      return refuse ? Promise.reject(refuse) : Promise.resolve();
    };
    this.unsubscribe = (session, kind, name) => {
      this.relayed.push([session, kind, `-${name}`]);
    };
    return this;
  }
}

async function brokerWith(t: import('node:test').TestContext, options: ConstructorParameters<typeof Broker>[0] = {}) {
  const broker = new Broker(options);
  const runtime = await startWhoami(t);
  const service = new RecordingService(runtime);
  const entry = broker.register({ identity: ANONYMOUS, label: 'test' }, service, runtime.tree.snapshot());
  runtime.addOutput({ event: (n, a) => entry.publishEvent(n, a), data: (p, v) => entry.publishData(p, v) });
  const client = (identity: Identity = ANONYMOUS, sink = new RecordingSink()) => ({ sink, api: new BrokerClient(broker, { identity, label: `test ${identity.name}` }, sink) });
  return { broker, runtime, service, entry, client };
}

function deferred<T>() {
  let resolve!: (v: T) => void;
  const promise = new Promise<T>((r) => (resolve = r));
  return { promise, resolve };
}

// --- the per-caller session limit -------------------------------------------------------------------

test('a caller holds at most maxSessionsPerCaller sessions: the next start is LIMIT_EXCEEDED naming the limit', async (t) => {
  const { client } = await brokerWith(t, { maxSessionsPerCaller: 2 });
  const { api } = client();
  await api.start('WhoAmI', PROFILE);
  const second = await api.start('WhoAmI', PROFILE);
  await assert.rejects(api.start('WhoAmI', PROFILE), (e: PeerwayError) => {
    assert.equal(e.code, 'LIMIT_EXCEEDED');
    assert.equal(e.message, 'this connection already holds 2 sessions, the most allowed; stop sessions you no longer use');
    assert.deepEqual(e.details, { limit: 2 });
    return true;
  });
  api.stop(second.session);
  await api.start('WhoAmI', PROFILE); // a stopped session frees its place
  await client().api.start('WhoAmI', PROFILE); // the limit is per caller
});

test('maxSessionsPerCaller 0 means no limit', async (t) => {
  const { client } = await brokerWith(t, { maxSessionsPerCaller: 0 });
  const { api } = client();
  for (let i = 0; i < 3; i++) await api.start('WhoAmI', PROFILE);
});

// --- ids given by the caller (a cluster peer) ---------------------------------------------------------

test('a session started with an id of its own keeps it; an id in use already is PROTOCOL', async (t) => {
  const { client, service } = await brokerWith(t);
  const { api } = client();
  const started = await api.start('WhoAmI', PROFILE, { id: 'cluster-1' });
  assert.equal(started.session, 'cluster-1');
  assert.equal(service.openings[0].session, 'cluster-1');
  await assert.rejects(client().api.start('WhoAmI', PROFILE, { id: 'cluster-1' }), (e: PeerwayError) => {
    assert.equal(e.code, 'PROTOCOL');
    assert.equal(e.message, 'session cluster-1 exists already on this server; a cluster session needs an id of its own');
    return true;
  });
  assert.equal(service.openings.length, 1, 'the service is not asked to open a second session under that id');
});

// --- grants sent with a session -----------------------------------------------------------------------

test('the service is sent grants with a session only when the policy denies something in it', async (t) => {
  const authorizer: Authorizer = {
    authorize: (identity, action, resource) => (identity.name === 'guest' && resource.name === 'secret' ? { allowed: false, reason: 'no' } : { allowed: true }),
  };
  const { client, service } = await brokerWith(t, { authorizer });
  await client().api.start('WhoAmI', PROFILE);
  assert.equal('grants' in service.openings[0], false, 'nothing denied: no grants');
  await client({ name: 'guest' }).api.start('WhoAmI', PROFILE);
  assert.deepEqual(Object.keys(service.openings[1].grants!.denied), ['read:secret']);
});

test("a cluster peer's grants the service answers with are enforced by the session", async (t) => {
  const { client, service } = await brokerWith(t);
  service.answer = () => Promise.resolve({ peerGrants: { denied: { 'read:secret': 'peer says no' } } });
  const { api } = client();
  const { session } = await api.start('WhoAmI', PROFILE);
  assert.throws(() => api.read(session, 'secret'), { code: 'POLICY_DENIED' });
  assert.equal(api.read(session, 'n'), 1);
});

// --- a service replaced, or the caller gone, while a session opens -------------------------------------

test('a service replaced while a session opens: the start is SERVICE_GONE and the old service closes it', async (t) => {
  const { broker, client, service, runtime } = await brokerWith(t);
  const opened = deferred<HostedSessionOpened>();
  service.answer = () => opened.promise;
  const { api } = client();
  const starting = api.start('WhoAmI', PROFILE);
  broker.unregister('WhoAmI', new PeerwayError('SERVICE_GONE', 'gone'));
  broker.register({ identity: ANONYMOUS, label: 'test' }, new InProcessService(runtime));
  opened.resolve({});
  await assert.rejects(starting, (e: PeerwayError) => e.code === 'SERVICE_GONE' && e.message === 'service WhoAmI went away while the session was starting');
  assert.equal(service.closed.length, 1);
  assert.equal(service.closed[0], service.openings[0].session);
  assert.equal(broker.sessions.size, 0);
});

test('a caller gone while its session opens: the start is SERVICE_GONE and the service closes the session', async (t) => {
  const { broker, client, service } = await brokerWith(t);
  const opened = deferred<HostedSessionOpened>();
  service.answer = () => opened.promise;
  const { api } = client();
  const starting = api.start('WhoAmI', PROFILE);
  api.close();
  opened.resolve({});
  await assert.rejects(starting, { code: 'SERVICE_GONE' });
  assert.deepEqual(service.closed, [service.openings[0].session]);
  assert.equal(broker.sessions.size, 0, 'no session is left behind for nobody');
});

// --- warnings -----------------------------------------------------------------------------------------

test('the warnings a client reports with ready are listed with its session, strings only', async (t) => {
  const { broker, client } = await brokerWith(t);
  const { api } = client();
  const { session } = await api.start('WhoAmI', PROFILE);
  await api.ready(session, {}, ['link fast failed', 5, null, 'x'.repeat(600)]);
  assert.deepEqual(broker.listSessions(ANONYMOUS)[0].warnings, ['link fast failed', 'x'.repeat(500)]);
});

// --- event and data subscriptions ----------------------------------------------------------------------

test('subscribing to an event the service does not have is EVENT_NOT_FOUND naming the events it has', async (t) => {
  const { client } = await brokerWith(t);
  const { api } = client();
  const { session } = await api.start('WhoAmI', PROFILE);
  assert.throws(
    () => api.subscribe(session, 'event', 'bumpd'),
    (e: PeerwayError) => e.code === 'EVENT_NOT_FOUND' && e.message === 'service WhoAmI has no event "bumpd" (events: bumped)',
  );
});

test('subscribing to an event the service requires a direct route for is BEARER_MISSING', async (t) => {
  const { client, service } = await brokerWith(t);
  service.answer = () => Promise.resolve({ serverRefused: ['event:bumped'] });
  const { api } = client();
  const { session } = await api.start('WhoAmI', PROFILE);
  assert.throws(
    () => api.subscribe(session, 'event', 'bumped'),
    (e: PeerwayError) => e.code === 'BEARER_MISSING' && e.message === 'WhoAmI requires its direct route for event "bumped"; the server does not relay it',
  );
});

test('a subscription of an unknown kind is PROTOCOL', async (t) => {
  const { client } = await brokerWith(t);
  const { api } = client();
  const { session } = await api.start('WhoAmI', PROFILE);
  assert.throws(
    () => api.subscribe(session, 'metrics' as SubscriptionKind, undefined),
    (e: PeerwayError) => e.code === 'PROTOCOL' && e.message === 'unknown subscription kind "metrics" (expected "event" or "data")',
  );
});

test('a subscription to every event gets every event until it is dropped; a named one stays', async (t) => {
  const { client, runtime } = await brokerWith(t);
  const { api, sink } = client();
  const { session } = await api.start('WhoAmI', PROFILE);
  api.subscribe(session, 'event', undefined);
  runtime.api.emit('bumped', { n: 1 });
  api.unsubscribe(session, 'event', undefined);
  runtime.api.emit('bumped', { n: 2 });
  assert.deepEqual(sink.pushes, [['event', session, 'bumped', { n: 1 }]]);
  api.subscribe(session, 'event', 'bumped');
  api.subscribe(session, 'event', undefined);
  api.unsubscribe(session, 'event', undefined);
  runtime.api.emit('bumped', { n: 3 });
  assert.deepEqual(sink.pushes.slice(1), [['event', session, 'bumped', { n: 3 }]]);
});

test('a data watch ends with its unsubscribe, even when made twice; unsubscribing another path leaves it', async (t) => {
  const { client, entry } = await brokerWith(t);
  const { api, sink } = client();
  const { session } = await api.start('WhoAmI', PROFILE);
  api.subscribe(session, 'data', 'n');
  api.unsubscribe(session, 'data', 'secret'); // not watched: the watch of n stays
  entry.publishData('n', 2);
  api.subscribe(session, 'data', 'n'); // twice is one watch
  api.unsubscribe(session, 'data', 'n');
  entry.publishData('n', 3);
  assert.deepEqual(sink.pushes, [['data', session, 'n', 2]]);
});

test('a watch of the whole tree (no path) ends with an unsubscribe that names no path; a watch of n stays', async (t) => {
  const { client, entry } = await brokerWith(t);
  const { api, sink } = client();
  const { session } = await api.start('WhoAmI', PROFILE);
  api.subscribe(session, 'data', 'n');
  api.subscribe(session, 'data', undefined);
  api.unsubscribe(session, 'data', undefined);
  entry.publishData('secret', 'x');
  entry.publishData('n', 4);
  assert.deepEqual(sink.pushes, [['data', session, 'n', 4]]);
});

test('a data unsubscribe does not drop an event subscription of the same name', async (t) => {
  const { client, runtime } = await brokerWith(t);
  const { api, sink } = client();
  const { session } = await api.start('WhoAmI', PROFILE);
  api.subscribe(session, 'event', 'bumped');
  api.subscribe(session, 'data', 'n');
  api.unsubscribe(session, 'data', 'bumped');
  runtime.api.emit('bumped', { n: 1 });
  api.unsubscribe(session, 'data', 'n');
  runtime.api.emit('bumped', { n: 2 });
  assert.deepEqual(sink.pushes, [
    ['event', session, 'bumped', { n: 1 }],
    ['event', session, 'bumped', { n: 2 }],
  ]);
});

test('subscriptions and unsubscriptions the other server decides too are passed on with their names ("" for none)', async (t) => {
  const { client, service } = await brokerWith(t);
  service.relaying();
  const { api } = client();
  const { session } = await api.start('WhoAmI', PROFILE);
  assert.equal(await api.subscribe(session, 'event', 'bumped'), undefined);
  assert.deepEqual(await api.subscribe(session, 'data', undefined), api.read(session, ''), 'a whole-tree watch answers the whole copy');
  api.unsubscribe(session, 'event', 'bumped');
  api.unsubscribe(session, 'data', undefined);
  assert.deepEqual(service.relayed, [
    [session, 'event', 'bumped'],
    [session, 'data', ''],
    [session, 'event', '-bumped'],
    [session, 'data', '-'],
  ]);
});

test('a data watch the other server refuses is not held: the subscribe rejects and no update is pushed', async (t) => {
  const { client, service, entry } = await brokerWith(t);
  service.relaying(new PeerwayError('POLICY_DENIED', 'the other server says no'));
  const { api, sink } = client();
  const { session } = await api.start('WhoAmI', PROFILE);
  const answer = api.subscribe(session, 'data', 'n');
  assert.ok(answer instanceof Promise, 'the answer waits for the other server');
  await assert.rejects(answer, { code: 'POLICY_DENIED' });
  entry.publishData('n', 7);
  assert.deepEqual(sink.pushes, []);
});

// --- a session taken over by another connection ----------------------------------------------------------

test('a session attached by a new connection before the old one noticed it died starts with no subscriptions', async (t) => {
  const { client, runtime } = await brokerWith(t);
  const old = client();
  const { session, resume } = await old.api.start('WhoAmI', PROFILE);
  old.api.subscribe(session, 'event', 'bumped');
  const taker = client();
  taker.api.attach(session, resume!);
  runtime.api.emit('bumped', { n: 1 });
  assert.deepEqual(old.sink.pushes, [], 'the old connection gets nothing more');
  assert.deepEqual(taker.sink.pushes, [], 'the old subscriptions are not carried over');
});

test('attaching a session again on the connection that holds it keeps its subscriptions', async (t) => {
  const { client, runtime } = await brokerWith(t);
  const { api, sink } = client();
  const { session, resume } = await api.start('WhoAmI', PROFILE);
  api.subscribe(session, 'event', 'bumped');
  api.attach(session, resume!);
  runtime.api.emit('bumped', { n: 1 });
  assert.deepEqual(sink.pushes, [['event', session, 'bumped', { n: 1 }]]);
});

// --- route reports ------------------------------------------------------------------------------------

test('a malformed route report is PROTOCOL and leaves the routes as they were', async (t) => {
  const { broker, client } = await brokerWith(t);
  const { api } = client();
  const { session } = await api.start('WhoAmI', PROFILE);
  await api.ready(session, { 'event:bumped': { linkType: 'direct', link: 'fast' } });
  for (const bad of [null, undefined, 'direct', 5, { linkType: 'relay' }, {}]) {
    await assert.rejects(
      api.ready(session, { 'method:whoami': { linkType: 'server' }, 'event:bumped': bad as never }),
      (e: PeerwayError) => e.code === 'PROTOCOL' && e.message === `ready: the route for "event:bumped" must be { linkType: 'server' } or { linkType: 'direct', link }`,
      `route ${JSON.stringify(bad)}`,
    );
  }
  assert.deepEqual(broker.listSessions(ANONYMOUS)[0].routes['event:bumped'], { linkType: 'direct', link: 'fast' });
});

// --- fan-out ----------------------------------------------------------------------------------------

test('a publish is encoded once to share only when the service has more than one session', async (t) => {
  const { client, runtime, entry } = await brokerWith(t);
  const a = client();
  const b = client();
  const sa = await a.api.start('WhoAmI', PROFILE);
  a.api.subscribe(sa.session, 'event', 'bumped');
  a.api.subscribe(sa.session, 'data', 'n');
  runtime.api.emit('bumped', { n: 1 });
  entry.publishData('n', 1);
  assert.deepEqual(a.sink.shared, [undefined, undefined], 'one session: no shared encoding');
  const sb = await b.api.start('WhoAmI', PROFILE);
  b.api.subscribe(sb.session, 'event', 'bumped');
  b.api.subscribe(sb.session, 'data', 'n');
  runtime.api.emit('bumped', { n: 2 });
  entry.publishData('n', 2);
  assert.equal(a.sink.shared.length, 4);
  assert.ok(a.sink.shared[2] !== undefined && a.sink.shared[2] === b.sink.shared[0], 'two sessions share the event encoding');
  assert.ok(a.sink.shared[3] !== undefined && a.sink.shared[3] === b.sink.shared[1], 'and the data encoding');
});

test('a tap gets only the events it wants', async (t) => {
  const { entry } = await brokerWith(t);
  const got: string[] = [];
  const tap: Subscriber = {
    wantsEvent: (name) => name === 'bumped',
    wantsData: () => false,
    pushEvent: (name) => (got.push(name), true),
    pushData: () => true,
  };
  entry.taps.add(tap);
  entry.publishEvent('other', {});
  entry.publishEvent('bumped', { n: 1 });
  assert.deepEqual(got, ['bumped']);
});

test('a tap gets only the runtime-data changes it wants', async (t) => {
  const { entry } = await brokerWith(t);
  const got: [string, unknown][] = [];
  const tap: Subscriber = {
    wantsEvent: () => false,
    wantsData: (path) => path === 'n',
    pushEvent: () => true,
    pushData: (path, value) => (got.push([path, value]), true),
  };
  entry.taps.add(tap);
  entry.publishData('secret', 'x');
  entry.publishData('n', 5);
  assert.deepEqual(got, [['n', 5]]);
});

test('a data subscribe in notify mode counts the read the policy would deny once', async (t) => {
  const authorizer: Authorizer = {
    authorize: (_identity, action, resource) => (action === 'read' && resource.name === 'n' ? { allowed: true, wouldDeny: true, mode: 'notify', reason: 'would be denied' } : { allowed: true }),
  };
  const { broker, client } = await brokerWith(t, { authorizer });
  const { api } = client();
  const { session } = await api.start('WhoAmI', PROFILE);
  assert.equal(api.subscribe(session, 'data', 'n'), 1);
  assert.equal(broker.authorizer.counters.wouldDeny, 1);
});

test('subscribing to every event is allowed when one of them, even one named "undefined", is only reachable directly; that one is not pushed', async (t) => {
  const dir = await mkdtemp(path.join(tmpdir(), 'peerway-events-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const file = path.join(dir, 'odd.xml');
  await writeFile(file, '<service name="Odd"><events><event name="undefined"/><event name="ping"/></events></service>');
  const definition = await loadDefinitionFile(file);
  const hosted: HostedService = {
    name: 'Odd',
    definition,
    location: 'remote',
    origin: 'test',
    openSession: () => Promise.resolve({ serverRefused: ['event:undefined'] }),
    sessionReady: () => Promise.resolve(),
    closeSession: () => undefined,
    updateGrants: () => undefined,
    call: () => undefined,
  };
  const broker = new Broker();
  const entry = broker.register({ identity: ANONYMOUS, label: 'test' }, hosted);
  const sink = new RecordingSink();
  const api = new BrokerClient(broker, { identity: ANONYMOUS, label: 'test' }, sink);
  const { session } = await api.start('Odd', PROFILE);
  assert.equal(api.subscribe(session, 'event', undefined), undefined);
  entry.publishEvent('undefined', {});
  entry.publishEvent('ping', {});
  assert.deepEqual(sink.pushes, [['event', session, 'ping', {}]]);
  assert.throws(() => api.subscribe(session, 'event', 'undefined'), { code: 'BEARER_MISSING' });
});

// --- what a publish pushes, and what it counts --------------------------------------------------------

/** A front end that says, push by push, whether it delivered (false: the push went nowhere). */
class AnsweringSink extends RecordingSink {
  delivers = true;
  override event(session: string, name: string, args: Record<string, unknown>, shared?: SharedPush): boolean {
    super.event(session, name, args, shared);
    return this.delivers;
  }
  override data(session: string, path: string, value: unknown, shared?: SharedPush): boolean {
    super.data(session, path, value, shared);
    return this.delivers;
  }
}

/** The guest may neither hear the event `bumped` nor read `secret`; everyone else may. */
const GUEST_DENIED: Authorizer = {
  authorize: (identity, action, resource) =>
    identity.name === 'guest' && ((action === 'subscribe' && resource.name === 'bumped') || (action === 'read' && resource.name === 'secret'))
      ? { allowed: false, reason: 'not for guests' }
      : { allowed: true },
};

test('an event the session may not hear is not pushed to it nor counted; a session that may is pushed it and counted', async (t) => {
  const { client, runtime, entry } = await brokerWith(t, { authorizer: GUEST_DENIED });
  const guest = client({ name: 'guest' });
  const other = client();
  const sg = await guest.api.start('WhoAmI', PROFILE);
  const so = await other.api.start('WhoAmI', PROFILE);
  guest.api.subscribe(sg.session, 'event', undefined); // every event: allowed, the denied one is left out
  other.api.subscribe(so.session, 'event', undefined);
  runtime.api.emit('bumped', { n: 1 });
  assert.deepEqual(guest.sink.pushes, []);
  assert.deepEqual(other.sink.pushes, [['event', so.session, 'bumped', { n: 1 }]]);
  assert.equal(entry.counters.eventsOut, 1);
});

test('a data change the session may not read is not pushed to it nor counted; one wider than it may read goes without the denied part, in its own encoding', async (t) => {
  const { client, entry } = await brokerWith(t, { authorizer: GUEST_DENIED });
  const guest = client({ name: 'guest' });
  const other = client();
  const sg = await guest.api.start('WhoAmI', PROFILE);
  const so = await other.api.start('WhoAmI', PROFILE);
  guest.api.subscribe(sg.session, 'data', undefined);
  other.api.subscribe(so.session, 'data', undefined);
  entry.publishData('secret', 'x');
  assert.deepEqual(guest.sink.pushes, [], 'the denied path');
  assert.deepEqual(other.sink.pushes, [['data', so.session, 'secret', 'x']]);
  assert.equal(entry.counters.dataOut, 1);
  entry.publishData('', { n: 2, secret: 'y' });
  assert.deepEqual(guest.sink.pushes, [['data', sg.session, '', { n: 2 }]], 'the whole tree, without secret');
  assert.deepEqual(other.sink.pushes[1], ['data', so.session, '', { n: 2, secret: 'y' }]);
  assert.equal(guest.sink.shared[0], undefined, 'the redacted copy is not the shared encoding');
  assert.notEqual(other.sink.shared[1], undefined, 'two sessions: the others share one encoding');
  assert.equal(entry.counters.dataOut, 3);
});

test('a push the front end says went nowhere is not counted, redacted or not; one it delivered is', async (t) => {
  const { client, runtime, entry } = await brokerWith(t, { authorizer: GUEST_DENIED });
  const sink = new AnsweringSink();
  const guest = client({ name: 'guest' }, sink);
  const { session } = await guest.api.start('WhoAmI', PROFILE);
  guest.api.subscribe(session, 'event', undefined);
  guest.api.subscribe(session, 'data', undefined);
  const me = client(ANONYMOUS, new AnsweringSink());
  const mine = await me.api.start('WhoAmI', PROFILE);
  me.api.subscribe(mine.session, 'event', 'bumped');
  const counted = () => [entry.counters.eventsOut, entry.counters.dataOut];
  for (const delivers of [false, true]) {
    sink.delivers = delivers;
    (me.sink as AnsweringSink).delivers = delivers;
    const before = counted();
    runtime.api.emit('bumped', { n: 1 });
    entry.publishData('n', 3); // the guest may read it: the plain push
    entry.publishData('', { n: 3, secret: 'z' }); // redacted for the guest
    const [events, data] = counted();
    assert.deepEqual([events - before[0], data - before[1]], delivers ? [1, 2] : [0, 0], `delivers: ${delivers}`);
  }
  assert.equal(sink.pushes.filter((p) => p[0] === 'data').length, 4, 'every data push reached the front end');
});

test('a session whose client reads runtime data directly gets no copy of it through the server', async (t) => {
  const { client, entry } = await brokerWith(t);
  const direct = client();
  const relayed = client();
  const sd = await direct.api.start('WhoAmI', PROFILE);
  const sr = await relayed.api.start('WhoAmI', PROFILE);
  await direct.api.ready(sd.session, { 'data:': { linkType: 'direct', link: 'fast' } });
  direct.api.subscribe(sd.session, 'data', 'n');
  relayed.api.subscribe(sr.session, 'data', 'n');
  entry.publishData('n', 4);
  assert.deepEqual(direct.sink.pushes, []);
  assert.deepEqual(relayed.sink.pushes, [['data', sr.session, 'n', 4]]);
});
