import { encodeMessage } from './codec.js';
import { headerBytes, writeStrHeader } from './msgpack-writer.js';

/** An event or runtime-data push as a service publishes it: the same for every session it goes to. */
export type PublishedPush = { type: 'event'; name: string; args: Record<string, unknown> } | { type: 'data'; path: string; value: unknown };

/**
 * One publish on its way to many sessions, encoded once. A server → client push differs between two
 * sessions only in its `session` field, yet encoding it per session was most of the server's work in a
 * fan-out (about two thirds of `publishData` at 10 and 100 subscribers). The message map is written in the
 * order `type`, `session`, then the rest, so the bytes before and after the session id are the same for
 * every session: the first `encodeFor` encodes the whole message, and every later one copies those two
 * parts around its own id. What comes out is byte for byte what `encodeMessage` gives for that session.
 *
 * Scope: one publish (the fan-out loop makes one, sinks that encode binary pushes use it). The value is
 * read once, at the first `encodeFor`; a session whose grants redact part of it gets a value of its own
 * and must not use this.
 */
export class SharedPush {
  /** The first session's encoding and id: split into head and tail only when a second session asks. */
  private first: Uint8Array | undefined;
  private firstSession = '';
  /** The bytes before and after the session id. */
  private head: Uint8Array | undefined;
  private tail: Uint8Array | undefined;
  /** Set when the first encoding did not have the expected layout: every session is encoded whole. */
  private whole = false;

  constructor(readonly push: PublishedPush) {}

  /**
   * The encoding of this push for `session` (a buffer of its own, never written again). Throws what
   * `encodeMessage` throws for the message (too deep, not encodable), for every session alike.
   */
  encodeFor(session: string): Uint8Array {
    if (this.tail === undefined && !this.split()) return this.encodeWhole(session);
    const head = this.head!;
    const tail = this.tail!;
    const idBytes = utf8Length(session);
    const idHeader = headerBytes(idBytes);
    const out = Buffer.allocUnsafe(head.length + idHeader + idBytes + tail.length);
    out.set(head, 0);
    const p = writeStrHeader(out, head.length, idBytes, idHeader);
    writeUtf8(out, session, p, idBytes);
    out.set(tail, p + idBytes);
    return out;
  }

  private encodeWhole(session: string): Uint8Array {
    const p = this.push;
    // Field order matters: type, session, then the fields every copy shares.
    const bytes = encodeMessage(p.type === 'event' ? { type: 'event', session, name: p.name, args: p.args } : { type: 'data', session, path: p.path, value: p.value });
    if (!this.whole && this.first === undefined) {
      this.first = bytes;
      this.firstSession = session;
    }
    return bytes;
  }

  /**
   * Cuts the first encoding around its session id; false before there is one, or when its layout is not
   * the expected one (a writer that changed its forms: then every session is encoded whole).
   */
  private split(): boolean {
    const bytes = this.first;
    if (bytes === undefined || this.whole) return false;
    this.first = undefined;
    // fixmap of 4, "type" (5 bytes), the type as a fixstr, "session" (8 bytes), then the id.
    const at = 1 + 5 + 1 + this.push.type.length + 8;
    const id = encodedString(this.firstSession);
    if (bytes[0] !== 0x84 || at + id.length > bytes.length || !id.equals(bytes.subarray(at, at + id.length))) {
      this.whole = true;
      return false;
    }
    // encodeMessage's buffers are views of a chunk it never writes again: keeping them is safe.
    this.head = bytes.subarray(0, at);
    this.tail = bytes.subarray(at + id.length);
    return true;
  }
}

function encodedString(s: string): Buffer {
  const bytes = utf8Length(s);
  const size = headerBytes(bytes);
  const out = Buffer.allocUnsafe(size + bytes);
  writeUtf8(out, s, writeStrHeader(out, 0, bytes, size), bytes);
  return out;
}

/** UTF-8 length of `s`; session ids are short ASCII (base64url), counted without a native call. */
function utf8Length(s: string): number {
  for (let i = 0; i < s.length; i++) if (s.charCodeAt(i) >= 0x80) return Buffer.byteLength(s, 'utf8');
  return s.length;
}

/** Writes `s` (`bytes` long in UTF-8) at `at`; short ASCII by hand, where the native call costs more than the copy. */
function writeUtf8(out: Buffer, s: string, at: number, bytes: number): void {
  if (bytes === s.length && bytes < 64) {
    for (let i = 0; i < bytes; i++) out[at + i] = s.charCodeAt(i);
  } else {
    out.write(s, at, bytes, 'utf8');
  }
}
