import net from 'node:net';
import tls from 'node:tls';
import dgram from 'node:dgram';
import { PeerwayError } from '../src/errors.js';
import { FrameDecoder, encodeFrame } from '../src/wire/frame-decoder.js';

/** Where a raw client connects: TCP port, Unix socket path, or TLS port with the CA to trust. */
export type RawAddress = { kind: 'tcp'; port: number } | { kind: 'uds'; path: string } | { kind: 'tls'; port: number; ca: Buffer };

/**
 * The client side of the raw baselines: length-prefixed frames over a plain socket, with the same frame
 * decoder Peerway uses, so a baseline differs from Peerway only in what Peerway adds above framing
 * (codec, request ids, sessions, checks, routing). Replies are matched first-in first-out, which is exact
 * for an echo peer and lets `request` serve both ping-pong and pipelined loads. Like Peerway's connections
 * (and the raw peers), it writes the frames of one event-loop turn with one write and decodes per chunk.
 */
export class FramedSocket {
  private readonly decoder = new FrameDecoder();
  private readonly waiting: { resolve: (b: Buffer) => void; reject: (e: Error) => void }[] = [];
  private closedWith: Error | undefined;
  private queued: Buffer[] = [];
  /** Called for frames nobody waits for (subscriptions). */
  onFrame: ((body: Buffer) => void) | undefined;

  private constructor(private readonly socket: net.Socket) {
    socket.setNoDelay?.(true);
    socket.on('data', (chunk: Buffer) =>
      this.decoder.push(chunk, (body) => {
        const w = this.waiting.shift();
        if (w) w.resolve(body);
        else this.onFrame?.(body);
      }),
    );
    const fail = (err?: Error) => {
      this.closedWith ??= err ?? new PeerwayError('CONNECTION_CLOSED', 'raw connection closed');
      for (const w of this.waiting.splice(0)) w.reject(this.closedWith);
    };
    socket.on('error', fail);
    socket.on('close', () => fail());
  }

  static connect(address: RawAddress, timeoutMs = 5000): Promise<FramedSocket> {
    return new Promise((resolve, reject) => {
      let socket: net.Socket;
      const ready = () => {
        clearTimeout(timer);
        socket.off('error', onError);
        resolve(new FramedSocket(socket));
      };
      const onError = (err: Error) => {
        clearTimeout(timer);
        reject(new PeerwayError('CONNECT_FAILED', `raw ${address.kind} connect failed: ${err.message}`, { cause: err }));
      };
      if (address.kind === 'tls') {
        // servername: the throw-away certificate is issued for "localhost" (and 127.0.0.1).
        socket = tls.connect({ host: '127.0.0.1', port: address.port, ca: address.ca, servername: 'localhost' }, ready);
      } else if (address.kind === 'uds') {
        socket = net.connect({ path: address.path }, ready);
      } else {
        socket = net.connect({ host: '127.0.0.1', port: address.port }, ready);
      }
      socket.once('error', onError);
      const timer = setTimeout(() => {
        socket.destroy();
        reject(new PeerwayError('TIMEOUT', `raw ${address.kind} connect took more than ${timeoutMs} ms`));
      }, timeoutMs);
    });
  }

  send(body: Uint8Array): void {
    this.write(encodeFrame(body));
  }

  /** Queues a frame; the frames queued in one turn leave as one buffer on `process.nextTick`. */
  private write(frame: Buffer): void {
    if (this.queued.length === 0) process.nextTick(this.flush);
    this.queued.push(frame);
  }

  private readonly flush = (): void => {
    const list = this.queued;
    this.queued = [];
    if (!this.socket.destroyed) this.socket.write(list.length === 1 ? list[0] : Buffer.concat(list));
  };

  /** Sends a frame and resolves with the next unclaimed reply frame. */
  request(body: Uint8Array): Promise<Buffer> {
    if (this.closedWith) return Promise.reject(this.closedWith);
    return new Promise((resolve, reject) => {
      this.waiting.push({ resolve, reject });
      this.write(encodeFrame(body));
    });
  }

  /** Waits for the next frame (the hub's subscription acknowledgement). */
  next(timeoutMs: number): Promise<Buffer> {
    if (this.closedWith) return Promise.reject(this.closedWith);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new PeerwayError('TIMEOUT', `no frame within ${timeoutMs} ms`)), timeoutMs);
      this.waiting.push({ resolve: (b) => (clearTimeout(timer), resolve(b)), reject: (e) => (clearTimeout(timer), reject(e)) });
    });
  }

  close(): void {
    this.socket.destroy();
  }
}

/** A UDP socket on 127.0.0.1 that counts datagrams and remembers when the last one arrived. */
export class DatagramCounter {
  received = 0;
  lastAt = 0;
  private constructor(private readonly socket: dgram.Socket) {
    socket.on('message', () => {
      this.received++;
      this.lastAt = performance.now();
    });
  }

  static open(): Promise<DatagramCounter> {
    return new Promise((resolve, reject) => {
      const socket = dgram.createSocket('udp4');
      socket.once('error', reject);
      socket.bind(0, '127.0.0.1', () => {
        socket.off('error', reject);
        resolve(new DatagramCounter(socket));
      });
    });
  }

  get port(): number {
    return this.socket.address().port;
  }

  reset(): void {
    this.received = 0;
    this.lastAt = 0;
  }

  close(): void {
    this.socket.close();
  }
}

/**
 * After a sender finished, waits until `expected` arrived or nothing arrived for `quietMs` (datagrams
 * still queued in the kernel come in meanwhile), bounded by `maxMs`.
 */
export async function settle(count: () => number, expected: number, quietMs: number, maxMs: number): Promise<void> {
  const end = performance.now() + maxMs;
  let last = count();
  let lastChange = performance.now();
  while (count() < expected && performance.now() < end) {
    await new Promise((r) => setTimeout(r, 5));
    const now = count();
    if (now !== last) {
      last = now;
      lastChange = performance.now();
    } else if (performance.now() - lastChange > quietMs) {
      return;
    }
  }
}
