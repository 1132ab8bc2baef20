// The CLI a new user meets in the first hour (describe, call without a method, misspelt names, watch --wait,
// services, flags over PEERWAY_* variables, check with implementations and routes), on real processes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { example, fixture, runPeerway, startRunner, startServer } from '../helpers/harness.js';
import { startPeerway } from '../../src/cli/peerway-process.js';

const TYPES = fixture('definitions', 'types.xml');
const cli = (name: string) => fixture('cli', name);

test('peerway describe prints the methods, events, types and runtime data of a service, as text and as --json', async (t) => {
  const server = await startServer(t, ['--service', TYPES]);
  const text = await runPeerway(['describe', '--server', server.url, 'Types']);
  assert.equal(text.code, 0, text.stderr);
  const out = text.stdout;
  assert.match(out, /^service Types\n {2}version: 1\n {2}location: in-process\n/);
  assert.match(out, /\ntypes:\n {2}Point \{ x: float, y: float, label: string \}\n {2}Shape \{ name: string, points: Point\[\] \}\n/);
  assert.match(out, /\nmethods:\n {2}echoBool\(value: bool\): bool\n/);
  assert.match(out, /\n {2}add\(a: int, b: int\): int\n/);
  assert.match(out, /\n {2}echoInts\(value: int\[\]\): int\[\]\n/);
  assert.match(out, /\n {2}nothing\(\): void\n/);
  assert.match(out, /\nevents:\n {2}ping\(seq: int, note: string\)\n/);
  assert.match(out, /\nruntime data:\n {2}flag: bool = true\n {2}count: int = 7\n {2}big: int64 = 9007199254740993\n/);
  assert.match(out, /\n {2}label: string = "hello"\n {2}blob: binary = hex:cafe\n {2}position:\n {4}x: float = 1\.5\n {4}y: float = 0\n {2}history: int\[\] = \[\]\n/);

  const json = await runPeerway(['describe', '--server', server.url, 'Types', '--json']);
  assert.equal(json.code, 0, json.stderr);
  assert.equal(json.stdout.trim().split('\n').length, 1, 'one JSON object on one line');
  const d = JSON.parse(json.stdout) as {
    name: string;
    version: string;
    location: string;
    types: { name: string; fields: { name: string; type: string }[] }[];
    methods: { name: string; arguments: { name: string; type: string }[]; returns: string }[];
    events: { name: string; arguments: { name: string; type: string }[] }[];
    runtimeData: Record<string, unknown>[];
  };
  assert.equal(d.name, 'Types');
  assert.equal(d.version, '1');
  assert.equal(d.location, 'in-process');
  assert.deepEqual(d.types.find((x) => x.name === 'Shape'), { name: 'Shape', fields: [{ name: 'name', type: 'string' }, { name: 'points', type: 'Point[]' }] });
  assert.equal(d.methods.length, 18);
  assert.deepEqual(d.methods.find((m) => m.name === 'add'), { name: 'add', arguments: [{ name: 'a', type: 'int' }, { name: 'b', type: 'int' }], returns: 'int' });
  assert.deepEqual(d.events, [{ name: 'ping', arguments: [{ name: 'seq', type: 'int' }, { name: 'note', type: 'string' }] }]);
  assert.deepEqual(d.runtimeData.find((n) => n.name === 'big'), { name: 'big', path: 'big', type: 'int64', default: '9007199254740993' });
  assert.deepEqual(d.runtimeData.find((n) => n.name === 'position'), {
    name: 'position',
    path: 'position',
    children: [
      { name: 'x', path: 'position.x', type: 'float', default: 1.5 },
      { name: 'y', path: 'position.y', type: 'float', default: 0 },
    ],
  });
});

test('peerway call without a method lists the methods and exits 2 with a usage hint', async (t) => {
  const server = await startServer(t, ['--service', TYPES]);
  const r = await runPeerway(['call', '--server', server.url, 'Types']);
  assert.equal(r.code, 2, r.stderr);
  assert.equal(r.stdout, '', 'nothing on stdout: it holds results only');
  assert.match(r.stderr, /\[USAGE\]: no method given; Types has these methods:\n {2}echoBool\(value: bool\): bool\n/);
  assert.match(r.stderr, /\n {2}add\(a: int, b: int\): int\n/);
  assert.match(r.stderr, /usage: peerway call \[options\] Types <method> \[name=value\.\.\.\]/);
});

