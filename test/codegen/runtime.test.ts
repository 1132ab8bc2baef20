import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { chromium } from 'playwright-core';
import ts from 'typescript';
import WebSocket from 'ws';
import { connectClient, example, fixture, ROOT, runPeerway, startRunner, startServer } from '../helpers/harness.js';
import { tempProject } from './temp-project.js';
import { PeerwayError } from '../../src/errors.js';
import type { Session } from '../../src/index.js';
import { exercise } from '../fixtures/codegen/typed-client.js';
import { exerciseBrowser, type BrowserObserved } from '../fixtures/codegen/typed-browser-client.js';
import { exerciseDirectory, exerciseSettings } from '../fixtures/codegen/typed-kanzi-client.js';

/**
 * Generated code at work against real processes: the typed client (test/fixtures/codegen/typed-client.ts)
 * calls, subscribes and watches a runner that hosts the typed implementation (all-types.ts, written with
 * `defineAllTypesService`); the browser module does the same through the gateway; and the README's
 * example program runs against the Climate example. The generated modules used are the committed ones,
 * which codegen.test.ts keeps identical to fresh output.
 */

const ALL_TYPES = fixture('codegen', 'all-types.xml');
const POINT = { x: 1.5, y: -2, label: 'p' };

/** A TypeScript file as JavaScript, types erased, imports kept as written. */
function transpile(file: string): string {
  return ts.transpileModule(readFileSync(file, 'utf8'), { compilerOptions: { module: ts.ModuleKind.ES2022, target: ts.ScriptTarget.ES2022, verbatimModuleSyntax: true } }).outputText;
}

test('a generated client calls, subscribes and watches a typed implementation hosted by a runner', async (t) => {
  const server = await startServer(t);
  const runner = await startRunner(t, server.url, [ALL_TYPES]);
  assert.match(runner.stdout(), /^registered AllTypes with /m);
  const seen = await exercise(server.url);

  const sample = seen.echoes.sample;
  assert.deepEqual(
    { ...seen.echoes, sample: undefined, samples: undefined, binary: [...seen.echoes.binary] },
    {
      bool: true, int: -7, int64: 42, bigInt64: 2n ** 60n, float: 0.5, double: 1e300, string: 'héllo', binary: [0xca, 0xfe], point: POINT, ints: [1, 2, 3], sample: undefined, samples: undefined,
      trail: [{ ...POINT, label: 'P' }, { x: 0, y: 1, label: 'Q' }],
    },
  );
  assert.deepEqual({ ...sample, data: [...sample.data] }, {
    flag: true, count: 3, big: 2n ** 62n, ratio: 0.25, precise: Math.PI, name: 'sample', data: [1, 2, 255], at: POINT, trail: [{ x: 0, y: 0, label: 'o' }], tags: ['a', 'b'], bigs: [1, 2n ** 60n],
  });
  assert.deepEqual(seen.echoes.samples[0].tags, ['b', 'a'], 'an async handler answered');
  assert.equal(seen.sum, 3.75);
  assert.equal(seen.countBefore, 7);
  assert.equal(seen.ping, undefined);
  assert.equal(seen.stop, 'stopped: asked', 'the method named stop, reached as stop_');
  assert.equal(seen.then, true, 'the method named then, reached as then_');

  // Defaults of every value type, read through typed paths (label was written by ping through the API start() kept).
  // The Kanzi-spelled ones too: the datatype="list" starts empty, the repeated string and the renamed int have their defaults.
  assert.deepEqual(
    { ...seen.initial, blob: [...seen.initial.blob] },
    { big: 9007199254740993n, x: 1.5, blob: [0xca, 0xfe], deep: 0, zones: 0, label: 'pinged', seats: [], names: ['a', 'b'], level: 5 },
  );
  // Snapshots after the first publish, then the changes of the second one.
  assert.deepEqual(seen.snapshots, {
    zoneCelsius: 0.25, lastAt: POINT, history: [3],
    seats: [{ occupied: true, heat: 2, title: 'driver' }, { occupied: true, heat: 3, title: 'sample' }], seatHeat: 3,
  });
  // The list written whole (the element's heat back to 0), then that one field: the watch of the list sees both, the field's watch each value.
  assert.deepEqual(seen.changes.seatTitles, ['driver,passenger', 'driver,passenger']);
  assert.deepEqual(seen.changes.seatHeat, [0, 3]);
  assert.deepEqual(seen.changes.zoneCelsius, [18, 0.75], 'zones (above the watched path), then zones.1.celsius (the path)');
  assert.deepEqual(seen.changes.lastAt, [{ x: 9, y: 9, label: 'moved' }], 'last (above last.at)');
  assert.deepEqual(seen.changes.history, [[3, 3]]);
  assert.deepEqual(seen.changes.zoneNames, ['front,rear', 'front,rear']);
  // publish writes `last` first, then `count`: the whole tree after each of its twelve writes.
  const [first, ...rest] = seen.changes.wholeCount;
  assert.ok(first === 8 && rest.length >= 11 && rest.every((c) => c === 9), `every change under '' gives the whole tree: ${seen.changes.wholeCount.join(',')}`);
  assert.deepEqual(seen.events.sampled.map((e) => [e.seq, e.sample.ratio]), [[2n ** 60n + 1n, 0.25], [2n ** 60n + 2n, 0.75]]);
  assert.deepEqual(seen.events.tags, [['a', 'b'], ['a', 'b']]);
  assert.equal(seen.events.cleared, 2);
  assert.deepEqual(seen.events.trail, [[{ x: 0, y: 0, label: 'o' }], [{ x: 0, y: 0, label: 'o' }]], 'a repeated T event argument');
  assert.deepEqual(seen.after, {
    count: 9, label: 'pinged', deep: 2n ** 62n, names: ['a', 'b', 'sample', 'passenger'], level: 7, seat: { occupied: true, heat: 3, title: 'passenger' },
  });
});

