import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import net from 'node:net';
import { describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import fc from 'fast-check';
import type { Bearer, BearerAddress, BearerOptions, CloseInfo, ConnectOptions, Listener, MessageConnection } from '../../src/bearer/bearer.js';
import { formatBearerUrl, parseBearerUrl } from '../../src/bearer/registry.js';
import type { ErrorCode } from '../../src/errors.js';
import { PeerwayError } from '../../src/errors.js';
import { FrameDecoder, encodeFrame } from '../../src/wire/frame-decoder.js';
import '../helpers/property-seed.js';

/** What a bearer's test file gives the shared compliance suite. */
export interface BearerFixture {
  bearer: Bearer;
  /** An address to listen on with an ephemeral port (or a fresh socket path). */
  listenAddress(): BearerAddress;
  listenOptions?: BearerOptions;
  connectOptions?: ConnectOptions;
  /** The message size limit the suite configures on both sides; a message of exactly this size must pass. */
  maxMessageBytes: number;
  /** An address where nothing listens. */
  deadAddress(): Promise<BearerAddress>;
  /** Code expected when connecting to deadAddress (CONNECT_FAILED unless the bearer cannot know). */
  deadCode?: ErrorCode;
  /** The message expected when connecting to deadAddress. */
  deadMessage: RegExp;
  /**
   * An address that accepts at the socket level but never completes the bearer's own handshake (TLS,
   * WebSocket upgrade, UDP CONNECT). Bearers without a handshake of their own leave it out.
   */
  silentAddress?(): Promise<{ address: BearerAddress; close(): Promise<void> }>;
}

/** Records what a connection delivers, so tests can wait for it. */
export class Collector {
  readonly messages: Buffer[] = [];
  readonly closes: CloseInfo[] = [];
  private waiters: Array<() => void> = [];

  constructor(readonly connection: MessageConnection, start = true) {
    if (start) this.start();
  }

  start(): void {
    this.connection.start({
      message: (m) => {
        this.messages.push(Buffer.from(m));
        this.wake();
      },
      close: (info) => {
        this.closes.push(info);
        this.wake();
      },
    });
  }

  /** Resolves when `done()` holds; fails the test after `ms` instead of hanging. */
  async until(done: () => boolean, what: string, ms = 3000): Promise<void> {
    const deadline = Date.now() + ms;
    while (!done()) {
      const left = deadline - Date.now();
      if (left <= 0) assert.fail(`timed out after ${ms} ms waiting for ${what} (have ${this.messages.length} messages, ${this.closes.length} closes)`);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, Math.min(left, 50));
        this.waiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
  }

  /** Like `until`, but a wait that runs out is not a failure: for pacing, where the condition may never hold. */
  async settle(done: () => boolean, ms: number): Promise<void> {
    try {
      await this.until(done, 'pacing', ms);
    } catch {
      // Pacing only: the caller checks what arrived.
    }
  }

  numbers(): number[] {
    return this.messages.map((m) => m.readUInt32BE(0));
  }

  private wake(): void {
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
  }
}

/** A message of `size` bytes whose first four bytes hold `i`, so order and loss can be checked. */
export function numbered(i: number, size = 8): Buffer {
  const b = Buffer.alloc(size, i & 0xff);
  b.writeUInt32BE(i, 0);
  return b;
}

/**
 * Reliable bearers must deliver exactly what was sent. Unreliable ones may lose a few datagrams but never
 * reorder or duplicate them: the received numbers must be a strictly increasing subsequence.
 */
export function assertDelivered(received: number[], count: number, reliable: boolean, maxLost = 0): void {
  const expected = Array.from({ length: count }, (_, i) => i);
  if (reliable) return assert.deepEqual(received, expected);
  for (let i = 1; i < received.length; i++) assert.ok(received[i] > received[i - 1], `out of order or duplicated at ${i}: ${received[i - 1]} then ${received[i]}`);
  assert.ok(received.every((n) => n >= 0 && n < count), 'received a number never sent');
  assert.ok(count - received.length <= maxLost, `lost ${count - received.length} of ${count} (allowed ${maxLost})`);
}

/**
 * Sends numbered markers (`first`, `first + 1`, …) on an unreliable connection until one reaches
 * `receiver`, and fails after 5 s of silence. Datagrams arrive in order or not at all, so once a marker
 * is in, everything sent before it has arrived or never will: the event to wait for instead of a sleep.
 */
export async function deliverMarker(sender: MessageConnection, receiver: Collector, first: number): Promise<void> {
  const deadline = Date.now() + 5000;
  for (let marker = first; ; marker++) {
    sender.send(numbered(marker));
    const arrived = () => receiver.numbers().some((n) => n >= first);
    await receiver.settle(arrived, 50);
    if (arrived()) return;
    if (Date.now() > deadline) assert.fail(`no marker arrived within 5 s over ${sender.bearer}`);
  }
}

/** The numbers below `first`: what a test sent before its markers. */
export function withoutMarkers(numbers: number[], first: number): number[] {
  return numbers.filter((n) => n < first);
}

/** A TCP server that accepts and then says nothing: the peer of a handshake that never completes. */
export async function silentTcpServer(): Promise<{ port: number; close(): Promise<void> }> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((s) => {
    sockets.add(s);
    s.on('error', () => undefined);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as net.AddressInfo).port,
    close: () => new Promise<void>((resolve) => {
      for (const s of sockets) s.destroy();
      server.close(() => resolve());
    }),
  };
}

