import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { setImmediate as nextTurn, setTimeout as sleep } from 'node:timers/promises';
import type { Listener, MessageConnection } from '../../src/bearer/bearer.js';
import { MEMORY_HIGH_WATER_MARK_BYTES, memoryBearer } from '../../src/bearer/memory.js';
import { formatBearerUrl, parseBearerUrl } from '../../src/bearer/registry.js';
import { PeerwayError } from '../../src/errors.js';
import { Collector, numbered, runBearerSuite } from './bearer-suite.js';

const ID = memoryBearer.id;

runBearerSuite('connect.bearer.memory', () => ({
  bearer: memoryBearer,
  listenAddress: () => ({ bearer: ID }),
  maxMessageBytes: 64 * 1024,
  deadMessage: /^nothing listens on memory:\/\/nobody-\d+ in this process \(memory:\/\/ reaches only listeners of the same process\)$/,
  deadAddress: () => Promise.resolve({ bearer: ID, path: `nobody-${Date.now()}` }),
}));

interface PairOptions {
  name?: string;
  clientMaxBytes?: number;
  serverMaxBytes?: number;
  /** Start the client end with a Collector (default true); false leaves it to the test. */
  startClient?: boolean;
}

/** Listens on `name` (a fresh one when absent), connects once, and hands back both ends. */
async function pair(options: PairOptions = {}): Promise<{ listener: Listener; client: Collector; server: Collector }> {
  let accept!: (c: MessageConnection) => void;
  const accepted = new Promise<MessageConnection>((resolve) => (accept = resolve));
  const listener = await memoryBearer.listen({ bearer: ID, ...(options.name ? { path: options.name } : {}) }, accept, { maxMessageBytes: options.serverMaxBytes });
  const client = new Collector(await memoryBearer.connect(listener.address, { maxMessageBytes: options.clientMaxBytes }), options.startClient ?? true);
  return { listener, client, server: new Collector(await accepted) };
}

function isError(code: string, message?: RegExp) {
  return (err: unknown) => {
    assert.ok(err instanceof PeerwayError, `expected a PeerwayError, got ${String(err)}`);
    assert.equal(err.code, code, err.message);
    if (message) assert.match(err.message, message);
    return true;
  };
}

