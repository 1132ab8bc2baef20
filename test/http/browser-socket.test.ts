import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import type { Socket } from 'node:net';
import WebSocket from 'ws';
import { Collector, connectClient, fixture, startServer, type RunningServer } from '../helpers/harness.js';
import { policyFile, sha } from './http-helpers.js';

/** The browser WebSocket /ws on a real server process, driven by a real `ws` client speaking its JSON. */

const LAB = fixture('http', 'browser', 'lab.xml');

interface Reply {
  id: unknown;
  ok: boolean;
  result?: unknown;
  error?: { code: string; message: string; details?: Record<string, unknown> };
}
type Push = { type: string; session?: string; [key: string]: unknown };

function textOf(data: WebSocket.RawData): string {
  if (Buffer.isBuffer(data)) return data.toString('utf8');
  return (Array.isArray(data) ? Buffer.concat(data) : Buffer.from(data)).toString('utf8');
}

/** A browser stand-in: requests by id with a deadline, pushes collected. */
class JsonSocket {
  private nextId = 1;
  private readonly waiting = new Map<unknown, (reply: Reply) => void>();
  readonly pushes = new Collector<Push>();
  readonly replies: Reply[] = [];
  readonly closed: Promise<{ code: number; reason: string }>;

  private constructor(readonly ws: WebSocket) {
    ws.on('message', (data: WebSocket.RawData) => {
      const message = JSON.parse(textOf(data)) as Reply & Push;
      if (!('id' in message)) return this.pushes.push(message);
      this.replies.push(message);
      this.waiting.get(message.id)?.(message);
      this.waiting.delete(message.id);
    });
    this.closed = new Promise((resolve) => ws.once('close', (code, reason) => resolve({ code, reason: reason.toString() })));
  }

  static async open(t: TestContext, url: string, options: WebSocket.ClientOptions = {}): Promise<JsonSocket> {
    const ws = new WebSocket(url, options);
    t.after(() => ws.terminate());
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`${url} did not open within 5 s`)), 5000);
      ws.once('open', () => (clearTimeout(timer), resolve()));
      ws.once('error', (err) => (clearTimeout(timer), reject(err)));
    });
    return new JsonSocket(ws);
  }

  /** Sends a request (or any text) and waits for the reply with this id. */
  send(body: Record<string, unknown>, timeoutMs = 5000): Promise<Reply> {
    const id = body.id ?? this.nextId++;
    this.ws.send(JSON.stringify({ id, ...body }));
    return this.reply(id, timeoutMs);
  }

  reply(id: unknown, timeoutMs = 5000): Promise<Reply> {
    const early = this.replies.find((r) => r.id === id);
    if (early) return Promise.resolve(early);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no reply to request ${String(id)} within ${timeoutMs} ms`)), timeoutMs);
      this.waiting.set(id, (r) => (clearTimeout(timer), resolve(r)));
    });
  }

  /** The result of a request that must succeed. */
  async ok<T = unknown>(body: Record<string, unknown>, timeoutMs?: number): Promise<T> {
    const reply = await this.send(body, timeoutMs);
    assert.equal(reply.ok, true, `${String(body.type)} failed: ${JSON.stringify(reply.error)}`);
    return reply.result as T;
  }

  /** The error of a request that must fail. */
  async error(body: Record<string, unknown>): Promise<NonNullable<Reply['error']>> {
    const reply = await this.send(body);
    assert.equal(reply.ok, false, `${String(body.type)} should have failed, got ${JSON.stringify(reply.result)}`);
    return reply.error!;
  }

  /** The first push (past or future) matching `match`, within a deadline. */
  async push(match: (p: Push) => boolean, timeoutMs = 5000): Promise<Push> {
    const deadline = Date.now() + timeoutMs;
    for (let n = 1; ; n++) {
      const found = this.pushes.items.find(match);
      if (found) return found;
      await this.pushes.next(Math.max(n, this.pushes.items.length + 1), Math.max(1, deadline - Date.now()));
    }
  }
}

async function gateway(t: TestContext, extra: string[] = []): Promise<{ server: RunningServer; ws: string; http: string }> {
  const server = await startServer(t, ['--service', LAB, '--http', '0', ...extra]);
  const [, address] = await server.proc.waitFor(/^listening http (\S+)$/m);
  return { server, ws: `ws://${address}/ws`, http: `http://${address}` };
}

