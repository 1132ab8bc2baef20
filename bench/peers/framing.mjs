// Length-prefixed framing shared by the raw baseline peers: 4-byte big-endian length, then the body, the
// same framing Peerway's stream bearers use (src/wire/frame-decoder.ts). Plain .mjs: no build needed.

/** Largest body a raw peer accepts; a bigger announced length means the two sides disagree on framing. */
const MAX_BODY = 16 * 1024 * 1024;

/**
 * Returns a function that takes socket chunks and calls `onFrame(frame)` for each complete frame, where
 * `frame` is the whole frame *including* its 4-byte header, so relays and echoes can write it on unchanged.
 */
export function frameReader(onFrame) {
  let pending = null;
  return (chunk) => {
    const buf = pending ? Buffer.concat([pending, chunk]) : chunk;
    let off = 0;
    while (buf.length - off >= 4) {
      const length = buf.readUInt32BE(off);
      if (length > MAX_BODY) throw new Error(`frame of ${length} bytes announced: framing mismatch`);
      if (buf.length - off - 4 < length) break;
      onFrame(buf.subarray(off, off + 4 + length));
      off += 4 + length;
    }
    pending = off === buf.length ? null : buf.subarray(off);
  };
}

/**
 * Returns a function that takes socket chunks and calls `onFrames(frames, count)` once per chunk with all
 * the complete frames it finished, headers included, as one contiguous buffer (no copy unless a frame
 * straddled two chunks): an echo, a relay or a hub forwards them with one write per chunk, as a careful
 * hand-written peer does. A partial frame at the end waits for the next chunk.
 */
export function chunkReader(onFrames) {
  let pending = null;
  return (chunk) => {
    const buf = pending ? Buffer.concat([pending, chunk]) : chunk;
    let off = 0;
    let count = 0;
    while (buf.length - off >= 4) {
      const length = buf.readUInt32BE(off);
      if (length > MAX_BODY) throw new Error(`frame of ${length} bytes announced: framing mismatch`);
      if (buf.length - off - 4 < length) break;
      off += 4 + length;
      count++;
    }
    pending = off === buf.length ? null : buf.subarray(off);
    if (count > 0) onFrames(off === buf.length ? buf : buf.subarray(0, off), count);
  };
}

/**
 * Writes to `socket` what is queued during one event-loop turn as one buffer with one `socket.write`
 * (flushed on `process.nextTick`), as Peerway's StreamConnection does: the frames of one turn cost one
 * system call, not one each.
 */
export function turnWriter(socket) {
  let queued = [];
  let bytes = 0;
  const flush = () => {
    const list = queued;
    queued = [];
    const out = list.length === 1 ? list[0] : Buffer.concat(list, bytes);
    bytes = 0;
    if (!socket.destroyed) socket.write(out);
  };
  return (buf) => {
    if (queued.length === 0) process.nextTick(flush);
    queued.push(buf);
    bytes += buf.length;
  };
}

/** Header + body in one buffer, so one write is one syscall (as Peerway's encodeFrame). */
export function frame(body) {
  const out = Buffer.allocUnsafe(4 + body.length);
  out.writeUInt32BE(body.length, 0);
  body.copy ? body.copy(out, 4) : out.set(body, 4);
  return out;
}

/** `--name value` pairs from argv into an object. */
export function parseArgs(argv) {
  const out = {};
  for (let i = 0; i < argv.length; i++) {
    if (!argv[i].startsWith('--')) continue;
    const next = argv[i + 1];
    if (next === undefined || next.startsWith('--')) out[argv[i].slice(2)] = true;
    else out[argv[i].slice(2)] = argv[++i];
  }
  return out;
}

/**
 * A raw peer lives only as long as the bench that started it: when the parent goes away its stdin
 * closes, and the peer exits instead of lingering as an orphan holding a port.
 */
export function exitWithParent() {
  process.stdin.on('end', () => process.exit(0));
  process.stdin.on('error', () => process.exit(0));
  process.stdin.resume();
}

/** Reads commands, one per line, from stdin (the bench drives publishers and senders this way). */
export function onCommand(handler) {
  let text = '';
  process.stdin.setEncoding('utf8');
  process.stdin.on('data', (chunk) => {
    text += chunk;
    let nl;
    while ((nl = text.indexOf('\n')) >= 0) {
      const line = text.slice(0, nl).trim();
      text = text.slice(nl + 1);
      if (line) handler(line.split(/\s+/));
    }
  });
}
