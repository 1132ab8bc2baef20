import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { parseDefinition } from '../../src/definition/parse-definition.js';
import { ServiceRuntime } from '../../src/service/service-runtime.js';
import { PersistentData, persistentNodes } from '../../src/service/persistence.js';
import { defaultDataDir, FilePersistentStore, type PersistentStore } from '../../src/service/persistent-store.js';
import type { Logger } from '../../src/logger.js';

const XML = `<service name="Prefs">
  <runtime-data>
    <audio><volume datatype="int" default="5" persistent="1"/><muted datatype="bool"/></audio>
    <blob type="binary" persistent="1"/>
    <stations datatype="list" persistent="1"><name datatype="string"/></stations>
    <counter type="int"/>
  </runtime-data>
</service>`;
const definition = parseDefinition(XML, 'prefs.xml');

/** A logger whose lines (as objects) the test can read. */
function capturingLogger(): { log: Logger; lines: Array<{ level: number; msg: string }> } {
  const lines: Array<{ level: number; msg: string }> = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const line of chunk.toString('utf8').split('\n')) if (line.trim() !== '') lines.push(JSON.parse(line) as { level: number; msg: string });
      done();
    },
  });
  return { log: pino({ level: 'info' }, stream), lines };
}
const warnings = (lines: Array<{ level: number; msg: string }>) => lines.filter((l) => l.level === 40).map((l) => l.msg);

async function tempDir(t: TestContext): Promise<string> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'peerway-persist-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

/** A runtime whose start() records what it saw, so a test can tell values were restored before it. */
function runtime(seen: { atStart?: unknown } = {}): ServiceRuntime {
  return new ServiceRuntime(definition, { start: (api) => void (seen.atStart = api.get('')) }, pino({ level: 'silent' }));
}

/** A store in memory that counts saves. */
class MemoryStore implements PersistentStore {
  saves = 0;
  constructor(public record: Record<string, unknown> | undefined = undefined) {}
  load(): Promise<Record<string, unknown> | undefined> {
    return Promise.resolve(this.record);
  }
  save(_service: string, values: Record<string, unknown>): Promise<void> {
    this.saves++;
    this.record = structuredClone(values);
    return Promise.resolve();
  }
  location(service: string): string {
    return `memory:${service}`;
  }
}

test('the persistent nodes are the outermost ones marked persistent="1"', () => {
  assert.deepEqual(persistentNodes(definition.runtimeData).map((n) => n.path), ['audio.volume', 'blob', 'stations']);
});

test('the default data directory follows XDG_STATE_HOME, else ~/.local/state', () => {
  assert.equal(defaultDataDir({ XDG_STATE_HOME: '/var/state' }), path.join('/var/state', 'peerway'));
  assert.equal(defaultDataDir({ XDG_STATE_HOME: 'relative' }), path.join(os.homedir(), '.local', 'state', 'peerway'));
  assert.equal(defaultDataDir({}), path.join(os.homedir(), '.local', 'state', 'peerway'));
});

test('a file store writes one JSON file per service, atomically (no temporary file is left), and reads it back', async (t) => {
  const dir = path.join(await tempDir(t), 'not', 'yet');
  const store = new FilePersistentStore(dir);
  assert.equal(await store.load('Prefs'), undefined);
  await store.save('Prefs', { 'audio.volume': 7 });
  await store.save('Prefs', { 'audio.volume': 8 });
  assert.deepEqual(await readdir(dir), ['Prefs.json']);
  const file = JSON.parse(await readFile(path.join(dir, 'Prefs.json'), 'utf8')) as Record<string, unknown>;
  assert.equal(file.format, 'peerway-persistent-runtime-data');
  assert.equal(file.service, 'Prefs');
  assert.deepEqual(await store.load('Prefs'), { 'audio.volume': 8 });
});

test('a corrupt or foreign file is moved aside with a warning naming it, and the service starts from its defaults', async (t) => {
  const dir = await tempDir(t);
  const { log, lines } = capturingLogger();
  const store = new FilePersistentStore(dir, log);
  const file = path.join(dir, 'Prefs.json');
  for (const [content, problem] of [
    ['{"format": "peerway-persistent-run', /is not valid JSON/],
    ['{"some": "other file"}', /is not a Peerway persistent-data file/],
    [JSON.stringify({ format: 'peerway-persistent-runtime-data', version: 1, service: 'Other', values: {} }), /belongs to service "Other", not Prefs/],
  ] as const) {
    await writeFile(file, content);
    assert.equal(await store.load('Prefs'), undefined);
    const message = warnings(lines).at(-1) ?? '';
    assert.match(message, problem);
    assert.ok(message.startsWith(`persistent runtime data ${file} `), message);
    const aside = /it was moved to (\S+) and Prefs starts from the defaults/.exec(message)?.[1] ?? '';
    assert.equal(await readFile(aside, 'utf8'), content, 'the bad file is kept, not deleted');
    await rm(aside);
  }
});