/** A bound UDP socket that never answers. */
export async function silentUdpSocket(): Promise<{ port: number; close(): Promise<void> }> {
  const socket = dgram.createSocket('udp4');
  await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
  return { port: socket.address().port, close: () => new Promise<void>((resolve) => socket.close(() => resolve())) };
}

/** A TCP (or UDP) port that was free a moment ago, so nothing listens there. */
export async function freePort(kind: 'tcp' | 'udp' = 'tcp'): Promise<number> {
  const s = kind === 'tcp' ? await silentTcpServer() : await silentUdpSocket();
  await s.close();
  return s.port;
}

async function rejectsWithCode(promise: Promise<unknown>, codes: readonly ErrorCode[]): Promise<PeerwayError> {
  try {
    await promise;
  } catch (err) {
    assert.ok(err instanceof PeerwayError, `expected a PeerwayError, got ${String(err)}`);
    assert.ok(codes.includes(err.code), `expected ${codes.join(' or ')}, got ${err.code}: ${err.message}`);
    return err;
  }
  return assert.fail(`expected a rejection with ${codes.join(' or ')}`);
}

/**
 * The compliance suite every bearer passes (DESIGN §2): listen/connect, ordered delivery, early messages,
 * size limits, fast failures, close semantics and abort. Each test owns and cleans up its sockets.
 */
