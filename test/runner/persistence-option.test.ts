import { test } from 'node:test';
import assert from 'node:assert/strict';
import { connect } from '../../src/client/client.js';
import { PeerwayRunner } from '../../src/runner/runner.js';
import { PeerwayServer } from '../../src/server/server.js';
import { loadService } from '../../src/service/load-service.js';
import type { PersistentStore } from '../../src/service/persistent-store.js';
import type { BearerAddress } from '../../src/bearer/bearer.js';
import { fixture } from '../helpers/harness.js';

const SETTINGS = fixture('kanzi', 'Settings.xml');

/** What an embedder might plug in instead of files: here, a map in memory. */
class MapStore implements PersistentStore {
  readonly records = new Map<string, Record<string, unknown>>();
  load(service: string): Promise<Record<string, unknown> | undefined> {
    return Promise.resolve(this.records.get(service));
  }
  save(service: string, values: Record<string, unknown>): Promise<void> {
    this.records.set(service, structuredClone(values));
    return Promise.resolve();
  }
  location(service: string): string {
    return `map:${service}`;
  }
}

for (const where of ['runner', 'server'] as const) {
  test(`a PersistentStore given to the ${where === 'runner' ? 'PeerwayRunner' : 'PeerwayServer'} restores the saved values into the first snapshot and gets the changes on stop()`, async (t) => {
    const store = new MapStore();
    store.records.set('Settings', { 'audio.volume': 8, favourites: [{ station: 'x', preset: 1 }] });
    const address: BearerAddress = { bearer: 'connect.bearer.memory', path: `persist-${where}-${process.pid}` };
    const runtime = await loadService(SETTINGS);
    const server = new PeerwayServer({ listen: [address], ...(where === 'server' ? { services: [runtime], persistence: store } : {}) });
    await server.start();
    const runner = where === 'runner' ? new PeerwayRunner({ server: address, services: [runtime], persistence: store, minRetryMs: 10 }) : undefined;
    await runner?.start();
    const client = await connect(address, { timeoutMs: 3000, connectTimeoutMs: 3000 });
    t.after(async () => {
      await client.close();
      await runner?.stop();
      await server.stop();
    });
    const s = await client.startSession('Settings');
    const { snapshot } = await s.watch('', () => undefined);
    assert.deepEqual(snapshot, { audio: { volume: 8, muted: false }, display: { theme: 'light', brightness: 0.5 }, favourites: [{ station: 'x', preset: 1 }] });
    await s.call('setTheme', { theme: 'dark' });
    await client.close();
    // stop() writes what is pending without waiting for the delay.
    await runner?.stop();
    await server.stop();
    assert.deepEqual(store.records.get('Settings'), { 'audio.volume': 8, 'display.theme': 'dark', favourites: [{ station: 'x', preset: 1 }] });
  });
}
