import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { PeerwayError } from '../../src/errors.js';
import { PEERWAY_BIN } from '../../src/cli/peerway-process.js';
import { connect } from '../../src/client/client.js';
import { PeerwayRunner } from '../../src/runner/runner.js';
import { loadService } from '../../src/service/load-service.js';
import { PROTOCOL_VERSION, type Message } from '../../src/wire/messages.js';
import { connectClient, fixture, runPeerway, startRunner, startServer } from '../helpers/harness.js';
import { RawPeer } from '../helpers/raw-peer.js';

/** What a new user, an embedder and an outside client hit in their first hour (issue "The first hour"). */

const TYPES = fixture('definitions', 'types.xml');
const LAB = fixture('p2p', 'lab.xml');
const BUGGY = fixture('definitions', 'buggy.xml');

/** A client that speaks only what docs/protocol.md lists: hello, start, subscribe, call; never `ready`. */
async function docOnlyClient(port: number, service: string) {
  const raw = await RawPeer.connect(port);
  const started = (await raw.request({ type: 'start', service, client: { bearers: [], host: 'elsewhere', version: PROTOCOL_VERSION } })) as { value: { session: string } };
  const session = started.value.session;
  const subscribed = await raw.request({ type: 'subscribe', session, kind: 'event' });
  assert.equal(subscribed.type, 'reply');
  const events = () => raw.received.filter((m): m is Extract<Message, { type: 'event' }> => m.type === 'event');
  return { raw, session, events };
}

test('a client that never sends ready still receives every event, with and without <routing>', async (t) => {
  const server = await startServer(t);
  await startRunner(t, server.url, [TYPES, LAB]);
  for (const [service, trigger, args, name] of [
    ['Types', 'emitPing', { count: 3 }, 'ping'],
    ['Lab', 'emitTicks', { count: 3 }, 'tick'],
  ] as const) {
    const { raw, session, events } = await docOnlyClient(server.port, service);
    t.after(() => raw.close());
    const answer = await raw.request({ type: 'call', session, method: trigger, args });
    assert.equal(answer.type, 'reply', JSON.stringify(answer));
    await raw.until(() => events().length === 3, `three ${name} events`);
    assert.deepEqual(events().map((e) => [e.name, e.args.seq]), [[name, 1], [name, 2], [name, 3]]);
  }
});

/** A temp package without "type": "module" (npm's default, so .ts files load as CommonJS) holding `files`. */
function commonJsPackage(t: TestContext, files: Record<string, string>): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'peerway-cjs-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(path.join(dir, 'package.json'), JSON.stringify({ name: 'my-service', version: '1.0.0' }));
  for (const [name, text] of Object.entries(files)) writeFileSync(path.join(dir, name), text);
  return dir;
}

test('a .ts service in a package without "type": "module" (npm\'s default) is hosted by peerway runner', async (t) => {
  const dir = commonJsPackage(t, {
    'calc.xml': '<service name="CjsCalc"><methods><method name="add" returns="int"><argument name="a" type="int"/><argument name="b" type="int"/></method></methods></service>',
    'calc.ts': 'interface Args { a: number; b: number }\nconst impl = { methods: { add: ({ a, b }: Args): number => a + b } };\nexport default impl;\n',
  });
  const server = await startServer(t);
  await startRunner(t, server.url, [path.join(dir, 'calc.xml')]);
  const s = await (await connectClient(t, server.url)).startSession('CjsCalc');
  assert.equal(await s.call('add', { a: 2, b: 3 }), 5);
});

test('a .ts service with a syntax error in such a package stops the runner at file:line:col, not with a module-cycle error', async (t) => {
  const dir = commonJsPackage(t, {
    'broken.xml': '<service name="Broken"><methods><method name="m" returns="int"/></methods></service>',
    'broken.ts': 'export default {\n  methods: { m: () => 1 +; },\n};\n',
  });
  // Loaded before any connection: the server address need not answer.
  const r = await runPeerway(['runner', '--server', 'tcp://127.0.0.1:9', path.join(dir, 'broken.xml')]);
  assert.equal(r.code, 2, r.stdout + r.stderr);
  assert.match(r.stderr, new RegExp(`cannot load implementation ${path.join(dir, 'broken.ts').replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: .*\\n?.*broken\\.ts:2:\\d+: ERROR: Unexpected ";"`));
  assert.doesNotMatch(r.stderr, /cycle|Cannot require|INTERNAL/);
});

test('Ctrl-C to the demo\'s process group stops it cleanly: exit 0 and no error', async () => {
  const demo = spawn(process.execPath, [PEERWAY_BIN, 'demo'], { detached: true, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, PEERWAY_LOG_LEVEL: 'warn' } });
  let out = '';
  let err = '';
  demo.stdout.on('data', (c: Buffer) => (out += c.toString()));
  demo.stderr.on('data', (c: Buffer) => (err += c.toString()));
  const exited = new Promise<number | null>((resolve) => demo.once('exit', (code) => resolve(code)));
  const deadline = Date.now() + 20_000;
  while (!out.includes('Press Ctrl-C to stop') && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  assert.ok(out.includes('Press Ctrl-C to stop'), out + err);
  process.kill(-demo.pid!, 'SIGINT'); // what a terminal does: the whole foreground process group
  const timer = setTimeout(() => process.kill(-demo.pid!, 'SIGKILL'), 15_000);
  const code = await exited;
  clearTimeout(timer);
  assert.equal(code, 0, err);
  assert.match(out, /Demo stopped\.\n$/);
  assert.doesNotMatch(out + err, /error|CONNECT_FAILED|CONNECTION_CLOSED/i);
});