test('the generated browser module works over the gateway: JSON value forms, events, and watches above, at and below the written path', async (t) => {
  const server = await startServer(t, ['--http', '0']);
  const [, address] = await server.proc.waitFor(/^listening http (\S+)$/m);
  await startRunner(t, server.url, [ALL_TYPES]);
  // The browser client uses the global WebSocket of browsers (and of Node 22+); Node 20 gets ws's.
  const had = Object.getOwnPropertyDescriptor(globalThis, 'WebSocket');
  Object.defineProperty(globalThis, 'WebSocket', { value: WebSocket, configurable: true, writable: true });
  t.after(() => (had ? Object.defineProperty(globalThis, 'WebSocket', had) : Reflect.deleteProperty(globalThis, 'WebSocket')));

  assertBrowserObserved(await exerciseBrowser(`http://${address}`));
});

/** What typed-browser-client.ts must have seen, in Node and in Chromium alike. */
function assertBrowserObserved(seen: BrowserObserved): void {
  assert.deepEqual(seen.echoes, {
    int64: '1152921504606846976',
    binary: 'yv4=',
    sample: { flag: false, count: 1, big: '4611686018427387904', ratio: 0.5, precise: 2.5, name: 'from a page', data: 'AQL/', at: { x: 1, y: 2, label: 'a' }, trail: [], tags: ['x'], bigs: [1, '1152921504606846976'] },
    ints: [3, 2, 1],
    trail: [{ x: 1, y: 2, label: 'A' }],
  });
  assert.deepEqual(seen.initial, { big: '9007199254740993', blob: 'yv4=', x: 1.5, names: ['a', 'b'], level: 5 });
  assert.deepEqual(seen.changes.lastAt, [{ x: 1, y: 2, label: 'a' }, { x: 5, y: 6, label: 'b' }]);
  assert.deepEqual(seen.changes.zoneCelsius, [18, 0.125]);
  assert.deepEqual(seen.changes.deep, [{ inner: { value: '4611686018427387904' }, empty: {} }, { inner: { value: 12 }, empty: {} }]);
  assert.ok(seen.changes.wholeCount.length >= 16 && seen.changes.wholeCount.slice(-1)[0] === 9, `the whole tree after each change: ${seen.changes.wholeCount.join(',')}`);
  assert.deepEqual(seen.events, { seq: ['1152921504606846977', '1152921504606846978'], cleared: 2, trail: [[], []] });
  // The datatype="list" over the gateway: each publish writes it whole (seat 1's heat 0), then seat 1's heat alone.
  const driver = { occupied: true, heat: 2, title: 'driver' };
  assert.deepEqual(seen.changes.seats, [
    [driver, { occupied: false, heat: 0, title: 'from a page' }],
    [driver, { occupied: false, heat: 1, title: 'from a page' }],
    [driver, { occupied: false, heat: 0, title: 'page b' }],
    [driver, { occupied: false, heat: 1, title: 'page b' }],
  ]);
  assert.deepEqual(seen.changes.seatTitle, ['page b']);
}

