import { test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFile, mkdtemp, readFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { example, fixture, runPeerway, startRunner, startServer } from '../helpers/harness.js';
import { startPeerway } from '../../src/cli/peerway-process.js';

const TYPES = fixture('definitions', 'types.xml');

test('peerway call prints the result as JSON and exits 0', async (t) => {
  const server = await startServer(t);
  await startRunner(t, server.url, [TYPES]);
  const add = await runPeerway(['call', '--server', server.url, 'Types', 'add', 'a=2', 'b=40']);
  assert.equal(add.code, 0, add.stderr);
  assert.equal(add.stdout, '42\n');
  const point = await runPeerway(['call', '--server', server.url, 'Types', 'echoPoint', 'value={"x":1,"y":2,"label":"p"}']);
  assert.deepEqual(JSON.parse(point.stdout), { x: 1, y: 2, label: 'p' });
  const big = await runPeerway(['call', '--server', server.url, 'Types', 'echoInt64', 'value=9223372036854775807']);
  assert.equal(big.stdout, '"9223372036854775807"\n');
  const json = await runPeerway(['call', '--server', server.url, 'Types', 'add', '--json', '{"a":1,"b":2}']);
  assert.equal(json.stdout, '3\n');
});

test('peerway call reports bad arguments with exit 2 and runtime failures with exit 1', async (t) => {
  const server = await startServer(t, ['--service', TYPES]);
  const bad = await runPeerway(['call', '--server', server.url, 'Types', 'add', 'a=two', 'b=1']);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /\[BAD_ARGUMENT\].*argument "a" must be int/);
  const notPair = await runPeerway(['call', '--server', server.url, 'Types', 'add', 'a']);
  assert.equal(notPair.code, 2);
  assert.match(notPair.stderr, /not name=value; Types\.add takes a=<int> b=<int>/);
  const missing = await runPeerway(['call', '--server', server.url, 'Nope', 'x']);
  assert.equal(missing.code, 1);
  assert.match(missing.stderr, /\[SERVICE_NOT_FOUND\]/);
  const threw = await runPeerway(['call', '--server', server.url, 'Types', 'fail', 'message=kaput']);
  assert.equal(threw.code, 1);
  assert.match(threw.stderr, /\[IMPLEMENTATION_ERROR\].*kaput/);
});

test('peerway call to a server that is not there fails with exit 1 and says so', async () => {
  const r = await runPeerway(['call', '--server', 'tcp://127.0.0.1:1', 'X', 'y', '--timeout', '2000']);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /\[CONNECT_FAILED\]: cannot connect to tcp:\/\/127\.0\.0\.1:1: connection refused/);
});

test('usage errors exit 2 with a hint', async () => {
  const r = await runPeerway(['call', '--server', 'nonsense://x', 'A', 'b']);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /unknown URL scheme "nonsense:\/\/"/);
  const unknown = await runPeerway(['frobnicate']);
  assert.equal(unknown.code, 2);
  const help = await runPeerway(['watch', '--help']);
  assert.equal(help.code, 0);
  assert.match(help.stdout, /"route" says how the message arrived/);
});

test('peerway watch prints the initial runtime data, then changes and events, one JSON object per line', async (t) => {
  const server = await startServer(t);
  await startRunner(t, server.url, [TYPES]);
  const watch = startPeerway(['watch', '--server', server.url, 'Types', '--path', 'position', '--count', '4']);
  t.after(() => watch.stop());
  await watch.waitFor(/"path":"position\.y".*\n/);
  const set = await runPeerway(['call', '--server', server.url, 'Types', 'setPosition', 'x=5', 'y=6']);
  assert.equal(set.code, 0, set.stderr);
  await runPeerway(['call', '--server', server.url, 'Types', 'emitPing', 'count=1']);
  assert.equal(await watch.exited, 0, watch.stderr());
  const lines = watch.stdout().trim().split('\n').map((l) => JSON.parse(l) as unknown);
  assert.deepEqual(lines, [
    { kind: 'runtime-data', path: 'position.x', value: 1.5, route: 'server', initial: true },
    { kind: 'runtime-data', path: 'position.y', value: 0, route: 'server', initial: true },
    { kind: 'runtime-data', path: 'position', value: { x: 5, y: 6 }, route: 'server' },
    { kind: 'event', name: 'ping', args: { seq: 1, note: 'ping 1' }, route: 'server' },
  ]);
});

