import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import { describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { randomBytes } from 'node:crypto';
import type { UdpFragmentHeader, UdpListener, UdpStats } from '../../src/bearer/udp.js';
import {
  UDP_MAX_REASSEMBLING,
  UDP_REASSEMBLY_TIMEOUT_MS,
  UdpConnection,
  UdpKind,
  encodeUdpDatagram,
  encodeUdpFragment,
  udpBearer,
  udpFragmentOffset,
} from '../../src/bearer/udp.js';
import { PeerwayError } from '../../src/errors.js';
import { partialFrames } from '../../src/wire/frame-decoder.js';
import { Collector, freePort, runBearerSuite, silentUdpSocket } from './bearer-suite.js';

const local = { bearer: udpBearer.id, host: '127.0.0.1', port: 0 };

runBearerSuite('connect.bearer.udp', () => ({
  bearer: udpBearer,
  listenAddress: () => ({ ...local }),
  // Six datagrams of the default 1200 bytes: the suite's message at the size limit travels in fragments.
  maxMessageBytes: 6000,
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
    dataDatagram: (sequence: number) => encodeUdpDatagram(UdpKind.DATA, sequence, Buffer.from(`#${sequence}`)),
    connect: (nonce: number) => {
      const n = Buffer.alloc(4);
      n.writeUInt32BE(nonce);
      return send(encodeUdpDatagram(UdpKind.CONNECT, 0, n));
    },
    close: () => new Promise<void>((resolve) => socket.close(() => resolve())),
  };
}

type RawPeer = Awaited<ReturnType<typeof rawPeer>>;

function statsOf(c: Collector): UdpStats {
  assert.ok(c.connection instanceof UdpConnection);
  return c.connection.stats();
}

/**
 * Sends datagrams one at a time, each only after the receiver has received the one before (delivered, held
 * or dropped), so loopback cannot reorder them: these tests are about what the receiver does.
 */
async function sendPaced(peer: RawPeer, c: Collector, datagrams: Buffer[]): Promise<void> {
  for (const d of datagrams) {
    const before = statsOf(c).received;
    await peer.send(d);
    await c.until(() => statsOf(c).received === before + 1, `datagram kind ${d[1]} sequence ${d.readUInt32BE(2)} to be received`);
  }
}

async function sendInOrder(peer: RawPeer, c: Collector, sequences: number[]): Promise<void> {
  await sendPaced(peer, c, sequences.map((s) => peer.dataDatagram(s)));
}

/** The FRAGMENT datagrams of `message`, in index order, numbered `number`, from sequence `first` on. */
function fragmentsOf(message: Buffer, number: number, first: number, count: number): Buffer[] {
  return Array.from({ length: count }, (_, index) => {
    const header: UdpFragmentHeader = { message: number, length: message.length, index, count };
    const body = message.subarray(udpFragmentOffset(message.length, count, index), udpFragmentOffset(message.length, count, index + 1));
    return encodeUdpFragment(first + index, header, body);
  });
}

/** A server with one raw peer connected to it, and the server's end of that connection. */
async function rawSession(attributes: Record<string, string> = {}) {
  const s = await udpServer(attributes);
  const peer = await rawPeer(s.listener.address.port!);
  await peer.connect(1);
  await until(() => s.accepted.length === 1, 'the connection');
  return {
    peer,
    c: s.accepted[0],
    close: async () => {
      await peer.close();
      await s.listener.close();
    },
  };
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
      assert.deepEqual(statsOf(c), {
        delivered: 4,
        received: 9,
        droppedStale: 2,
        droppedDuplicate: 3,
        droppedIncomplete: 0,
        droppedInvalid: 0,
        sent: 0,
        sentFragments: 0,
        keepalives: 0,
      });
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

  it('delivers a message above the datagram size in fragments, and refuses one above maxMessageBytes with the size, the limit and the fix', async () => {
    const attributes = { maxMessageBytes: '3000' };
    const s = await udpServer(attributes);
    try {
      const c = (await udpBearer.connect(s.listener.address, { attributes })) as UdpConnection;
      await until(() => s.accepted.length === 1, 'the connection');
      const server = s.accepted[0];
      const sent = [Buffer.alloc(1201, 1), Buffer.alloc(3000, 2)];
      for (const m of sent) c.send(m);
      await server.until(() => server.messages.length === 2, 'both messages');
      assert.deepEqual(server.messages, sent);
      assert.equal(c.stats().sentFragments, 2 + 3);
      assert.throws(() => c.send(Buffer.alloc(3001)), (err: unknown) => {
        assert.ok(err instanceof PeerwayError);
        assert.equal(err.code, 'FRAME_TOO_LARGE');
        assert.equal(
          err.message,
          'message of 3001 bytes is above the connect.bearer.udp message limit (limit 3000 bytes); send large messages over a reliable link, or raise attribute maxMessageBytes (at most 77855580 with maxDatagramBytes 1200)',
        );
        assert.deepEqual(err.details, { length: 3001, limit: 3000 });
        return true;
      });
      c.close();
    } finally {
      await s.listener.close();
    }
  });

  it('refuses a message above the default limit of 1 MiB', async () => {
    const s = await udpServer();
    try {
      const c = await udpBearer.connect(s.listener.address);
      assert.throws(() => c.send(Buffer.alloc(1024 * 1024 + 1)), { code: 'FRAME_TOO_LARGE', message: /^message of 1048577 bytes is above the connect\.bearer\.udp message limit \(limit 1048576 bytes\)/ });
      c.close();
    } finally {
      await s.listener.close();
    }
  });

  it('carries a 50 KB message whole and intact both ways over real sockets', async () => {
    const s = await udpServer();
    try {
      const client = new Collector(await udpBearer.connect(s.listener.address));
      await until(() => s.accepted.length === 1, 'the connection');
      const server = s.accepted[0];
      const up = randomBytes(50_000);
      const down = randomBytes(50_000);
      client.connection.send(up);
      server.connection.send(down);
      await server.until(() => server.messages.length === 1, 'the message at the server');
      await client.until(() => client.messages.length === 1, 'the message at the client');
      assert.ok(server.messages[0].equals(up), 'intact at the server');
      assert.ok(client.messages[0].equals(down), 'intact at the client');
      // 1188 bytes of message per 1200-byte datagram, after the 12-byte fragment header.
      assert.equal(statsOf(client).sentFragments, Math.ceil(50_000 / 1188));
      assert.equal(statsOf(server).received, Math.ceil(50_000 / 1188));
      assert.deepEqual((server.connection as UdpConnection).reassembly(), { messages: 0, bytes: 0 });
      client.connection.close();
    } finally {
      await s.listener.close();
    }
  });

  it('drops a message with a lost fragment at its deadline, counts it, and carries on', async () => {
    const r = await rawSession();
    try {
      const started = Date.now();
      const [f0, , f2] = fragmentsOf(Buffer.alloc(3000, 7), 1, 1, 3);
      await sendPaced(r.peer, r.c, [f0, f2]);
      assert.deepEqual((r.c.connection as UdpConnection).reassembly(), { messages: 1, bytes: 3000 });
      await r.c.until(() => statsOf(r.c).droppedIncomplete === 1, 'the incomplete message to be abandoned', UDP_REASSEMBLY_TIMEOUT_MS + 3000);
      assert.ok(Date.now() - started >= UDP_REASSEMBLY_TIMEOUT_MS - 50, 'not before its deadline');
      assert.deepEqual((r.c.connection as UdpConnection).reassembly(), { messages: 0, bytes: 0 });
      await sendInOrder(r.peer, r.c, [4]);
      assert.deepEqual(r.c.messages.map(String), ['#4']);
      assert.equal(statsOf(r.c).delivered, 1);
    } finally {
      await r.close();
    }
  });

  it('reassembles fragments that arrive out of order, once, and drops their duplicates', async () => {
    const r = await rawSession();
    try {
      const message = randomBytes(4000);
      const [f0, f1, f2, f3] = fragmentsOf(message, 1, 10, 4);
      await sendPaced(r.peer, r.c, [f3, f1, f1, f0, f2, f1, f3]);
      assert.equal(r.c.messages.length, 1);
      assert.ok(r.c.messages[0].equals(message));
      // Held once (f1 again), already delivered (f1, f3 after the message), all duplicates as for DATA.
      assert.deepEqual(pick(statsOf(r.c), 'delivered', 'droppedDuplicate', 'droppedStale', 'droppedIncomplete'), { delivered: 1, droppedDuplicate: 3, droppedStale: 0, droppedIncomplete: 0 });
      // The message took sequences 10 … 13: DATA 12 is old news, 14 is next.
      await sendInOrder(r.peer, r.c, [12, 14]);
      assert.deepEqual(r.c.messages.slice(1).map(String), ['#14']);
    } finally {
      await r.close();
    }
  });

  it('never delivers a message that began before the last delivered one', async () => {
    const r = await rawSession();
    try {
      // A message on sequences 10 … 12 overtaken by DATA 13: its fragments are all stale.
      await sendPaced(r.peer, r.c, [r.peer.dataDatagram(13), ...fragmentsOf(Buffer.alloc(2500, 1), 1, 10, 3)]);
      // A message on 20 … 22 in reassembly when DATA 23 arrives: abandoned then, its later fragments stale.
      const [g0, g1, g2] = fragmentsOf(Buffer.alloc(2500, 2), 2, 20, 3);
      await sendPaced(r.peer, r.c, [g0, r.peer.dataDatagram(23), g1, g2]);
      // A fragment newer than DATA 23 whose message began at 22 (25 − index 3) would go back in time too.
      await sendPaced(r.peer, r.c, [encodeUdpFragment(25, { message: 3, length: 4, index: 3, count: 4 }, Buffer.from('x'))]);
      assert.deepEqual(r.c.messages.map(String), ['#13', '#23']);
      assert.deepEqual(pick(statsOf(r.c), 'delivered', 'droppedStale', 'droppedIncomplete'), { delivered: 2, droppedStale: 6, droppedIncomplete: 1 });
      assert.deepEqual((r.c.connection as UdpConnection).reassembly(), { messages: 0, bytes: 0 });
    } finally {
      await r.close();
    }
  });

  it(`holds at most ${UDP_MAX_REASSEMBLING} incomplete messages, abandoning the oldest, and a delivered one abandons those it overtook`, async () => {
    const r = await rawSession();
    try {
      const messages = Array.from({ length: 6 }, (_, i) => fragmentsOf(Buffer.alloc(2000, i), i + 1, 10 * (i + 1), 2));
      await sendPaced(r.peer, r.c, messages.map(([first]) => first));
      assert.equal((r.c.connection as UdpConnection).reassembly().messages, UDP_MAX_REASSEMBLING);
      assert.equal(statsOf(r.c).droppedIncomplete, 6 - UDP_MAX_REASSEMBLING);
      // Message 1 was abandoned: its last fragment starts nothing new. Message 4 completes and overtakes 3.
      await sendPaced(r.peer, r.c, [messages[0][1], messages[3][1]]);
      assert.equal(r.c.messages.length, 1);
      assert.ok(r.c.messages[0].equals(Buffer.alloc(2000, 3)));
      assert.deepEqual(pick(statsOf(r.c), 'droppedInvalid', 'droppedIncomplete'), { droppedInvalid: 1, droppedIncomplete: 3 });
      assert.deepEqual((r.c.connection as UdpConnection).reassembly(), { messages: 2, bytes: 4000 });
    } finally {
      await r.close();
    }
  });

  it('bounds the bytes in reassembly to twice maxMessageBytes, abandoning the oldest message', async () => {
    const r = await rawSession({ maxMessageBytes: '3000' });
    try {
      const messages = Array.from({ length: 3 }, (_, i) => fragmentsOf(Buffer.alloc(2500, i), i + 1, 10 * (i + 1), 3));
      await sendPaced(r.peer, r.c, messages.map(([first]) => first));
      assert.deepEqual((r.c.connection as UdpConnection).reassembly(), { messages: 2, bytes: 5000 });
      assert.equal(statsOf(r.c).droppedIncomplete, 1);
      // An older message than every one held is refused rather than abandoning a newer one.
      await sendPaced(r.peer, r.c, fragmentsOf(Buffer.alloc(2500, 9), 9, 5, 3).slice(0, 1));
      assert.deepEqual((r.c.connection as UdpConnection).reassembly(), { messages: 2, bytes: 5000 });
      assert.equal(statsOf(r.c).droppedIncomplete, 2);
      // The two newest were kept: both complete.
      await sendPaced(r.peer, r.c, [...messages[1].slice(1), ...messages[2].slice(1)]);
      assert.deepEqual(r.c.messages, [Buffer.alloc(2500, 1), Buffer.alloc(2500, 2)]);
    } finally {
      await r.close();
    }
  });

  it('counts the bytes in reassembly towards the process-wide bound on unfinished frames, and gives them back on close', async () => {
    const r = await rawSession();
    const limit = partialFrames.limit;
    try {
      const held = partialFrames.held;
      await sendPaced(r.peer, r.c, fragmentsOf(Buffer.alloc(2000), 1, 1, 2).slice(0, 1));
      assert.equal(partialFrames.held, held + 2000);
      partialFrames.limit = partialFrames.held + 1000;
      await sendPaced(r.peer, r.c, fragmentsOf(Buffer.alloc(2000), 2, 3, 2).slice(0, 1));
      assert.deepEqual((r.c.connection as UdpConnection).reassembly(), { messages: 1, bytes: 2000 });
      assert.equal(statsOf(r.c).droppedIncomplete, 1, 'the message above the budget is refused');
      r.c.connection.close();
      assert.equal(partialFrames.held, held);
    } finally {
      partialFrames.limit = limit;
      await r.close();
    }
  });

  it('refuses a message above maxMessageBytes, and fragments with an impossible count or disagreeing with their message', async () => {
    const r = await rawSession({ maxMessageBytes: '3000' });
    try {
      const fragment = (sequence: number, header: UdpFragmentHeader, size: number) => encodeUdpFragment(sequence, header, Buffer.alloc(size));
      await sendPaced(r.peer, r.c, [
        fragment(1, { message: 1, length: 3001, index: 0, count: 3 }, 1000), // above maxMessageBytes
        fragment(2, { message: 2, length: 2, index: 0, count: 3 }, 1), // more fragments than bytes
        fragment(3, { message: 3, length: 2000, index: 2, count: 2 }, 1000), // index beyond the count
        fragment(4, { message: 4, length: 2000, index: 0, count: 2 }, 999), // not its share of the message
        encodeUdpDatagram(UdpKind.FRAGMENT, 5, Buffer.alloc(11)), // shorter than a fragment header
        fragment(6, { message: 6, length: 2000, index: 0, count: 2 }, 1000), // fine: starts message 6
        fragment(7, { message: 6, length: 2000, index: 1, count: 3 }, 667), // another count for message 6
        fragment(8, { message: 6, length: 2000, index: 1, count: 2 }, 1000), // another first sequence (8 − 1 ≠ 6)
        encodeUdpDatagram(UdpKind.DATA, 9, Buffer.alloc(3001)), // a whole message above maxMessageBytes
      ]);
      assert.deepEqual(pick(statsOf(r.c), 'droppedInvalid', 'delivered'), { droppedInvalid: 8, delivered: 0 });
      assert.deepEqual((r.c.connection as UdpConnection).reassembly(), { messages: 1, bytes: 2000 });
      await sendPaced(r.peer, r.c, [fragment(7, { message: 6, length: 2000, index: 1, count: 2 }, 1000)]);
      assert.equal(r.c.messages.length, 1);
    } finally {
      await r.close();
    }
  });

  it('carries a message in one datagram up to attribute maxDatagramBytes and rejects impossible sizes', async () => {
    const attributes = { maxDatagramBytes: '8000' };
    const s = await udpServer(attributes);
    try {
      const c = (await udpBearer.connect(s.listener.address, { attributes })) as UdpConnection;
      c.send(Buffer.alloc(8000, 1));
      await until(() => s.accepted[0]?.messages.length === 1, 'the large datagram');
      assert.equal(s.accepted[0].messages[0].length, 8000);
      assert.equal(c.stats().sentFragments, 0);
      c.close();
    } finally {
      await s.listener.close();
    }
    const dead = { ...local, port: 9 };
    await assert.rejects(udpBearer.connect(dead, { attributes: { maxDatagramBytes: '70000' } }), {
      code: 'CONFIG_INVALID',
      message: 'connect.bearer.udp: attribute maxDatagramBytes must be a whole number from 1 to 65501, got "70000"',
    });
    await assert.rejects(udpBearer.connect(dead, { attributes: { maxDatagramBytes: '100', maxMessageBytes: '6000000' } }), {
      code: 'CONFIG_INVALID',
      message: 'connect.bearer.udp: attribute maxMessageBytes must be a whole number from 1 to 5767080 (65535 fragments with maxDatagramBytes 100), got "6000000"',
    });
    await assert.rejects(udpBearer.connect(dead, { attributes: { maxMessageBytes: 'lots' } }), { code: 'CONFIG_INVALID', message: /maxMessageBytes must be a whole number from 1 to 77855580 .*got "lots"$/ });
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

function pick<K extends keyof UdpStats>(stats: UdpStats, ...keys: K[]): Pick<UdpStats, K> {
  return Object.fromEntries(keys.map((k) => [k, stats[k]])) as Pick<UdpStats, K>;
}
