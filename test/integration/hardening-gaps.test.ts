import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { PeerwayProcess } from '../../src/cli/peerway-process.js';
import type { PeerwayError } from '../../src/errors.js';
import { parseInstructions } from '../../src/routing/instructions.js';
import { encodeMessage } from '../../src/wire/codec.js';
import { PROTOCOL_VERSION } from '../../src/wire/messages.js';
import { MAX_BODY_BYTES } from '../../src/http/gateway.js';
import { Collector, connectClient, example, fixture, startRunner, startServer } from '../helpers/harness.js';
import { HARD, goodClientWorks } from '../helpers/hard-service.js';
import { RawPeer } from '../helpers/raw-peer.js';

/**
 * Points of the hardening issue the first round of tests left unproved, each on real processes: the
 * attacked process survives, the attacker is closed with a logged reason, the caller gets a typed error,
 * and a well-behaved client keeps being served.
 */

/** Resolves when `peer` is closed; rejects after `ms` (a bounded wait, not a timed assertion). */
function closedWithin(peer: RawPeer, ms: number, what: string): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    peer.closed.finally(() => clearTimeout(timer)),
    new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`${what} still open after ${ms} ms`)), ms))),
  ]);
}

test('a connection that never sends its hello is closed at --hello-timeout with a logged reason, on the server and on a runner link', async (t) => {
  const server = await startServer(t, ['--hello-timeout', '300']);
  const runner = await startRunner(t, server.url, [HARD], ['--hello-timeout', '300']);
  // The server's port: connected, silent.
  const silent = await RawPeer.connect(server.port, false);
  t.after(() => silent.close());
  await closedWithin(silent, 10_000, 'a silent connection to the server');
  await server.proc.waitFor(/connection refused[^\n]*no hello within 300 ms/, { stream: 'stderr' });
  // A runner's link port: a session gives its address; the connection never says hello.
  const client = await RawPeer.connect(server.port);
  t.after(() => client.close());
  const started = (await client.request({ type: 'start', service: 'Hard', client: { bearers: ['connect.bearer.tcp'], host: 'x', version: PROTOCOL_VERSION } })) as {
    value: { routing: string };
  };
  const link = parseInstructions(started.value.routing).links.find((l) => l.name === 'reliable')!;
  assert.equal(link.address.bearer, 'connect.bearer.tcp');
  const silentLink = await RawPeer.connect(link.address.port!, false);
  t.after(() => silentLink.close());
  await closedWithin(silentLink, 10_000, 'a silent connection to the runner link');
  await runner.waitFor(/link connection refused[^\n]*no hello within 300 ms/, { stream: 'stderr' });
  assert.equal(server.proc.child.exitCode, null);
  assert.equal(runner.child.exitCode, null);
  await goodClientWorks(server.url, t);
});

const SENDS = fixture('p2p', 'sends.xml');
const SERVER_ROUTE_ONLY = { bearers: [] as string[] };

/** No process printed a stack of a rejection nobody handled (Node 20 would also have exited). */
function noUnhandled(...procs: PeerwayProcess[]): void {
  for (const p of procs) {
    assert.equal(p.child.exitCode, null, 'the process is alive');
    assert.doesNotMatch(p.stderr(), /unhandled|UnhandledPromiseRejection/i);
  }
}

test('a reply above the frame limit on a direct tcp link fails that call with FRAME_TOO_LARGE at the caller; the link and the runner go on', async (t) => {
  const server = await startServer(t);
  const runner = await startRunner(t, server.url, [SENDS]);
  const s = await (await connectClient(t, server.url)).startSession('Sends');
  assert.equal(s.routeFor('method', 'big').linkType, 'direct');
  assert.equal(s.routeFor('method', 'big').bearer, 'connect.bearer.tcp');
  await assert.rejects(s.call('big', { size: 17_000_000 }), (e: PeerwayError) => e.code === 'FRAME_TOO_LARGE' && /above the limit/.test(e.message));
  assert.equal(await s.call('big', { size: 3 }), 'xxx', 'the same link answers the next call');
  assert.equal(s.routeFor('method', 'big').linkType, 'direct', 'the link stayed up');
  noUnhandled(runner, server.proc);
});

