import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import type { RelayStats } from '../../src/wire/messages.js';
import type { SessionListing } from '../../src/server/broker.js';
import { example, fixture, startRunner } from '../helpers/harness.js';
import { HARD } from '../helpers/hard-service.js';
import { rssMb } from '../helpers/raw-peer.js';
import { eventually, HMI, HTTP_POLICY, httpServer, policyFile, postJson, request, SseStream, type ApiError, type HttpServer } from './http-helpers.js';

/** Server-Sent Events on a real server process: events, runtime-data watches, their ends, and a reader that never reads. */

const TYPES = fixture('definitions', 'types.xml');

async function typesServer(t: import('node:test').TestContext, args: string[] = []) {
  const server = await httpServer(t, args);
  const runner = await startRunner(t, server.url, [TYPES]);
  return { server, runner };
}

const callTypes = (server: HttpServer, method: string, body: unknown, headers: Record<string, string> = {}) =>
  postJson(`${server.base}/api/services/Types/methods/${method}`, body, headers);

/** The sessions event streams hold (the gateway's kept call sessions are labelled `http (identity)`). */
const streamSessions = async (server: HttpServer) =>
  (await request<SessionListing[]>(`${server.base}/api/sessions`)).body.filter((s) => /^http 127\.0\.0\.1:\d+ /.test(s.client));

test('GET /api/services/<S>/events streams each event as event: NAME with its arguments as JSON', async (t) => {
  const { server } = await typesServer(t);
  const all = await SseStream.open(t, `${server.base}/api/services/Types/events`);
  assert.equal(all.response.status, 200);
  assert.match(all.response.headers.get('content-type') ?? '', /^text\/event-stream/);
  assert.equal(all.response.headers.get('cache-control'), 'no-cache, no-transform');
  const one = await SseStream.open(t, `${server.base}/api/services/Types/events?name=ping`);
  assert.equal((await callTypes(server, 'emitPing', { count: 3 })).status, 200);
  await all.until((s) => s.messages.length === 3, 'three pings');
  assert.deepEqual(all.messages, [1, 2, 3].map((seq) => ({ event: 'ping', data: { seq, note: `ping ${seq}` } })));
  await one.until((s) => s.messages.length === 3, 'three pings on the named stream');
  assert.deepEqual(one.named('ping').map((d) => (d as { seq: number }).seq), [1, 2, 3]);
  // Each stream holds a session of its own, stopped when the client goes.
  assert.equal((await streamSessions(server)).length, 2);
  all.close();
  one.close();
  await eventually(() => streamSessions(server), (s) => s.length === 0, "the streams' sessions stopped");
});

test('GET /runtime-data?watch streams a snapshot, then each change as {path, value}', async (t) => {
  const { server } = await typesServer(t);
  const whole = await SseStream.open(t, `${server.base}/api/services/Types/runtime-data?watch`);
  const position = await SseStream.open(t, `${server.base}/api/services/Types/runtime-data?watch=1&path=position`);
  await whole.until((s) => s.messages.length >= 1, 'the snapshot');
  const [snapshot] = whole.messages;
  assert.equal(snapshot.event, 'snapshot');
  const tree = (snapshot.data as { path: string; value: Record<string, unknown> });
  assert.equal(tree.path, '');
  assert.equal(tree.value.count, 7);
  assert.equal(tree.value.big, '9007199254740993', 'typed values in their JSON form');
  assert.equal(tree.value.blob, 'yv4=');
  await position.until((s) => s.messages.length >= 1, 'the position snapshot');
  assert.deepEqual(position.messages[0], { event: 'snapshot', data: { path: 'position', value: { x: 1.5, y: 0 } } });

  await callTypes(server, 'setCount', { value: 8 });
  await callTypes(server, 'setPosition', { x: 5, y: 6 });
  await whole.until((s) => s.named('change').length >= 2, 'two changes');
  assert.deepEqual(whole.named('change'), [{ path: 'count', value: 8 }, { path: 'position', value: { x: 5, y: 6 } }]);
  await position.until((s) => s.named('change').length >= 1, 'the position change');
  assert.deepEqual(position.named('change'), [{ path: 'position', value: { x: 5, y: 6 } }], 'a watch of position hears nothing of count');
  const notWatching = await request<{ path: string }>(`${server.base}/api/services/Types/runtime-data?watch=false&path=count`);
  assert.deepEqual(notWatching.body, { path: 'count', value: 8 }, '?watch=false is a plain read');
});