/** Tries an upgrade: `open`, or the HTTP status and JSON body it was refused with. */
function upgrade(url: string, headers: Record<string, string>): Promise<{ status: number | 'open'; body?: Reply['error'] }> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, { headers });
    const timer = setTimeout(() => (ws.terminate(), reject(new Error('no answer to the upgrade within 5 s'))), 5000);
    ws.once('open', () => {
      clearTimeout(timer);
      ws.close();
      resolve({ status: 'open' });
    });
    ws.once('unexpected-response', (_req, res) => {
      let text = '';
      res.on('data', (c: Buffer) => (text += c.toString()));
      res.on('end', () => {
        clearTimeout(timer);
        ws.terminate();
        resolve({ status: res.statusCode ?? 0, body: (JSON.parse(text) as { error: Reply['error'] }).error });
      });
    });
    ws.once('error', () => undefined); // the refusal is reported by unexpected-response
  });
}

async function labSession(socket: JsonSocket): Promise<string> {
  return (await socket.ok<{ session: string }>({ type: 'start', service: 'Lab' })).session;
}

test('calls over /ws: typed values in JSON, typed errors, and the session listed with server routes', async (t) => {
  const { ws } = await gateway(t);
  const socket = await JsonSocket.open(t, ws);
  const hello = await socket.ok<{ identity: string; policy: boolean; protocol: number }>({ type: 'hello' });
  assert.deepEqual([hello.identity, hello.policy, hello.protocol], ['anonymous', false, 1]);
  assert.deepEqual((await socket.ok<{ name: string }[]>({ type: 'services' })).map((s) => s.name), ['Lab']);
  const described = await socket.ok<{ methods: { name: string; arguments: { name: string; type: string }[] }[] }>({ type: 'describe', service: 'Lab' });
  assert.deepEqual(described.methods.find((m) => m.name === 'add')?.arguments, [{ name: 'a', type: 'int' }, { name: 'b', type: 'int' }]);

  const started = await socket.ok<{ session: string; location: string; definition: { name: string } }>({ type: 'start', service: 'Lab' });
  assert.equal(started.location, 'in-process');
  assert.equal(started.definition.name, 'Lab');
  const session = started.session;
  assert.equal(await socket.ok({ type: 'call', session, method: 'add', args: { a: 2, b: 40 } }), 42);
  assert.equal(await socket.ok({ type: 'call', session, method: 'twice', args: { n: '9007199254740993' } }), '18014398509481986', 'int64 travels as decimal text');
  assert.equal(await socket.ok({ type: 'call', session, method: 'size', args: { data: Buffer.from('hello').toString('base64') } }), 5, 'binary travels as base64');
  assert.equal(await socket.ok({ type: 'call', session, method: 'publish', args: { value: 1 } }), null, 'void answers null');

  const wrongType = await socket.error({ type: 'call', session, method: 'add', args: { a: 'two', b: 1 } });
  assert.equal(wrongType.code, 'BAD_ARGUMENT');
  assert.match(wrongType.message, /Lab\.add argument "a" must be int/);
  assert.match((await socket.error({ type: 'call', session, method: 'add', args: { a: 1 } })).message, /argument "b" is missing/);
  const noMethod = await socket.error({ type: 'call', session, method: 'ad', args: {} });
  assert.equal(noMethod.code, 'METHOD_NOT_FOUND');
  assert.match(noMethod.message, /no method "ad" \(methods: add, twice/);
  assert.equal((await socket.error({ type: 'start', service: 'Nope' })).code, 'SERVICE_NOT_FOUND');
  assert.equal((await socket.error({ type: 'call', session: 'someone-elses', method: 'add', args: {} })).code, 'SESSION_NOT_FOUND');

  const listed = (await socket.ok<{ session: string; client: string; routes: Record<string, { linkType: string }> }[]>({ type: 'sessions' })).find((s) => s.session === session);
  assert.ok(listed, 'the browser session is listed');
  assert.match(listed.client, /^browser 127\.0\.0\.1:\d+$/);
  assert.deepEqual(new Set(Object.values(listed.routes).map((r) => r.linkType)), new Set(['server']), 'a browser takes the server route for everything');
  await socket.ok({ type: 'stop', session });
  assert.equal((await socket.error({ type: 'call', session, method: 'add', args: { a: 1, b: 1 } })).code, 'SESSION_NOT_FOUND');
});

test('event and runtime-data subscriptions: the snapshot first, then the changes as pushes', async (t) => {
  const { ws } = await gateway(t);
  const socket = await JsonSocket.open(t, ws);
  const session = await labSession(socket);
  assert.equal(await socket.ok({ type: 'subscribe', session, kind: 'data', path: 'counter' }), 0, 'the snapshot is the current value');
  assert.deepEqual(await socket.ok({ type: 'subscribe', session, kind: 'data' }), { counter: 0, label: 'idle' }, 'no path: all of it');
  assert.equal(await socket.ok({ type: 'subscribe', session, kind: 'event', name: 'changed' }), null);
  await socket.ok({ type: 'call', session, method: 'publish', args: { value: 7 } });
  assert.deepEqual(await socket.push((p) => p.type === 'data' && p.value === 7), { type: 'data', session, path: 'counter', value: 7 });
  assert.deepEqual(await socket.push((p) => p.type === 'event'), { type: 'event', session, name: 'changed', args: { value: 7 } });

  await socket.ok({ type: 'unsubscribe', session, kind: 'event', name: 'changed' });
  await socket.ok({ type: 'call', session, method: 'publish', args: { value: 8 } });
  await socket.push((p) => p.type === 'data' && p.value === 8);
  assert.equal(socket.pushes.items.filter((p) => p.type === 'event').length, 1, 'no event after unsubscribing');
  const noEvent = await socket.error({ type: 'subscribe', session, kind: 'event', name: 'nope' });
  assert.equal(noEvent.code, 'EVENT_NOT_FOUND');
  const noPath = await socket.error({ type: 'subscribe', session, kind: 'data', path: 'countr' });
  assert.equal(noPath.code, 'PATH_NOT_FOUND');
});

test('sessions and stats watches are pushed by the server when they change, and a closed socket\'s sessions end', async (t) => {
  const { server, ws } = await gateway(t);
  const watcher = await JsonSocket.open(t, ws);
  const initial = await watcher.ok<unknown[]>({ type: 'sessions', watch: true });
  assert.deepEqual(initial, []);
  const stats = await watcher.ok<{ services: Record<string, { calls: number }> }>({ type: 'stats', watch: true });
  assert.equal(stats.services.Lab.calls, 0);

  // A Node client on the binary protocol: its session shows up without the watcher asking again.
  const node = await connectClient(t, server.url);
  const nodeSession = await node.startSession('Lab');
  const withNode = await watcher.push((p) => p.type === 'sessions' && (p.sessions as { session: string }[]).some((s) => s.session === nodeSession.id));
  assert.match(JSON.stringify(withNode), /peerway-client/);
  await nodeSession.call('add', { a: 1, b: 2 });
  await watcher.push((p) => p.type === 'stats' && (p.stats as typeof stats).services.Lab.calls === 1);

  // Another browser's session ends with its socket.
  const other = await JsonSocket.open(t, ws);
  const otherSession = await labSession(other);
  await watcher.push((p) => p.type === 'sessions' && (p.sessions as { session: string }[]).some((s) => s.session === otherSession));
  const countBefore = watcher.pushes.items.length;
  other.ws.close();
  await watcher.push((p) => watcher.pushes.items.indexOf(p) >= countBefore && p.type === 'sessions' && !(p.sessions as { session: string }[]).some((s) => s.session === otherSession));

  // Unwatched: nothing more is pushed.
  await watcher.ok({ type: 'sessions', watch: false });
  await watcher.ok({ type: 'stats', watch: false });
  const quietFrom = watcher.pushes.items.length;
  await nodeSession.stop();
  await nodeSession.call('add', { a: 1, b: 1 }).catch(() => undefined);
  await new Promise((r) => setTimeout(r, 800));
  assert.equal(watcher.pushes.items.length, quietFrom);
});

test('Origin: a foreign page is refused with 403 before the upgrade and logged; its own page, --http-origin and non-browsers are allowed', async (t) => {
  const { server, ws } = await gateway(t, ['--http-origin', 'https://hmi.example:8443']);
  const own = new URL(ws).host;
  const refused = await upgrade(ws, { origin: 'http://evil.example' });
  assert.equal(refused.status, 403);
  assert.equal(refused.body?.code, 'POLICY_DENIED');
  assert.match(refused.body?.message ?? '', /http:\/\/evil\.example is neither this gateway's own origin nor in --http-origin/);
  await server.proc.waitFor(/browser WebSocket refused.*evil\.example/, { stream: 'stderr' });

  assert.equal((await upgrade(ws, { origin: `http://${own}` })).status, 'open', 'the page the gateway served');
  assert.equal((await upgrade(ws, { origin: 'https://hmi.example:8443' })).status, 'open', 'listed with --http-origin');
  assert.equal((await upgrade(ws, {})).status, 'open', 'no Origin: not a browser');
  const port = new URL(ws).port;
  const rebound = await upgrade(ws, { origin: `http://rebind.example:${port}`, host: `rebind.example:${port}` });
  assert.equal(rebound.status, 403, 'a DNS name re-pointed at the gateway matches its Host, but is not trusted');
  assert.match(rebound.body?.message ?? '', /could be a rebound DNS name/);
  assert.equal((await upgrade(ws, { origin: 'null' })).status, 403, 'sandboxed frames and files');
});

test('a token names the identity (Authorization header or hello) and the policy decides: POLICY_DENIED, UNAUTHORIZED', async (t) => {
  const policy = policyFile(
    t,
    `identities:
  hmi: { token_sha256: ${sha('hmi-token')} }
statements:
  - allow: { who: "*", service: "*", actions: [describe] }
  - allow: { who: hmi, service: Lab, actions: [call, subscribe, read] }
  - deny:  { who: hmi, service: Lab, call: [flood] }
`,
  );
  const { ws } = await gateway(t, ['--policy', policy]);

  const anonymous = await JsonSocket.open(t, ws);
  const hello = await anonymous.ok<{ identity: string; policy: boolean }>({ type: 'hello' });
  assert.deepEqual(hello, { ...hello, identity: 'anonymous', policy: true });
  const notAllowed = await anonymous.error({ type: 'start', service: 'Lab' });
  assert.equal(notAllowed.code, 'POLICY_DENIED');
  assert.match(notAllowed.message, /^anonymous may not start a session with Lab/);

  const byHeader = await JsonSocket.open(t, ws, { headers: { authorization: 'Bearer hmi-token' } });
  const session = await labSession(byHeader);
  assert.equal(await byHeader.ok({ type: 'call', session, method: 'add', args: { a: 1, b: 1 } }), 2);
  const denied = await byHeader.error({ type: 'call', session, method: 'flood', args: { count: 1, size: 1 } });
  assert.equal(denied.code, 'POLICY_DENIED');
  assert.match(denied.message, /hmi may not call Lab "flood"/);

  const byHello = await JsonSocket.open(t, ws);
  assert.equal((await byHello.ok<{ identity: string }>({ type: 'hello', token: 'hmi-token' })).identity, 'hmi');
  assert.equal(await byHello.ok({ type: 'call', session: await labSession(byHello), method: 'add', args: { a: 2, b: 2 } }), 4);
  assert.equal((await byHello.error({ type: 'hello' })).code, 'PROTOCOL', 'hello comes first, once');

  const stats = await byHello.ok<{ policy: { mode: string; denied: number } }>({ type: 'stats' });
  assert.equal(stats.policy.mode, 'enforced');
  assert.ok(stats.policy.denied >= 2, `denials are counted: ${JSON.stringify(stats.policy)}`);

  assert.equal((await upgrade(ws, { authorization: 'Bearer wrong' })).status, 401, 'an unknown header token is refused before the upgrade');
  const wrongHello = await JsonSocket.open(t, ws);
  assert.equal((await wrongHello.error({ type: 'hello', token: 'wrong' })).code, 'UNAUTHORIZED');
  const closed = await wrongHello.closed;
  assert.equal(closed.code, 4401);
  assert.match(closed.reason, /^UNAUTHORIZED: /);
});

test('bad messages get an error naming the field and the socket stays usable; an oversized one closes it with 1009', async (t) => {
  const { ws } = await gateway(t);
  const socket = await JsonSocket.open(t, ws);
  const raw = (text: string | Buffer) => {
    const before = socket.replies.length;
    socket.ws.send(text);
    return (async () => {
      const deadline = Date.now() + 5000;
      while (socket.replies.length === before && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
      return socket.replies[before];
    })();
  };
  assert.match((await raw('{"id": 1, "type": "call",')).error!.message, /not valid JSON/);
  assert.match((await raw('[1, 2]')).error!.message, /must be a JSON object/);
  assert.match((await raw('{"type": "services"}')).error!.message, /the field "id" is missing/);
  assert.equal((await raw(Buffer.from([0x82, 0xa4]))).error!.code, 'PROTOCOL', 'binary frames are for the MessagePack protocol');
  const unknown = await socket.error({ type: 'launch' });
  assert.equal(unknown.code, 'PROTOCOL');
  assert.match(unknown.message, /unknown message type "launch" \(one of hello, services/);
  const noSession = await socket.error({ type: 'call', method: 'add' });
  assert.deepEqual([noSession.code, noSession.details?.field], ['BAD_ARGUMENT', 'session']);
  assert.match(noSession.message, /the field "session" is missing; call takes session \(string\), method \(string\), args\? \(object\)/);
  const session = await labSession(socket);
  assert.match((await socket.error({ type: 'call', session, method: 'add', args: [1, 2] })).message, /the field "args" must be an object/);
  assert.match((await socket.error({ type: 'subscribe', session, kind: 'everything' })).message, /the field "kind" must be "event" or "data"/);
  assert.match((await socket.error({ type: 'stats', watch: 'yes' })).message, /the field "watch" must be true or false/);
  assert.equal(await socket.ok({ type: 'call', session, method: 'add', args: { a: 20, b: 22 } }), 42, 'still usable');

  socket.ws.send(JSON.stringify({ id: 99, type: 'call', session, method: 'add', args: { a: 'x'.repeat(1_100_000), b: 1 } }));
  assert.equal((await socket.closed).code, 1009);
  const next = await JsonSocket.open(t, ws);
  assert.equal(await next.ok({ type: 'call', session: await labSession(next), method: 'add', args: { a: 1, b: 2 } }), 3, 'the server is fine');
});

/** Resident memory of a process, from /proc. */
function rssBytes(pid: number): number {
  const kb = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return Number(kb?.[1] ?? 0) * 1024;
}

test('a browser that never reads is closed as a slow consumer: memory stays bounded and the server keeps answering others', async (t) => {
  const { server, ws } = await gateway(t);
  const pid = server.proc.child.pid!;
  const slow = await JsonSocket.open(t, ws);
  const slowSession = await labSession(slow);
  await slow.ok({ type: 'subscribe', session: slowSession, kind: 'event', name: 'tick' });
  // The tab stops reading: everything the server sends now piles up in the kernel, then in the server.
  (slow.ws as unknown as { _socket: Socket })._socket.pause();

  const fast = await JsonSocket.open(t, ws);
  const fastSession = await labSession(fast);
  await fast.ok({ type: 'stats', watch: true });
  const before = rssBytes(pid);
  let peak = before;
  // 16 bursts of 100 events of 64 KiB: 100 MiB for the slow socket, far above what the server may hold.
  for (let burst = 0; burst < 16; burst++) {
    const started = Date.now();
    assert.equal(await fast.ok({ type: 'call', session: fastSession, method: 'flood', args: { count: 100, size: 65_536 } }, 10_000), 100);
    assert.equal(await fast.ok({ type: 'call', session: fastSession, method: 'add', args: { a: burst, b: 1 } }), burst + 1);
    assert.ok(Date.now() - started < 5000, `burst ${burst} took ${Date.now() - started} ms: the server stays responsive`);
    peak = Math.max(peak, rssBytes(pid));
  }
  t.diagnostic(`server memory grew by ${Math.round((peak - before) / 1048576)} MiB at most`);
  assert.ok(peak - before < 64 * 1024 * 1024, `the server grew by ${Math.round((peak - before) / 1048576)} MiB while pushing 100 MiB to a socket that never reads`);
  await fast.push((p) => p.type === 'stats' && ((p.stats as { health?: { slowConsumersClosed: number } }).health?.slowConsumersClosed ?? 0) >= 1, 5000);

  // Reading again, the tab finds its socket closed by the server.
  (slow.ws as unknown as { _socket: Socket })._socket.resume();
  const closed = await Promise.race([slow.closed, new Promise<never>((_r, reject) => setTimeout(() => reject(new Error('the slow socket was not closed within 10 s')), 10_000))]);
  assert.ok(closed.code === 4429 || closed.code === 1006, `closed with ${closed.code} ${closed.reason}`);
  await server.proc.waitFor(/browser socket closed by the server.*LIMIT_EXCEEDED/, { stream: 'stderr' });
  assert.equal(await fast.ok({ type: 'call', session: fastSession, method: 'add', args: { a: 1, b: 1 } }), 2);
});

test('a server that stops closes its browser sockets with 4503 SERVICE_GONE, promptly', async (t) => {
  const { server, ws } = await gateway(t);
  const socket = await JsonSocket.open(t, ws);
  await labSession(socket);
  const started = Date.now();
  assert.equal(await server.proc.stop(), 0);
  const closed = await socket.closed;
  assert.deepEqual(closed, { code: 4503, reason: 'SERVICE_GONE: the server is shutting down' });
  assert.ok(Date.now() - started < 3000, `stopped in ${Date.now() - started} ms`);
});