test('the generated browser module runs in headless Chromium, in an application page on its own origin that maps peerway/browser with an import map', { timeout: 90_000 }, async (t) => {
  // The application's web server: its page, its program and the generated module compiled to JavaScript
  // (types erased, imports as written), and the browser client, found through the page's import map.
  const files = new Map<string, string>([
    [
      '/index.html',
      '<!doctype html><script type="importmap">{"imports":{"peerway/browser":"/peerway-client.js"}}</script>' +
        '<script type="module">import { exerciseBrowser } from "./typed-browser-client.js"; window.exerciseBrowser = exerciseBrowser;</script>',
    ],
    ['/peerway-client.js', readFileSync(path.join(ROOT, 'web', 'peerway-client.js'), 'utf8')],
    ['/typed-browser-client.js', transpile(fixture('codegen', 'typed-browser-client.ts'))],
    ['/generated/all-types.browser.js', transpile(fixture('codegen', 'generated', 'all-types.browser.ts'))],
  ]);
  const app = createServer((req, res) => {
    const body = files.get(new URL(req.url ?? '/', 'http://x').pathname);
    res.writeHead(body === undefined ? 404 : 200, { 'content-type': req.url?.endsWith('.html') ? 'text/html' : 'text/javascript' });
    res.end(body ?? 'not found');
  });
  await new Promise<void>((resolve) => app.listen(0, '127.0.0.1', resolve));
  t.after(() => app.close());
  const origin = `http://127.0.0.1:${(app.address() as AddressInfo).port}`;

  // The gateway allows that origin, as an operator would for the application.
  const server = await startServer(t, ['--http', '0', '--http-origin', origin]);
  const [, address] = await server.proc.waitFor(/^listening http (\S+)$/m);
  await startRunner(t, server.url, [ALL_TYPES]);

  const browser = await chromium.launch({
    executablePath: '/usr/bin/chromium',
    args: ['--headless=new', '--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage', '--disable-background-networking'],
    timeout: 30_000,
  });
  t.after(() => browser.close());
  const page = await browser.newPage();
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  page.on('response', (r) => r.status() >= 400 && !r.url().endsWith('/favicon.ico') && errors.push(`${r.status()} ${r.url()}`));
  await page.goto(`${origin}/index.html`);
  await page.waitForFunction(() => 'exerciseBrowser' in window, undefined, { timeout: 30_000 });
  const seen = await page.evaluate(
    (gateway) => (window as unknown as { exerciseBrowser: (gateway: string) => Promise<BrowserObserved> }).exerciseBrowser(gateway),
    `http://${address}`,
  );
  assert.deepEqual(errors, []);
  assertBrowserObserved(seen);
});

