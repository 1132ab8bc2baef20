import assert from 'node:assert/strict';
import { existsSync, lstatSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { spawn } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { localBearer } from '../../src/bearer/local.js';
import { formatBearerUrl, parseBearerUrl } from '../../src/bearer/registry.js';
import { PeerwayError } from '../../src/errors.js';
import { Collector, runBearerSuite } from './bearer-suite.js';

const dir = mkdtempSync(join(tmpdir(), 'peerway-local-'));
after(() => rmSync(dir, { recursive: true, force: true }));
let counter = 0;
const socketPath = () => join(dir, `s${++counter}.sock`);
const address = (path: string) => ({ bearer: localBearer.id, path });

runBearerSuite('connect.bearer.local', () => ({
  bearer: localBearer,
  listenAddress: () => address(socketPath()),
  maxMessageBytes: 64 * 1024,
  deadMessage: /^cannot connect to local:\/\/\/.+\.sock: no socket at \/.+\.sock \(is the server running and listening there\?\)$/,
  deadAddress: () => Promise.resolve(address(socketPath())),
}));

/** Leaves a socket file behind with nobody listening, the way a killed server does (SIGKILL skips cleanup). */
async function staleSocket(path: string): Promise<void> {
  const child = spawn(process.execPath, ['-e', `require('net').createServer().listen(${JSON.stringify(path)}, () => console.log('up'))`], { stdio: ['ignore', 'pipe', 'inherit'] });
  await new Promise<void>((resolve) => child.stdout.once('data', () => resolve()));
  child.kill('SIGKILL');
  await new Promise<void>((resolve) => child.once('exit', () => resolve()));
}

async function rejectsConfig(promise: Promise<unknown>, message: string): Promise<void> {
  await assert.rejects(promise, (err: unknown) => {
    assert.ok(err instanceof PeerwayError);
    assert.equal(err.code, 'CONFIG_INVALID');
    assert.equal(err.message, message);
    return true;
  });
}

describe('connect.bearer.local', () => {
  it('removes a stale socket file left by a dead process and listens', async () => {
    const path = socketPath();
    await staleSocket(path);
    assert.ok(lstatSync(path).isSocket());
    const listener = await localBearer.listen(address(path), (c) => c.send(Buffer.from('hi')));
    try {
      const c = new Collector(await localBearer.connect(address(path)));
      await c.until(() => c.messages.length === 1, 'the greeting');
      c.connection.close();
    } finally {
      await listener.close();
    }
    assert.equal(existsSync(path), false, 'the socket file is removed on close');
  });

  it('refuses to take over a socket another listener is using', async () => {
    const path = socketPath();
    const first = await localBearer.listen(address(path), () => undefined);
    try {
      await rejectsConfig(localBearer.listen(address(path), () => undefined), `cannot listen on ${path}: another process is listening on ${path}`);
      // The live socket is untouched: clients still reach the first listener.
      const c = await localBearer.connect(address(path));
      c.close();
    } finally {
      await first.close();
    }
  });

  it('never deletes a regular file at the socket path', async () => {
    const path = socketPath();
    writeFileSync(path, 'precious');
    await rejectsConfig(
      localBearer.listen(address(path), () => undefined),
      `cannot listen on ${path}: the path exists and is a regular file, not a socket; it was left untouched (choose another path or remove it yourself)`,
    );
    assert.equal(readFileSync(path, 'utf8'), 'precious');
  });

  it('says what is wrong when connecting to a missing or stale socket', async () => {
    const missing = socketPath();
    await assert.rejects(localBearer.connect(address(missing)), {
      code: 'CONNECT_FAILED',
      message: `cannot connect to local://${missing}: no socket at ${missing} (is the server running and listening there?)`,
    });
    const stale = socketPath();
    await staleSocket(stale);
    await assert.rejects(localBearer.connect(address(stale)), {
      code: 'CONNECT_FAILED',
      message: `cannot connect to local://${stale}: nothing listens on ${stale} (a stale socket left by a process that exited?)`,
    });
  });

  it('listens and connects in the Linux abstract namespace', async () => {
    const name = `peerway-test-${process.pid}-${Date.now()}`;
    const url = `local://@${name}`;
    const parsed = parseBearerUrl(url);
    assert.deepEqual(parsed, { bearer: localBearer.id, path: `\0${name}` });
    const listener = await localBearer.listen(parsed, (c) => c.send(Buffer.from('abstract')));
    try {
      assert.equal(formatBearerUrl(listener.address), url);
      await rejectsConfig(localBearer.listen(parsed, () => undefined), `cannot listen on @${name}: another process is listening on @${name}`);
      const c = new Collector(await localBearer.connect(parseBearerUrl(url)));
      await c.until(() => c.messages.length === 1, 'the greeting');
      assert.equal(c.messages[0].toString(), 'abstract');
      c.connection.close();
    } finally {
      await listener.close();
    }
    await assert.rejects(localBearer.connect(parsed), { code: 'CONNECT_FAILED' });
  });

  it('round-trips socket paths through URLs and rejects relative ones', () => {
    for (const path of ['/run/peerway.sock', '/tmp/with space/p%q#r.sock']) {
      const url = formatBearerUrl(address(path));
      assert.ok(url.startsWith('local:///'), url);
      assert.deepEqual(parseBearerUrl(url), address(path));
    }
    assert.equal(formatBearerUrl(address('/run/peerway.sock')), 'local:///run/peerway.sock');
    assert.throws(() => parseBearerUrl('local://run/peerway.sock'), { code: 'USAGE', message: 'invalid address "local://run/peerway.sock": expected local:///ABSOLUTE/PATH.sock or local://@NAME' });
  });
});
