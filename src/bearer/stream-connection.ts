import { HeldDelivery } from './held-delivery.js';
import type { Socket } from 'node:net';
import { PeerwayError } from '../errors.js';
import { DEFAULT_MAX_FRAME_BYTES, FRAME_HEADER_BYTES, FrameDecoder } from '../wire/frame-decoder.js';
import type { CloseInfo, ConnectionHandlers, MessageConnection } from './bearer.js';
import type { SlabReader } from './slab-reader.js';

/**
 * A MessageConnection over any Node stream socket (TCP, TLS, Unix domain): length-prefixed frames.
 * Shared by every stream bearer so framing, size limits and close reasons behave the same on all of them.
 */
export class StreamConnection implements MessageConnection {
  readonly reliable = true;
  private readonly delivery = new HeldDelivery();
  private closeInfo: CloseInfo | undefined;
  private readonly decoder: FrameDecoder;
  private readonly maxMessageBytes: number;
  private ended = false;
  private framesReceived = 0;
  private readonly plain: boolean;
  /** Frames sent in the current tick, written together on the next one (see send()). */
  private batch: Uint8Array[] = [];
  private batchBytes = 0;

  /**
   * `plain` says the socket carries no TLS (default: true unless it is a TLSSocket). On a plain
   * connection, a first frame header that is really a TLS ClientHello is reported as a bearer mix-up
   * rather than as an oversized frame. `reader` is the SlabReader the socket was created with (its
   * `onread`), for sockets we dial; without it the connection reads 'data' events.
   */
  constructor(
    readonly bearer: string,
    private readonly socket: Socket,
    readonly remote: string,
    maxMessageBytes = DEFAULT_MAX_FRAME_BYTES,
    plain = (socket as Socket & { encrypted?: boolean }).encrypted !== true,
    reader?: SlabReader,
  ) {
    this.plain = plain;
    this.maxMessageBytes = maxMessageBytes;
    this.decoder = new FrameDecoder(maxMessageBytes);
    socket.setNoDelay?.(true);
    if (reader) reader.attach((chunk) => this.onData(chunk));
    else socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('drain', () => this.delivery.drain());
    socket.on('error', (err: NodeJS.ErrnoException) => {
      this.closeInfo ??= {
        reason: `socket error: ${err.code ?? err.message}`,
        error: new PeerwayError('CONNECTION_CLOSED', `connection to ${remote} failed: ${err.message}`, { cause: err }),
      };
    });
    socket.on('close', () => this.finish());
  }

  get closed(): boolean {
    // writableEnded: after close() the socket only flushes; a send() then must throw, not fail later.
    return this.ended || this.socket.destroyed || this.socket.writableEnded;
  }

  get queuedBytes(): number {
    return this.socket.writableLength + this.batchBytes;
  }

  start(handlers: ConnectionHandlers): void {
    this.delivery.start(handlers);
  }

  send(payload: Uint8Array): boolean {
    if (this.closed) throw new PeerwayError('CONNECTION_CLOSED', `connection to ${this.remote} is closed`);
    if (payload.length > this.maxMessageBytes) {
      throw new PeerwayError(
        'FRAME_TOO_LARGE',
        `message of ${payload.length} bytes is above the limit of ${this.maxMessageBytes} bytes on ${this.bearer}`,
        { details: { length: payload.length, limit: this.maxMessageBytes } },
      );
    }
    // Frames sent in one tick leave in one write: a burst of replies, pushes or pipelined calls costs one
    // syscall and one stream write instead of one each. process.nextTick runs before any I/O, so a lone
    // frame waits for nothing but the end of the current callback.
    if (this.batch.length === 0) process.nextTick(this.flush);
    this.batch.push(payload);
    this.batchBytes += FRAME_HEADER_BYTES + payload.length;
    return this.socket.writableLength + this.batchBytes < this.socket.writableHighWaterMark;
  }

  /** Writes the frames batched in this tick as one buffer (header and body of each, in order). */
  private readonly flush = (): void => {
    const frames = this.batch;
    const bytes = this.batchBytes;
    this.batch = [];
    this.batchBytes = 0;
    if (this.socket.destroyed || this.socket.writableEnded) return;
    const out = Buffer.allocUnsafe(bytes);
    let offset = 0;
    for (const body of frames) {
      out.writeUInt32BE(body.length, offset);
      out.set(body, offset + FRAME_HEADER_BYTES);
      offset += FRAME_HEADER_BYTES + body.length;
    }
    this.socket.write(out);
  };

  close(reason = 'closed locally'): void {
    if (this.closed) return;
    this.closeInfo ??= { reason };
    // What was sent before close() still goes out, ahead of the FIN.
    if (this.batch.length > 0) this.flush();
    this.socket.end();
    // A peer that never reads must not keep us half-open forever.
    setTimeout(() => this.socket.destroy(), 2000).unref();
  }

  /** Closes at once because of a fault; the reason is reported to the handlers and logs. */
  abort(error: PeerwayError): void {
    this.closeInfo ??= { reason: error.message, error };
    this.socket.destroy();
  }

  private readonly onFrame = (frame: Buffer): void => {
    this.framesReceived++;
    this.delivery.message(frame);
  };

  private onData(chunk: Buffer): void {
    try {
      this.decoder.push(chunk, this.onFrame);
    } catch (err) {
      this.abort(this.tlsMixUp(err) ?? PeerwayError.from(err, 'PROTOCOL'));
    }
  }

  /**
   * A TLS record starts 0x16 0x03 0x01..0x04, which read as a length is ~369 MB: above any sane limit, so
   * the decoder rejects it. Only then, and only for the first frame, is it renamed; never a behaviour change.
   */
  private tlsMixUp(err: unknown): PeerwayError | undefined {
    if (!this.plain || this.framesReceived > 0 || !(err instanceof PeerwayError) || err.code !== 'FRAME_TOO_LARGE') return undefined;
    const length = err.details?.length;
    if (typeof length !== 'number' || length >>> 16 !== 0x1603 || ((length >>> 8) & 0xff) > 0x04) return undefined;
    const fix = this.bearer === 'connect.bearer.tcp' ? 'connect with tcp:// or listen with connect.bearer.ssl' : `this bearer does not speak TLS; use connect.bearer.ssl`;
    const where = this.bearer === 'connect.bearer.tcp' ? 'port' : 'connection';
    return new PeerwayError('PROTOCOL', `peer started a TLS handshake on a plain ${this.bearer} ${where}; ${fix}`, { details: { remote: this.remote } });
  }

  private finish(): void {
    if (this.ended) return;
    this.ended = true;
    let info = this.closeInfo ?? { reason: 'closed by peer' };
    if (!this.closeInfo && this.decoder.pendingBytes > 0) {
      info = { reason: `closed by peer in the middle of a frame (${this.decoder.pendingBytes} bytes pending)` };
    }
    this.decoder.release();
    this.delivery.close(info);
  }
}