/** Runs examples/typed-climate-client.ts against `server` to completion and checks what it printed. */
async function runTypedClimateClient(t: TestContext, serverUrl: string): Promise<void> {
  const child = spawn(process.execPath, ['--import', 'tsx', example('typed-climate-client.ts'), serverUrl], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  t.after(() => child.kill());
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
  assert.equal(code, 0, stderr);
  const lines = stdout.trim().split('\n');
  assert.equal(lines[0], 'cabin.temperature now: 21');
  assert.ok(lines.includes('setTemperature accepted: true'), stdout);
  assert.ok(lines.includes('zone 1 target: 31.5'), stdout);
  assert.ok(lines.some((l) => /^cabin\.temperature: \d+(\.\d)?$/.test(l)), stdout);
  assert.ok(lines.some((l) => /^overheat at 3\d(\.\d)? °C, status: hot$/.test(l)), stdout);
}

test("the README's typed Climate client runs against the Climate example and sees its results, runtime data and events", { timeout: 60_000 }, async (t) => {
  const server = await startServer(t);
  await startRunner(t, server.url, [example('climate.xml')]);
  await runTypedClimateClient(t, server.url);
});

test('a class that implements the generated ClimateService is accepted by the runner and serves the typed client like climate.mjs does', { timeout: 60_000 }, async (t) => {
  const server = await startServer(t);
  const runner = await startRunner(t, server.url, [example('climate.xml')], ['--impl', example('typed-climate-service.ts')]);
  assert.match(runner.stdout(), /^registered Climate with /m);
  await runTypedClimateClient(t, server.url);
});

test('generated clients of Kanzi Connect descriptions work against their plain implementations: datatype="list" as typed arrays, repeated T events, persistent data across a runner restart', async (t) => {
  const dataDir = await mkdtemp(path.join(os.tmpdir(), 'peerway-codegen-kanzi-'));
  t.after(() => rm(dataDir, { recursive: true, force: true }));
  const server = await startServer(t);
  const kanzi = [fixture('kanzi', 'UserDirectory.xml'), fixture('kanzi', 'Settings.xml')];
  const runner = await startRunner(t, server.url, kanzi, ['--data-dir', dataDir]);

  const directory = await exerciseDirectory(server.url);
  assert.deepEqual(directory.initial, { userid: 42, mobile: '555-1234', subordinates: [] });
  assert.deepEqual(directory.added, [1, 2]);
  const ada = { useridentifier: 7, username: 'ada' };
  const grace = { useridentifier: 9, username: 'grace' };
  assert.deepEqual(directory.lists, [[ada], [ada, grace]]);
  assert.deepEqual(directory.teams, [['ada'], ['ada', 'grace']]);
  assert.deepEqual(directory.second, grace);
  assert.deepEqual(directory.mobile, ['555-0000']);

  const changed = await exerciseSettings(server.url, true);
  const expected = { volume: 11, theme: 'dark', favourites: [{ station: 'jazz', preset: 1 }, { station: 'news', preset: 2 }], preset: 3 };
  assert.deepEqual(changed, expected);
  // A new runner on the same data directory: the persistent leaves and list come back, read through the same typed paths.
  await runner.stop();
  await startRunner(t, server.url, kanzi, ['--data-dir', dataDir]);
  assert.deepEqual(await exerciseSettings(server.url, false), expected);
});

test('a client generated from an older definition gets typed errors from the session, not wrong values', async (t) => {
  // Climate as it might have been: zone a string, a method the service no longer has.
  const dir = tempProject(t);
  const older = readFileSync(example('climate.xml'), 'utf8')
    .replace('<argument name="zone" type="int"/>\n      <argument name="celsius" type="float"/>', '<argument name="zone" type="string"/>\n      <argument name="celsius" type="float"/>')
    .replace('<method name="reset" returns="void"/>', '<method name="reset" returns="void"/>\n    <method name="boost" returns="bool"/>');
  assert.notEqual(older, readFileSync(example('climate.xml'), 'utf8'));
  writeFileSync(path.join(dir, 'climate.xml'), older);
  const gen = await runPeerway(['codegen', path.join(dir, 'climate.xml'), '--out', path.join(dir, 'generated')]);
  assert.equal(gen.code, 0, gen.stderr);
  // Its types, as a program compiled against it would see them (the module itself is loaded as it is, through tsx).
  const stale = (await import(path.join(dir, 'generated', 'climate.ts'))) as {
    asClimate: (session: Session) => { setTemperature(args: { zone: string; celsius: number }): Promise<boolean>; boost(): Promise<boolean> };
  };

  const server = await startServer(t);
  await startRunner(t, server.url, [example('climate.xml')]);
  const client = await connectClient(t, server.url);
  const climate = stale.asClimate(await client.startSession('Climate'));
  await assert.rejects(climate.setTemperature({ zone: 'one', celsius: 20 }), (err: unknown) => err instanceof PeerwayError && err.code === 'BAD_ARGUMENT' && /zone/.test(err.message));
  await assert.rejects(climate.boost(), (err: unknown) => err instanceof PeerwayError && err.code === 'METHOD_NOT_FOUND' && /boost/.test(err.message));
});
