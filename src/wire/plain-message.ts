/**
 * A reader for the messages every call is made of, without msgpackr: a map of at most 15 fields (keys short
 * ASCII strings) whose values are ASCII strings, binaries, integers up to 32 bits, nil, booleans, or one
 * more such map (a call's arguments). A call and its reply are almost always that. For them msgpackr's
 * set-up per frame (a DataView made on each frame buffer, its state) costs more than reading the bytes:
 * about 0.3 µs of the 0.5 µs msgpackr took per 64-byte call or reply here.
 *
 * Anything else (another type, a non-ASCII or longer string, a key `__proto__`, bytes that end early or go
 * on after the map) answers undefined and is left to msgpackr, which also reports what is wrong. What this
 * returns is what msgpackr makes of the same bytes: keys in their order (the last of duplicates wins),
 * binaries as Buffer views of the body, nil as null (property-tested against msgpackr).
 */

const latin1Slice = (Buffer.prototype as unknown as { latin1Slice: (this: Uint8Array, start: number, end: number) => string }).latin1Slice;

/** Longest string read here; longer ones go to msgpackr. */
const MAX_STRING = 255;

let pos = 0;
/** Set when a value could not be read here: the whole message goes to msgpackr. */
let refused = false;

/** The message in `body` when it has the plain form described above; undefined otherwise. */
export function readPlainMessage(body: Uint8Array): Record<string, unknown> | undefined {
  const first = body[0];
  if (first === undefined || first < 0x81 || first > 0x8f) return undefined;
  pos = 0;
  refused = false;
  const message = readMap(body, 2);
  return refused || pos !== body.length ? undefined : message;
}

/** The fixmap at `pos`; `levels`: this one and the maps below it that may still be read here. */
function readMap(body: Uint8Array, levels: number): Record<string, unknown> | undefined {
  const b = body[pos];
  if (b < 0x80 || b > 0x8f) return refuse();
  pos++;
  const out: Record<string, unknown> = {};
  for (let n = b & 0x0f; n > 0; n--) {
    const key = readString(body);
    if (key === undefined || key === '__proto__') return refuse();
    const value = readValue(body, levels);
    if (refused) return undefined;
    out[key] = value;
  }
  return out;
}

function readValue(body: Uint8Array, levels: number): unknown {
  const b = body[pos];
  if (b === undefined) return refuse();
  if (b <= 0x7f) {
    pos++;
    return b;
  }
  if (b >= 0xe0) {
    pos++;
    return b - 0x100;
  }
  if (b >= 0xa0 && b <= 0xbf) return readString(body) ?? refuse();
  if (b >= 0x80 && b <= 0x8f) return levels > 1 ? readMap(body, levels - 1) : refuse();
  switch (b) {
    case 0xc0:
      pos++;
      return null;
    case 0xc2:
      pos++;
      return false;
    case 0xc3:
      pos++;
      return true;
    case 0xcc:
      return pos + 2 <= body.length ? body[(pos += 2) - 1] : refuse();
    case 0xcd:
      return pos + 3 <= body.length ? ((pos += 3), body[pos - 2] * 0x100 + body[pos - 1]) : refuse();
    case 0xce:
      return pos + 5 <= body.length ? ((pos += 5), body[pos - 4] * 0x1000000 + body[pos - 3] * 0x10000 + body[pos - 2] * 0x100 + body[pos - 1]) : refuse();
    case 0xd9:
      return readString(body) ?? refuse();
    case 0xc4:
    case 0xc5:
    case 0xc6:
      return readBinary(body, b === 0xc4 ? 1 : b === 0xc5 ? 2 : 4);
  }
  return refuse();
}

/** A fixstr or str8 of ASCII characters at `pos`; undefined (nothing consumed) for anything else. */
function readString(body: Uint8Array): string | undefined {
  const b = body[pos];
  let start: number;
  let length: number;
  if (b >= 0xa0 && b <= 0xbf) {
    start = pos + 1;
    length = b & 0x1f;
  } else if (b === 0xd9 && pos + 1 < body.length) {
    start = pos + 2;
    length = body[pos + 1];
  } else {
    return undefined;
  }
  const end = start + length;
  if (end > body.length || length > MAX_STRING) return undefined;
  if (length < CACHED_LENGTH) return shortString(body, start, end);
  for (let i = start; i < end; i++) if (body[i] >= 0x80) return undefined;
  pos = end;
  return latin1Slice.call(body, start, end);
}

/**
 * Short strings (field names, message types, method names) come from a cache by their bytes: a string made
 * afresh for each message was most of this reader's garbage, and a key made afresh must be looked up in
 * V8's string table again each time it names a property.
 */
const CACHED_LENGTH = 16;
const CACHE_SLOTS = 1024;
const cachedBytes: (Uint8Array | undefined)[] = new Array<Uint8Array | undefined>(CACHE_SLOTS).fill(undefined);
const cachedStrings: string[] = new Array<string>(CACHE_SLOTS).fill('');

function shortString(body: Uint8Array, start: number, end: number): string | undefined {
  let hash = end - start;
  for (let i = start; i < end; i++) {
    const c = body[i];
    if (c >= 0x80) return undefined;
    hash = (hash * 31 + c) | 0;
  }
  pos = end;
  const slot = (hash ^ (hash >>> 10)) & (CACHE_SLOTS - 1);
  const bytes = cachedBytes[slot];
  if (bytes !== undefined && bytes.length === end - start) {
    let same = true;
    for (let i = 0; i < bytes.length; i++) {
      if (bytes[i] !== body[start + i]) {
        same = false;
        break;
      }
    }
    if (same) return cachedStrings[slot];
  }
  let s = '';
  for (let i = start; i < end; i++) s += String.fromCharCode(body[i]);
  cachedBytes[slot] = Uint8Array.prototype.slice.call(body, start, end);
  cachedStrings[slot] = s;
  return s;
}

function readBinary(body: Uint8Array, width: number): Uint8Array | undefined {
  if (pos + 1 + width > body.length) return refuse();
  let length = 0;
  for (let i = 1; i <= width; i++) length = length * 256 + body[pos + i];
  const start = pos + 1 + width;
  if (start + length > body.length) return refuse();
  pos = start + length;
  return body.subarray(start, pos);
}

function refuse(): undefined {
  refused = true;
  return undefined;
}
