// Kanzi Connect service descriptions brought unchanged (test/fixtures/kanzi: the documentation's examples
// written out), on real processes: `peerway check`, `peerway runner`, and a Node client using their calls,
// events and runtime data, lists included.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { copyFile, mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Collector, connectClient, fixture, runPeerway, startRunner, startServer } from '../helpers/harness.js';
import type { DataChange, ServiceEvent } from '../../src/client/session.js';
import { startPeerway } from '../../src/cli/peerway-process.js';
import { eventually, httpServer, request, SseStream } from '../http/http-helpers.js';

const kanzi = (name: string) => fixture('kanzi', name);
const CORPUS = readdirSync(fixture('kanzi'))
  .filter((f) => f.endsWith('.xml'))
  .sort()
  .map(kanzi);

async function tempDir(t: TestContext): Promise<string> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'peerway-kanzi-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

/** One server and one runner hosting the whole corpus (persistence off: these tests are not about it). */
async function corpus(t: TestContext) {
  const server = await startServer(t);
  const runner = await startRunner(t, server.url, CORPUS, ['--no-persist']);
  const client = await connectClient(t, server.url);
  return { server, runner, client };
}

test('every description of the Kanzi Connect corpus passes peerway check, with warnings only', async () => {
  const r = await runPeerway(['check', ...CORPUS]);
  assert.equal(r.code, 0, r.stdout + r.stderr);
  for (const file of CORPUS) assert.match(r.stdout, new RegExp(`^${file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: ok: service \\w+`, 'm'));
  // The _interface.xml files find their implementation without the suffix.
  assert.match(r.stdout, /Engine_interface\.xml: ok: service Engine, 2 method\(s\), 1 event\(s\), 3 runtime-data value\(s\), 0 route\(s\); implementation .*Engine\.mjs$/m);
  assert.match(r.stdout, /Input_interface\.xml: ok: service Input, .*; implementation .*Input\.mjs$/m);
  const warnings = r.stdout.split('\n').filter((l) => l.includes(': warning: '));
  assert.ok(warnings.length > 0);
  for (const w of warnings) assert.match(w, /is kept but not honoured/);
});

test('the corpus runs under peerway runner: the attributes Peerway does not act on warn once, and the runner carries on', async (t) => {
  const { server, runner } = await corpus(t);
  const stderr = runner.stderr();
  assert.equal(stderr.split('controller="Input"').length - 1, 1, `one warning for all the controller attributes of a file:\n${stderr}`);
  assert.match(stderr, /Engine_interface\.xml:11:\d+: warning: controller="Input" on <speed> is kept but not honoured: .*\(the same for 1 more use in this file\)/);
  assert.match(stderr, /Engine_interface\.xml:7:\d+: warning: type="simulated" on <service> is kept but not honoured/);
  const services = await runPeerway(['services', '--server', server.url, '--json']);
  assert.equal(services.code, 0, services.stderr);
  const names = services.stdout.trim().split('\n').map((l) => (JSON.parse(l) as { name: string }).name).sort();
  assert.deepEqual(names, ['DataExample', 'Engine', 'Input', 'Mixed', 'Settings', 'UserDirectory']);
  const describe = await runPeerway(['describe', '--server', server.url, 'Engine']);
  assert.equal(describe.code, 0, describe.stderr);
  assert.match(describe.stdout, /^service Engine\n {2}fullname: Connect\.Service\.Engine\n {2}version: 0\.1\n {2}description: Engine telemetry\n {2}namespace: connect_demo\n {2}package: engine_service\n {2}type: simulated\n/);
  assert.match(describe.stdout, /\n {4}speed: float = 0 \(controller Input\)\n {4}rpm: int = 800 \(controller Input\)\n {4}odometer: float = 0 \(persistent\)\n/);
});

test('Engine (an _interface.xml with datatype leaves) serves calls, events and runtime data', async (t) => {
  const { client } = await corpus(t);
  const s = await client.startSession('Engine');
  const changes = new Collector<DataChange>();
  const events = new Collector<ServiceEvent>();
  const { snapshot } = await s.watch('engine', changes.push);
  assert.deepEqual(snapshot, { speed: 0, rpm: 800, odometer: 0 });
  await s.onEvent('serviceDue', events.push);
  assert.equal(await s.call('drive', { kilometres: 60, speed: 50 }), 60);
  assert.equal(await s.call('drive', { kilometres: 60, speed: 100 }), 120);
  const [due] = await events.next(1);
  assert.deepEqual(due.args, { odometer: 120 });
  await changes.next(6);
  assert.deepEqual(s.data.get('engine'), { speed: 100, rpm: 3800, odometer: 120 });
  await s.call('idle');
  const all = await changes.next(7);
  assert.deepEqual(all.at(-1)?.path, 'engine');
  assert.deepEqual(s.data.get('engine'), { speed: 0, rpm: 800, odometer: 120 });
});