export function runBearerSuite(name: string, setup: () => BearerFixture | Promise<BearerFixture>): void {
  // An async suite body: the fixture (certificates, temp dirs) exists before the tests are declared.
  describe(`${name} (bearer compliance suite)`, async () => {
    const fx = await setup();
    const cleanups: Array<() => unknown> = [];
    const lopts = () => ({ ...fx.listenOptions, maxMessageBytes: fx.maxMessageBytes });
    const copts = (extra: ConnectOptions = {}) => ({ ...fx.connectOptions, maxMessageBytes: fx.maxMessageBytes, ...extra });

    /** Listens, connects once, and hands back both ends; everything is closed after the test. */
    async function pair(startServer = true, startClient = true): Promise<{ listener: Listener; client: Collector; server: Collector }> {
      let accept!: (c: MessageConnection) => void;
      const accepted = new Promise<MessageConnection>((resolve) => (accept = resolve));
      const listener = await fx.bearer.listen(fx.listenAddress(), accept, lopts());
      cleanups.push(() => listener.close());
      const clientConnection = await fx.bearer.connect(listener.address, copts());
      cleanups.push(() => clientConnection.close());
      const client = new Collector(clientConnection, startClient);
      const server = new Collector(await accepted, startServer);
      return { listener, client, server };
    }

    const after = async () => {
      for (const c of cleanups.splice(0).reverse()) await c();
    };

    it('listens on an ephemeral address and reports the bound one', async () => {
      try {
        const requested = fx.listenAddress();
        const listener = await fx.bearer.listen(requested, () => undefined, lopts());
        cleanups.push(() => listener.close());
        assert.equal(listener.address.bearer, fx.bearer.id);
        if (requested.port !== undefined) {
          assert.equal(requested.port, 0);
          assert.ok(listener.address.port! > 0, `bound port ${listener.address.port}`);
        }
        assert.deepEqual(parseBearerUrl(formatBearerUrl(listener.address)), listener.address);
        const c = await fx.bearer.connect(listener.address, copts());
        cleanups.push(() => c.close());
        assert.equal(c.bearer, fx.bearer.id);
        assert.equal(c.reliable, fx.bearer.reliable);
      } finally {
        await after();
      }
    });

    it('carries messages both ways in order', async () => {
      try {
        const { client, server } = await pair();
        for (let i = 0; i < 50; i++) {
          client.connection.send(numbered(i));
          server.connection.send(numbered(i, 100));
        }
        if (fx.bearer.reliable) {
          await server.until(() => server.messages.length >= 50, '50 messages at the server');
          await client.until(() => client.messages.length >= 50, '50 messages at the client');
        } else {
          // Loss is allowed, so wait for a marker that is resent until it arrives: nothing older can follow it.
          await deliverMarker(client.connection, server, 50);
          await deliverMarker(server.connection, client, 50);
        }
        assertDelivered(withoutMarkers(server.numbers(), 50), 50, fx.bearer.reliable, fx.bearer.reliable ? 0 : 50);
        assertDelivered(withoutMarkers(client.numbers(), 50), 50, fx.bearer.reliable, fx.bearer.reliable ? 0 : 50);
        assert.ok(client.messages.every((m, i) => m.length === (client.numbers()[i] < 50 ? 100 : 8)));
      } finally {
        await after();
      }
    });

    it('never loses the first message, even when sent at once and read late', async () => {
      try {
        let accept!: (c: MessageConnection) => void;
        const accepted = new Promise<MessageConnection>((resolve) => (accept = resolve));
        const listener = await fx.bearer.listen(fx.listenAddress(), (c) => {
          c.send(Buffer.from('welcome'));
          accept(c);
        }, lopts());
        cleanups.push(() => listener.close());
        const c = await fx.bearer.connect(listener.address, copts());
        cleanups.push(() => c.close());
        c.send(Buffer.from('hello'));
        const serverConnection = await accepted;
        await sleep(50); // both messages have arrived before anyone called start()
        const server = new Collector(serverConnection);
        const client = new Collector(c);
        await server.until(() => server.messages.length === 1, 'hello at the server');
        await client.until(() => client.messages.length === 1, 'welcome at the client');
        assert.equal(server.messages[0].toString(), 'hello');
        assert.equal(client.messages[0].toString(), 'welcome');
      } finally {
        await after();
      }
    });

    it('carries 2000 small messages', async () => {
      try {
        const { client, server } = await pair();
        if (fx.bearer.reliable) {
          for (let i = 0; i < 2000; i++) client.connection.send(numbered(i));
          await server.until(() => server.messages.length >= 2000, 'the messages', 5000);
          assertDelivered(server.numbers(), 2000, true);
          return;
        }
        // A datagram bearer may lose datagrams when the machine is busy (loopback drops what a starved
        // receiver does not read), so how many arrive belongs in the bench. What is checked here holds
        // under any load: sent in windows paced by what the receiver acknowledges, every message that
        // arrives is intact, in order and arrives once, and the link still carries traffic afterwards.
        const window = 50;
        for (let start = 0; start < 2000; start += window) {
          for (let i = start; i < start + window; i++) client.connection.send(numbered(i));
          await server.settle(() => (server.numbers().at(-1) ?? -1) >= start + window - 1, 250);
        }
        await deliverMarker(client.connection, server, 2000);
        const received = withoutMarkers(server.numbers(), 2000);
        assertDelivered(received, 2000, false, 2000);
        assert.ok(server.messages.every((m) => m.equals(numbered(m.readUInt32BE(0)))), 'every datagram arrived intact');
        // The first window fits the socket's receive buffer before the receiver has to read once.
        assert.deepEqual(received.slice(0, window), Array.from({ length: window }, (_, i) => i), 'the first window arrived whole');
      } finally {
        await after();
      }
    });

    if (fx.bearer.reliable) {
      it('delivers every message sent just before close(), then the close', async () => {
        try {
          const { client, server } = await pair();
          for (let i = 0; i < 20; i++) client.connection.send(numbered(i));
          client.connection.close('sent and done');
          await server.until(() => server.closes.length === 1, 'the close at the server');
          assertDelivered(server.numbers(), 20, true, 0);
        } finally {
          await after();
        }
      });
    }

    if (fx.bearer.reliable) {
      it('keeps every message it delivered intact while later reads arrive (no buffer is reused)', async () => {
        try {
          // Dialled sockets read into slabs (net.connect's onread); delivered messages are views, not copies.
          const { client, server } = await pair(true, false);
          const sent = Array.from({ length: 3000 }, (_, i) => Buffer.alloc(1 + (i % 300), i % 251));
          const kept: Buffer[] = [];
          let done!: () => void;
          const all = new Promise<void>((resolve) => (done = resolve));
          client.connection.start({
            message: (m) => {
              kept.push(m); // no copy on purpose
              if (kept.length === sent.length) done();
            },
            close: () => undefined,
          });
          for (let i = 0; i < sent.length; i += 100) {
            for (const m of sent.slice(i, i + 100)) server.connection.send(m);
            await new Promise((resolve) => setImmediate(resolve));
          }
          await Promise.race([all, sleep(5000).then(() => assert.fail(`got ${kept.length} of ${sent.length} messages`))]);
          for (let i = 0; i < sent.length; i++) assert.deepEqual(kept[i], sent[i], `message ${i}`);
        } finally {
          await after();
        }
      });
    }

    it('passes a message at the size limit and refuses one above it on send', async () => {
      try {
        const { client, server } = await pair();
        const big = Buffer.alloc(fx.maxMessageBytes);
        for (let i = 0; i < big.length; i++) big[i] = (i * 31) & 0xff;
        client.connection.send(big);
        await server.until(() => server.messages.length === 1, 'the message at the limit');
        assert.ok(server.messages[0].equals(big));
        assert.throws(() => client.connection.send(Buffer.alloc(fx.maxMessageBytes + 1)), (err: unknown) => {
          assert.ok(err instanceof PeerwayError);
          assert.equal(err.code, 'FRAME_TOO_LARGE');
          assert.match(err.message, new RegExp(`${fx.maxMessageBytes + 1}.*${fx.maxMessageBytes}`));
          return true;
        });
        client.connection.send(numbered(7));
        await server.until(() => server.messages.length === 2, 'a message after the refused one');
        assert.equal(client.closes.length, 0);
      } finally {
        await after();
      }
    });

    it('fails fast when nothing listens', async () => {
      const started = Date.now();
      // A refusal, not the timeout: the code says which, and it comes well before the 10 s allowed.
      const err = await rejectsWithCode(fx.bearer.connect(await fx.deadAddress(), copts({ timeoutMs: 10_000 })), [fx.deadCode ?? 'CONNECT_FAILED']);
      assert.ok(Date.now() - started < 5000, `took ${Date.now() - started} ms`);
      assert.match(err.message, fx.deadMessage);
    });

    for (const side of ['client', 'server'] as const) {
      it(`fires each side's close handler exactly once, with a reason, when the ${side} closes`, async () => {
          try {
          const { client, server } = await pair();
          const closer = side === 'client' ? client : server;
          const other = side === 'client' ? server : client;
          closer.connection.close('test is done');
          closer.connection.close('twice');
          await closer.until(() => closer.closes.length > 0, 'the local close');
          await other.until(() => other.closes.length > 0, 'the remote close');
          await sleep(50);
          assert.equal(closer.closes.length, 1);
          assert.equal(other.closes.length, 1);
          assert.equal(closer.closes[0].reason, 'test is done');
          assert.ok(other.closes[0].reason.length > 0);
          assert.equal(closer.connection.closed, true);
          assert.equal(other.connection.closed, true);
        } finally {
          await after();
        }
      });
    }

    it('ends its connections when the listener closes', async () => {
      try {
        const { listener, client, server } = await pair();
        await listener.close();
        await client.until(() => client.closes.length === 1, 'the client close');
        await server.until(() => server.closes.length === 1, 'the server close');
        assert.ok(client.closes[0].reason.length > 0);
      } finally {
        await after();
      }
    });

    it('throws CONNECTION_CLOSED on send after close', async () => {
      try {
        const { client } = await pair();
        client.connection.close();
        assert.throws(() => client.connection.send(numbered(1)), (err: unknown) => err instanceof PeerwayError && err.code === 'CONNECTION_CLOSED');
      } finally {
        await after();
      }
    });

    it('aborts connect on an abort signal', async () => {
      try {
        const listener = await fx.bearer.listen(fx.listenAddress(), (c) => c.close(), lopts());
        cleanups.push(() => listener.close());
        await rejectsWithCode(fx.bearer.connect(listener.address, copts({ signal: AbortSignal.abort() })), ['ABORTED']);
        const controller = new AbortController();
        const pending = fx.bearer.connect(listener.address, copts({ signal: controller.signal }));
        controller.abort();
        await rejectsWithCode(pending, ['ABORTED']);
      } finally {
        await after();
      }
    });

    if (fx.silentAddress) {
      it('aborts or times out a connect whose handshake never completes', async () => {
          const silent = await fx.silentAddress!();
        try {
          const controller = new AbortController();
          const started = Date.now();
          const pending = fx.bearer.connect(silent.address, copts({ signal: controller.signal, timeoutMs: 10_000 }));
          setTimeout(() => controller.abort(), 100);
          await rejectsWithCode(pending, ['ABORTED']);
          assert.ok(Date.now() - started < 5000, 'the abort, not the 10 s timeout');
          await rejectsWithCode(fx.bearer.connect(silent.address, copts({ timeoutMs: 200 })), ['TIMEOUT']);
        } finally {
          await silent.close();
        }
      });
    }
  });
}