test('a service that breaks its own definition gets IMPLEMENTATION_ERROR, is logged, and never brings its runner down', async (t) => {
  const server = await startServer(t);
  const runner = await startRunner(t, server.url, [BUGGY]);
  const s = await (await connectClient(t, server.url)).startSession('Buggy');
  await assert.rejects(s.call('badSet'), (e: PeerwayError) => e.code === 'IMPLEMENTATION_ERROR' && /^Buggy\.badSet: service\.set\("n"\) of Buggy failed: .*int.*"x"/.test(e.message));
  await assert.rejects(s.call('badEmit'), (e: PeerwayError) => e.code === 'IMPLEMENTATION_ERROR' && /service\.emit\("nope"\) of Buggy failed: service Buggy has no event "nope"/.test(e.message));
  await runner.waitFor(/method broke its definition .*"service":"Buggy","method":"badSet"/, { stream: 'stderr' });
  await s.call('badSetLater');
  await runner.waitFor(/a service broke its definition outside a method \(uncaught exception\); ignored/, { stream: 'stderr' });
  assert.equal(runner.child.exitCode, null, 'the runner is alive');
  assert.equal(await s.call('ok'), 1);
});

test('a client or runner pointed at an HTTP port is told what the port is, and the runner stops instead of retrying', async (t) => {
  const web = http.createServer((_req, res) => res.end('hello'));
  await new Promise<void>((resolve) => web.listen(0, '127.0.0.1', resolve));
  t.after(() => new Promise((resolve) => web.close(resolve)));
  const url = `tcp://127.0.0.1:${(web.address() as AddressInfo).port}`;
  await assert.rejects(connect(url, { connectTimeoutMs: 5000 }), (e: PeerwayError) => e.code === 'PROTOCOL' && /answered in HTTP: it is a web server or a WebSocket endpoint/.test(e.message));
  const runner = await runPeerway(['runner', '--server', url, TYPES], { timeoutMs: 15_000 });
  assert.notEqual(runner.code, 0);
  assert.notEqual(runner.code, 'SIGTERM', 'it stopped by itself');
  assert.match(runner.stderr, /answered in HTTP/);
  assert.doesNotMatch(runner.stderr, /retrying/);
});

test('a client whose message is above the server\'s limit is told so, over tcp and ws, not just "closed by peer"', async (t) => {
  const server = await startServer(t, ['--listen', 'ws://127.0.0.1:0/peerway', '--max-message-bytes', '20000']);
  const m = await server.proc.waitFor(/listening connect\.bearer\.ws (\S+)/);
  await startRunner(t, server.url, [TYPES]);
  const viaWs = await connect(`ws://${m[1]}`, { timeoutMs: 5000 });
  t.after(() => viaWs.close());
  const s = await viaWs.startSession('Types');
  await assert.rejects(s.call('echoString', { value: 'x'.repeat(50_000) }), (e: PeerwayError) => e.code === 'FRAME_TOO_LARGE' && /refused a message above its size limit \(WebSocket close 1009/.test(e.message));
  const viaTcp = await (await connectClient(t, server.url)).startSession('Types');
  await assert.rejects(viaTcp.call('echoString', { value: 'x'.repeat(50_000) }), (e: PeerwayError) => e.code === 'FRAME_TOO_LARGE' && /above the limit of 20000 bytes/.test(e.message));
});

test('a runner whose definition can never fit the server\'s message limit stops with the reason instead of retrying', async (t) => {
  const server = await startServer(t, ['--max-message-bytes', '1000']);
  const runner = await runPeerway(['runner', '--server', server.url, TYPES], { timeoutMs: 15_000 });
  assert.notEqual(runner.code, 'SIGTERM', 'it stopped by itself');
  assert.match(runner.stderr, /FRAME_TOO_LARGE.*above the limit of 1000 bytes/);
});

test('an embedder that forgets to start its services gets a runner that starts them', async (t) => {
  const server = await startServer(t);
  const runtime = await loadService(TYPES); // not started
  const runner = new PeerwayRunner({ server: { bearer: 'connect.bearer.tcp', host: '127.0.0.1', port: server.port }, services: [runtime] });
  t.after(() => runner.stop());
  await runner.start();
  const s = await (await connectClient(t, server.url)).startSession('Types');
  await s.call('emitPing', { count: 1 }); // needs start(): it keeps the service API it is given there
  assert.equal(await s.call('add', { a: 1, b: 1 }), 2);
});
