import { HeldDelivery } from './held-delivery.js';
import type { Socket } from 'node:net';
import { PeerwayError } from '../errors.js';
import { encodeMessage } from '../wire/codec.js';
import { DEFAULT_MAX_FRAME_BYTES, FRAME_HEADER_BYTES, FrameDecoder, encodeFrame } from '../wire/frame-decoder.js';
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

  get peerCertificateSubject(): Readonly<Record<string, string | string[]>> | undefined {
    const tlsSocket = this.socket as Socket & { authorized?: boolean; getPeerCertificate?: () => { subject?: Record<string, string | string[]> } };
    if (tlsSocket.authorized !== true || !tlsSocket.getPeerCertificate) return undefined;
    const subject = tlsSocket.getPeerCertificate().subject;
    return subject && Object.keys(subject).length > 0 ? subject : undefined;
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
    if (this.refused) return; // what follows a refused frame is not read
    try {
      this.decoder.push(chunk, this.onFrame);
    } catch (err) {
      const foreign = this.foreignProtocol(err);
      if (foreign) return this.abort(foreign);
      this.refuse(PeerwayError.from(err, 'PROTOCOL'));
    }
  }

  /**
   * The peer broke a bound of ours (a frame above the size limit, too much held in partial frames): tell it
   * why in an `error` message before closing, so it can say more than "closed by peer" (and a runner stops
   * retrying a registration that can never fit: `permanent`). Reading stops at once.
   */
  private refused = false;

  private refuse(error: PeerwayError): void {
    this.refused = true;
    this.closeInfo ??= { reason: error.message, error };
    this.decoder.release();
    if (!this.socket.destroyed && !this.socket.writableEnded) {
      const notice = new PeerwayError(error.code, error.message, { details: { ...error.details, permanent: error.code === 'FRAME_TOO_LARGE' } });
      this.batch = [];
      this.batchBytes = 0;
      this.socket.end(encodeFrame(encodeMessage({ type: 'error', error: notice.toWire() })));
    }
    this.socket.pause();
    setTimeout(() => this.socket.destroy(), 1000).unref();
  }

  /**
   * A first "frame" whose length is really the start of another protocol's greeting (a TLS record, an
   * HTTP response or request, an SSH banner) reads as a length of hundreds of megabytes, so the decoder
   * rejects it as oversized. Only then, and only for the first frame, is it renamed to what the peer is:
   * a wrong port, which retrying will not fix (details.permanent), never a "raise the limit".
   */
  private foreignProtocol(err: unknown): PeerwayError | undefined {
    if (this.framesReceived > 0 || !(err instanceof PeerwayError) || err.code !== 'FRAME_TOO_LARGE') return undefined;
    const length = err.details?.length;
    if (typeof length !== 'number') return undefined;
    const what = this.greeting(length);
    if (!what) return undefined;
    return new PeerwayError('PROTOCOL', what, { details: { remote: this.remote, permanent: true } });
  }

  private greeting(length: number): string | undefined {
    const ascii = Buffer.alloc(4);
    ascii.writeUInt32BE(length);
    const text = ascii.toString('latin1');
    const tlsVersion = ((length >>> 8) & 0xff) <= 0x04 && length >>> 16 !== 0;
    if (this.plain && length >>> 16 === 0x1603 && tlsVersion) {
      const fix = this.bearer === 'connect.bearer.tcp' ? 'connect with tcp:// or listen with connect.bearer.ssl' : `this bearer does not speak TLS; use connect.bearer.ssl`;
      return `peer started a TLS handshake on a plain ${this.bearer} ${this.bearer === 'connect.bearer.tcp' ? 'port' : 'connection'}; ${fix}`;
    }
    if (this.plain && length >>> 16 === 0x1503 && tlsVersion) return `${this.remote} speaks TLS, not plain ${this.bearer}: connect with ssl:// and the CA of its certificate (--ca FILE)`;
    if (text === 'HTTP') return `${this.remote} answered in HTTP: it is a web server or a WebSocket endpoint, not a Peerway ${this.bearer} port (Peerway's WebSocket bearer is ws://HOST:PORT/peerway)`;
    if (text === 'SSH-') return `${this.remote} is an SSH server, not a Peerway port`;
    if (text === 'GET ' || text === 'POST' || text === 'HEAD' || text === 'PUT ') return `${this.remote} sent an HTTP request: a web client on a Peerway ${this.bearer} port (it speaks Peerway's framed protocol, not HTTP)`;
    return undefined;
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