test('the policy decides streams before they start, and hides denied paths in snapshots and changes', async (t) => {
  const server = await httpServer(t, ['--policy', policyFile(t, HTTP_POLICY), '--service', example('climate.xml')]);
  await startRunner(t, server.url, [TYPES], ['--token', 'runner-token']);
  const denied = await SseStream.open(t, `${server.base}/api/services/Types/events?name=ping`, HMI);
  assert.equal(denied.response.status, 403);
  assert.equal(denied.isEventStream, false);
  const refusal = await denied.refusal();
  assert.equal(refusal.error.code, 'POLICY_DENIED');
  assert.match(refusal.error.message, /^hmi may not subscribe Types "ping"/);
  const anonymous = await SseStream.open(t, `${server.base}/api/services/Types/runtime-data?watch`);
  assert.equal(anonymous.response.status, 403);
  const fan = await SseStream.open(t, `${server.base}/api/services/Climate/runtime-data?watch&path=cabin.fan`, HMI);
  assert.deepEqual([fan.response.status, (await fan.refusal()).error.code], [403, 'POLICY_DENIED']);
  // All events of Types: allowed as a whole, but each ping is still checked by name, so none arrives.
  const all = await SseStream.open(t, `${server.base}/api/services/Types/events`, HMI);
  assert.equal(all.response.status, 200);
  const cabin = await SseStream.open(t, `${server.base}/api/services/Climate/runtime-data?watch`, HMI);
  await cabin.until((s) => s.messages.length >= 1, 'the snapshot');
  assert.deepEqual(cabin.messages[0], { event: 'snapshot', data: { path: '', value: { cabin: { temperature: 21 }, status: 'ok' } } });
  // A wider change comes without the denied part; a change of the denied path never comes.
  await postJson(`${server.base}/api/services/Climate/methods/reset`, undefined, HMI);
  await postJson(`${server.base}/api/services/Climate/methods/setTemperature`, { zone: 1, celsius: 35 }, HMI);
  await cabin.until((s) => s.named('change').some((c) => (c as { path: string }).path === 'cabin.temperature'), 'a temperature change');
  const changes = cabin.named('change') as { path: string; value: unknown }[];
  assert.deepEqual(changes[0], { path: 'cabin', value: { temperature: 21 } });
  assert.ok(!changes.some((c) => c.path === 'cabin.fan'), JSON.stringify(changes));
  const types = await SseStream.open(t, `${server.base}/api/services/Types/runtime-data?watch&path=count`, HMI);
  await types.until((s) => s.messages.length >= 1, 'the count snapshot');
  await callTypes(server, 'emitPing', { count: 2 }, HMI);
  await callTypes(server, 'setCount', { value: 9 }, HMI);
  await types.until((s) => s.named('change').length >= 1, 'the count change');
  assert.deepEqual(all.messages, [], 'denied events never reach the stream');
});

test('a stream ends with event: error carrying SERVICE_GONE when the runner goes away', async (t) => {
  const { server, runner } = await typesServer(t);
  const events = await SseStream.open(t, `${server.base}/api/services/Types/events`);
  const watch = await SseStream.open(t, `${server.base}/api/services/Types/runtime-data?watch`);
  await watch.until((s) => s.messages.length >= 1, 'the snapshot');
  runner.child.kill('SIGKILL');
  for (const stream of [events, watch]) {
    await stream.until((s) => s.ended, 'the end of the stream');
    const last = stream.messages.at(-1)!;
    assert.equal(last.event, 'error');
    const error = (last.data as ApiError).error;
    assert.equal(error.code, 'SERVICE_GONE');
    assert.match(error.message, /service Types went away/);
  }
  const again = await SseStream.open(t, `${server.base}/api/services/Types/events`);
  assert.deepEqual([again.response.status, (await again.refusal()).error.code], [404, 'SERVICE_NOT_FOUND']);
});

test('a quiet stream gets a keep-alive comment about every 15 seconds', async (t) => {
  const server = await httpServer(t, ['--service', example('vehicle.xml')]);
  const quiet = await SseStream.open(t, `${server.base}/api/services/Vehicle/events`);
  await quiet.until((s) => s.comments.includes('keep-alive'), 'a keep-alive comment', 20_000);
  assert.deepEqual(quiet.messages, []);
  assert.equal(quiet.ended, false);
});

