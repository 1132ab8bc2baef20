import assert from 'node:assert/strict';
import net from 'node:net';
import { describe, it } from 'node:test';
import { tcpBearer } from '../../src/bearer/tcp.js';
import { Collector, freePort, runBearerSuite, runFramingProperties } from './bearer-suite.js';

runBearerSuite('connect.bearer.tcp', () => ({
  bearer: tcpBearer,
  listenAddress: () => ({ bearer: tcpBearer.id, host: '127.0.0.1', port: 0 }),
  maxMessageBytes: 64 * 1024,
  deadMessage: /^cannot connect to tcp:\/\/127\.0\.0\.1:\d+: connection refused \(is the server running and listening there\?\)$/,
  deadAddress: async () => ({ bearer: tcpBearer.id, host: '127.0.0.1', port: await freePort() }),
}));

runFramingProperties();

/** The first bytes of a TLS 1.2/1.3 ClientHello record: handshake (0x16), version 3.1, a length. */
const CLIENT_HELLO_START = Buffer.from([0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xfc, 0x03, 0x03]);

describe('connect.bearer.tcp', () => {
  it('names a TLS handshake on a plain port as a bearer mix-up', async () => {
    let accepted!: (c: Collector) => void;
    const server = new Promise<Collector>((resolve) => (accepted = resolve));
    const listener = await tcpBearer.listen({ bearer: tcpBearer.id, host: '127.0.0.1', port: 0 }, (c) => accepted(new Collector(c)));
    try {
      const raw = net.connect(listener.address.port!, '127.0.0.1');
      raw.on('error', () => undefined);
      raw.write(CLIENT_HELLO_START);
      const c = await server;
      await c.until(() => c.closes.length === 1, 'the close');
      const error = c.closes[0].error;
      assert.equal(error?.code, 'PROTOCOL');
      assert.equal(error?.message, 'peer started a TLS handshake on a plain connect.bearer.tcp port; connect with tcp:// or listen with connect.bearer.ssl');
      raw.destroy();
    } finally {
      await listener.close();
    }
  });

  it('still reports an oversized frame that is not a TLS record as FRAME_TOO_LARGE', async () => {
    let accepted!: (c: Collector) => void;
    const server = new Promise<Collector>((resolve) => (accepted = resolve));
    const listener = await tcpBearer.listen({ bearer: tcpBearer.id, host: '127.0.0.1', port: 0 }, (c) => accepted(new Collector(c)), { maxMessageBytes: 1024 });
    try {
      const raw = net.connect(listener.address.port!, '127.0.0.1');
      raw.on('error', () => undefined);
      raw.write(Buffer.from([0x00, 0x01, 0x00, 0x00]));
      const c = await server;
      await c.until(() => c.closes.length === 1, 'the close');
      assert.equal(c.closes[0].error?.code, 'FRAME_TOO_LARGE');
      raw.destroy();
    } finally {
      await listener.close();
    }
  });

  it('writes the frames sent in one tick with one socket write, in order', async () => {
    const chunks: Buffer[] = [];
    const server = net.createServer((s) => s.on('data', (d) => chunks.push(d)));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const port = (server.address() as net.AddressInfo).port;
    const connection = await tcpBearer.connect({ bearer: tcpBearer.id, host: '127.0.0.1', port });
    // Kept to be put back, and only ever called with its socket as `this`.
    // eslint-disable-next-line @typescript-eslint/unbound-method
    const write = net.Socket.prototype.write;
    let writes = 0;
    net.Socket.prototype.write = function (this: net.Socket, ...args: unknown[]) {
      writes++;
      return (write as (...a: unknown[]) => boolean).apply(this, args);
    };
    try {
      for (let i = 0; i < 50; i++) connection.send(Buffer.from([i]));
      await new Promise((resolve) => setImmediate(resolve));
    } finally {
      net.Socket.prototype.write = write;
    }
    assert.equal(writes, 1);
    const deadline = Date.now() + 3000;
    while (Buffer.concat(chunks).length < 250 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
    const expected = Buffer.concat(Array.from({ length: 50 }, (_, i) => Buffer.from([0, 0, 0, 1, i])));
    assert.deepEqual(Buffer.concat(chunks), expected);
    connection.close();
    await new Promise((resolve) => server.close(resolve));
  });
});
