import { PeerwayError } from '../errors.js';

/** Bytes of the big-endian length prefix in front of every frame on stream bearers. */
export const FRAME_HEADER_BYTES = 4;

/** Default upper bound for one frame's body; large enough for big runtime-data snapshots, small enough to stop a runaway peer. */
export const DEFAULT_MAX_FRAME_BYTES = 16 * 1024 * 1024;

/** Default bound on the bytes of unfinished frames held by all the stream connections of a process. */
export const DEFAULT_MAX_PARTIAL_FRAME_BYTES = 128 * 1024 * 1024;

/**
 * Bytes of frames received in part, across every FrameDecoder of this process, and the bound on them: 64
 * peers each sending most of a 16 MiB frame and then nothing would otherwise hold 1 GiB. A process (server,
 * runner) sets `limit` from its options.
 */
export const partialFrames = { held: 0, limit: DEFAULT_MAX_PARTIAL_FRAME_BYTES };

/**
 * Splits a byte stream into frames (4-byte big-endian length, then the body).
 *
 * An explicit two-state machine (header / body). The length is checked against the limit *before* any
 * body byte is buffered, so a peer announcing a 4 GiB frame costs us four bytes, not four gigabytes.
 */
export class FrameDecoder {
  private chunks: Buffer[] = [];
  private buffered = 0;
  private expected = -1; // -1 while reading a header

  constructor(private readonly maxFrameBytes: number = DEFAULT_MAX_FRAME_BYTES) {}

  /**
   * Feeds bytes; calls `onFrame` for each complete frame in order.
   * Throws PeerwayError FRAME_TOO_LARGE when a header announces a body above the limit; the stream is then unusable.
   */
  push(chunk: Buffer, onFrame: (frame: Buffer) => void): void {
    // Fast path: nothing buffered (and not in the middle of a frame whose header already arrived), so the
    // chunk starts at a frame boundary and whole frames are handed out without copying.
    if (this.buffered === 0 && this.expected < 0) {
      let offset = 0;
      while (chunk.length - offset >= FRAME_HEADER_BYTES) {
        const length = chunk.readUInt32BE(offset);
        this.checkLength(length);
        if (chunk.length - offset - FRAME_HEADER_BYTES < length) break;
        const start = offset + FRAME_HEADER_BYTES;
        offset = start + length;
        onFrame(chunk.subarray(start, offset));
      }
      if (offset === chunk.length) return;
      chunk = chunk.subarray(offset);
    }
    this.chunks.push(chunk);
    this.hold(chunk.length);
    for (;;) {
      if (this.expected < 0) {
        if (this.buffered < FRAME_HEADER_BYTES) return;
        const length = this.take(FRAME_HEADER_BYTES).readUInt32BE(0);
        this.checkLength(length);
        this.expected = length;
      }
      if (this.buffered < this.expected) return;
      const frame = this.take(this.expected);
      this.expected = -1;
      onFrame(frame);
    }
  }

  /** Gives back what this decoder holds to the process-wide budget (the connection closed). */
  release(): void {
    partialFrames.held -= this.buffered;
    this.buffered = 0;
    this.chunks = [];
    this.expected = -1;
  }

  private hold(bytes: number): void {
    this.buffered += bytes;
    partialFrames.held += bytes;
    if (partialFrames.limit > 0 && partialFrames.held > partialFrames.limit) {
      const held = partialFrames.held;
      this.release();
      throw new PeerwayError(
        'LIMIT_EXCEEDED',
        `unfinished frames across all connections hold ${held} bytes, above the limit of ${partialFrames.limit}; this connection's partial frame was dropped (raise --max-partial-frame-bytes if many peers legitimately send large messages at once)`,
        { details: { held, limit: partialFrames.limit } },
      );
    }
  }

  /** Bytes received but not yet delivered as a frame (used to report truncated streams). */
  get pendingBytes(): number {
    return this.buffered + (this.expected >= 0 ? FRAME_HEADER_BYTES : 0);
  }

  private checkLength(length: number): void {
    if (length > this.maxFrameBytes) {
      throw new PeerwayError(
        'FRAME_TOO_LARGE',
        `peer announced a frame of ${length} bytes, above the limit of ${this.maxFrameBytes} bytes (if this is legitimate, raise the limit: peerway server --max-message-bytes)`,
        { details: { length, limit: this.maxFrameBytes } },
      );
    }
  }

  private take(n: number): Buffer {
    if (n === 0) return Buffer.alloc(0);
    const first = this.chunks[0];
    let out: Buffer;
    if (first.length >= n) {
      out = first.subarray(0, n);
      if (first.length === n) this.chunks.shift();
      else this.chunks[0] = first.subarray(n);
    } else {
      out = Buffer.allocUnsafe(n);
      let filled = 0;
      while (filled < n) {
        const c = this.chunks[0];
        const need = n - filled;
        if (c.length <= need) {
          c.copy(out, filled);
          filled += c.length;
          this.chunks.shift();
        } else {
          c.copy(out, filled, 0, need);
          this.chunks[0] = c.subarray(need);
          filled += need;
        }
      }
    }
    this.buffered -= n;
    partialFrames.held -= n;
    return out;
  }
}

/** Prefixes a body with its 4-byte length in one buffer, so a stream write is a single syscall. */
export function encodeFrame(body: Uint8Array): Buffer {
  const out = Buffer.allocUnsafe(FRAME_HEADER_BYTES + body.length);
  out.writeUInt32BE(body.length, 0);
  out.set(body, FRAME_HEADER_BYTES);
  return out;
}
