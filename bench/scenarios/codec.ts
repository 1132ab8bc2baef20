import { Packr } from 'msgpackr';
import { decodeMessage, encodeMessage } from '../../src/wire/codec.js';
import type { Message } from '../../src/wire/messages.js';
import { rateFigure, rateRounds, type RateSample, type RateSeries } from '../measure.js';
import type { Scenario } from '../scenario.js';

/**
 * Codec cost, in this process: encode + decode of one message, as operations per second. Peerway's codec
 * (src/wire/codec.ts: MessagePackWriter to encode, msgpackr with records off plus the message-shape check to
 * decode) against JSON (to and
 * from bytes, as it would travel) and plain MessagePack. "Plain msgpack" is msgpackr's Packr with
 * useRecords: false (standard maps, readable by any MessagePack library); @msgpack/msgpack is not installed.
 * msgpackr's Packr with default options (its record extension on, which other libraries cannot read) is
 * shown for information.
 */

/** A 50-field runtime-data object: ints, doubles, short strings and flags, as a vehicle status tree has. */
function fiftyFields(): Record<string, unknown> {
  const o: Record<string, unknown> = {};
  for (let i = 0; i < 50; i++) {
    const name = `field${i}`;
    if (i % 4 === 0) o[name] = i * 1013;
    else if (i % 4 === 1) o[name] = i * 0.173 + 20.5;
    else if (i % 4 === 2) o[name] = `value-${i}`;
    else o[name] = i % 8 === 3;
  }
  return o;
}

interface Codec {
  key: string;
  label: string;
  encode(m: Message): Uint8Array;
  decode(b: Uint8Array): unknown;
}

const plain = new Packr({ useRecords: false });
const records = new Packr();
const CODECS: Codec[] = [
  { key: 'peerway', label: "Peerway codec", encode: encodeMessage, decode: decodeMessage },
  { key: 'json', label: 'JSON (stringify + UTF-8)', encode: (m) => Buffer.from(JSON.stringify(m)), decode: (b) => JSON.parse(Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('utf8')) as unknown },
  { key: 'msgpack', label: 'plain msgpack (msgpackr, useRecords: false)', encode: (m) => plain.pack(m), decode: (b) => plain.unpack(b) as unknown },
  { key: 'records', label: 'msgpackr Packr() defaults (records)', encode: (m) => records.pack(m), decode: (b) => records.unpack(b) as unknown },
];

/** Keeps results observable, so the optimiser cannot drop the work being measured. */
let sink = 0;

async function codecRound(codec: Codec, message: Message, ops: number, maxMs: number): Promise<RateSample> {
  // Yield to I/O between rounds: chained through promises alone the rounds never let the event loop read a
  // socket for the whole scenario (16 s), and the server dropped the bench's idle control client for not
  // answering its keepalive, which failed the next scenario with EPIPE.
  await new Promise<void>((resolve) => setImmediate(resolve));
  const t0 = performance.now();
  const deadline = t0 + maxMs;
  let done = 0;
  while (done < ops) {
    const bytes = codec.encode(message);
    const back = codec.decode(bytes) as { type?: string };
    sink += bytes.length + (back.type?.length ?? 0);
    done++;
    if ((done & 255) === 0 && performance.now() > deadline) break;
  }
  return { count: done, seconds: (performance.now() - t0) / 1000 };
}

/** Codec encode + decode, in process. */
export const codec: Scenario = {
  id: 'codec',
  title: 'codec encode+decode',
  summary: "a call and a 50-field runtime-data message: Peerway's codec vs JSON and plain msgpack (msgpackr, records off)",
  async run(ctx, out) {
    const messages: { key: string; label: string; message: Message }[] = [
      // A 64-character string rather than 64 bytes of binary: JSON has no binary type.
      { key: 'call', label: 'call', message: { type: 'call', id: 123_456, session: 'AbCdEfGh1234', method: 'echo', args: { data: 'x'.repeat(64) } } },
      { key: 'data50', label: '50-field runtime data', message: { type: 'data', session: 'AbCdEfGh1234', path: '', value: fiftyFields() } },
    ];
    const { ops, maxMs } = ctx.plan.codec;
    for (const m of messages) {
      const series: RateSeries[] = CODECS.map((c) => ({ key: `${m.key}/${c.key}`, deadlineMs: maxMs + 10_000, round: () => codecRound(c, m.message, ops, maxMs) }));
      const stats = await rateRounds(series, ctx.plan.rounds, 1, (s) => ctx.progress.step(s));
      const fig = (c: Codec) => rateFigure(c.label, 'ops/s', stats.get(`${m.key}/${c.key}`), `${c.encode(m.message).length} B`);
      const [peerway, json, msgpack, rec] = CODECS.map(fig) as [ReturnType<typeof fig>, ReturnType<typeof fig>, ReturnType<typeof fig>, ReturnType<typeof fig>];
      out.row({ id: `codec-${m.key}-vs-json`, label: `${m.label}: Peerway codec vs JSON`, peerway, baseline: json });
      out.row({ id: `codec-${m.key}-vs-msgpack`, label: `${m.label}: Peerway codec vs plain msgpack`, peerway, baseline: msgpack });
      out.row({ id: `codec-${m.key}-vs-records`, label: `${m.label}: Peerway codec vs msgpackr records`, peerway, baseline: rec });
    }
    out.note('ops/s of encode + decode of one message in this process; "plain msgpack" = msgpackr Packr({ useRecords: false }) (@msgpack/msgpack is not installed); "records" = msgpackr Packr() with default options, whose record extension other MessagePack libraries cannot read');
    if (sink === -1) out.note(String(sink));
  },
};