/**
 * Property tests of the stream framing every stream bearer relies on: chunking never changes the frames,
 * and an oversized length fails as soon as its header is complete, before any body byte is awaited.
 */
export function runFramingProperties(): void {
  describe('FrameDecoder (properties)', () => {
    it('yields the same frames however the byte stream is chunked', () => {
      fc.assert(
        fc.property(
          fc.array(fc.uint8Array({ maxLength: 300 }), { maxLength: 20 }),
          fc.array(fc.integer({ min: 1, max: 64 }), { minLength: 1, maxLength: 30 }),
          (bodies, cuts) => {
            const stream = Buffer.concat(bodies.map((b) => encodeFrame(b)));
            const decoder = new FrameDecoder(1024);
            const out: Buffer[] = [];
            for (let offset = 0, i = 0; offset < stream.length; i++) {
              const size = cuts[i % cuts.length];
              decoder.push(stream.subarray(offset, offset + size), (f) => out.push(Buffer.from(f)));
              offset += size;
            }
            assert.deepEqual(out.map((b) => b.toString('hex')), bodies.map((b) => Buffer.from(b).toString('hex')));
            assert.equal(decoder.pendingBytes, 0);
          },
        ),
        { numRuns: 200 },
      );
    });

    it('delivers an empty frame whose header arrives byte by byte', () => {
      const decoder = new FrameDecoder(1024);
      const frames: Buffer[] = [];
      for (const byte of encodeFrame(new Uint8Array(0))) decoder.push(Buffer.from([byte]), (f) => frames.push(f));
      assert.deepEqual(frames, [Buffer.alloc(0)]);
    });

    it('throws FRAME_TOO_LARGE on the push that completes an oversized header', () => {
      fc.assert(
        fc.property(fc.integer({ min: 1025, max: 0xffffffff }), fc.integer({ min: 1, max: 4 }), fc.uint8Array({ maxLength: 16 }), (length, split, extra) => {
          const header = Buffer.alloc(4);
          header.writeUInt32BE(length);
          const decoder = new FrameDecoder(1024);
          const frames: Buffer[] = [];
          if (split < 4) decoder.push(header.subarray(0, split), (f) => frames.push(f));
          const rest = Buffer.concat([header.subarray(split < 4 ? split : 0), extra]);
          assert.throws(() => decoder.push(rest, (f) => frames.push(f)), (err: unknown) => err instanceof PeerwayError && err.code === 'FRAME_TOO_LARGE');
          assert.equal(frames.length, 0);
        }),
        { numRuns: 200 },
      );
    });
  });
}