test('saved values are restored before start(), through the service like any change', async () => {
  const store = new MemoryStore({ 'audio.volume': 9, blob: 'AQID', stations: [{ name: 'one' }] });
  const seen: { atStart?: unknown } = {};
  const service = runtime(seen);
  const published: string[] = [];
  service.addOutput({ event: () => undefined, data: (p) => published.push(p) });
  const data = new PersistentData(service, { store, log: pino({ level: 'silent' }) });
  await data.restore();
  await service.start();
  assert.deepEqual(seen.atStart, { audio: { volume: 9, muted: false }, blob: Uint8Array.from([1, 2, 3]), stations: [{ name: 'one' }], counter: 0 });
  assert.deepEqual(published, ['audio.volume', 'blob', 'stations']);
  await data.close();
  assert.equal(store.saves, 0, 'nothing changed, nothing written');
});

test('changes to persistent values are written together after the delay; other changes write nothing', async () => {
  const store = new MemoryStore();
  const service = runtime();
  const data = new PersistentData(service, { store, log: pino({ level: 'silent' }), delayMs: 50 });
  await data.restore();
  for (let i = 0; i < 100; i++) service.set('counter', i);
  await new Promise((r) => setTimeout(r, 120));
  assert.equal(store.saves, 0);
  for (let i = 0; i < 100; i++) service.set('audio.volume', i);
  service.set('stations', [{ name: 'a' }]);
  service.set('stations.0.name', 'b'); // inside a persistent list
  service.set('blob', Uint8Array.from([255]));
  const deadline = Date.now() + 2000;
  while (store.saves === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
  assert.equal(store.saves, 1, 'one write for all of them');
  assert.deepEqual(store.record, { 'audio.volume': 99, blob: '/w==', stations: [{ name: 'b' }] });
  service.set('audio', { volume: 1, muted: true }); // a parent of a persistent value
  await data.close(); // writes what is pending without waiting for the delay
  assert.equal(store.saves, 2);
  assert.deepEqual(store.record?.['audio.volume'], 1);
});

test('a saved value that no longer fits the definition, or has no persistent node any more, is dropped with a warning', async () => {
  const store = new MemoryStore({ 'audio.volume': 'loud', stations: [{ name: 'x', extra: 1 }], 'audio.bass': 3, blob: 'AQ==' });
  const { log, lines } = capturingLogger();
  const service = runtime();
  const data = new PersistentData(service, { store, log, delayMs: 10 });
  await data.restore();
  assert.equal(service.tree.get('audio.volume'), 5, 'the default');
  assert.deepEqual(service.tree.get('stations'), []);
  assert.deepEqual(service.tree.get('blob'), Uint8Array.from([1]), 'what still fits is restored');
  const said = warnings(lines);
  assert.equal(said.length, 3, said.join('\n'));
  assert.match(said[0], /the value saved in memory:Prefs for "audio\.volume" no longer fits the definition and is dropped \(.*must be int.*\); it starts from its default/);
  assert.match(said[1], /"stations" no longer fits the definition and is dropped \(.*has no child "extra"/);
  assert.match(said[2], /for "audio\.bass" is dropped: the definition no longer has a persistent node there/);
  await data.close();
  assert.deepEqual(store.record, { 'audio.volume': 5, blob: 'AQ==', stations: [] }, 'the record is rewritten without them');
});

test('a failed write is warned once and tried again', async () => {
  const store = new MemoryStore();
  let failures = 2;
  const save = store.save.bind(store);
  store.save = (service, values) => (failures-- > 0 ? Promise.reject(new Error('disk full')) : save(service, values));
  const { log, lines } = capturingLogger();
  const service = runtime();
  const data = new PersistentData(service, { store, log, delayMs: 10 });
  await data.restore();
  service.set('audio.volume', 3);
  const deadline = Date.now() + 5000;
  while (store.saves === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  assert.equal(store.record?.['audio.volume'], 3);
  assert.deepEqual(warnings(lines), ['persistent runtime data could not be saved: disk full; retrying']);
  await data.close();
});
