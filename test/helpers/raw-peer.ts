import { readFileSync } from 'node:fs';
import net from 'node:net';
import { decodeMessage, encodeMessage } from '../../src/wire/codec.js';
import { FrameDecoder, encodeFrame } from '../../src/wire/frame-decoder.js';
import { PROTOCOL_VERSION, type Hello, type Message } from '../../src/wire/messages.js';

/**
 * A hand-driven protocol peer on a plain TCP socket, for attack tests: it says exactly what the test
 * says, and reads only when told to (`pause()` makes it a subscriber that never reads).
 */
export class RawPeer {
  readonly received: Message[] = [];
  readonly closed: Promise<void>;
  private nextId = 1;
  private readonly decoder = new FrameDecoder(64 * 1024 * 1024);
  private waiters: (() => void)[] = [];

  private constructor(readonly socket: net.Socket) {
    socket.on('data', (chunk: Buffer) => {
      this.decoder.push(chunk, (frame) => this.received.push(decodeMessage(Buffer.from(frame))));
      this.wake();
    });
    socket.on('error', () => undefined);
    this.closed = new Promise((resolve) => socket.once('close', () => resolve()));
    void this.closed.then(() => this.wake());
  }

  /** Connects to 127.0.0.1:`port`; with a hello (default a client's), waits for the welcome. */
  static async connect(port: number, hello: Partial<Hello> | false = {}): Promise<RawPeer> {
    const socket = net.connect(port, '127.0.0.1');
    await new Promise((resolve, reject) => socket.once('connect', resolve).once('error', reject));
    const peer = new RawPeer(socket);
    if (hello !== false) {
      peer.send({ type: 'hello', version: PROTOCOL_VERSION, role: 'client', ...hello });
      await peer.until(() => peer.received.some((m) => m.type === 'welcome' || m.type === 'error'), 'the welcome');
    }
    return peer;
  }

  send(message: Message | Record<string, unknown>): void {
    this.socket.write(encodeFrame(encodeMessage(message as Message)));
  }

  /** Sends a request with the next id and resolves with its reply or error message. */
  async request(body: Record<string, unknown>, timeoutMs = 5000): Promise<Message> {
    const id = this.nextId++;
    this.send({ ...body, id });
    const answer = () => this.received.find((m) => (m.type === 'reply' || m.type === 'error') && m.id === id);
    await this.until(() => answer() !== undefined, `the answer to ${String(body.type)} #${id}`, timeoutMs);
    return answer()!;
  }

  /** Numbers the next requests from `id` on (a wide id takes more bytes on the wire). */
  useIdsFrom(id: number): void {
    this.nextId = id;
  }

  /** Stops reading: what the other side sends piles up in its own buffers. */
  pause(): void {
    this.socket.pause();
  }

  get isClosed(): boolean {
    return this.socket.destroyed || this.socket.readableEnded;
  }

  close(): void {
    this.socket.destroy();
  }

  /** Waits (bounded) until `done()` holds or the socket closes. */
  async until(done: () => boolean, what: string, timeoutMs = 5000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!done()) {
      if (this.socket.destroyed) throw new Error(`connection closed while waiting for ${what}`);
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, Math.min(left, 50));
        this.waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  private wake(): void {
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
  }
}

/** A process's resident memory in MB, from /proc (Linux). */
export function rssMb(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = Number(/^VmRSS:\s+(\d+) kB$/m.exec(status)?.[1] ?? NaN);
  return kb / 1024;
}