describe('connect.bearer.memory', () => {
  it('round-trips memory://NAME and takes memory:// as "a fresh name"', () => {
    assert.deepEqual(parseBearerUrl('memory://climate-server.1'), { bearer: ID, path: 'climate-server.1' });
    assert.equal(formatBearerUrl({ bearer: ID, path: 'climate-server.1' }), 'memory://climate-server.1');
    assert.deepEqual(parseBearerUrl('memory://'), { bearer: ID });
    assert.equal(formatBearerUrl({ bearer: ID }), 'memory://');
  });

  it('refuses URLs whose name is not plain letters, digits and . _ ~ -', () => {
    for (const url of ['memory://a/b', 'memory://a b', 'memory://x#3', 'memory://%41', 'memory://host:2002']) {
      assert.throws(() => parseBearerUrl(url), isError('USAGE', /^invalid address ".*": expected memory:\/\/NAME/), url);
    }
  });

  it('gives each listener without a name a fresh one and reports it', async () => {
    const a = await memoryBearer.listen({ bearer: ID }, () => undefined);
    const b = await memoryBearer.listen({ bearer: ID, path: '' }, () => undefined);
    try {
      assert.match(a.address.path!, /^mem-\d+$/);
      assert.match(b.address.path!, /^mem-\d+$/);
      assert.notEqual(a.address.path, b.address.path);
    } finally {
      await a.close();
      await b.close();
    }
  });

  it('refuses to listen on a name already in use, and frees it on close', async () => {
    const first = await memoryBearer.listen({ bearer: ID, path: 'taken' }, () => undefined);
    await assert.rejects(memoryBearer.listen({ bearer: ID, path: 'taken' }, () => undefined), isError('CONFIG_INVALID', /^cannot listen on memory:\/\/taken: already in use/));
    await first.close();
    const again = await memoryBearer.listen({ bearer: ID, path: 'taken' }, () => undefined);
    await again.close();
  });

  it('fails to connect to a name whose listener has closed', async () => {
    const { listener, client, server } = await pair({ name: 'closing-soon' });
    await listener.close();
    assert.equal(client.closes.length, 1, 'the listener close ended its connection before close() resolved');
    assert.equal(server.closes[0].reason, 'listener closed');
    assert.equal(client.closes[0].reason, 'closed by peer');
    await assert.rejects(memoryBearer.connect({ bearer: ID, path: 'closing-soon' }), isError('CONNECT_FAILED', /^nothing listens on memory:\/\/closing-soon /));
  });

  it('labels both ends with the listener name and a connection number', async () => {
    const { listener, client, server } = await pair({ name: 'labels' });
    try {
      assert.match(client.connection.remote, /^memory:\/\/labels#1$/);
      assert.equal(server.connection.remote, client.connection.remote);
    } finally {
      await listener.close();
    }
  });

  it('never calls a handler inside send(), even when the handler answers', async () => {
    let inSend = false;
    let reentered = 0;
    const listener = await memoryBearer.listen({ bearer: ID }, (echo) =>
      echo.start({
        message: (m) => {
          if (inSend) reentered++;
          inSend = true;
          echo.send(m);
          inSend = false;
        },
        close: () => undefined,
      }),
    );
    try {
      const client = new Collector(await memoryBearer.connect(listener.address), false);
      const received: number[] = [];
      client.connection.start({
        message: (m) => {
          if (inSend) reentered++;
          received.push(m.readUInt32BE(0));
        },
        close: () => undefined,
      });
      inSend = true;
      client.connection.send(numbered(1));
      client.connection.send(numbered(2));
      inSend = false;
      assert.deepEqual(received, []);
      await client.until(() => received.length === 2, 'the echoes');
      assert.deepEqual(received, [1, 2]);
      assert.equal(reentered, 0);
    } finally {
      await listener.close();
    }
  });

  it('copies what it sends, so the caller may reuse its buffer at once', async () => {
    const { listener, client, server } = await pair();
    try {
      const buffer = Buffer.from('first');
      client.connection.send(buffer);
      buffer.write('later');
      await server.until(() => server.messages.length === 1, 'the message');
      assert.equal(server.messages[0].toString(), 'first');
    } finally {
      await listener.close();
    }
  });

  it('returns false from send past the high-water mark and drains once everything is delivered', async () => {
    const { listener, client, server } = await pair({ startClient: false });
    try {
      let drains = 0;
      let deliveredAtDrain = -1;
      client.connection.start({
        message: () => undefined,
        close: () => undefined,
        drain: () => {
          drains++;
          deliveredAtDrain = server.messages.length;
        },
      });
      const size = 16 * 1024;
      const results: boolean[] = [];
      for (let i = 0; i < 6; i++) results.push(client.connection.send(numbered(i, size)));
      const firstFull = MEMORY_HIGH_WATER_MARK_BYTES / size - 1;
      assert.deepEqual(results, results.map((_, i) => i < firstFull), `sends from #${firstFull} on are above the mark`);
      await server.until(() => server.messages.length === 6, 'every message');
      await sleep(20);
      assert.equal(drains, 1);
      assert.equal(deliveredAtDrain, 6, 'drain fired after the queue reached the peer');
      assert.equal(client.connection.send(numbered(6, size)), true, 'an empty queue takes messages again');
      await nextTurn();
      assert.equal(drains, 1, 'no drain without a false send');
    } finally {
      await listener.close();
    }
  });

  it("closes with FRAME_TOO_LARGE when a message is above the receiver's smaller limit", async () => {
    const { listener, client, server } = await pair({ clientMaxBytes: 4096, serverMaxBytes: 1024 });
    try {
      client.connection.send(Buffer.alloc(2048));
      await server.until(() => server.closes.length === 1, 'the server close');
      await client.until(() => client.closes.length === 1, 'the client close');
      assert.equal(server.messages.length, 0);
      assert.equal(server.closes[0].error?.code, 'FRAME_TOO_LARGE');
      assert.match(server.closes[0].reason, /2048 bytes, above the limit of 1024 bytes/);
      assert.equal(client.closes[0].reason, 'closed by peer');
    } finally {
      await listener.close();
    }
  });

  it('gives each side its own reason when both close in the same turn, and delivers what both sent', async () => {
    const { listener, client, server } = await pair();
    try {
      client.connection.send(numbered(1));
      server.connection.send(numbered(2));
      client.connection.close('client done');
      server.connection.close('server done');
      await client.until(() => client.closes.length === 1 && server.closes.length === 1, 'both closes');
      assert.deepEqual(server.numbers(), [1]);
      assert.deepEqual(client.numbers(), [2]);
      assert.equal(client.closes[0].reason, 'client done');
      assert.equal(server.closes[0].reason, 'server done');
    } finally {
      await listener.close();
    }
  });
});