test('a misspelt service name gets "did you mean" and exit 2, like a misspelt method', async (t) => {
  const server = await startServer(t, ['--service', TYPES]);
  const service = await runPeerway(['call', '--server', server.url, 'Typse', 'add', 'a=1', 'b=2']);
  const method = await runPeerway(['call', '--server', server.url, 'Types', 'ad', 'a=1', 'b=2']);
  assert.equal(method.code, 2, method.stderr);
  assert.match(method.stderr, /\[METHOD_NOT_FOUND\]: service Types has no method "ad" \(did you mean "add"\?\)/);
  assert.equal(service.code, method.code, service.stderr);
  assert.match(service.stderr, /\[SERVICE_NOT_FOUND\]: no service named "Typse" is registered \(did you mean "Types"\?\); registered: Types/);
  const watch = await runPeerway(['watch', '--server', server.url, 'types']);
  assert.equal(watch.code, 2, watch.stderr);
  assert.match(watch.stderr, /did you mean "Types"\?/);
  // A name like nothing registered is not a typo: the service is not running (yet), a runtime failure.
  const absent = await runPeerway(['call', '--server', server.url, 'Nope', 'x']);
  assert.equal(absent.code, 1, absent.stderr);
  assert.match(absent.stderr, /\[SERVICE_NOT_FOUND\]: no service named "Nope" is registered \(registered: Types\); start its runner first/);
});

test('peerway watch --wait waits for the service to register, then prints its initial data', async (t) => {
  const server = await startServer(t);
  const watch = startPeerway(['watch', '--server', server.url, 'Types', '--wait', '--wait-timeout', '20000', '--path', 'count', '--count', '1']);
  t.after(() => watch.stop());
  await watch.waitFor(/waiting for Types…\n/, { stream: 'stderr' });
  assert.equal(watch.stdout(), '', 'nothing on stdout while waiting');
  await startRunner(t, server.url, [TYPES]);
  assert.equal(await watch.exited, 0, watch.stderr());
  assert.equal(watch.stdout(), '{"kind":"runtime-data","path":"count","value":7,"route":"server","initial":true}\n');
  assert.equal(watch.stderr().match(/waiting for/g)?.length, 1, 'one waiting line, not one per poll');

  const late = await runPeerway(['watch', '--server', server.url, 'Later', '--wait', '--wait-timeout', '600']);
  assert.equal(late.code, 1);
  assert.equal(late.stdout, '');
  assert.match(late.stderr, /\[TIMEOUT\]: service Later was not registered within 600 ms \(registered: Types\)/);
});

test('peerway services prints a table naming each runner by agent and host, and the JSON lines with --json', async (t) => {
  const server = await startServer(t, ['--service', example('vehicle.xml')]);
  const runner = await startRunner(t, server.url, [TYPES]);
  const table = await runPeerway(['services', '--server', server.url]);
  assert.equal(table.code, 0, table.stderr);
  const lines = table.stdout.trimEnd().split('\n');
  assert.match(lines[0], /^NAME +FULLNAME +VERSION +SESSIONS +RUNS IN$/);
  assert.ok(lines.some((l) => /^Vehicle +Demo\.Vehicle +1\.0 +0 +in-process$/.test(l)), table.stdout);
  assert.ok(lines.some((l) => new RegExp(`^Types +- +1 +0 +peerway-runner/${runner.child.pid} on 127\\.0\\.0\\.1$`).test(l)), table.stdout);

  const json = await runPeerway(['services', '--server', server.url, '--json']);
  assert.equal(json.code, 0, json.stderr);
  const listed = json.stdout.trim().split('\n').map((l) => JSON.parse(l) as { name: string; origin: string; location: string; sessions: number });
  const types = listed.find((s) => s.name === 'Types');
  assert.ok(types, json.stdout);
  assert.deepEqual(Object.keys(types).sort(), ['location', 'name', 'origin', 'sessions', 'version']);
  const m = /^tcp:\/\/127\.0\.0\.1:(\d+) \(peerway-runner\/(\d+)\)$/.exec(types.origin);
  assert.ok(m, types.origin);
  assert.doesNotMatch(table.stdout, new RegExp(`:${m[1]}\\b`), 'the runner\'s ephemeral port is not in the table');
});

test('flags beat their PEERWAY_* environment variables, which apply when the flag is not given', async (t) => {
  const loud = await startServer(t, ['--log-level', 'debug'], { PEERWAY_LOG_LEVEL: 'silent' });
  const quiet = await startServer(t, ['--log-level', 'silent'], { PEERWAY_LOG_LEVEL: 'debug' });
  const byEnv = await startServer(t, [], { PEERWAY_LOG_LEVEL: 'debug' });
  for (const s of [loud, quiet, byEnv]) {
    const r = await runPeerway(['services', '--server', s.url]);
    assert.equal(r.code, 0, r.stderr);
  }
  await loud.proc.waitFor(/DEBUG \(server\): connection accepted/, { stream: 'stderr' });
  await byEnv.proc.waitFor(/DEBUG \(server\): connection accepted/, { stream: 'stderr' });
  assert.equal(quiet.proc.stderr(), '', '--log-level silent wins over PEERWAY_LOG_LEVEL=debug');

  // PEERWAY_SERVER is the address when --server is not given; --server wins over it.
  const fromEnv = await runPeerway(['services', '--json'], { env: { PEERWAY_SERVER: loud.url } });
  assert.equal(fromEnv.code, 0, fromEnv.stderr);
  const overridden = await runPeerway(['services', '--json', '--server', loud.url, '--timeout', '3000'], { env: { PEERWAY_SERVER: 'tcp://127.0.0.1:1' } });
  assert.equal(overridden.code, 0, overridden.stderr);
  const bad = await runPeerway(['services'], { env: { PEERWAY_SERVER: 'nonsense://x' } });
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /from env 'PEERWAY_SERVER' is invalid/);
});

