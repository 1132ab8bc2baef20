import { test } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { PeerwayError } from '../../src/errors.js';
import { ANONYMOUS, type Authorizer, type Identity } from '../../src/policy/authorizer.js';
import { Broker } from '../../src/server/broker.js';
import { BrokerClient } from '../../src/server/broker-client.js';
import type { SessionSink } from '../../src/server/broker-session.js';
import { InProcessService } from '../../src/server/in-process-service.js';
import { startWhoami } from '../helpers/in-memory.js';

/**
 * The broker API on its own: no bearer, no connection, no process. A front end is a BrokerClient with a
 * sink; these tests are that front end.
 */

const PROFILE = { bearers: [], host: 'h', version: 1 };

class RecordingSink implements SessionSink {
  readonly pushes: unknown[][] = [];
  event(session: string, name: string, args: Record<string, unknown>): void {
    this.pushes.push(['event', session, name, args]);
  }
  data(session: string, path: string, value: unknown): void {
    this.pushes.push(['data', session, path, value]);
  }
  ended(session: string, error: PeerwayError): void {
    this.pushes.push(['ended', session, error.code]);
  }
}

/** A broker with the WhoAmI service in process, wired as the server wires in-process services. */
async function brokerWith(t: import('node:test').TestContext, options: ConstructorParameters<typeof Broker>[0] = {}) {
  const broker = new Broker(options);
  const runtime = await startWhoami(t);
  const entry = broker.register({ identity: ANONYMOUS, label: 'test' }, new InProcessService(runtime), runtime.tree.snapshot());
  runtime.addOutput({ event: (n, a) => entry.publishEvent(n, a), data: (p, v) => entry.publishData(p, v) });
  const client = (identity: Identity = ANONYMOUS, sink = new RecordingSink()) => ({ sink, api: new BrokerClient(broker, { identity, label: `test ${identity.name}` }, sink) });
  return { broker, runtime, client };
}

test('a caller lists, starts a session, calls, subscribes and reads stats through the broker API', async (t) => {
  const { client } = await brokerWith(t);
  const { api, sink } = client();
  assert.deepEqual(api.services().map((s) => [s.name, s.location, s.sessions]), [['WhoAmI', 'in-process', 0]]);
  const started = await api.start('WhoAmI', PROFILE);
  assert.equal(started.service, 'WhoAmI');
  assert.match(started.xml, /<service name="WhoAmI">/);
  assert.equal(typeof started.resume, 'string');
  assert.equal(api.call(started.session, 'whoami', {}), 'anonymous server');
  assert.equal(api.subscribe(started.session, 'data', 'n'), 1, 'a data subscription answers the server copy');
  api.subscribe(started.session, 'event', 'bumped');
  api.call(started.session, 'bump', { n: 5 });
  assert.deepEqual(sink.pushes, [
    ['event', started.session, 'bumped', { n: 5 }],
    ['data', started.session, 'n', 5],
  ]);
  assert.deepEqual(api.stats().services.WhoAmI, { location: 'in-process', sessions: 1, calls: 2, eventsIn: 1, eventsOut: 1, dataIn: 1, dataOut: 1 });
  api.stop(started.session);
  assert.throws(() => api.call(started.session, 'whoami', {}), { code: 'SESSION_NOT_FOUND' });
});

test("the caller's identity reaches the service implementation in the call context", async (t) => {
  const { client } = await brokerWith(t);
  const { api } = client({ name: 'diagnostics', via: 'token' });
  const { session } = await api.start('WhoAmI', PROFILE);
  assert.equal(api.call(session, 'whoami', {}), 'diagnostics server');
});

test('one caller cannot use, stop or attach another caller’s session', async (t) => {
  const { client } = await brokerWith(t);
  const owner = client();
  const other = client({ name: 'mallory' });
  const { session, resume } = await owner.api.start('WhoAmI', PROFILE);
  assert.throws(() => other.api.call(session, 'whoami', {}), { code: 'SESSION_NOT_FOUND' });
  assert.throws(() => other.api.stop(session), { code: 'SESSION_NOT_FOUND' });
  assert.throws(() => other.api.attach(session, resume!), { code: 'SESSION_NOT_FOUND' }, 'another identity, even with the secret');
  assert.throws(() => client().api.attach(session, 'x'.repeat(resume!.length)), { code: 'SESSION_NOT_FOUND' }, 'a wrong secret');
  assert.equal(owner.api.call(session, 'whoami', {}), 'anonymous server');
});

