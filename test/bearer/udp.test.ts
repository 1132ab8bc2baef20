import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import { describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import type { UdpListener } from '../../src/bearer/udp.js';
import { UdpConnection, UdpKind, encodeUdpDatagram, udpBearer } from '../../src/bearer/udp.js';
import { PeerwayError } from '../../src/errors.js';
import { Collector, freePort, runBearerSuite, silentUdpSocket } from './bearer-suite.js';

const local = { bearer: udpBearer.id, host: '127.0.0.1', port: 0 };

runBearerSuite('connect.bearer.udp', () => ({
  bearer: udpBearer,
  listenAddress: () => ({ ...local }),
  maxMessageBytes: 1200,
  deadMessage: /^nothing listens on udp:\/\/127\.0\.0\.1:\d+$/,
  deadAddress: async () => ({ ...local, port: await freePort('udp') }),
  silentAddress: async () => {
    const s = await silentUdpSocket();
    return { address: { ...local, port: s.port }, close: () => s.close() };
  },
}));

/** A hand-driven UDP peer: sends crafted datagrams to the listener and collects what comes back. */
async function rawPeer(port: number) {
  const socket = dgram.createSocket('udp4');
  const received: Buffer[] = [];
  socket.on('message', (m) => received.push(m));
  await new Promise<void>((resolve) => socket.connect(port, '127.0.0.1', resolve));
  const send = (d: Buffer) => new Promise<void>((resolve, reject) => socket.send(d, (err) => (err ? reject(err) : resolve())));
  return {
    received,
    send,
    data: (sequence: number) => send(encodeUdpDatagram(UdpKind.DATA, sequence, Buffer.from(`#${sequence}`))),
    connect: (nonce: number) => {
      const n = Buffer.alloc(4);
      n.writeUInt32BE(nonce);
      return send(encodeUdpDatagram(UdpKind.CONNECT, 0, n));
    },
    close: () => new Promise<void>((resolve) => socket.close(() => resolve())),
  };
}

/**
 * Sends DATA datagrams one at a time, each only after the receiver has accounted for the one before
 * (delivered or dropped), so loopback cannot reorder them: these tests are about what the receiver does.
 */
async function sendInOrder(peer: Awaited<ReturnType<typeof rawPeer>>, c: Collector, sequences: number[]): Promise<void> {
  const handled = () => {
    const st = (c.connection as UdpConnection).stats();
    return st.delivered + st.droppedStale + st.droppedDuplicate;
  };
  for (const [i, seq] of sequences.entries()) {
    await peer.data(seq);
    await c.until(() => handled() === i + 1, `datagram ${seq} to be handled`);
  }
}

async function udpServer(attributes: Record<string, string> = {}) {
  const accepted: Collector[] = [];
  const listener = (await udpBearer.listen({ ...local }, (c) => accepted.push(new Collector(c)), { attributes })) as UdpListener;
  return { listener, accepted };
}

async function until(check: () => boolean, what: string, ms = 2000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
    await sleep(5);
  }
}