test('UserDirectory: a datatype="list" is set whole by the service and watched over the binary protocol, element by element too', async (t) => {
  const { client } = await corpus(t);
  const s = await client.startSession('UserDirectory');
  const list = new Collector<DataChange>();
  const element = new Collector<DataChange>();
  const events = new Collector<ServiceEvent>();
  const { snapshot } = await s.watch('current_user.subordinates', list.push);
  assert.deepEqual(snapshot, []);
  await s.onEvent('teamChanged', events.push);
  assert.equal(await s.call('addSubordinate', { useridentifier: 7, username: 'ann' }), 1);
  // Peerway's indexed paths (an extension: Kanzi Connect does not address list elements) reach into the list.
  const first = await s.watch('current_user.subordinates.0.username', element.push);
  assert.equal(first.snapshot, 'ann');
  assert.equal(await s.call('addSubordinate', { useridentifier: 8, username: 'bo' }), 2);
  await list.next(2);
  assert.deepEqual(list.items.map((c) => c.value), [[{ useridentifier: 7, username: 'ann' }], [{ useridentifier: 7, username: 'ann' }, { useridentifier: 8, username: 'bo' }]]);
  assert.equal(s.data.get('current_user.subordinates.1.username'), 'bo');
  const got = await events.next(2);
  assert.deepEqual(got.map((e) => e.args.usernames), [['ann'], ['ann', 'bo']]);
  await element.next(1); // the whole list was written, which touches its first element
  await s.call('setMobile', { mobile: '555-0000' });
  const whole = await s.watch('', () => undefined);
  assert.deepEqual((whole.snapshot as { current_user: Record<string, unknown> }).current_user, {
    userid: 42,
    username: 'inactive',
    quota: 0,
    administrator: false,
    phone: { mobile: '555-0000', office: '555-4321' },
    subordinates: [
      { useridentifier: 7, username: 'ann' },
      { useridentifier: 8, username: 'bo' },
    ],
  });
});

