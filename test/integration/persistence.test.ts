// Runtime data marked persistent="1" survives restarts of the process hosting the service, kill -9
// included, on real processes: a runner with --data-dir, a server with in-process services.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { connectClient, fixture, startRunner, startServer } from '../helpers/harness.js';
import { startPeerway, type PeerwayProcess } from '../../src/cli/peerway-process.js';

const SETTINGS = fixture('kanzi', 'Settings.xml');
const DEFAULTS = { audio: { volume: 5, muted: false }, display: { theme: 'light', brightness: 0.5 }, favourites: [] };

async function tempDir(t: TestContext): Promise<string> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'peerway-persist-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

/** The values in DIR/<service>.json, once `ready` says they are all there (bounded wait). */
async function savedValues(file: string, ready: (values: Record<string, unknown>) => boolean, timeoutMs = 3000): Promise<Record<string, unknown>> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const values = (JSON.parse(await readFile(file, 'utf8')) as { values: Record<string, unknown> }).values;
      if (ready(values)) return values;
      last = values;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) assert.fail(`${file} did not get the expected values within ${timeoutMs} ms; last: ${JSON.stringify(last)}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

/** kill -9: no shutdown code runs, so only what is already on disk survives. */
async function killHard(proc: PeerwayProcess): Promise<void> {
  proc.child.kill('SIGKILL');
  assert.equal(await proc.exited, 'SIGKILL');
}

async function snapshotOf(t: TestContext, url: string): Promise<unknown> {
  const client = await connectClient(t, url);
  const s = await client.startSession('Settings');
  return (await s.watch('', () => undefined)).snapshot;
}

test('a persistent value changed by a method survives kill -9 of the runner; a non-persistent one does not', async (t) => {
  const dir = await tempDir(t);
  const server = await startServer(t);
  const runner = await startRunner(t, server.url, [SETTINGS], ['--data-dir', dir]);
  const file = path.join(dir, 'Settings.json');
  assert.ok(runner.stderr().includes(`persistent runtime data kept in ${file} (0 value(s) restored)`), runner.stderr());
  const client = await connectClient(t, server.url);
  const s = await client.startSession('Settings');
  await s.call('setVolume', { volume: 9 });
  await s.call('setTheme', { theme: 'dark' });
  await s.call('addFavourite', { station: 'Radio One' });
  await s.call('setBrightness', { brightness: 0.9 });
  const changedAt = Date.now();
  // Durable within 1 s of the change: the file shows it by then.
  const values = await savedValues(file, (v) => v['audio.volume'] === 9 && v['display.theme'] === 'dark' && Array.isArray(v.favourites) && v.favourites.length === 1);
  assert.ok(Date.now() - changedAt < 1000, `written ${Date.now() - changedAt} ms after the change`);
  assert.deepEqual(values, { 'audio.volume': 9, 'display.theme': 'dark', favourites: [{ station: 'Radio One', preset: 1 }] });
  await killHard(runner);
  assert.deepEqual(await readdir(dir), ['Settings.json'], 'no temporary file left behind');

  const again = await startRunner(t, server.url, [SETTINGS], ['--data-dir', dir]);
  assert.ok(again.stderr().includes(`persistent runtime data kept in ${file} (3 value(s) restored)`), again.stderr());
  assert.deepEqual(await snapshotOf(t, server.url), {
    audio: { volume: 9, muted: false },
    display: { theme: 'dark', brightness: 0.5 },
    favourites: [{ station: 'Radio One', preset: 1 }],
  });
});

test('--no-persist keeps nothing and leaves the data directory alone', async (t) => {
  const dir = await tempDir(t);
  const server = await startServer(t);
  const runner = await startRunner(t, server.url, [SETTINGS], ['--data-dir', dir, '--no-persist']);
  assert.match(runner.stderr(), /persistent="1" runtime data is not kept: persistence is off/);
  const client = await connectClient(t, server.url);
  await (await client.startSession('Settings')).call('setVolume', { volume: 2 });
  await runner.stop();
  assert.deepEqual(await readdir(dir), []);
  await startRunner(t, server.url, [SETTINGS], ['--data-dir', dir]);
  assert.deepEqual(await snapshotOf(t, server.url), DEFAULTS);
});

test('in-process services persist the same way under peerway server --data-dir, the first snapshot included', async (t) => {
  const dir = await tempDir(t);
  const first = await startServer(t, ['--service', SETTINGS, '--data-dir', dir]);
  const client = await connectClient(t, first.url);
  await (await client.startSession('Settings')).call('setVolume', { volume: 11 });
  await savedValues(path.join(dir, 'Settings.json'), (v) => v['audio.volume'] === 11);
  await killHard(first.proc);
  const second = await startServer(t, ['--service', SETTINGS, '--data-dir', dir]);
  const snapshot = (await snapshotOf(t, second.url)) as typeof DEFAULTS;
  assert.equal(snapshot.audio.volume, 11);
});

test('a corrupt file is set aside with a warning naming it, and the runner starts from the defaults', async (t) => {
  const dir = await tempDir(t);
  const file = path.join(dir, 'Settings.json');
  await writeFile(file, '{"format":"peerway-persistent-runtime-data","values":{"audio.vol');
  const server = await startServer(t);
  const runner = await startRunner(t, server.url, [SETTINGS], ['--data-dir', dir]);
  assert.match(runner.stderr(), new RegExp(`persistent runtime data ${file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} is not valid JSON \\(.*\\); it was moved to ${file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}\\.bad-\\S+ and Settings starts from the defaults of its definition`));
  assert.deepEqual(await snapshotOf(t, server.url), DEFAULTS);
  const kept = (await readdir(dir)).filter((f) => f.startsWith('Settings.json.bad-'));
  assert.equal(kept.length, 1);
  assert.equal(await readFile(path.join(dir, kept[0]), 'utf8'), '{"format":"peerway-persistent-runtime-data","values":{"audio.vol');
});

test('a saved value whose type changed is dropped with a warning; the others are restored', async (t) => {
  const dir = await tempDir(t);
  await writeFile(
    path.join(dir, 'Settings.json'),
    JSON.stringify({ format: 'peerway-persistent-runtime-data', version: 1, service: 'Settings', saved: new Date().toISOString(), values: { 'audio.volume': 'loud', 'display.theme': 'dark' } }),
  );
  const server = await startServer(t);
  const runner = await startRunner(t, server.url, [SETTINGS], ['--data-dir', dir]);
  assert.match(runner.stderr(), /for "audio\.volume" no longer fits the definition and is dropped \(.*must be int.*\); it starts from its default/);
  const snapshot = (await snapshotOf(t, server.url)) as typeof DEFAULTS;
  assert.equal(snapshot.audio.volume, 5);
  assert.equal(snapshot.display.theme, 'dark');
});

test('without --data-dir the runner keeps its data under $XDG_STATE_HOME/peerway', async (t) => {
  const state = await tempDir(t);
  const server = await startServer(t);
  const env = { XDG_STATE_HOME: state, PEERWAY_DATA_DIR: '' };
  const runner = startPeerway(['runner', '--server', server.url, SETTINGS], { env });
  t.after(() => runner.stop());
  await runner.waitFor(/^registered /m);
  const file = path.join(state, 'peerway', 'Settings.json');
  assert.ok(runner.stderr().includes(`persistent runtime data kept in ${file}`), runner.stderr());
  const client = await connectClient(t, server.url);
  await (await client.startSession('Settings')).call('setTheme', { theme: 'sepia' });
  await savedValues(file, (v) => v['display.theme'] === 'sepia');
});