describe('connect.bearer.udp', () => {
  it('drops stale and duplicate datagrams and counts them', async () => {
    const s = await udpServer();
    const peer = await rawPeer(s.listener.address.port!);
    try {
      await peer.connect(42);
      await until(() => peer.received.length === 1, 'ACCEPT');
      assert.equal(peer.received[0][1], UdpKind.ACCEPT);
      await until(() => s.accepted.length === 1, 'the connection');
      const c = s.accepted[0];
      await sendInOrder(peer, c, [1, 2, 2, 1, 5, 4, 3, 6, 6]);
      assert.deepEqual(c.messages.map(String), ['#1', '#2', '#5', '#6']);
      assert.ok(c.connection instanceof UdpConnection);
      assert.deepEqual(c.connection.stats(), { delivered: 4, droppedStale: 2, droppedDuplicate: 3, sent: 0, keepalives: 0 });
    } finally {
      await peer.close();
      await s.listener.close();
    }
  });

  it('follows sequence numbers across the 32-bit wrap', async () => {
    const s = await udpServer();
    const peer = await rawPeer(s.listener.address.port!);
    try {
      await peer.connect(7);
      await until(() => s.accepted.length === 1, 'the connection');
      const c = s.accepted[0];
      await sendInOrder(peer, c, [1, 0x7fffffff, 0xfffffff0, 5, 0xfffffff1]);
      assert.deepEqual(c.messages.map(String), ['#1', `#${0x7fffffff}`, `#${0xfffffff0}`, '#5']);
      assert.equal((c.connection as UdpConnection).stats().droppedStale, 1);
    } finally {
      await peer.close();
      await s.listener.close();
    }
  });

  it('answers a repeated CONNECT again without a second connection, and a new nonce replaces the connection', async () => {
    const s = await udpServer();
    const peer = await rawPeer(s.listener.address.port!);
    try {
      await peer.connect(1);
      await peer.connect(1);
      await until(() => peer.received.length === 2, 'two ACCEPTs');
      assert.ok(peer.received.every((d) => d[1] === UdpKind.ACCEPT && d.readUInt32BE(6) === 1));
      assert.equal(s.accepted.length, 1);
      assert.equal(s.listener.stats().connections, 1);
      await peer.connect(2);
      await until(() => s.accepted.length === 2, 'the new connection');
      await s.accepted[0].until(() => s.accepted[0].closes.length === 1, 'the old connection to close');
      assert.match(s.accepted[0].closes[0].reason, /reconnected$/);
      assert.equal(s.listener.stats().connections, 1);
    } finally {
      await peer.close();
      await s.listener.close();
    }
  });

  it('drops datagrams from unknown peers and counts them', async () => {
    const s = await udpServer();
    const peer = await rawPeer(s.listener.address.port!);
    try {
      await peer.data(1);
      await peer.send(Buffer.from('GET / HTTP/1.1\r\n\r\n'));
      await until(() => s.listener.stats().droppedUnknown === 2, 'two drops');
      assert.equal(s.accepted.length, 0);
      assert.equal(peer.received.length, 0);
    } finally {
      await peer.close();
      await s.listener.close();
    }
  });

  it('refuses a message above the datagram limit with the size, the limit and the fix', async () => {
    const s = await udpServer();
    try {
      const c = await udpBearer.connect(s.listener.address);
      assert.throws(() => c.send(Buffer.alloc(1201)), (err: unknown) => {
        assert.ok(err instanceof PeerwayError);
        assert.equal(err.code, 'FRAME_TOO_LARGE');
        assert.equal(
          err.message,
          'message of 1201 bytes does not fit one connect.bearer.udp datagram (limit 1200 bytes); send large messages over a reliable link, or raise attribute maxDatagramBytes (at most 65501)',
        );
        return true;
      });
      c.close();
    } finally {
      await s.listener.close();
    }
  });

  it('raises the limit with attribute maxDatagramBytes and rejects impossible values', async () => {
    const attributes = { maxDatagramBytes: '8000' };
    const s = await udpServer(attributes);
    try {
      const c = await udpBearer.connect(s.listener.address, { attributes });
      c.send(Buffer.alloc(8000, 1));
      await until(() => s.accepted[0]?.messages.length === 1, 'the large datagram');
      assert.equal(s.accepted[0].messages[0].length, 8000);
      c.close();
    } finally {
      await s.listener.close();
    }
    await assert.rejects(udpBearer.connect({ ...local, port: 9 }, { attributes: { maxDatagramBytes: '70000' } }), {
      code: 'CONFIG_INVALID',
      message: 'connect.bearer.udp: attribute maxDatagramBytes must be a whole number from 1 to 65501, got "70000"',
    });
  });

  it('says that nothing listens when the port is closed', async () => {
    const port = await freePort('udp');
    const started = Date.now();
    // The port-unreachable answer, not the 10 s timeout: CONNECT_FAILED (never TIMEOUT), well before it.
    await assert.rejects(udpBearer.connect({ ...local, port }, { timeoutMs: 10_000 }), { code: 'CONNECT_FAILED', message: `nothing listens on udp://127.0.0.1:${port}` });
    assert.ok(Date.now() - started < 5000);
  });

  it('closes a connection that stays silent past idleTimeoutMs', async () => {
    const s = await udpServer({ idleTimeoutMs: '200' });
    const peer = await rawPeer(s.listener.address.port!);
    try {
      await peer.connect(9);
      await until(() => s.accepted.length === 1, 'the connection');
      const c = s.accepted[0];
      await c.until(() => c.closes.length === 1, 'the idle close', 5000);
      assert.match(c.closes[0].reason, /^no datagram from 127\.0\.0\.1:\d+ for 200 ms \(idle timeout\)$/);
      assert.equal(s.listener.stats().connections, 0);
    } finally {
      await peer.close();
      await s.listener.close();
    }
  });

  it('keeps a quiet but live connection open with keepalives', async () => {
    const attributes = { idleTimeoutMs: '200' };
    const s = await udpServer(attributes);
    try {
      const client = (await udpBearer.connect(s.listener.address, { attributes })) as UdpConnection;
      const c = new Collector(client);
      await until(() => s.accepted.length === 1, 'the connection');
      const server = s.accepted[0].connection as UdpConnection;
      // Four keepalives each way span more than the 200 ms idle timeout (one goes out every ~100 ms).
      await until(() => client.stats().keepalives >= 4 && server.stats().keepalives >= 4, 'keepalives both ways', 5000);
      assert.equal(c.closes.length, 0);
      assert.equal(s.accepted[0].closes.length, 0);
      client.send(Buffer.from('still here'));
      await until(() => s.accepted[0].messages.length === 1, 'the message');
      client.close();
    } finally {
      await s.listener.close();
    }
  });
});