test('peerway check fails for a service with methods and no implementation, naming the files looked for, unless --xml-only', async () => {
  const r = await runPeerway(['check', cli('no-impl.xml')]);
  assert.equal(r.code, 2, r.stdout + r.stderr);
  const base = cli('no-impl');
  assert.ok(r.stdout.includes(`${base}.xml: error: service NoImpl declares 1 method(s) and has no implementation: looked for ${base}.js, ${base}.mjs`), r.stdout);
  assert.match(r.stdout, /or give --xml-only to check the XML alone/);
  const xmlOnly = await runPeerway(['check', '--xml-only', cli('no-impl.xml')]);
  assert.equal(xmlOnly.code, 0, xmlOnly.stdout + xmlOnly.stderr);
  assert.match(xmlOnly.stdout, /no-impl\.xml: ok: service NoImpl, 1 method\(s\).*; implementation not checked \(--xml-only\)\n/);
  const noMethods = await runPeerway(['check', cli('no-methods.xml')]);
  assert.equal(noMethods.code, 0, noMethods.stdout + noMethods.stderr);
  assert.match(noMethods.stdout, /no-methods\.xml: ok: service NoMethods, 0 method\(s\).*; no methods, so no implementation needed\n/);
  const withImpl = await runPeerway(['check', TYPES]);
  assert.equal(withImpl.code, 0, withImpl.stdout + withImpl.stderr);
  assert.match(withImpl.stdout, /types\.xml: ok: service Types, 18 method\(s\).*; implementation .*types\.mjs\n/);
});

test('peerway check reports, with the file, an implementation that does not load, misses a declared method or adds one', async () => {
  const r = await runPeerway(['check', cli('does-not-load.xml'), cli('missing-method.xml'), cli('extra-method.xml')]);
  assert.equal(r.code, 2, r.stdout + r.stderr);
  assert.ok(r.stdout.includes(`${cli('does-not-load.mjs')}: error: cannot load implementation`), r.stdout);
  assert.match(r.stdout, /this implementation is broken on purpose/);
  assert.ok(r.stdout.includes(`${cli('missing-method.mjs')}: error: method "two" is declared in ${cli('missing-method.xml')} but not implemented`), r.stdout);
  assert.ok(r.stdout.includes(`${cli('extra-method.mjs')}: error: method "three" is not declared in`), r.stdout);
  assert.doesNotMatch(r.stdout, /: ok:/);
  // One broken file does not hide the others' results.
  const mixed = await runPeerway(['check', cli('missing-method.xml'), TYPES]);
  assert.equal(mixed.code, 2);
  assert.match(mixed.stdout, /types\.xml: ok:/);
});

test('peerway check warns at file:line:col about routes that can never be chosen, and still exits 0', async () => {
  const file = cli('overlapping-routes.xml');
  const r = await runPeerway(['check', file]);
  assert.equal(r.code, 0, r.stdout + r.stderr);
  const warnings = r.stdout.split('\n').filter((l) => l.includes(': warning: '));
  assert.deepEqual(warnings, [
    `${file}:11:5: warning: this route can never be chosen for method "echo": the route at ${file}:10:5 comes first on the same link "reliable": when that link cannot be opened, this one cannot either`,
    `${file}:13:5: warning: this route can never be chosen for event "tick": the route at ${file}:12:5 comes first and is required, so no route after it is tried`,
  ]);
  assert.match(r.stdout, /overlapping-routes\.xml: ok: service Overlapping/);
  // Alternatives that can each win (a direct route, then the server) draw no warning.
  const good = await runPeerway(['check', example('climate.xml'), example('forked-runtime-data.xml'), fixture('p2p', 'lab.xml')]);
  assert.equal(good.code, 0, good.stdout + good.stderr);
  assert.doesNotMatch(good.stdout, /can never be chosen/);
});

test('peerway check warns when values that can outgrow a datagram go on the unreliable link', async () => {
  const lab = fixture('p2p', 'lab.xml');
  const r = await runPeerway(['check', lab, example('climate.xml')]);
  assert.equal(r.code, 0, r.stdout + r.stderr);
  const warnings = r.stdout.split('\n').filter((l) => l.includes(': warning: '));
  // lab's tick carries a string note; climate's overheat on the same link carries only a float.
  assert.deepEqual(warnings, [
    `${lab}:18:5: warning: event "tick" goes on the unreliable link "unreliable" (connect.bearer.udp), and its values can be bigger than one datagram (1200 bytes): they then travel in fragments, a lost fragment loses the whole message, and above the link's message limit (1 MiB) it is not sent; route it to a reliable link if it can grow`,
  ]);
});
