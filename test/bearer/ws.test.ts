import assert from 'node:assert/strict';
import http from 'node:http';
import { describe, it } from 'node:test';
import { WebSocket } from 'ws';
import type { MessageConnection } from '../../src/bearer/bearer.js';
import { formatBearerUrl, parseBearerUrl } from '../../src/bearer/registry.js';
import { tcpBearer } from '../../src/bearer/tcp.js';
import { attachWsBearer, wsBearer } from '../../src/bearer/ws.js';
import { Collector, freePort, runBearerSuite, silentTcpServer } from './bearer-suite.js';

const local = { bearer: wsBearer.id, host: '127.0.0.1', port: 0 };

runBearerSuite('connect.bearer.ws', () => ({
  bearer: wsBearer,
  listenAddress: () => ({ ...local }),
  maxMessageBytes: 64 * 1024,
  deadMessage: /^cannot connect to ws:\/\/127\.0\.0\.1:\d+\/peerway: connection refused \(is the server running and listening there\?\)$/,
  deadAddress: async () => ({ ...local, port: await freePort() }),
  silentAddress: async () => {
    const s = await silentTcpServer();
    return { address: { ...local, port: s.port }, close: () => s.close() };
  },
}));

async function wsServer(maxMessageBytes?: number) {
  const accepted: Collector[] = [];
  const listener = await wsBearer.listen({ ...local }, (c) => accepted.push(new Collector(c)), { maxMessageBytes });
  return { listener, accepted, url: `ws://127.0.0.1:${listener.address.port}/peerway` };
}

async function until(check: () => boolean, what: string, ms = 2000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe('connect.bearer.ws', () => {
  it('serves the default path /peerway and formats it in URLs', async () => {
    const s = await wsServer();
    try {
      assert.equal(s.listener.address.path, '/peerway');
      assert.equal(formatBearerUrl(s.listener.address), s.url);
      assert.deepEqual(parseBearerUrl(s.url), s.listener.address);
    } finally {
      await s.listener.close();
    }
  });

  it('closes a connection that sends a text message with a PROTOCOL error', async () => {
    const s = await wsServer();
    try {
      const ws = new WebSocket(s.url);
      await new Promise((resolve) => ws.once('open', resolve));
      const closed = new Promise<number>((resolve) => ws.once('close', (code) => resolve(code)));
      ws.send('not binary');
      assert.equal(await closed, 1003);
      const c = s.accepted[0];
      await c.until(() => c.closes.length === 1, 'the close');
      assert.equal(c.closes[0].error?.code, 'PROTOCOL');
      assert.match(c.closes[0].error.message, /sent a text WebSocket message; connect\.bearer\.ws carries binary messages only$/);
      assert.equal(c.messages.length, 0);
    } finally {
      await s.listener.close();
    }
  });

  it('closes a connection whose peer sends a message above the limit with FRAME_TOO_LARGE', async () => {
    const s = await wsServer(1024);
    try {
      const client = new Collector(await wsBearer.connect(s.listener.address, { maxMessageBytes: 4096 }));
      client.connection.send(Buffer.alloc(2048));
      await until(() => s.accepted[0]?.closes.length === 1, 'the server close');
      assert.equal(s.accepted[0].closes[0].error?.code, 'FRAME_TOO_LARGE');
      assert.equal(s.accepted[0].messages.length, 0);
      await client.until(() => client.closes.length === 1, 'the client close');
    } finally {
      await s.listener.close();
    }
  });

  it('reports a missing endpoint path with the HTTP status and the default path', async () => {
    const s = await wsServer();
    try {
      const where = `ws://127.0.0.1:${s.listener.address.port}/elsewhere`;
      await assert.rejects(wsBearer.connect({ ...s.listener.address, path: '/elsewhere' }), {
        code: 'CONNECT_FAILED',
        message: `cannot connect to ${where}: no connect.bearer.ws endpoint at path /elsewhere (HTTP 404; the default path is /peerway)`,
      });
    } finally {
      await s.listener.close();
    }
  });

  it('tells a ws client that it reached a plain tcp port', async () => {
    const tcp = await tcpBearer.listen({ bearer: tcpBearer.id, host: '127.0.0.1', port: 0 }, () => undefined);
    try {
      const peer = `127.0.0.1:${tcp.address.port}`;
      await assert.rejects(wsBearer.connect({ ...local, port: tcp.address.port }), {
        code: 'CONNECT_FAILED',
        message: `cannot connect to ws://${peer}/peerway: the peer at ${peer} did not answer the WebSocket upgrade: it is probably not a connect.bearer.ws endpoint (a plain connect.bearer.tcp port? use tcp://)`,
      });
    } finally {
      await tcp.close();
    }
  });

  it('shares an HTTP server with other routes through attachWsBearer', async () => {
    const server = http.createServer((_req, res) => res.end('plain http'));
    const accepted: MessageConnection[] = [];
    const attachment = attachWsBearer(server, '/link', (c) => accepted.push(c));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const port = (server.address() as { port: number }).port;
    try {
      const body = await (await fetch(`http://127.0.0.1:${port}/`)).text();
      assert.equal(body, 'plain http');
      const c = new Collector(await wsBearer.connect({ ...local, port, path: '/link' }));
      await until(() => accepted.length === 1, 'the accepted connection');
      const server1 = new Collector(accepted[0]);
      c.connection.send(Buffer.from('over the shared port'));
      await server1.until(() => server1.messages.length === 1, 'the message');
      assert.equal(server1.messages[0].toString(), 'over the shared port');
      await attachment.close();
      await c.until(() => c.closes.length === 1, 'the close after detaching');
    } finally {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    }
  });

  it('returns false from send above the high-water mark and fires drain once flushed', async () => {
    const s = await wsServer(4 * 1024 * 1024);
    try {
      const conn = await wsBearer.connect(s.listener.address, { maxMessageBytes: 4 * 1024 * 1024 });
      let drains = 0;
      conn.start({ message: () => undefined, close: () => undefined, drain: () => drains++ });
      let sent = 0;
      while (conn.send(Buffer.alloc(512 * 1024)) && sent < 100) sent++;
      assert.ok(sent < 100, 'send never reported backpressure');
      await until(() => drains === 1, 'drain');
      await until(() => s.accepted[0]?.messages.length === sent + 1, 'every message');
      assert.equal(conn.send(Buffer.alloc(10)), true);
      conn.close();
    } finally {
      await s.listener.close();
    }
  });
});