test('a session outlives its front end: detached, attached again with its secret, and expired when nobody does', async (t) => {
  const { broker, client, runtime } = await brokerWith(t, { detachedSessionTtlMs: 150 });
  const first = client();
  const kept = await first.api.start('WhoAmI', PROFILE);
  const lost = await first.api.start('WhoAmI', PROFILE);
  first.api.subscribe(kept.session, 'event', 'bumped');
  first.api.close();
  assert.equal(broker.sessions.size, 2, 'detached, not ended');
  runtime.api.emit('bumped', { n: 1 });
  assert.deepEqual(first.sink.pushes, [], 'a detached session gets no pushes');

  const second = client();
  assert.deepEqual(second.api.attach(kept.session, kept.resume!), { session: kept.session, service: 'WhoAmI' });
  assert.equal(second.api.call(kept.session, 'whoami', {}), 'anonymous server');
  runtime.api.emit('bumped', { n: 2 });
  assert.deepEqual(second.sink.pushes, [], 'subscriptions are not carried over: the client makes them again');
  second.api.subscribe(kept.session, 'event', 'bumped');
  runtime.api.emit('bumped', { n: 3 });
  assert.deepEqual(second.sink.pushes, [['event', kept.session, 'bumped', { n: 3 }]]);

  await sleep(300);
  assert.deepEqual([...broker.sessions.keys()], [kept.session], 'the session nobody attached expired');
  assert.throws(() => second.api.attach(lost.session, lost.resume!), { code: 'SESSION_NOT_FOUND' });
});

test('the authorization point decides every request and push, and a denial names who, what and why', async (t) => {
  const seen: string[] = [];
  const authorizer: Authorizer = {
    authorize(identity, action, resource) {
      seen.push(`${identity.name} ${action} ${resource.service}${resource.name !== undefined ? `.${resource.name}` : ''}`);
      if (identity.name === 'guest' && (action === 'call' || resource.name === 'secret')) return { allowed: false, reason: 'guests only look' };
      if (identity.name === 'hidden') return { allowed: false };
      return { allowed: true };
    },
  };
  const { client } = await brokerWith(t, { authorizer });
  assert.deepEqual(client({ name: 'hidden' }).api.services(), [], 'describe denied: the service is not listed');
  await assert.rejects(client({ name: 'hidden' }).api.start('WhoAmI', PROFILE), { code: 'POLICY_DENIED' });

  const guest = client({ name: 'guest' });
  const { session } = await guest.api.start('WhoAmI', PROFILE);
  assert.throws(() => guest.api.call(session, 'whoami', {}), (e: PeerwayError) => e.code === 'POLICY_DENIED' && e.message === 'guest may not call WhoAmI "whoami": guests only look');
  assert.throws(() => guest.api.subscribe(session, 'data', 'secret'), { code: 'POLICY_DENIED' });
  assert.equal(guest.api.subscribe(session, 'data', 'n'), 1);
  assert.ok(seen.includes('guest read WhoAmI.n'));
});

test('a second registration of a name is refused with DUPLICATE_SERVICE naming the first', async (t) => {
  const { broker } = await brokerWith(t);
  const runtime = await startWhoami(t);
  assert.throws(() => broker.register({ identity: ANONYMOUS, label: 'x' }, new InProcessService(runtime)), (e: PeerwayError) => e.code === 'DUPLICATE_SERVICE' && /already registered \(in-process\)/.test(e.message));
});

test('unregistering a service ends its sessions with the reason, and the front end forgets them', async (t) => {
  const { broker, client } = await brokerWith(t);
  const { api, sink } = client();
  const { session } = await api.start('WhoAmI', PROFILE);
  broker.unregister('WhoAmI', new PeerwayError('SERVICE_GONE', 'gone'));
  assert.deepEqual(sink.pushes, [['ended', session, 'SERVICE_GONE']]);
  assert.throws(() => api.call(session, 'whoami', {}), { code: 'SESSION_NOT_FOUND' });
  await assert.rejects(api.start('WhoAmI', PROFILE), { code: 'SERVICE_NOT_FOUND' });
});