test('peerway watch exits 1 with SERVICE_GONE when the runner goes away and does not come back within --restore-timeout', async (t) => {
  const server = await startServer(t);
  const runner = await startRunner(t, server.url, [TYPES]);
  const watch = startPeerway(['watch', '--server', server.url, 'Types', '--path', 'count', '--restore-timeout', '500']);
  t.after(() => watch.stop());
  await watch.waitFor(/"initial":true/); // subscribed: now the runner may go
  runner.child.kill('SIGKILL');
  assert.equal(await watch.exited, 1);
  assert.match(watch.stderr(), /\[SERVICE_GONE\]/);
});

test('peerway check prints file:line:col errors with exit 2, and ok lines with exit 0', async () => {
  const good = await runPeerway(['check', example('climate.xml'), example('forked-runtime-data.xml')]);
  assert.equal(good.code, 0, good.stdout + good.stderr);
  assert.match(good.stdout, /climate\.xml: ok: service Climate, 3 method\(s\), 2 event\(s\)/);
  assert.match(good.stdout, /note: <routing> applies when the service runs in a runner; it is ignored when the server loads it in-process/);
  const seed = fixture('definitions', 'seed-forked-runtime-data.xml');
  const bad = await runPeerway(['check', seed]);
  assert.equal(bad.code, 2);
  assert.match(bad.stdout, /seed-forked-runtime-data\.xml:\d+:\d+: .*U\+201D/);
  const missing = await runPeerway(['check', '/nonexistent/x.xml']);
  assert.equal(missing.code, 2);
  assert.match(missing.stdout + missing.stderr, /\/nonexistent\/x\.xml/);
});

test('peerway check --fix rewrites typographic quotes in place', async () => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'peerway-check-'));
  const file = path.join(dir, 'seed.xml');
  await copyFile(fixture('definitions', 'seed-forked-runtime-data.xml'), file);
  const r = await runPeerway(['check', '--fix', file]);
  assert.match(r.stdout, /fixed \d+ typographic quote/);
  const text = await readFile(file, 'utf8');
  assert.doesNotMatch(text, /[”“]/);
  assert.doesNotMatch(r.stdout, /U\+201D/);
});

test('the runner says the server went away, retries, and registers again when it is back', async (t) => {
  const server = await startServer(t);
  const runner = await startRunner(t, server.url, [TYPES], ['--log-level', 'info']);
  server.proc.child.kill('SIGKILL');
  await runner.waitFor(/server went away/, { stream: 'stderr' });
  await runner.waitFor(/cannot reach the server; retrying/, { stream: 'stderr' });
  // A new server on the same port: the runner finds it by itself.
  const again = startPeerway(['server', '--listen', server.url]);
  t.after(() => again.stop());
  await again.waitFor(/listening/);
  await runner.waitFor(/re-registered after reconnect/, { stream: 'stderr', timeoutMs: 10_000 });
  const call = await runPeerway(['call', '--server', server.url, 'Types', 'add', 'a=1', 'b=2']);
  assert.equal(call.stdout, '3\n');
});

test('peerway demo runs a server, a runner and a client, prints what it sees and stops cleanly', async () => {
  const r = await runPeerway(['demo', '--duration', '1500'], { timeoutMs: 30_000 });
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /server listening on tcp:\/\/127\.0\.0\.1:\d+/);
  assert.match(r.stdout, /runner registered Climate/);
  assert.match(r.stdout, /Climate \(remote, /);
  assert.match(r.stdout, /Vehicle \(in-process, /);
  assert.match(r.stdout, /setTemperature\(zone=1, celsius=31\.5\)…\n {2}→ true/);
  assert.match(r.stdout, /method:setTemperature +direct, link reliable/);
  assert.match(r.stdout, /method:getTemperature +via the server/);
  assert.match(r.stdout, /\[Climate\] runtime data cabin\.temperature = [\d.]+ {3}\(route: direct, link rt_link\)/);
  assert.match(r.stdout, /\[Vehicle\] runtime data speed = [\d.]+ {3}\(route: server\)/);
  assert.match(r.stdout, /The server's copy of Climate's runtime data: \{"cabin":\{"temperature":[\d.]+/);
  assert.match(r.stdout, /Server relay counters for Climate: 1 call\(s\)/);
  assert.match(r.stdout, /Demo stopped\./);
});
