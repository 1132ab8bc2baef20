import { Packr } from 'msgpackr';
import { PeerwayError } from '../errors.js';
import type { Message } from './messages.js';
import { CONTROL_TYPES, PUSH_TYPES, REQUEST_TYPES } from './messages.js';
import { MessagePackWriter } from './msgpack-writer.js';
import { readPlainMessage } from './plain-message.js';

/**
 * Message codec: plain MessagePack maps, so any MessagePack library can read Peerway traffic. Encoding is
 * MessagePackWriter's (faster on Peerway's messages, see there); decoding is msgpackr's with records off.
 * int64 values beyond 2^53 decode as bigint, the rest as numbers; binary as Buffer.
 */
// int64AsType 'auto' exists at runtime (number when safe, bigint beyond) but is missing from the typings.
const packr = new Packr({ useRecords: false, int64AsType: 'auto' as 'bigint', encodeUndefinedAsNil: true, moreTypes: false });

/**
 * Deepest nesting of maps and arrays in one message, the message's own map being level 1. msgpackr decodes
 * recursively and overflows the stack somewhere between ~4,400 levels (a cold process) and ~10,000 (a warm
 * one), so without a bound of our own a warm server would relay what a cold runner cannot read. The bound
 * sits well below both, and above what a definition within the default limits can describe: runtime data
 * 254 levels deep (256 element levels minus `<service>` and `<runtime-data>`) holding a struct that nests
 * 256 levels, each level a list, is about 770 levels with the message around it (docs/protocol.md, Codec).
 */
export const MAX_NESTING_DEPTH = 1000;

const writer = new MessagePackWriter(MAX_NESTING_DEPTH);

/** Encodes a message; PROTOCOL when it nests deeper than MAX_NESTING_DEPTH (the peer would refuse it). */
export function encodeMessage(message: Message): Buffer {
  return writer.encode(message);
}

/** Encodes `{ type: 'reply', id, value }` (the same bytes) without the object: the answer to every call. */
export function encodeReply(id: number, value: unknown): Buffer {
  return writer.encodeReply(id, value);
}

/**
 * Encodes any plain value as messages are encoded (same MessagePack, same nesting bound), for the carriers
 * of Peerway payloads that are not Peerway connections: the cluster link between servers.
 */
export function encodeValue(value: unknown): Buffer {
  return writer.encode(value);
}

/** Decodes a value made by encodeValue; PROTOCOL when it is malformed or nests deeper than MAX_NESTING_DEPTH. */
export function decodeValue(body: Uint8Array): unknown {
  if (nestedDeeperThan(body, MAX_NESTING_DEPTH)) {
    throw new PeerwayError('PROTOCOL', `a payload nests maps and arrays deeper than ${MAX_NESTING_DEPTH} levels, the protocol's limit`, { details: { limit: MAX_NESTING_DEPTH } });
  }
  try {
    return packr.unpack(body);
  } catch (err) {
    throw new PeerwayError('PROTOCOL', `undecodable payload (${(err as Error).message})`, { cause: err });
  }
}

const KNOWN_TYPES: ReadonlySet<string> = new Set<string>([...REQUEST_TYPES, ...PUSH_TYPES, ...CONTROL_TYPES]);

/**
 * Decodes one message body; anything that is not a map with a string `type` is a PROTOCOL error. So is a
 * body nested deeper than MAX_NESTING_DEPTH: refused before msgpackr sees it, with `details.type` and
 * `details.id` when the message's own map says them (a known type, a numeric id), so that the receiver can
 * answer that one request with the error instead of dropping the connection.
 */
export function decodeMessage(body: Uint8Array): Message {
  // Calls and replies mostly: read without msgpackr, its result checked as msgpackr's is below.
  const plain = readPlainMessage(body);
  if (plain !== undefined) return asMessage(plain);
  if (nestedDeeperThan(body, MAX_NESTING_DEPTH)) {
    const { type, id } = envelope(body);
    throw new PeerwayError('PROTOCOL', `message${type ? ` "${type}"` : ''} nests maps and arrays deeper than ${MAX_NESTING_DEPTH} levels, the protocol's limit; flatten the value`, {
      details: { limit: MAX_NESTING_DEPTH, ...(type !== undefined ? { type } : {}), ...(id !== undefined ? { id } : {}) },
    });
  }
  let value: unknown;
  try {
    value = packr.unpack(body);
  } catch (err) {
    throw new PeerwayError('PROTOCOL', `undecodable message body (${(err as Error).message})`, { cause: err });
  }
  return asMessage(value);
}

function asMessage(value: unknown): Message {
  if (typeof value !== 'object' || value === null || Array.isArray(value) || typeof (value as { type?: unknown }).type !== 'string') {
    throw new PeerwayError('PROTOCOL', 'message is not a map with a string "type" field');
  }
  return value as Message;
}

// ---- a scan of the encoded bytes, without recursion and without building any value -----------------

/** Set by `readItem`: the bytes the item at hand takes (header and payload; a container's header only) … */
let itemBytes = 0;
/** … and for a map or an array, how many values it holds (a map's keys count as values), else -1. */
let itemValues = -1;

/**
 * Bytes of an item by its first byte when that is all it takes (fixints, fixstr with their payload, nil,
 * booleans, numbers, fixext); 0 for the items whose length or count follows in the header. A table: this
 * runs for every item of every message larger than MAX_NESTING_DEPTH bytes.
 */