test('DataExample: name= overrides the key, and a list is replaced from a repeated custom-type argument', async (t) => {
  const { client } = await corpus(t);
  const s = await client.startSession('DataExample');
  const { snapshot } = await s.watch('data', () => undefined);
  assert.deepEqual(snapshot, {
    somenumber: 13,
    somereal: 0,
    name_override: false,
    somestring: 'default value',
    someobject: { innernumber: 17 },
    somelist: [],
  });
  assert.equal(await s.call('setFlag', { value: true }), true);
  const entries = [
    { useridentifier: 1, username: 'a' },
    { useridentifier: 2, username: 'b' },
  ];
  assert.equal(await s.call('replaceList', { entries }), 2);
  const after = await (await client.startSession('DataExample')).watch('data', () => undefined);
  assert.equal((after.snapshot as Record<string, unknown>).name_override, true);
  assert.deepEqual((after.snapshot as Record<string, unknown>).somelist, entries);
  await assert.rejects(s.call('replaceList', { entries: [{ useridentifier: 'x', username: 'c' }] }), { code: 'BAD_ARGUMENT', message: /entries".* at \[0\]\.useridentifier must be int/ });
});

test('Input: custom types, "repeated string" arguments and binary reach the service and come back in events', async (t) => {
  const { client } = await corpus(t);
  const s = await client.startSession('Input');
  const touched = new Collector<ServiceEvent>();
  const raw = new Collector<ServiceEvent>();
  await s.onEvent('touched', touched.push);
  await s.onEvent('raw', raw.push);
  const touches = [
    { id: 1, position: { x: 10, y: 20 }, pressed: true },
    { id: 2, position: { x: 30.5, y: 40 }, pressed: false },
  ];
  assert.equal(await s.call('inject', { touches, tags: ['left', 'double'] }), 2);
  const got = await touched.next(2);
  assert.deepEqual(got.map((e) => e.args), touches.map((touch) => ({ touch, tags: ['left', 'double'] })));
  await s.call('sendRaw', { payload: Uint8Array.from([0, 1, 254]) });
  const [bytes] = await raw.next(1);
  assert.deepEqual(Uint8Array.from(bytes.args.payload as Uint8Array), Uint8Array.from([0, 1, 254]));
  const { snapshot } = await s.watch('', () => undefined);
  assert.deepEqual(snapshot, { pointer: { x: 30.5, y: 40, pressed: false, label: 'left,double' }, count: 2 });
  await assert.rejects(s.call('inject', { touches, tags: 'left' }), { code: 'BAD_ARGUMENT', message: /argument "tags" must be list of string/ });
});

test('a mixed type= / datatype= file serves both kinds of leaves and both spellings of lists', async (t) => {
  const { client } = await corpus(t);
  const s = await client.startSession('Mixed');
  const changes = new Collector<DataChange>();
  const { snapshot } = await s.watch('', changes.push);
  assert.deepEqual(snapshot, { value: 1, cabin: { temperature: 21.5, fan: 2, label: 'cabin' }, zones: [], seats: [], tags: ['a', 'b'] });
  assert.equal(await s.call('setSeats', { count: 2 }), 2);
  await s.call('setFan', { level: 4 });
  await changes.next(2);
  assert.deepEqual(s.data.get('seats'), [
    { occupied: true, heat: 0 },
    { occupied: false, heat: 0 },
  ]);
  assert.equal(s.data.get('cabin.fan'), 4);
});

test('MyService_interface.xml finds MyService.mjs for the runner and check, and both name the two candidates when there is none', async (t) => {
  const dir = await tempDir(t);
  // A copy with its implementation beside it under the plain name, then one without any implementation.
  await copyFile(kanzi('Engine_interface.xml'), path.join(dir, 'Engine_interface.xml'));
  await copyFile(kanzi('Engine.mjs'), path.join(dir, 'Engine.mjs'));
  await copyFile(kanzi('Settings.xml'), path.join(dir, 'Lonely_interface.xml'));
  const ok = await runPeerway(['check', path.join(dir, 'Engine_interface.xml')]);
  assert.equal(ok.code, 0, ok.stdout);
  assert.match(ok.stdout, new RegExp(`; implementation ${path.join(dir, 'Engine.mjs').replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}$`, 'm'));

  const lonely = path.join(dir, 'Lonely_interface.xml');
  const missing = await runPeerway(['check', lonely]);
  assert.equal(missing.code, 2, missing.stdout);
  const base = path.join(dir, 'Lonely');
  assert.ok(missing.stdout.includes(`looked for ${base}_interface.js, ${base}_interface.mjs, ${base}_interface.cjs, ${base}_interface.ts, ${base}_interface.mts, ${base}_interface.cts, ${base}.js, ${base}.mjs,`), missing.stdout);

  const server = await startServer(t);
  const runner = startPeerway(['runner', '--server', server.url, '--no-persist', lonely]);
  t.after(() => runner.stop());
  assert.equal(await runner.exited, 2);
  assert.ok(runner.stderr().includes(`no implementation for ${lonely}: looked for ${base}_interface.js,`), runner.stderr());
  assert.ok(runner.stderr().includes(`${base}.mjs, ${base}.cjs, ${base}.ts`), runner.stderr());

  const engine = await startRunner(t, server.url, [path.join(dir, 'Engine_interface.xml')], ['--no-persist']);
  assert.match(engine.stdout(), /registered Engine with/);
  const client = await connectClient(t, server.url);
  assert.equal(await (await client.startSession('Engine')).call('drive', { kilometres: 1, speed: 2 }), 1);
});

test('the server loads a Kanzi Connect description in-process, _interface.xml naming included', async (t) => {
  const server = await startServer(t, ['--no-persist', '--service', kanzi('Engine_interface.xml'), '--service', kanzi('UserDirectory.xml')]);
  assert.match(server.proc.stderr(), /warning: controller="Input" on <speed> is kept but not honoured/);
  const client = await connectClient(t, server.url);
  const s = await client.startSession('UserDirectory');
  assert.equal(await s.call('addSubordinate', { useridentifier: 1, username: 'x' }), 1);
  const { snapshot } = await s.watch('current_user.subordinates', () => undefined);
  assert.deepEqual(snapshot, [{ useridentifier: 1, username: 'x' }]);
  assert.equal(await (await client.startSession('Engine')).call('drive', { kilometres: 5, speed: 1 }), 5);
});

test('UserDirectory over HTTP: a list set by a Kanzi invoke shows in /serviceruntimedata as Kanzi writes it, in /api with JSON types, and in a watch', async (t) => {
  const server = await httpServer(t);
  await startRunner(t, server.url, [kanzi('UserDirectory.xml')], ['--no-persist']);
  const watch = await SseStream.open(t, `${server.base}/api/services/UserDirectory/runtime-data?watch&path=current_user.subordinates`);
  await watch.until((s) => s.named('snapshot').length === 1, 'the snapshot');
  assert.deepEqual(watch.named('snapshot'), [{ path: 'current_user.subordinates', value: [] }]);
  const added = await request<{ status: string; type: string; value: unknown }>(`${server.base}/serviceinvoke/UserDirectory/method/addSubordinate?useridentifier=7&username=ann`);
  assert.deepEqual(added.body, { status: 'OK', type: 'int', value: '1' });
  const kanziCopy = await eventually(
    async () => (await request<{ current_user: { subordinates: unknown[]; administrator: string; quota: string } }>(`${server.base}/serviceruntimedata/UserDirectory`)).body.current_user,
    (c) => c.subordinates.length === 1,
    'the list element in the server copy',
  );
  assert.deepEqual(kanziCopy.subordinates, [{ useridentifier: '7', username: 'ann' }]);
  assert.deepEqual([kanziCopy.administrator, kanziCopy.quota], ['0', '0.000000']);
  const api = await request<{ value: unknown }>(`${server.base}/api/services/UserDirectory/runtime-data?path=current_user.subordinates`);
  assert.deepEqual(api.body, { path: 'current_user.subordinates', value: [{ useridentifier: 7, username: 'ann' }] });
  await watch.until((s) => s.named('change').length === 1, 'the change');
  assert.deepEqual(watch.named('change'), [{ path: 'current_user.subordinates', value: [{ useridentifier: 7, username: 'ann' }] }]);
});