test('stopping the server ends open streams with an error and exits promptly', async (t) => {
  const server = await httpServer(t, ['--service', example('vehicle.xml')]);
  const stream = await SseStream.open(t, `${server.base}/api/services/Vehicle/runtime-data?watch`);
  await stream.until((s) => s.messages.length >= 1, 'the snapshot');
  const started = Date.now();
  const code = await server.proc.stop(10_000);
  assert.equal(code, 0, server.proc.stderr());
  assert.ok(Date.now() - started < 5000, `the server took ${Date.now() - started} ms to stop`);
  await stream.until((s) => s.ended, 'the end of the stream');
  assert.deepEqual(stream.messages.at(-1), { event: 'error', data: { error: { code: 'SERVICE_GONE', message: 'the server is shutting down' } } });
});

/** A raw HTTP client that sends one GET and, once the response headers are in, stops reading. */
async function neverReads(port: number, path: string): Promise<{ socket: net.Socket; closed: Promise<void>; head: string }> {
  const socket = net.connect(port, '127.0.0.1');
  const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
  socket.on('error', () => undefined);
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('error', reject);
  });
  socket.write(`GET ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n`);
  const head = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('no response head within 10 s')), 10_000);
    socket.once('data', (chunk: Buffer) => {
      clearTimeout(timer);
      socket.pause();
      resolve(chunk.toString('latin1'));
    });
  });
  return { socket, closed, head };
}

test('a stream reader that never reads is dropped with LIMIT_EXCEEDED; memory stays bounded and the server responsive', async (t) => {
  // Small push limits, so the drop comes after a few MB instead of the default 8 MiB held.
  const server = await httpServer(t, ['--soft-queued-bytes', String(64 * 1024), '--max-held-bytes', String(1024 * 1024)]);
  await startRunner(t, server.url, [HARD]);
  const slow = await neverReads(server.httpPort, '/api/services/Hard/events');
  t.after(() => slow.socket.destroy());
  assert.match(slow.head, /^HTTP\/1\.1 200 OK\r\n[\s\S]*content-type: text\/event-stream/i);
  const good = await SseStream.open(t, `${server.base}/api/services/Hard/events?name=burst`);
  assert.equal((await streamSessions(server)).length, 2);

  // 64 KiB events every 10 ms (about 6.5 MB/s) for 2 s, to both streams.
  const ticks = 200;
  await postJson(`${server.base}/api/services/Hard/methods/publish`, { kbPerTick: 64, ticks });
  await server.proc.waitFor(/event stream dropped.*does not keep up with its subscriptions/, { stream: 'stderr', timeoutMs: 20_000 });

  // The server answers at once meanwhile, and the reader that keeps up gets every event, in order.
  const asked = Date.now();
  const stats = (await request<RelayStats>(`${server.base}/api/stats`)).body;
  assert.ok(Date.now() - asked < 2000, 'stats answered promptly');
  assert.ok(stats.health!.slowConsumersClosed >= 1, JSON.stringify(stats.health));
  assert.equal(stats.limits!.maxHeldBytes, 1024 * 1024);
  await good.until((s) => s.messages.length === ticks, `all ${ticks} bursts`, 20_000);
  assert.deepEqual(good.messages.map((m) => Number.parseInt((m.data as { text: string }).text, 10)), Array.from({ length: ticks }, (_, i) => i));

  // The dropped stream's session is gone, and its socket is closed (seen once it reads what was queued).
  await eventually(() => streamSessions(server), (s) => s.length === 1, 'only the good stream left');
  slow.socket.resume();
  await Promise.race([slow.closed, new Promise((_, reject) => setTimeout(() => reject(new Error('the slow stream was not closed')), 10_000))]);
  const mb = rssMb(server.proc.child.pid!);
  assert.ok(mb < 300, `server RSS ${mb.toFixed(0)} MB`);
});

test('one caller may hold 64 event streams open; the next is refused with 429 LIMIT_EXCEEDED until one closes', async (t) => {
  const { server } = await typesServer(t);
  const url = `${server.base}/api/services/Types/events`;
  const open = await Promise.all(Array.from({ length: 64 }, () => SseStream.open(t, url)));
  assert.ok(open.every((s) => s.response.status === 200));
  const refused = await SseStream.open(t, url);
  assert.equal(refused.response.status, 429);
  const body = await refused.refusal();
  assert.equal(body.error.code, 'LIMIT_EXCEEDED');
  assert.match(body.error.message, /anonymous at 127\.0\.0\.1 already has 64 event streams open/);
  open[0].close();
  const again = await eventually(
    () => SseStream.open(t, url),
    (s) => s.response.status === 200,
    'a stream once one closed',
  );
  assert.equal(again.response.status, 200);
});