const FIXED_BYTES = new Uint8Array(256);
for (let b = 0; b < 256; b++) {
  if (b <= 0x7f || b >= 0xe0) FIXED_BYTES[b] = 1;
  else if (b >= 0xa0 && b <= 0xbf) FIXED_BYTES[b] = 1 + (b & 0x1f);
}
for (const [b, n] of [
  [0xc0, 1], [0xc2, 1], [0xc3, 1], // nil, false, true (0xc1 is never used: readItem refuses it)
  [0xca, 5], [0xcb, 9], // float32, float64
  [0xcc, 2], [0xcd, 3], [0xce, 5], [0xcf, 9], [0xd0, 2], [0xd1, 3], [0xd2, 5], [0xd3, 9], // uint, int
  [0xd4, 3], [0xd5, 4], [0xd6, 6], [0xd7, 10], [0xd8, 18], // fixext 1, 2, 4, 8, 16: type byte and data
] as const) FIXED_BYTES[b] = n;

/**
 * Reads the header of the MessagePack item at `pos` (< body.length) into itemBytes and itemValues; false
 * when the bytes end inside the header or the byte is never used in MessagePack (the decoder then reports
 * it). Module variables rather than a returned object, for the same reason as the table.
 */
function readItem(body: Uint8Array, pos: number): boolean {
  const b = body[pos];
  const fixed = FIXED_BYTES[b];
  itemValues = -1;
  if (b === 0xc1) return false;
  if (fixed > 0) {
    itemBytes = fixed;
    return true;
  }
  if (b <= 0x9f) {
    itemBytes = 1;
    itemValues = b <= 0x8f ? (b & 0x0f) * 2 : b & 0x0f; // fixmap, fixarray
    return true;
  }
  // bin 8/16/32 (c4–c6), ext 8/16/32 (c7–c9: length, type byte), str 8/16/32 (d9–db), array 16/32 (dc, dd), map 16/32 (de, df)
  const width = b === 0xc4 || b === 0xc7 || b === 0xd9 ? 1 : b === 0xc5 || b === 0xc8 || b === 0xda || b === 0xdc || b === 0xde ? 2 : 4;
  if (pos + 1 + width > body.length) return false;
  let n = 0;
  for (let i = 1; i <= width; i++) n = n * 256 + body[pos + i];
  const header = 1 + width;
  if (b === 0xdc || b === 0xdd) {
    itemBytes = header;
    itemValues = n;
  } else if (b === 0xde || b === 0xdf) {
    itemBytes = header;
    itemValues = n * 2;
  } else {
    itemBytes = header + n + (b >= 0xc7 && b <= 0xc9 ? 1 : 0);
  }
  return true;
}

/**
 * Whether the value in `body` nests maps and arrays deeper than `limit` levels. Linear in the number of
 * items, strings and binaries skipped whole; a body of at most `limit` bytes is not read at all (every
 * level takes a byte). Malformed or truncated bodies answer false: the decoder says what is wrong.
 */
export function nestedDeeperThan(body: Uint8Array, limit: number): boolean {
  if (body.length <= limit) return false;
  // Values still to read in each enclosing container, outermost first; `left` counts the innermost one's.
  const enclosing: number[] = [];
  let left = 1;
  let pos = 0;
  while (pos < body.length) {
    if (!readItem(body, pos)) return false;
    pos += itemBytes;
    if (itemValues >= 0 && enclosing.length >= limit) return true;
    if (itemValues > 0) {
      enclosing.push(left - 1);
      left = itemValues;
      continue;
    }
    left--;
    while (left === 0 && enclosing.length > 0) left = enclosing.pop()!;
    if (left === 0) return false;
  }
  return false;
}

/** Where the value at `pos` ends (without recursion, whatever its depth); -1 when the bytes end first. */
function skipValue(body: Uint8Array, pos: number): number {
  for (let left = 1; left > 0; left += Math.max(itemValues, 0) - 1) {
    if (pos >= body.length || !readItem(body, pos)) return -1;
    pos += itemBytes;
  }
  return pos <= body.length ? pos : -1;
}

/**
 * The `type` (a known message type) and `id` (a number) of a message too deep to decode, read from its
 * own map without decoding anything else. Only a well-formed body has them: one whose bytes end before
 * its map does, or go on after it, is not a message whose request could be answered.
 */
function envelope(body: Uint8Array): { type?: string; id?: number } {
  const out: { type?: string; id?: number } = {};
  const first = body[0] ?? 0;
  if (!((first >= 0x80 && first <= 0x8f) || first === 0xde || first === 0xdf) || skipValue(body, 0) !== body.length || !readItem(body, 0)) return out;
  let pos = itemBytes;
  for (let entries = itemValues / 2; entries > 0; entries--) {
    const keyEnd = skipValue(body, pos);
    const valueEnd = keyEnd < 0 ? -1 : skipValue(body, keyEnd);
    if (valueEnd < 0) break;
    // Only short keys and short values are decoded: a field name, a type name, a request id. As in the
    // decoder, the last of duplicate keys wins.
    const key = keyEnd - pos <= 8 ? unpackQuietly(body.subarray(pos, keyEnd)) : undefined;
    if (key === 'type' || key === 'id') {
      const value = valueEnd - keyEnd <= 32 ? unpackQuietly(body.subarray(keyEnd, valueEnd)) : undefined;
      if (key === 'type') out.type = typeof value === 'string' && KNOWN_TYPES.has(value) ? value : undefined;
      else out.id = typeof value === 'number' ? value : undefined;
    }
    pos = valueEnd;
  }
  return out;
}

function unpackQuietly(bytes: Uint8Array): unknown {
  try {
    return packr.unpack(bytes);
  } catch {
    return undefined;
  }
}