test('an error whose details the wire writer refuses still reaches the caller as a typed error, on a direct link and through the server', async (t) => {
  const server = await startServer(t);
  const runner = await startRunner(t, server.url, [SENDS]);
  const direct = await (await connectClient(t, server.url)).startSession('Sends');
  const relayed = await (await connectClient(t, server.url, SERVER_ROUTE_ONLY)).startSession('Sends');
  assert.equal(direct.routeFor('method', 'refuse').linkType, 'direct');
  assert.equal(relayed.routeFor('method', 'refuse').linkType, 'server');
  for (const s of [direct, relayed]) {
    await assert.rejects(
      s.call('refuse', {}, { timeoutMs: 8000 }),
      (e: PeerwayError) => e.code === 'BAD_ARGUMENT' && /refused on purpose \(the full error could not be sent: .*does not fit in 64 bits/.test(e.message),
    );
    assert.equal(await s.call('hello'), 'hello');
  }
  await runner.waitFor(/link fault[^\n]*does not fit in 64 bits/, { stream: 'stderr' });
  await runner.waitFor(/server connection fault[^\n]*does not fit in 64 bits/, { stream: 'stderr' });
  noUnhandled(runner, server.proc);
});

/** The tag a pushed text starts with (the texts are padded with "x"). */
const tagOf = (text: unknown) => String(text).replace(/x*$/, '');

test('an event and a runtime-data value above the frame limit are dropped with a logged reason on a direct link and on the way to the server; subscribers get the next ones', async (t) => {
  const server = await startServer(t);
  const runner = await startRunner(t, server.url, [SENDS]);
  const direct = await (await connectClient(t, server.url)).startSession('Sends');
  const relayed = await (await connectClient(t, server.url, SERVER_ROUTE_ONLY)).startSession('Sends');
  assert.equal(direct.routeFor('event', 'burst').linkType, 'direct');
  assert.equal(relayed.routeFor('event', 'burst').linkType, 'server');
  assert.equal(direct.routeFor('data', 'blob').linkType, 'direct');
  assert.equal(relayed.routeFor('data', 'blob').linkType, 'server');
  const seen = { directEvents: new Collector<string>(), relayedEvents: new Collector<string>(), directData: new Collector<string>(), relayedData: new Collector<string>() };
  await direct.onEvent('burst', (e) => seen.directEvents.push(tagOf(e.args.text)));
  await relayed.onEvent('burst', (e) => seen.relayedEvents.push(tagOf(e.args.text)));
  await direct.watch('blob', (c) => seen.directData.push(tagOf(c.value)));
  await relayed.watch('blob', (c) => seen.relayedData.push(tagOf(c.value)));
  await direct.call('emitBurst', { size: 17_000_000, tag: 'big' });
  await direct.call('setBlob', { size: 17_000_000, tag: 'big' });
  await runner.waitFor(/could not send on link[^\n]*above the limit/, { stream: 'stderr' });
  await runner.waitFor(/could not forward to the server[^\n]*above the limit/, { stream: 'stderr' });
  await direct.call('emitBurst', { size: 10, tag: 'after' });
  await direct.call('setBlob', { size: 10, tag: 'after' });
  for (const c of Object.values(seen)) assert.deepEqual(await c.next(1), ['after'], 'the big one never arrives, the next one does');
  assert.equal(await direct.call('big', { size: 3 }), 'xxx', 'the link is still up');
  assert.equal(await relayed.call('hello'), 'hello');
  noUnhandled(runner, server.proc);
});

test('a pushed event or value that grows past the server\'s limit when relayed to a client is dropped with a logged reason; the client gets the next ones', async (t) => {
  const limit = 100_000;
  const server = await startServer(t, ['--max-message-bytes', String(limit)]);
  const runner = await startRunner(t, server.url, [SENDS]);
  const relayed = await (await connectClient(t, server.url, SERVER_ROUTE_ONLY)).startSession('Sends');
  const events = new Collector<string>();
  const values = new Collector<string>();
  await relayed.onEvent('burst', (e) => events.push(tagOf(e.args.text)));
  await relayed.watch('blob', (c) => values.push(tagOf(c.value)));
  // The runner names the service ("Sends"), the server the session (a longer id): the largest push that
  // still reaches the server is too big for the client once relayed.
  const largest = (push: (text: string) => Record<string, unknown>) => {
    let size = limit - 100;
    while (encodeMessage(push('big'.padEnd(size + 1, 'x')) as never).length <= limit) size++;
    assert.ok(encodeMessage(push('big'.padEnd(size, 'x')) as never).length <= limit);
    return size;
  };
  const eventSize = largest((text) => ({ type: 'event', service: 'Sends', name: 'burst', args: { text } }));
  const dataSize = largest((value) => ({ type: 'data', service: 'Sends', path: 'blob', value }));
  assert.ok(encodeMessage({ type: 'event', session: relayed.id, name: 'burst', args: { text: 'big'.padEnd(eventSize, 'x') } }).length > limit);
  assert.ok(encodeMessage({ type: 'data', session: relayed.id, path: 'blob', value: 'big'.padEnd(dataSize, 'x') }).length > limit);
  await relayed.call('emitBurst', { size: eventSize, tag: 'big' });
  await server.proc.waitFor(/push dropped[^\n]*above the limit/, { stream: 'stderr' });
  await relayed.call('setBlob', { size: dataSize, tag: 'big' });
  await server.proc.waitFor(/(push dropped[^\n]*above the limit[\s\S]*){2}/, { stream: 'stderr' });
  await relayed.call('emitBurst', { size: 10, tag: 'after' });
  await relayed.call('setBlob', { size: 10, tag: 'after' });
  assert.deepEqual(await events.next(1), ['after']);
  assert.deepEqual(await values.next(1), ['after']);
  noUnhandled(runner, server.proc);
});

test('a slow subscriber that is dropped finds LIMIT_EXCEEDED as the last message before the close, on the server route and on a direct link', async (t) => {
  const bounds = ['--soft-queued-bytes', String(64 * 1024), '--max-held-bytes', String(256 * 1024)];
  const server = await startServer(t, bounds);
  const runner = await startRunner(t, server.url, [SENDS], bounds);
  const profile = (bearers: string[]) => ({ bearers, host: 'x', version: PROTOCOL_VERSION });
  // Through the server: subscribed to burst, then never reads.
  const relayed = await RawPeer.connect(server.port);
  t.after(() => relayed.close());
  const r = ((await relayed.request({ type: 'start', service: 'Sends', client: profile([]) })) as { value: { session: string } }).value.session;
  await relayed.request({ type: 'ready', session: r, routes: {} });
  await relayed.request({ type: 'subscribe', session: r, kind: 'event', name: 'burst' });
  // On the reliable link: burst routed there, subscribed on the link, which never reads.
  const owner = await RawPeer.connect(server.port);
  t.after(() => owner.close());
  const started = (await owner.request({ type: 'start', service: 'Sends', client: profile(['connect.bearer.tcp']) })) as { value: { session: string; routing: string } };
  const d = started.value.session;
  const link = parseInstructions(started.value.routing).links.find((l) => l.name === 'reliable')!;
  const onLink = await RawPeer.connect(link.address.port!, { role: 'link', token: link.token, session: d, link: 'reliable' });
  t.after(() => onLink.close());
  await owner.request({ type: 'ready', session: d, routes: { 'event:burst': { linkType: 'direct', link: 'reliable' } } });
  assert.equal((await onLink.request({ type: 'subscribe', session: d, kind: 'event', name: 'burst' })).type, 'reply');
  relayed.pause();
  onLink.pause();
  // Twenty megabytes of events at once, more than the socket buffers and the bounds hold: by the time the
  // call is answered both subscribers were dropped (the runner emits before it replies, and the server
  // relays the events before the reply). Read now: what was queued, then the notice, then the close.
  const good = await (await connectClient(t, server.url, SERVER_ROUTE_ONLY)).startSession('Sends');
  await good.call('flood', { count: 80, size: 256 * 1024 });
  relayed.socket.resume();
  onLink.socket.resume();
  for (const [peer, where] of [[relayed, 'server route'], [onLink, 'direct link']] as const) {
    await closedWithin(peer, 10_000, `the slow subscriber on the ${where}`);
    const last = peer.received.at(-1);
    assert.equal(last?.type, 'error', `the last message on the ${where} is the notice`);
    const notice = last as { id?: number; error: { code: string; message: string } };
    assert.equal(notice.id, undefined, 'a notice for the connection, not an answer');
    assert.equal(notice.error.code, 'LIMIT_EXCEEDED');
    assert.match(notice.error.message, /closed as a slow consumer/);
    const events = peer.received.filter((m) => m.type === 'event').length;
    assert.ok(events > 0 && events < 80, `the ${where} got some of the events before the notice, not all (${events})`);
  }
  await server.proc.waitFor(/does not keep up with its subscriptions/, { stream: 'stderr' });
  await runner.waitFor(/does not keep up with its subscriptions/, { stream: 'stderr' });
  assert.equal(await good.call('hello'), 'hello');
  noUnhandled(runner, server.proc);
});

test('the gateway answers a request body above its 1 MiB bound with 400 BAD_ARGUMENT, and goes on serving', async (t) => {
  const server = await startServer(t, ['--service', example('vehicle.xml'), '--http', '0']);
  const [, address] = await server.proc.waitFor(/^listening http (\S+)$/m);
  const url = `http://${address}/api/services/Vehicle/methods/getVin`;
  const big = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ pad: 'x'.repeat(MAX_BODY_BYTES) }) });
  assert.equal(big.status, 400);
  const { error } = (await big.json()) as { error: { code: string; message: string } };
  assert.equal(error.code, 'BAD_ARGUMENT');
  assert.match(error.message, /body is too large/i);
  const services = await fetch(`http://${address}/api/services`);
  assert.equal(services.status, 200);
  noUnhandled(server.proc);
});
