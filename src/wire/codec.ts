import { Packr } from 'msgpackr';
import { PeerwayError } from '../errors.js';
import type { Message } from './messages.js';
import { MessagePackWriter } from './msgpack-writer.js';

/**
 * Message codec: plain MessagePack maps, so any MessagePack library can read Peerway traffic. Encoding is
 * MessagePackWriter's (faster on Peerway's messages, see there); decoding is msgpackr's with records off.
 * int64 values beyond 2^53 decode as bigint, the rest as numbers; binary as Buffer.
 */
// int64AsType 'auto' exists at runtime (number when safe, bigint beyond) but is missing from the typings.
const packr = new Packr({ useRecords: false, int64AsType: 'auto' as 'bigint', encodeUndefinedAsNil: true, moreTypes: false });

const writer = new MessagePackWriter();

export function encodeMessage(message: Message): Buffer {
  return writer.encode(message);
}

/** Decodes one message body; anything that is not a map with a string `type` is a PROTOCOL error. */
export function decodeMessage(body: Uint8Array): Message {
  let value: unknown;
  try {
    value = packr.unpack(body);
  } catch (err) {
    throw new PeerwayError('PROTOCOL', `undecodable message body (${(err as Error).message})`, { cause: err });
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value) || typeof (value as { type?: unknown }).type !== 'string') {
    throw new PeerwayError('PROTOCOL', 'message is not a map with a string "type" field');
  }
  return value as Message;
}
