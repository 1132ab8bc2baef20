/**
 * The fuzz suite (issue "Hardening"): seeded fast-check generators, and drivers that throw what they
 * generate at a real `peerway server` and `peerway runner` over raw sockets on 127.0.0.1 (frames, messages
 * as a client, as a runner and on the runner's links, udp datagrams) and at the parsers (in a worker, so a
 * parse that never returns is a reported hang), while a good client keeps calling. `runFuzz` returns the
 * counts; test/fuzz/fuzz.test.ts runs a share of it on every `npm test`, scripts/fuzz.mjs the long run.
 *
 * Cases come from `fc.sample` with a seed derived from (seed, target, batch) and never embed values of a
 * run (session ids, tokens, ports): those are `Slot`s filled in when the case runs. So a case is named
 * `target:batch:index`, and `--seed S --replay target:batch:index` rebuilds it exactly. Network cases are
 * not shrunk (a process is not a pure function); a crash is pinned on the case that causes it by replaying
 * the cases that ran just before it on fresh processes, and the failing input is saved with the report.
 */
import dgram from 'node:dgram';
import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, readdirSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import type { TestContext } from 'node:test';
import { Worker, isMainThread, parentPort, workerData } from 'node:worker_threads';
import fc from 'fast-check';
import { Packr } from 'msgpackr';
import { UDP_HEADER_BYTES, UdpKind, encodeUdpDatagram } from '../../src/bearer/udp.js';
import type { PeerwayProcess } from '../../src/cli/peerway-process.js';
import type { Session } from '../../src/client/session.js';
import { DefinitionError } from '../../src/definition/definition-error.js';
import { parseDefinition } from '../../src/definition/parse-definition.js';
import { ERROR_CODES, PeerwayError } from '../../src/errors.js';
import { parseInstructions } from '../../src/routing/instructions.js';
import { parsePeerwayConfig, type ConfigRole } from '../../src/server/server-config.js';
import { decodeMessage, encodeMessage } from '../../src/wire/codec.js';
import { DEFAULT_MAX_FRAME_BYTES, FrameDecoder, encodeFrame } from '../../src/wire/frame-decoder.js';
import { PROTOCOL_VERSION, PUSH_TYPES, REQUEST_TYPES, type Message, type SessionStarted } from '../../src/wire/messages.js';
import { connectClient, fixture, startRunner, startServer, type RunningServer } from '../helpers/harness.js';

// ---- limits of one run ------------------------------------------------------------------------------

/** The server runs with this frame limit, so frames around it cost 256 KiB rather than 16 MiB. */
export const SERVER_LIMIT = 256 * 1024;
/** Link listeners keep the default limit (the runner has no flag for it). */
const LINK_LIMIT = DEFAULT_MAX_FRAME_BYTES;
/** An attack connection must be closed or answered within this; the hello deadline (5 s) never applies, as we end our side. */
const CASE_DEADLINE_MS = 5000;
/** The good client's calls must complete within this, under attack and on a loaded machine. */
const GOOD_DEADLINE_MS = 5000;
const HEARTBEAT_MS = 300;
/** One parse taking longer than this counts as a hang: inputs are a few KiB at most. */
const SLOW_PARSE_MS = 2000;
/** Open descriptors may differ by this much after settling (pino, timers, a late accept). */
const FD_SLACK = 3;
const MAX_RESTARTS = 3;
/** Request id of the probe sent after each case: an answer to it proves the connection is still served. */
const PROBE_ID = 987_654_321;
const PRELUDE_ID = 987_654_320;
const TCP = 'connect.bearer.tcp';
const UDP = 'connect.bearer.udp';
const TYPES = fixture('definitions', 'types.xml');
const LAB = fixture('p2p', 'lab.xml');

export const TARGETS = ['frames', 'client', 'runner', 'link', 'udp', 'definition', 'instructions', 'config'] as const;
export type TargetName = (typeof TARGETS)[number];
type ParserTarget = 'definition' | 'instructions' | 'config';
const PARSER_TARGETS: readonly TargetName[] = ['definition', 'instructions', 'config'];
/** Share of the cases per target; one round runs WEIGHT × ROUND_CASES cases of each. */
const WEIGHTS: Record<TargetName, number> = { frames: 14, client: 20, runner: 10, link: 14, udp: 12, definition: 14, instructions: 8, config: 8 };
const ROUND_CASES = 500;

// ---- values: MessagePack as generated, with what JSON cannot say ----------------------------------

/** Pre-encoded MessagePack spliced in as is: deep nesting, invalid bytes, extension types. */
export class Raw {
  constructor(
    readonly bytes: Uint8Array,
    readonly label: string,
  ) {}
}
/** A map as an entry list, so duplicate keys and non-string keys survive up to the wire. */
export class FuzzMap {
  constructor(readonly entries: [FuzzValue, FuzzValue][]) {}
}
type SlotName = 'started' | 'attackSession' | 'attackToken' | 'goodSession' | 'service' | 'link';
/** A value known only when the case runs (a session id, a token), filled in then. */
export class Slot {
  constructor(readonly name: SlotName) {}
}
export type FuzzValue = null | undefined | boolean | number | bigint | string | Uint8Array | Raw | Slot | FuzzMap | FuzzValue[];
type Slots = Record<SlotName, string>;

const packr = new Packr({ useRecords: false, encodeUndefinedAsNil: true, moreTypes: false });

function collectionHeader(n: number, fix: number, b16: number, b32: number): Buffer {
  if (n < 16) return Buffer.from([fix | n]);
  const b = Buffer.alloc(n <= 0xffff ? 3 : 5);
  b[0] = n <= 0xffff ? b16 : b32;
  if (n <= 0xffff) b.writeUInt16BE(n, 1);
  else b.writeUInt32BE(n, 1);
  return b;
}

function encodeInto(v: FuzzValue, slots: Slots, out: Uint8Array[]): void {
  if (v instanceof Raw) out.push(v.bytes);
  else if (v instanceof Slot) out.push(Buffer.from(packr.pack(slots[v.name])));
  else if (v instanceof FuzzMap) {
    out.push(collectionHeader(v.entries.length, 0x80, 0xde, 0xdf));
    for (const [k, x] of v.entries) {
      encodeInto(k, slots, out);
      encodeInto(x, slots, out);
    }
  } else if (Array.isArray(v)) {
    out.push(collectionHeader(v.length, 0x90, 0xdc, 0xdd));
    for (const x of v) encodeInto(x, slots, out);
  } else {
    // msgpackr may reuse its buffer on the next pack: copy.
    out.push(Buffer.from(packr.pack(v)));
  }
}

/** MessagePack bytes of a generated value, slots filled in. */
export function encodeFuzz(v: FuzzValue, slots: Slots): Buffer {
  const out: Uint8Array[] = [];
  encodeInto(v, slots, out);
  return Buffer.concat(out);
}

/** A short readable form of a generated value, for reports. */
export function describeValue(v: FuzzValue, budget = 400): string {
  const s = render(v);
  return s.length > budget ? `${s.slice(0, budget)}…(${s.length} chars)` : s;
}
function render(v: FuzzValue): string {
  if (v instanceof Raw) return `<raw ${v.label}>`;
  if (v instanceof Slot) return `<$${v.name}>`;
  if (v instanceof FuzzMap) return `{${v.entries.map(([k, x]) => `${render(k)}: ${render(x)}`).join(', ')}}`;
  if (Array.isArray(v)) return v.length > 8 ? `[${v.slice(0, 8).map(render).join(', ')}, …${v.length} items]` : `[${v.map(render).join(', ')}]`;
  if (v instanceof Uint8Array) return `<bin ${v.length}: ${Buffer.from(v.subarray(0, 16)).toString('hex')}>`;
  if (typeof v === 'bigint') return `${v}n`;
  if (typeof v === 'string') return v.length > 60 ? `${JSON.stringify(v.slice(0, 60))}…(${v.length} chars)` : JSON.stringify(v);
  if (typeof v === 'number') return Object.is(v, -0) ? '-0' : String(v);
  return String(v);
}

/** MessagePack nested `depth` deep: past some depth a recursive decoder or checker overflows its stack. */
function nested(depth: number, kind: 'array' | 'map'): Raw {
  const level = kind === 'array' ? [0x91] : [0x81, 0xa1, 0x61]; // [x] or {a: x}
  const out = Buffer.alloc(depth * level.length + 1);
  for (let i = 0; i < depth; i++) out.set(level, i * level.length);
  out[out.length - 1] = 0xc0;
  return new Raw(out, `${kind} nested ${depth} deep`);
}

// ---- generators: values ------------------------------------------------------------------------------

/** Keys that have a meaning on a JavaScript object: a decoder or a template literal may trip on them. */
const DANGER_KEYS = ['__proto__', 'constructor', 'prototype', 'toString', 'valueOf', 'toJSON', 'then', 'hasOwnProperty', 'length', 'type', 'id'];
const oddStrings = ['', ' ', '0', '-1', 'true', 'null', 'undefined', 'NaN', '\u0000', '\uD800', '\uFEFF', 'é', '💥', '../../etc/passwd', '%s%n', '${x}', 'a.b', '..', 'x'.repeat(300)];
const str = fc.oneof({ weight: 4, arbitrary: fc.string({ maxLength: 12 }) }, { weight: 2, arbitrary: fc.constantFrom(...oddStrings) }, { weight: 1, arbitrary: fc.string({ unit: 'binary', maxLength: 16 }) });
const scalar: fc.Arbitrary<FuzzValue> = fc.oneof(
  fc.constantFrom<FuzzValue>(null, undefined, true, false, 0, -0, 1, -1, 0.5, NaN, Infinity, -Infinity, 2 ** 31, 2 ** 32, 2 ** 53, -(2 ** 53), Number.MAX_VALUE),
  fc.constantFrom<FuzzValue>(2n ** 63n - 1n, -(2n ** 63n), 2n ** 64n - 1n, 2n ** 53n + 1n),
  fc.integer(),
  fc.double(),
  str,
  fc.uint8Array({ maxLength: 24 }),
);
const huge: fc.Arbitrary<FuzzValue> = fc.oneof(
  fc.integer({ min: 1000, max: 100_000 }).map((n) => 'x'.repeat(n)),
  fc.integer({ min: 1000, max: 100_000 }).map((n) => new Uint8Array(n)),
  fc.integer({ min: 100, max: 5000 }).map((n) => Array.from({ length: n }, (_, i) => i)),
  fc.integer({ min: 100, max: 5000 }).map((n) => new FuzzMap(Array.from({ length: n }, (_, i) => [`k${i}`, i]))),
);
const deep: fc.Arbitrary<FuzzValue> = fc
  // Three ranges: shallow; decodable but deep enough to overflow a recursive walker (String(array), a checker); too deep to decode.
  .tuple(fc.oneof(fc.integer({ min: 10, max: 300 }), fc.integer({ min: 1000, max: 5000 }), fc.integer({ min: 5000, max: 60_000 })), fc.constantFrom<'array' | 'map'>('array', 'map'))
  .map(([depth, kind]) => nested(depth, kind));
const invalidRaw: fc.Arbitrary<FuzzValue> = fc.constantFrom(
  new Raw(Buffer.from([0xc1]), 'never-used byte 0xc1'),
  new Raw(Buffer.from([0xd9, 0x10, 0x61]), 'truncated str8'),
  new Raw(Buffer.from([0xd6, 0xff, 0, 0, 0, 1]), 'timestamp extension'),
  new Raw(Buffer.from([0xd4, 0x01, 0x00]), 'fixext1 of type 1'),
  new Raw(Buffer.from([0xc7, 0x00, 0x05]), 'empty ext8 of type 5'),
  new Raw(Buffer.from([0xdd, 0xff, 0xff, 0xff, 0xff]), 'array32 announcing 4G items'),
  new Raw(Buffer.from([0xdf, 0xff, 0xff, 0xff, 0xff]), 'map32 announcing 4G entries'),
  new Raw(Buffer.from([0xdb, 0xff, 0xff, 0xff, 0xff]), 'str32 announcing 4 GiB'),
  new Raw(Buffer.from([0xc6, 0x7f, 0xff, 0xff, 0xff]), 'bin32 announcing 2 GiB'),
  new Raw(Buffer.from([0x82, 0x01, 0x02, 0x93, 0x01, 0x02, 0x03, 0x04]), 'map with an int key and an array key'),
);
/** An object whose toString or valueOf is not a function: String(x) and `${x}` throw on it. */
const poisoned: fc.Arbitrary<FuzzValue> = fc.tuple(fc.constantFrom('toString', 'valueOf', 'toJSON', 'then', 'constructor'), scalar).map(([k, v]) => new FuzzMap([[k, v]]));
const key: fc.Arbitrary<FuzzValue> = fc.oneof({ weight: 3, arbitrary: str }, { weight: 2, arbitrary: fc.constantFrom(...DANGER_KEYS) }, { weight: 1, arbitrary: scalar });

/** Any value, wrong for whatever field it lands in: wrong types, huge, deeply nested, invalid bytes. */
export const weird: fc.Arbitrary<FuzzValue> = fc.letrec<{ value: FuzzValue }>((tie) => ({
  value: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    { weight: 8, arbitrary: scalar },
    { weight: 1, arbitrary: huge },
    { weight: 1, arbitrary: deep },
    { weight: 1, arbitrary: invalidRaw },
    { weight: 3, arbitrary: poisoned },
    { weight: 2, arbitrary: fc.array(tie('value'), { maxLength: 4 }) },
    { weight: 2, arbitrary: fc.array(fc.tuple(key, tie('value')), { maxLength: 4 }).map((e) => new FuzzMap(e)) },
  ),
})).value;

/** A field's value: mostly the plausible one, sometimes anything. */
const field = (valid: fc.Arbitrary<FuzzValue>): fc.Arbitrary<FuzzValue> => fc.oneof({ weight: 6, arbitrary: valid }, { weight: 1, arbitrary: weird });
type FieldArb = fc.Arbitrary<[string, FuzzValue] | null>;
const req = (name: string, valid: fc.Arbitrary<FuzzValue>): FieldArb => field(valid).map((v) => [name, v]);
const opt = (name: string, valid: fc.Arbitrary<FuzzValue>): FieldArb => fc.tuple(fc.boolean(), field(valid)).map(([present, v]) => (present ? [name, v] : null));
const c = (...values: FuzzValue[]): fc.Arbitrary<FuzzValue> => fc.constantFrom(...values);

/** A map of the fields present. */
function fieldsMap(...fields: FieldArb[]): fc.Arbitrary<FuzzMap> {
  return (fc.tuple(...fields) as fc.Arbitrary<([string, FuzzValue] | null)[]>).map((fs) => new FuzzMap(fs.filter((f): f is [string, FuzzValue] => f !== null)));
}
/** A message map: `type` first, then the fields present. */
function msg(type: string | fc.Arbitrary<FuzzValue>, ...fields: FieldArb[]): fc.Arbitrary<FuzzMap> {
  const typeArb = typeof type === 'string' ? fc.constant<FuzzValue>(type) : type;
  return fc.tuple(typeArb, fieldsMap(...fields)).map(([t, m]) => new FuzzMap([['type', t], ...m.entries]));
}

interface Mutation {
  op: 'drop' | 'set' | 'extra' | 'duplicate' | 'retype' | 'danger';
  at: number;
  key: FuzzValue;
  value: FuzzValue;
}
const mutation: fc.Arbitrary<Mutation> = fc.record({
  op: fc.constantFrom<Mutation['op']>('drop', 'set', 'extra', 'duplicate', 'retype', 'danger'),
  at: fc.nat(),
  key,
  value: weird,
});
const otherTypes = c('teleport', 'Hello', 'HELLO', '', 'reply ', '__proto__', 'toString', 'welcome', 'hello', 'list', 'call', 'event', 1, null);

function applyMutations(m: FuzzMap, mutations: Mutation[]): FuzzMap {
  const entries = [...m.entries];
  for (const mu of mutations) {
    const i = entries.length === 0 ? 0 : mu.at % entries.length;
    if (mu.op === 'drop' && entries.length > 0) entries.splice(i, 1);
    else if (mu.op === 'set' && entries.length > 0) entries[i] = [entries[i][0], mu.value];
    else if (mu.op === 'extra') entries.push([mu.key, mu.value]);
    else if (mu.op === 'duplicate' && entries.length > 0) entries.push([entries[i][0], mu.value]);
    else if (mu.op === 'danger') entries.push([DANGER_KEYS[mu.at % DANGER_KEYS.length], mu.value]);
    else if (mu.op === 'retype') entries.unshift(['type', mu.value]);
  }
  return new FuzzMap(entries);
}

/** Paths (indexes, map entries and array items alike) to every value nested in a message but its `type`. */
function fieldPaths(v: FuzzValue, top = true): number[][] {
  const kids = v instanceof FuzzMap ? v.entries.map(([, x]) => x) : Array.isArray(v) ? v : [];
  return kids.flatMap((x, i) => (top && v instanceof FuzzMap && v.entries[i][0] === 'type' ? [] : [[i], ...fieldPaths(x, false).map((p) => [i, ...p])]));
}
/** A copy of `v` with the value at `path` replaced (generated values may be shared: never changed in place). */
function replaceAt(v: FuzzValue, [i, ...rest]: number[], value: FuzzValue): FuzzValue {
  const next = (x: FuzzValue) => (rest.length === 0 ? value : replaceAt(x, rest, value));
  if (v instanceof FuzzMap) return new FuzzMap(v.entries.map(([k, x], j) => [k, j === i ? next(x) : x]));
  return Array.isArray(v) ? v.map((x, j) => (j === i ? next(x) : x)) : v;
}
/** The message with one value at any depth (never `type`) replaced by a wrong one: the likeliest way deep into a handler. */
const oneFieldOff = (arb: fc.Arbitrary<FuzzMap>): fc.Arbitrary<FuzzValue> =>
  fc.tuple(arb, fc.nat(), weird).map(([m, at, value]) => {
    const paths = fieldPaths(m);
    return paths.length === 0 ? new FuzzMap([...m.entries, ['value', value]]) : replaceAt(m, paths[at % paths.length], value);
  });
/** A message as generated (its fields odd now and then), with one field wrong, or with structural mutations. */
const mutated = (arb: fc.Arbitrary<FuzzMap>): fc.Arbitrary<FuzzValue> =>
  fc.oneof(
    { weight: 1, arbitrary: arb },
    { weight: 2, arbitrary: oneFieldOff(arb) },
    { weight: 2, arbitrary: fc.tuple(arb, fc.array(mutation, { minLength: 1, maxLength: 3 })).map(([m, ms]) => applyMutations(m, ms)) },
  );

// ---- generators: XML for the parsers ------------------------------------------------------------------

const XML_TOKENS = [
  '<', '>', '/>', '"', "'", '”', '“', '’', '&', '&amp;', '&lt;', '&#0;', '&#x10FFFF;', '&#xD800;', '&#99999999999;', '&bogus;', '<![CDATA[x]]>', ']]>',
  '<!--', '-->', '<!-- c -->', '<?xml version="1.0"?>', '<?pi x?>', '<!DOCTYPE service [<!ENTITY e "eeee">]>', '&e;', '\u0000', '\uFEFF', '\uD800', '\t', '\r\n',
  ' xmlns="urn:x"', ' xmlns:a="b"', 'a:b', '<service>', '</service>', '<method name="m"/>', '<runtime-data>', '</runtime-data>', '<routing>', ' name="x"',
  ' type="int"', ' default="1e400"', ' repeated="true"', '<type name="T"><field name="f" type="T"/></type>', '<route link="x" linkType="direct"/>',
];
interface TextMutation {
  op: 'insert' | 'delete' | 'duplicate' | 'truncate' | 'quotes';
  pos: number;
  len: number;
  token: string;
}
const textMutation: fc.Arbitrary<TextMutation> = fc.record({
  op: fc.constantFrom<TextMutation['op']>('insert', 'insert', 'delete', 'duplicate', 'truncate', 'quotes'),
  pos: fc.nat(),
  len: fc.nat({ max: 40 }),
  token: fc.oneof(fc.constantFrom(...XML_TOKENS), fc.string({ maxLength: 4 })),
});
function applyText(text: string, mutations: TextMutation[]): string {
  for (const m of mutations) {
    const p = m.pos % (text.length + 1);
    if (m.op === 'insert') text = text.slice(0, p) + m.token + text.slice(p);
    else if (m.op === 'delete') text = text.slice(0, p) + text.slice(p + m.len);
    else if (m.op === 'duplicate') text = text.slice(0, p + m.len) + text.slice(p, p + m.len) + text.slice(p + m.len);
    else if (m.op === 'truncate') text = text.slice(0, p);
    else text = text.replace(/"/g, (q, i: number) => (i >= p && i < p + m.len * 8 ? '”' : q));
  }
  return text;
}
const mutatedText = (base: fc.Arbitrary<string>): fc.Arbitrary<string> => fc.tuple(base, fc.array(textMutation, { maxLength: 3 })).map(([t, ms]) => applyText(t, ms));

const esc = (v: string) => v.replace(/&/g, '&amp;').replace(/"/g, '&quot;').replace(/</g, '&lt;');
const attrs = (pairs: [string, string | null][]) => pairs.map(([k, v]) => (v === null ? '' : ` ${k}="${esc(v)}"`)).join('');
const ident = fc.oneof(
  { weight: 8, arbitrary: fc.constantFrom('a', 'b', 'c', 'x', 'value', 'zone', 'cabin', 'temperature', 'fan', 'Point', 'Node', 'Climate') },
  { weight: 2, arbitrary: fc.constantFrom('', ' ', '1a', 'a.b', 'a-b', 'é', 'toString', '__proto__', 'constructor', 'hasOwnProperty', 'x'.repeat(300)) },
  { weight: 1, arbitrary: fc.string({ maxLength: 6 }) },
);
const maybe = <T>(arb: fc.Arbitrary<T>): fc.Arbitrary<T | null> => fc.option(arb, { freq: 2 });
const typeRef = fc.constantFrom('bool', 'int', 'int64', 'float', 'double', 'string', 'binary', 'void', 'Point', 'Node', 'Nope', '', 'Int', 'int ');
const defaultText = fc.oneof(fc.constantFrom('0', '1', '-1', '2147483648', '9223372036854775808', '1e400', 'NaN', 'true', 'hex:cafe', 'hex:zz', 'x', ''), fc.string({ maxLength: 6 }));
const argument = fc.tuple(ident, typeRef, maybe(fc.constantFrom('true', 'false', 'yes'))).map(([n, t, r]) => `<argument${attrs([['name', n], ['type', t], ['repeated', r]])}/>`);
const method = fc.tuple(ident, maybe(typeRef), maybe(fc.constantFrom('true', 'no')), fc.array(argument, { maxLength: 3 })).map(([n, t, r, as]) => `<method${attrs([['name', n], ['returns', t], ['returns-repeated', r]])}>${as.join('')}</method>`);
const event = fc.tuple(ident, fc.array(argument, { maxLength: 3 })).map(([n, as]) => `<event${attrs([['name', n]])}>${as.join('')}</event>`);
const field_ = fc.tuple(ident, typeRef, maybe(fc.constantFrom('true'))).map(([n, t, r]) => `<field${attrs([['name', n], ['type', t], ['repeated', r]])}/>`);
const typeDecl = fc.tuple(ident, fc.array(field_, { maxLength: 3 })).map(([n, fs]) => `<type${attrs([['name', n]])}>${fs.join('')}</type>`);
// Recursive and mutually recursive structs: anything that walks types without a guard loops on them.
const recursiveTypes = '<type name="Node"><field name="next" type="Node"/></type><type name="Point"><field name="p" type="Pair"/></type><type name="Pair"><field name="q" type="Point" repeated="true"/></type>';
const leaf = fc.tuple(ident, typeRef, maybe(defaultText), maybe(fc.constantFrom('true'))).map(([n, t, d, r]) => `<${n || 'v'}${attrs([['type', t], ['default', d], ['repeated', r]])}/>`);
const dataTree: fc.Arbitrary<string> = fc.letrec<{ node: string }>((tie) => ({
  node: fc.oneof({ depthSize: 'small' }, leaf, fc.tuple(ident, fc.array(tie('node'), { maxLength: 3 })).map(([n, kids]) => `<${n || 'o'}>${kids.join('')}</${n || 'o'}>`)),
})).node;
const deepData = fc.integer({ min: 50, max: 3000 }).map((d) => `${'<n>'.repeat(d)}<v type="int"/>${'</n>'.repeat(d)}`);
const routeXml = fc
  .tuple(fc.constantFrom('reliable', 'unreliable', 'rt', 'x', ''), fc.constantFrom('direct', 'server', 'direct_and_server', 'peer', ''), maybe(bearerIds()), maybe(fc.constantFrom('true', 'false', 'x')), fc.array(fc.constantFrom('<method name="m"/>', '<method/>', '<event name="e"/>', '<runtimedata path="v"/>', '<runtimedata/>', '<runtimedata path="a..b"/>'), { maxLength: 3 }))
  .map(([l, t, b, r, rs]) => `<route${attrs([['link', l], ['linkType', t], ['bearer', b], ['required', r]])}>${rs.join('')}</route>`);
const endpointXml = fc
  .tuple(ident, bearerIds(), maybe(fc.constantFrom('0', '1', '65535', '65536', '-1', 'x', '')), maybe(fc.constantFrom('127.0.0.1', '0.0.0.0', '', '::1')), maybe(fc.constantFrom('/tmp/x.sock', '', 'rel.sock')))
  .map(([n, b, port, host, p]) => `<link${attrs([['name', n], ['bearer', b], ['port', port], ['host', host], ['path', p]])}/>`);
function bearerIds(): fc.Arbitrary<string> {
  return fc.constantFrom(TCP, UDP, 'connect.bearer.local', 'connect.bearer.ssl', 'connect.bearer.ws', 'connect.bearer.memory', 'connect.bearer.tcpp', '');
}
const section = (name: string, body: fc.Arbitrary<string>) => maybe(body).map((b) => (b === null ? '' : `<${name}>${b}</${name}>`));
const generatedDefinition = fc
  .tuple(
    ident,
    maybe(fc.constantFrom('1.0', '', 'x')),
    section('types', fc.oneof(fc.array(typeDecl, { maxLength: 3 }).map((t) => t.join('')), fc.constant(recursiveTypes))),
    section('methods', fc.array(method, { maxLength: 4 }).map((m) => m.join(''))),
    section('events', fc.array(event, { maxLength: 2 }).map((e) => e.join(''))),
    section('runtime-data', fc.oneof({ weight: 4, arbitrary: fc.array(dataTree, { maxLength: 3 }).map((d) => d.join('')) }, { weight: 1, arbitrary: deepData })),
    section('routing', fc.tuple(section('p2p-endpoints', fc.array(endpointXml, { maxLength: 2 }).map((e) => e.join(''))), fc.array(routeXml, { maxLength: 3 })).map(([e, rs]) => e + rs.join(''))),
  )
  .map(([n, v, ...parts]) => `<service${attrs([['name', n], ['version', v]])}>${parts.join('')}</service>`);
const fixtureTexts = [TYPES, LAB, fixture('definitions', 'seed-forked-runtime-data.xml')].map((f) => readFileSync(f, 'utf8'));
/** Service definitions: generated ones, the fixtures, and both with text-level damage. */
export const definitionXml: fc.Arbitrary<string> = fc.oneof({ weight: 3, arbitrary: mutatedText(generatedDefinition) }, { weight: 2, arbitrary: mutatedText(fc.constantFrom(...fixtureTexts)) });

export const instructionsXml: fc.Arbitrary<string> = mutatedText(
  fc
    .tuple(
      fc.array(
        fc
          .tuple(ident, bearerIds(), maybe(fc.constantFrom('127.0.0.1', '', '::1')), maybe(fc.constantFrom('1', '0', 'x', '-1', '99999999999999999999')), maybe(fc.constantFrom('/tmp/s', '')), maybe(str))
          .map(([n, b, h, p, pa, t]) => `<link${attrs([['name', n], ['bearer', b], ['host', h], ['port', p], ['path', pa], ['token', t]])}/>`),
        { maxLength: 3 },
      ),
      fc.array(
        fc
          .tuple(fc.constantFrom('method', 'event', 'runtimedata', 'x', ''), ident, fc.array(fc.tuple(fc.constantFrom('route', 'skipped', 'other'), fc.constantFrom('direct', 'server', ''), maybe(ident), maybe(fc.constantFrom('true', 'x'))), { maxLength: 3 }))
          .map(([k, n, rs]) => `<resource${attrs([['kind', k], [k === 'runtimedata' ? 'path' : 'name', n]])}>${rs.map(([tag, lt, l, r]) => `<${tag}${attrs([['linkType', lt], ['link', l], ['required', r], ['reason', tag === 'skipped' ? 'why' : null]])}/>`).join('')}</resource>`),
        { maxLength: 3 },
      ),
      fc.constantFrom('routing-instructions', 'routing', 'service'),
    )
    .map(([links, res, root]) => `<${root} service="Lab" session="s" version="1">${links.join('')}${res.join('')}</${root}>`),
);

const attributeXml = fc
  .tuple(fc.constantFrom('port', 'host', 'path', 'certificate', 'key', 'ca', 'passphrase', 'verify', 'serverName', 'requireClientCertificate', 'maxDatagramBytes', 'idleTimeoutMs', 'foo', ''), fc.oneof(fc.constantFrom('0', '2002', '65536', '-1', 'true', 'maybe', '', 'cert.pem', '/etc/hostname', '.', 'a\u0000b', '127.0.0.1', '/tmp/peerway-fuzz.sock'), str))
  .map(([n, v]) => `<attribute${attrs([['name', n], ['value', v]])}/>`);
export const configXml: fc.Arbitrary<{ xml: string; role: ConfigRole }> = fc.record({
  role: fc.constantFrom<ConfigRole>('server', 'client', 'runner'),
  xml: mutatedText(
    fc
      .tuple(
        fc.array(fc.tuple(bearerIds(), maybe(fc.constantFrom('x.so', '')), fc.array(attributeXml, { maxLength: 4 }), maybe(fc.constantFrom('text'))).map(([t, l, as, text]) => `<connectionadapter${attrs([['type', t], ['library', l]])}>${as.join('')}${text ?? ''}</connectionadapter>`), { maxLength: 3 }),
        fc.array(fc.constantFrom('<service file="types.xml"/>', '<service/>', '<service file=""/>', '<other/>'), { maxLength: 2 }),
        fc.constantFrom('configuration', 'service', 'config'),
      )
      .map(([adapters, services, root]) => `<${root}>${adapters.join('')}${services.join('')}</${root}>`),
  ),
});

// ---- generators: protocol messages ------------------------------------------------------------------

const idArb = fc.oneof({ weight: 8, arbitrary: fc.integer({ min: 1, max: 1_000_000 }) }, { weight: 1, arbitrary: c(0, -1, 1.5, NaN, 2 ** 53, '1', null) }, { weight: 1, arbitrary: scalar });
const sessionArb = fc.oneof(
  { weight: 4, arbitrary: fc.constant<FuzzValue>(new Slot('started')) },
  { weight: 2, arbitrary: fc.constant<FuzzValue>(new Slot('attackSession')) },
  { weight: 1, arbitrary: fc.constant<FuzzValue>(new Slot('goodSession')) },
  { weight: 1, arbitrary: str },
);
const serviceArb = c('Types', 'Lab', 'Nope', '', new Slot('service'));
// Methods the fixtures implement, minus those that legitimately take long or loop on a count (slow,
// emitTicks, emitPing, emitBig): a fuzzed count of 2^31 would be the fixture's hang, not Peerway's.
const methodArb = c('add', 'echo', 'echoString', 'echoInt', 'echoInt64', 'echoDouble', 'echoShape', 'echoBinary', 'echoInts', 'nothing', 'fail', 'setCount', 'setCounter', 'setPosition', 'badResult', 'm', 'nope', '');
const argKey = fc.oneof({ weight: 4, arbitrary: c('a', 'b', 'value', 'text', 'message', 'x', 'y', 'points', 'name') }, { weight: 1, arbitrary: key });
const argsArb: fc.Arbitrary<FuzzValue> = fc.array(fc.tuple(argKey, field(fc.oneof(fc.integer({ min: -5, max: 5 }), str))), { maxLength: 4 }).map((e) => new FuzzMap(e));
const bearerArb = c(TCP, UDP, 'connect.bearer.local', 'connect.bearer.ssl', 'connect.bearer.ws', 'connect.bearer.memory', 'nope');
const profileArb = fieldsMap(req('bearers', fc.array(field(bearerArb), { maxLength: 4 })), req('host', str), opt('process', str), req('version', c(1, 2, 0)));
const linkName = c('reliable', 'rt_link', 'unreliable', 'nope', '', new Slot('link'));
const routeArb = fieldsMap(req('linkType', c('direct', 'server', 'both')), opt('link', linkName));
const routeKey = fc.oneof({ weight: 4, arbitrary: c('method:echo', 'method:add', 'event:tick', 'event:ping', 'data:counter', 'data:', 'data:count', 'x') }, { weight: 1, arbitrary: key });
const routesArb: fc.Arbitrary<FuzzValue> = fc.array(fc.tuple(routeKey, field(routeArb)), { maxLength: 4 }).map((e) => new FuzzMap(e));
const kindArb = c('event', 'data', 'both', '');
const resourceName = c('', 'tick', 'ping', 'e', 'counter', 'count', 'position', 'position.x', 'shape.points', 'v', 's.t', 'nope', 'a..b', '.');
const codeArb = fc.oneof(fc.constantFrom<FuzzValue>(...Object.keys(ERROR_CODES)), c('NOPE', ''));
const wireErrorArb = fieldsMap(req('code', codeArb), req('message', str), opt('details', weird));

/** Valid definitions to register, and what its pushes then name (`e`, `v`, `s.t`). */
export function fuzzServiceXml(name: string): string {
  return `<service name="${name}"><methods><method name="m" returns="int"><argument name="a" type="int"/></method></methods><events><event name="e"><argument name="n" type="int"/></event></events><runtime-data><v type="int"/><s><t type="string"/></s></runtime-data></service>`;
}
const registerServiceArb: fc.Arbitrary<FuzzValue> = fc.oneof(
  fieldsMap(req('name', serviceArb), req('xml', c(fuzzServiceXml('FuzzStatic'))), req('file', str), opt('data', weird)),
  fieldsMap(req('name', str), req('xml', definitionXml), opt('file', str)),
  fieldsMap(req('name', str), req('xml', fc.string({ maxLength: 40 })), opt('file', str)),
);

const kinds = {
  hello: msg('hello', req('version', c(1)), req('role', c('client', 'runner', 'link', 'admin', '')), opt('agent', str), opt('token', c(new Slot('attackToken'), 'x')), opt('session', sessionArb), opt('link', linkName)),
  welcome: msg('welcome', req('version', c(1)), req('peer', str)),
  reply: msg('reply', req('id', idArb), opt('value', weird)),
  error: msg('error', opt('id', idArb), req('error', wireErrorArb)),
  list: msg('list', req('id', idArb)),
  stats: msg('stats', req('id', idArb)),
  start: msg('start', req('id', idArb), req('service', serviceArb), req('client', profileArb)),
  attach: msg('attach', req('id', idArb), req('session', sessionArb), req('resume', str)),
  stop: msg('stop', req('id', idArb), req('session', sessionArb)),
  ready: msg('ready', req('id', idArb), req('session', sessionArb), req('routes', routesArb)),
  call: msg('call', req('id', idArb), req('session', sessionArb), opt('service', serviceArb), req('method', methodArb), req('args', argsArb)),
  subscribe: msg('subscribe', req('id', idArb), req('session', sessionArb), req('kind', kindArb), opt('name', resourceName)),
  unsubscribe: msg('unsubscribe', req('id', idArb), req('session', sessionArb), req('kind', kindArb), opt('name', resourceName)),
  register: msg('register', req('id', idArb), req('services', fc.array(registerServiceArb, { maxLength: 3 }))),
  open: msg('open', req('id', idArb), req('session', sessionArb), req('service', serviceArb), req('client', profileArb), opt('identity', str)),
  event: msg('event', opt('service', serviceArb), opt('session', sessionArb), req('name', resourceName), req('args', argsArb)),
  data: msg('data', opt('service', serviceArb), opt('session', sessionArb), req('path', resourceName), req('value', weird)),
  close: msg('close', req('session', sessionArb)),
  ended: msg('ended', req('session', sessionArb), req('error', wireErrorArb)),
  unknown: msg(otherTypes, opt('id', idArb), opt('session', sessionArb)),
} satisfies Record<string, fc.Arbitrary<FuzzMap>>;
type Kind = keyof typeof kinds;
/** Kinds added to the protocol after these templates were written still get sent, with an id and a session. */
const newerKinds = [...REQUEST_TYPES, ...PUSH_TYPES].filter((t) => !(t in kinds)).map((t) => msg(t, req('id', idArb), opt('session', sessionArb)));

/** Messages in the mix a peer of `role` would send, plus every other kind now and then. */
function messageMix(weights: Partial<Record<Kind, number>>): fc.Arbitrary<FuzzValue> {
  return fc.oneof(...(Object.keys(kinds) as Kind[]).map((k) => ({ weight: weights[k] ?? 1, arbitrary: mutated(kinds[k]) })), ...newerKinds.map((arbitrary) => ({ weight: 1, arbitrary: mutated(arbitrary) })));
}
// Fatal notices (`error` without id) and replies reach the protocol engine itself, not a handler: weighted up.
const clientMessages = messageMix({ start: 3, call: 4, subscribe: 3, unsubscribe: 2, ready: 3, attach: 2, stop: 2, error: 2, reply: 2 });
const runnerMessages = messageMix({ register: 5, event: 4, data: 4, reply: 2, error: 2 });
const linkMessages = messageMix({ call: 5, subscribe: 4, unsubscribe: 3, error: 2, reply: 2 });

const goodHello = (role: string, link = false): FuzzMap =>
  new FuzzMap([
    ['type', 'hello'],
    ['version', PROTOCOL_VERSION],
    ['role', role],
    ['agent', 'peerway-fuzz'],
    ...(link ? ([['token', new Slot('attackToken')], ['session', new Slot('attackSession')], ['link', new Slot('link')]] as [string, FuzzValue][]) : []),
  ]);
/** Mostly the valid hello, so the messages after it are read; else the valid one with a field wrong, or anything. */
const helloFor = (role: 'client' | 'runner' | 'link'): fc.Arbitrary<FuzzValue> =>
  fc.oneof(
    { weight: 4, arbitrary: fc.constant(goodHello(role, role === 'link')) },
    { weight: 2, arbitrary: oneFieldOff(fc.constant(goodHello(role, role === 'link'))) },
    { weight: 1, arbitrary: mutated(kinds.hello) },
  );

// ---- generators: cases --------------------------------------------------------------------------------

type Endpoint = 'server' | 'reliable' | 'rt_link';
/** A chunk of bytes, or the endpoint's valid hello (a link hello needs the run's token). */
type Chunk = Uint8Array | 'hello' | 'hello-bytewise';
export interface FrameCase {
  kind: 'frames';
  endpoint: Endpoint;
  chunks: Chunk[];
  /** A request of exactly `bodyBytes` around the limit: what must happen to it, not only "no hang". */
  expect?: { bodyBytes: number; outcome: 'answered' | 'closed' };
}
export interface MessageCase {
  kind: 'messages';
  endpoint: Endpoint;
  hello: FuzzValue;
  /** Something valid first, so the mutated messages reach deeper: a session of the case's own, a service. */
  prelude: 'none' | 'start:Lab' | 'start:Types' | 'register';
  messages: FuzzValue[];
  /** Frames written one at a time (else all in one write). */
  split: boolean;
}
type DatagramSpec = { raw: Uint8Array } | { kind: number; seq: number | 'next'; payload: Uint8Array } | { seq: number | 'next'; message: FuzzValue };
export interface UdpCase {
  kind: 'udp';
  connect: 'fresh' | 'none' | 'short';
  nonce: Uint8Array;
  hello: boolean;
  datagrams: DatagramSpec[];
  close: boolean;
}
export type NetworkCase = FrameCase | MessageCase | UdpCase;

const frame = (body: Uint8Array): Buffer => encodeFrame(body);
const header = (length: number): Buffer => {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(length >>> 0, 0);
  return b;
};
/** A valid `list` request whose body is exactly `bodyBytes` long (an unknown field pads it; peers ignore those). */
function paddedList(bodyBytes: number): Buffer {
  const at = (pad: number) => encodeMessage({ type: 'list', id: 1, padding: 'a'.repeat(pad) } as Message);
  const guess = bodyBytes - 100;
  const body = at(guess + (bodyBytes - at(guess).length));
  if (body.length !== bodyBytes) throw new Error(`cannot pad a request to ${bodyBytes} bytes`);
  return body;
}
const limitFrames = [SERVER_LIMIT - 1, SERVER_LIMIT, SERVER_LIMIT + 1].map((n) => ({ n, bytes: frame(paddedList(n)) }));
const listFrames = (n: number): Buffer => Buffer.concat(Array.from({ length: n }, (_, i) => frame(encodeMessage({ type: 'list', id: i + 1 }))));
const printable = (s: string): Uint8Array => Buffer.from(s, 'latin1');

/** Slot values for bytes generated without a run (garbage frames). */
const NO_SLOTS: Slots = { started: 'nosuchsession', attackSession: 'nosuchsession', attackToken: 'x', goodSession: 'nosuchsession', service: 'Nope', link: 'nope' };
const garbage = fc.oneof(
  { weight: 3, arbitrary: fc.uint8Array({ minLength: 1, maxLength: 64 }) },
  { weight: 1, arbitrary: fc.uint8Array({ minLength: 1, maxLength: 4096 }) },
  { weight: 1, arbitrary: fc.constantFrom(printable('GET / HTTP/1.1\r\nHost: x\r\n\r\n'), Buffer.from([0x16, 0x03, 0x01, 0x02, 0x00, 0x01]), printable('\r\n')) },
  { weight: 2, arbitrary: weird.map((v) => frame(encodeFuzz(v, NO_SLOTS))) },
);
const announced = fc.constantFrom(SERVER_LIMIT - 1, SERVER_LIMIT, SERVER_LIMIT + 1, LINK_LIMIT, LINK_LIMIT + 1, 2 ** 31, 2 ** 32 - 1, 0x16030100, 0, 1, 5);

const afterHello = (hello: boolean, ...rest: Chunk[]): Chunk[] => (hello ? ['hello', ...rest] : rest);
const frameChunks: fc.Arbitrary<Chunk[]> = fc.oneof(
  { weight: 3, arbitrary: garbage.map((g) => afterHello(false, g)) },
  { weight: 2, arbitrary: garbage.map((g): Chunk[] => [g, 'hello']) },
  { weight: 3, arbitrary: fc.array(garbage, { minLength: 1, maxLength: 3 }).map((gs) => afterHello(true, ...gs)) },
  // Announced lengths around and above the limits, with a little of the body or none.
  { weight: 2, arbitrary: fc.tuple(fc.boolean(), announced, fc.uint8Array({ maxLength: 300 })).map(([h, n, body]) => afterHello(h, header(n), body.subarray(0, n))) },
  // A frame cut short.
  { weight: 2, arbitrary: fc.tuple(fc.boolean(), garbage, fc.nat()).map(([h, g, cut]) => afterHello(h, frame(g).subarray(0, cut % (g.length + 4)))) },
  // Many tiny frames, before or after the hello; and many small valid requests.
  { weight: 2, arbitrary: fc.tuple(fc.boolean(), fc.integer({ min: 1, max: 2000 }), fc.uint8Array({ maxLength: 3 })).map(([h, n, b]) => afterHello(h, Buffer.concat(Array.from({ length: n }, () => frame(b))))) },
  { weight: 1, arbitrary: fc.integer({ min: 1, max: 1000 }).map((n) => afterHello(true, listFrames(n))) },
  { weight: 1, arbitrary: fc.constant<Chunk[]>(['hello-bytewise']) },
);
export const frameCase: fc.Arbitrary<FrameCase> = fc
  .tuple(fc.constantFrom<Endpoint>('server', 'server', 'server', 'reliable'), frameChunks)
  .map(([endpoint, chunks]): FrameCase => ({ kind: 'frames', endpoint, chunks }));
/** Frames of exactly the limit and one byte either side: the first two are served, the last closed. */
const limitCase: fc.Arbitrary<FrameCase> = fc
  .constantFrom(...limitFrames)
  .map(({ n, bytes }): FrameCase => ({ kind: 'frames', endpoint: 'server', chunks: ['hello', bytes], expect: { bodyBytes: n, outcome: n <= SERVER_LIMIT ? 'answered' : 'closed' } }));
const framesTarget = fc.oneof({ weight: 60, arbitrary: frameCase }, { weight: 1, arbitrary: limitCase });

const messageCase = (endpoints: Endpoint[], role: 'client' | 'runner' | 'link', preludes: MessageCase['prelude'][], messages: fc.Arbitrary<FuzzValue>): fc.Arbitrary<MessageCase> =>
  fc
    .record({ endpoint: fc.constantFrom(...endpoints), hello: helloFor(role), prelude: fc.constantFrom(...preludes), messages: fc.array(messages, { minLength: 1, maxLength: 4 }), split: fc.boolean() })
    .map((r) => ({ kind: 'messages', ...r }));
export const clientCase = messageCase(['server'], 'client', ['none', 'none', 'start:Lab', 'start:Lab', 'start:Types'], clientMessages);
export const runnerCase = messageCase(['server'], 'runner', ['none', 'register', 'register'], runnerMessages);
export const linkCase = messageCase(['reliable', 'rt_link'], 'link', ['none'], linkMessages);

const seqArb = fc.oneof({ weight: 4, arbitrary: fc.constant<'next'>('next') }, { weight: 1, arbitrary: fc.constantFrom(0, 1, 2 ** 31, 2 ** 32 - 1) }, { weight: 1, arbitrary: fc.nat() });
const datagram: fc.Arbitrary<DatagramSpec> = fc.oneof(
  { weight: 2, arbitrary: fc.uint8Array({ maxLength: 64 }).map((raw) => ({ raw })) },
  { weight: 1, arbitrary: fc.uint8Array({ minLength: 1, maxLength: 1500 }).map((raw) => ({ raw: Buffer.concat([Buffer.from([0x50]), raw]) })) },
  { weight: 3, arbitrary: fc.record({ kind: fc.oneof(fc.nat(4), fc.nat(255)), seq: seqArb, payload: fc.uint8Array({ maxLength: 64 }) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant(UdpKind.DATA), seq: seqArb, payload: fc.integer({ min: 1201, max: 60_000 }).map((n) => new Uint8Array(n)) }) },
  { weight: 5, arbitrary: fc.record({ seq: seqArb, message: fc.oneof(linkMessages, mutated(kinds.hello)) }) },
);
export const udpCase: fc.Arbitrary<UdpCase> = fc.record({
  kind: fc.constant('udp' as const),
  connect: fc.constantFrom<UdpCase['connect']>('fresh', 'fresh', 'fresh', 'none', 'short'),
  nonce: fc.uint8Array({ minLength: 4, maxLength: 4 }),
  hello: fc.boolean(),
  datagrams: fc.array(datagram, { minLength: 1, maxLength: 8 }),
  close: fc.boolean(),
});

type ParserInput = string | { xml: string; role: ConfigRole };
const parserArbs: Record<ParserTarget, fc.Arbitrary<ParserInput>> = { definition: definitionXml, instructions: instructionsXml, config: configXml };
const networkArbs: Record<NetworkTarget, fc.Arbitrary<NetworkCase>> = { frames: framesTarget, client: clientCase, runner: runnerCase, link: linkCase, udp: udpCase };

/** The seed of one batch of one target: the same (seed, target, batch) always gives the same cases. */
export function batchSeed(seed: number, target: TargetName, batch: number): number {
  let h = (seed ^ 0x9e3779b9) | 0;
  for (const ch of `${target}:${batch}`) h = Math.imul(h ^ ch.charCodeAt(0), 0x01000193);
  return h | 0;
}
/** Rebuilds case `index` of a batch (for --replay and reports). */
export function generateCases(seed: number, target: TargetName, batch: number, count: number): (NetworkCase | ParserInput)[] {
  const arb: fc.Arbitrary<NetworkCase | ParserInput> = isParser(target) ? parserArbs[target] : networkArbs[target];
  return fc.sample(arb, { seed: batchSeed(seed, target, batch), numRuns: count });
}
const isParser = (t: TargetName): t is ParserTarget => PARSER_TARGETS.includes(t);

// ---- the parsers, in a worker so that a parse that never returns is a reported hang, not a stuck suite ---

interface ParserRequest {
  target: ParserTarget;
  seed: number;
  batch: number;
  count: number;
}
interface ParserProblem {
  index: number;
  what: 'error' | 'slow';
  message: string;
  input: string;
}
interface ParserResult {
  ran: number;
  problems: ParserProblem[];
}

/** Checks one input: undefined when the parser returned or threw what it may throw. */
async function checkParser(target: ParserTarget, input: ParserInput): Promise<string | undefined> {
  try {
    if (target === 'definition') parseDefinition(input as string, 'fuzz.xml', (input as string).length % 2 === 0 ? {} : { bearers: [TCP, UDP] });
    else if (target === 'instructions') parseInstructions(input as string);
    else {
      const { xml, role } = input as { xml: string; role: ConfigRole };
      await parsePeerwayConfig(xml, path.join(os.tmpdir(), 'peerway-fuzz-none', 'fuzz.xml'), role);
    }
    return undefined;
  } catch (err) {
    const ok =
      target === 'definition'
        ? err instanceof DefinitionError || (err instanceof PeerwayError && err.code !== 'INTERNAL')
        : err instanceof PeerwayError && err.code === (target === 'instructions' ? 'PROTOCOL' : 'CONFIG_INVALID');
    if (ok) return undefined;
    const e = err as Error;
    return `${target} threw ${e?.name ?? typeof err}${err instanceof PeerwayError ? ` ${err.code}` : ''}: ${String(e?.message ?? err).slice(0, 300)}\n${(e?.stack ?? '').split('\n').slice(1, 6).join('\n')}`;
  }
}

async function parseBatch(r: ParserRequest, progress: Int32Array): Promise<ParserResult> {
  const inputs = generateCases(r.seed, r.target, r.batch, r.count) as ParserInput[];
  const problems: ParserProblem[] = [];
  for (let i = 0; i < inputs.length; i++) {
    Atomics.store(progress, 0, i);
    const started = performance.now();
    const failed = await checkParser(r.target, inputs[i]);
    const ms = performance.now() - started;
    const input = typeof inputs[i] === 'string' ? (inputs[i] as string) : JSON.stringify(inputs[i]);
    if (failed) problems.push({ index: i, what: 'error', message: failed, input });
    if (ms > SLOW_PARSE_MS) problems.push({ index: i, what: 'slow', message: `${r.target} took ${Math.round(ms)} ms on a ${input.length}-character input`, input });
  }
  return { ran: inputs.length, problems };
}

interface WorkerData {
  peerwayFuzzParser: true;
  progress: SharedArrayBuffer;
}
const isWorkerData = (d: unknown): d is WorkerData => typeof d === 'object' && d !== null && (d as Partial<WorkerData>).peerwayFuzzParser === true;
if (!isMainThread && parentPort && isWorkerData(workerData)) {
  const port = parentPort;
  const progress = new Int32Array(workerData.progress);
  port.on('message', (r: ParserRequest) => void parseBatch(r, progress).then((result) => port.postMessage(result)));
}

/** The main thread's side: one worker, replaced when it hangs (terminated) or dies. */
class ParserWorker {
  private worker: Worker | undefined;
  private readonly progress = new SharedArrayBuffer(4);

  /** Runs a batch; a batch that does not finish in time ends with the index of the case it was stuck on. */
  run(r: ParserRequest, deadlineMs: number): Promise<ParserResult | { stuckAt: number; why: string }> {
    // tsx's loader hooks do not reach a worker's entry module on Node 20: register them in the worker first.
    this.worker ??= new Worker(`import(${JSON.stringify(import.meta.resolve('tsx/esm/api'))}).then((api) => { api.register(); return import(${JSON.stringify(import.meta.url)}); });`, {
      eval: true,
      workerData: { peerwayFuzzParser: true, progress: this.progress } satisfies WorkerData,
    });
    const worker = this.worker;
    return new Promise((resolve) => {
      const done = (result: ParserResult | { stuckAt: number; why: string }) => {
        clearTimeout(timer);
        worker.off('message', onMessage);
        worker.off('error', onError);
        resolve(result);
      };
      const stuck = (why: string) => {
        this.worker = undefined;
        void worker.terminate();
        done({ stuckAt: Atomics.load(new Int32Array(this.progress), 0), why });
      };
      const onMessage = (result: ParserResult) => done(result);
      const onError = (err: Error) => stuck(`the parser worker died: ${err.message}`);
      const timer = setTimeout(() => stuck(`no answer within ${deadlineMs} ms`), deadlineMs);
      worker.on('message', onMessage);
      worker.on('error', onError);
      Atomics.store(new Int32Array(this.progress), 0, 0);
      worker.postMessage(r);
    });
  }

  async close(): Promise<void> {
    await this.worker?.terminate();
    this.worker = undefined;
  }
}

// ---- raw connections ------------------------------------------------------------------------------------

/** One attack connection: bytes out; messages in, decoded; whether it closed. */
class RawPeer {
  readonly received: Message[] = [];
  /** Frames from the peer we could not decode: the server only ever sends valid messages. */
  undecodable = 0;
  private readonly decoder = new FrameDecoder(LINK_LIMIT * 4);
  private isClosed = false;
  private readonly waiters = new Set<() => void>();

  private constructor(
    readonly socket: net.Socket,
    /** Answer the peer's keepalive pings (a connection that must outlive the server's keepalive). */
    private readonly answerPings: boolean,
  ) {
    socket.on('data', (chunk: Buffer) => {
      try {
        this.decoder.push(chunk, (f) => {
          try {
            const m = decodeMessage(f);
            this.received.push(m);
            const request = m as { type: string; id?: unknown };
            if (this.answerPings && request.type === 'ping' && typeof request.id === 'number') this.write(encodeFrame(encodeMessage({ type: 'reply', id: request.id })));
          } catch {
            this.undecodable++;
          }
        });
      } catch {
        this.undecodable++;
      }
      this.wake();
    });
    socket.on('error', () => undefined); // resets and broken pipes are expected: the peer closes on us
    socket.on('close', () => {
      this.isClosed = true;
      this.wake();
    });
  }

  static dial(port: number, { timeoutMs = CASE_DEADLINE_MS, answerPings = false } = {}): Promise<RawPeer> {
    return new Promise((resolve, reject) => {
      const socket = net.connect({ port, host: '127.0.0.1', noDelay: true });
      const timer = setTimeout(() => {
        socket.destroy();
        reject(new Error(`connecting to 127.0.0.1:${port} took more than ${timeoutMs} ms`));
      }, timeoutMs);
      socket.once('error', (err) => {
        clearTimeout(timer);
        socket.destroy();
        reject(err);
      });
      socket.once('connect', () => {
        clearTimeout(timer);
        resolve(new RawPeer(socket, answerPings));
      });
    });
  }

  get closed(): boolean {
    return this.isClosed;
  }

  write(bytes: Uint8Array): void {
    if (!this.socket.destroyed && this.socket.writable) this.socket.write(bytes);
  }

  end(): void {
    if (!this.socket.destroyed) this.socket.end();
  }

  destroy(): void {
    this.socket.destroy();
  }

  answered(id: number): Message | undefined {
    // NaN is a number too: a peer answers a request with id NaN with id NaN.
    return this.received.find((m) => (m.type === 'reply' || m.type === 'error') && (m.id === id || (Number.isNaN(id) && Number.isNaN(m.id))));
  }

  /** Resolves once `done()` holds ('done'), the connection closed ('closed') or the time is up ('timeout'). */
  until(done: () => boolean, timeoutMs = CASE_DEADLINE_MS): Promise<'done' | 'closed' | 'timeout'> {
    return new Promise((resolve) => {
      let settled = false;
      const finish = (r: 'done' | 'closed' | 'timeout') => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        this.waiters.delete(check);
        resolve(r);
      };
      const check = () => (done() ? finish('done') : this.isClosed ? finish('closed') : undefined);
      const timer = setTimeout(() => finish('timeout'), timeoutMs);
      this.waiters.add(check);
      check();
    });
  }

  private wake(): void {
    for (const w of [...this.waiters]) w();
  }
}

const PROBE = encodeFrame(encodeMessage({ type: 'list', id: PROBE_ID }));
/** Resolves after `ms`, or at once when `signal` aborts. */
const sleep = (ms: number, signal?: AbortSignal) =>
  new Promise<void>((resolve) => {
    const done = () => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal?.addEventListener('abort', done, { once: true });
  });

// ---- the processes under attack and the good client ----------------------------------------------------

/** The harness registers its cleanups with `t.after`; outside node:test this scope collects and runs them. */
class Scope {
  private readonly cleanups: (() => unknown)[] = [];
  readonly t = { after: (fn: () => unknown) => void this.cleanups.push(fn) } as unknown as TestContext;
  async close(): Promise<void> {
    for (const fn of this.cleanups.reverse()) await fn();
    this.cleanups.length = 0;
  }
}

export interface Env {
  scope: Scope;
  server: RunningServer;
  runner: PeerwayProcess;
  types: Session;
  lab: Session;
  ticks: { count: number };
  /** A session of our own on Lab whose links the link attacks may take over (never the good client's). */
  attack: { control: RawPeer; session: string; token: string; ports: Record<'reliable' | 'rt_link' | 'unreliable', number> };
  logOffsets: Record<'server' | 'runner', number>;
}

/** Starts a server and a runner (Types and Lab), the good client with its sessions, and the attack session. */
export async function startEnvironment(): Promise<Env> {
  const scope = new Scope();
  try {
    const server = await startServer(scope.t, ['--max-message-bytes', String(SERVER_LIMIT)]);
    const runner = await startRunner(scope.t, server.url, [TYPES, LAB]);
    const client = await connectClient(scope.t, server.url, { timeoutMs: GOOD_DEADLINE_MS });
    const types = await client.startSession('Types');
    const lab = await client.startSession('Lab');
    for (const [kind, name] of [['method', 'echo'], ['event', 'tick']] as const) {
      if (lab.routeFor(kind, name).linkType !== 'direct') throw new Error(`the good client did not get the direct route for ${kind} ${name}: ${lab.warnings.join('; ')}`);
    }
    const ticks = { count: 0 };
    await lab.onEvent('tick', () => void ticks.count++);
    const attack = await openAttackSession(server.port);
    scope.t.after(() => attack.control.destroy());
    return { scope, server, runner, types, lab, ticks, attack, logOffsets: { server: 0, runner: 0 } };
  } catch (err) {
    await scope.close();
    throw err;
  }
}

/** Starts a Lab session over a raw connection and reports it ready with every direct route, so link requests are served. */
async function openAttackSession(port: number): Promise<Env['attack']> {
  const control = await RawPeer.dial(port, { answerPings: true });
  control.write(encodeFrame(encodeMessage({ type: 'hello', version: PROTOCOL_VERSION, role: 'client', agent: 'peerway-fuzz-attack' })));
  control.write(encodeFrame(encodeMessage({ type: 'start', id: 1, service: 'Lab', client: { bearers: [TCP, UDP], host: 'peerway-fuzz', version: PROTOCOL_VERSION } })));
  await control.until(() => control.answered(1) !== undefined);
  const reply = control.answered(1);
  if (reply?.type !== 'reply') throw new Error(`could not start the attack session: ${JSON.stringify(reply)}`);
  const started = reply.value as SessionStarted;
  const links = parseInstructions(started.routing ?? '').links;
  const portOf = (name: string) => links.find((l) => l.name === name)?.address.port ?? 0;
  const routes = { 'method:echo': { linkType: 'direct', link: 'reliable' }, 'event:tick': { linkType: 'direct', link: 'unreliable' }, 'data:counter': { linkType: 'direct', link: 'rt_link' } } as const;
  control.write(encodeFrame(encodeMessage({ type: 'ready', id: 2, session: started.session, routes })));
  await control.until(() => control.answered(2) !== undefined);
  return { control, session: started.session, token: links[0]?.token ?? '', ports: { reliable: portOf('reliable'), rt_link: portOf('rt_link'), unreliable: portOf('unreliable') } };
}

let goodCounter = 0;
/** One round of the good client's work; undefined when all of it was served in time. */
export async function checkGoodClient(env: Env): Promise<string | undefined> {
  const n = ++goodCounter;
  const options = { timeoutMs: GOOD_DEADLINE_MS };
  try {
    const [sum, echo] = await Promise.all([env.types.call('add', { a: n, b: 1000 }, options), env.lab.call('echo', { text: `hb${n}` }, options)]);
    if (sum !== n + 1000) return `add(${n}, 1000) answered ${JSON.stringify(sum)}`;
    if (echo !== `hb${n} via direct`) return `echo on the direct route answered ${JSON.stringify(echo)}`;
    // The event comes back over the udp link: one lost datagram is allowed (it is unreliable), two are not.
    for (let attempt = 0; ; attempt++) {
      const before = env.ticks.count;
      await env.lab.call('emitTicks', { count: 1 }, options);
      const deadline = Date.now() + 2000;
      while (env.ticks.count === before && Date.now() < deadline) await sleep(10);
      if (env.ticks.count > before) return undefined;
      if (attempt === 1) return 'a tick event on the direct udp route did not arrive within 2 s, twice';
    }
  } catch (err) {
    return `the good client failed: ${(err as Error).message}`;
  }
}

function fdCount(pid: number | undefined): number {
  try {
    return pid === undefined ? NaN : readdirSync(`/proc/${pid}/fd`).length;
  } catch {
    return NaN;
  }
}

/** Both processes still serve: the server answers a new client, the runner a new link (each within 1.5 s). */
async function responsive(env: Env): Promise<boolean> {
  const probe = async (port: number, hello: FuzzValue, slots: Slots) => {
    const peer = await RawPeer.dial(port, { timeoutMs: 1500 }).catch(() => undefined);
    if (!peer) return false;
    try {
      peer.write(encodeFrame(encodeFuzz(hello, slots)));
      peer.write(PROBE);
      return (await peer.until(() => peer.answered(PROBE_ID) !== undefined, 1500)) === 'done';
    } finally {
      peer.destroy();
    }
  };
  const slots = slotsFor(env, 'reliable', 'responsive');
  const [server, runner] = await Promise.all([probe(env.server.port, goodHello('client'), slots), probe(env.attack.ports.reliable, goodHello('link', true), slots)]);
  return server && runner;
}

/** Where a crash happened: the error and the first frame in Peerway's code (else the first frame). */
function crashSignature(output: string): string {
  const [error = '', ...frames] = lastLines(output).split('\n');
  const frame = (frames.find((l) => l.includes('file://')) ?? frames[0] ?? '').trim().replace(/file:\/\/.*?\/dist\//, 'dist/');
  // Numbers in the message (ports, sizes) differ from one crash to the next; where it threw does not.
  return `${error.replace(/\d+/g, 'N')} ${frame}`.slice(0, 240);
}

/**
 * The uncaught error at the end of a process's output, with its stack. (Node prints the source line
 * first; the logger's last lines may come in between, so the error line is what is looked for.)
 */
function lastLines(output: string): string {
  const lines = output.slice(-50_000).split('\n');
  let i = lines.length - 1;
  while (i >= 0 && !/^\w*Error\b/.test(lines[i])) i--;
  if (i < 0) return lines.slice(-12).join('\n');
  let end = i + 1;
  while (end < lines.length && end - i < 12 && /^\s+at /.test(lines[end])) end++;
  return lines.slice(i, end).map((l) => (l.length > 300 ? `${l.slice(0, 300)}…` : l)).join('\n');
}

function exitOf(proc: PeerwayProcess): string | undefined {
  const { exitCode, signalCode } = proc.child;
  return exitCode !== null || signalCode !== null ? `exited with ${exitCode ?? signalCode}` : undefined;
}

// Messages that only a bug produces: engine errors escaping into logs (or answers) of the processes.
// A decoder refusing a value nested too deep is handled (PROTOCOL), whatever the engine called it.
const HANDLED_PATTERN = /undecodable message body/;
const INTERNAL_PATTERN = /TypeError|RangeError|ReferenceError|Cannot read propert|Cannot convert|is not a function|is not iterable|Maximum call stack|Invalid string length|Invalid array length|Cannot destructure|Unexpected token|\bINTERNAL\b/;

// ---- running cases ---------------------------------------------------------------------------------------

type Outcome = 'answered' | 'closed' | 'hang';
interface CaseResult {
  outcome: Outcome;
  /** Why it counts as a hang or a violation. */
  detail?: string;
  violation?: string;
  /** INTERNAL errors answered on this connection. */
  internal: string[];
  connections: number;
  datagrams: number;
}

export function slotsFor(env: Env, endpoint: Endpoint | 'unreliable', caseKey: string): Slots {
  return {
    started: 'nosuchsession',
    attackSession: env.attack.session,
    attackToken: env.attack.token,
    goodSession: env.lab.id,
    service: `Fz_${caseKey.replace(/[^a-z0-9]/gi, '_')}`,
    link: endpoint === 'server' ? 'reliable' : endpoint,
  };
}
const portOf = (env: Env, endpoint: Endpoint): number => (endpoint === 'server' ? env.server.port : env.attack.ports[endpoint]);

/** Whether a stream ends on a frame boundary (then a probe can follow), or announces a frame the peer must refuse. */
function alignedOrRefused(bytes: Buffer, limit: number): boolean {
  let at = 0;
  while (bytes.length - at >= 4) {
    const n = bytes.readUInt32BE(at);
    if (n > limit) return true;
    if (bytes.length - at - 4 < n) return false;
    at += 4 + n;
  }
  return at === bytes.length;
}

function internalAnswers(peer: RawPeer): string[] {
  return peer.received.flatMap((m) => (m.type === 'error' && (m.error as { code?: unknown } | undefined)?.code === 'INTERNAL' ? [`INTERNAL: ${String((m.error as { message?: unknown }).message)}`] : []));
}

async function finishStream(peer: RawPeer, probe: boolean): Promise<Outcome> {
  if (probe) peer.write(PROBE);
  else peer.end(); // a cut-off frame waits for bytes that never come: our end of the stream must close it
  const r = await peer.until(() => peer.answered(PROBE_ID) !== undefined);
  return r === 'done' ? 'answered' : r === 'closed' ? 'closed' : 'hang';
}

async function runFrameCase(env: Env, c: FrameCase, slots: Slots): Promise<CaseResult> {
  const hello = encodeFrame(encodeFuzz(goodHello(c.endpoint === 'server' ? 'client' : 'link', c.endpoint !== 'server'), slots));
  const chunks = c.chunks.flatMap((ch) => (ch === 'hello' ? [hello] : ch === 'hello-bytewise' ? [...hello].map((b) => Buffer.from([b])) : [Buffer.from(ch)]));
  const peer = await RawPeer.dial(portOf(env, c.endpoint));
  try {
    for (const ch of chunks) peer.write(ch);
    const outcome = await finishStream(peer, alignedOrRefused(Buffer.concat(chunks), c.endpoint === 'server' ? SERVER_LIMIT : LINK_LIMIT));
    const violations = [
      ...(c.expect && outcome !== 'hang' && outcome !== c.expect.outcome ? [`a request of ${c.expect.bodyBytes} bytes (limit ${SERVER_LIMIT}) was ${outcome}, expected ${c.expect.outcome}`] : []),
      ...(peer.undecodable ? [`${peer.undecodable} undecodable frames from the peer`] : []),
    ];
    return { outcome, ...(violations.length ? { violation: violations.join('; ') } : {}), internal: internalAnswers(peer), connections: 1, datagrams: 0 };
  } finally {
    peer.destroy();
  }
}

const REQUESTS: ReadonlySet<unknown> = new Set(REQUEST_TYPES);
/** The requests among generated messages as a peer decodes them (the last of duplicate keys wins): each must be answered. */
function requestsIn(messages: FuzzValue[]): { type: string; id: number }[] {
  return messages.flatMap((m) => {
    if (!(m instanceof FuzzMap)) return [];
    const last = (key: string) => [...m.entries].reverse().find(([k]) => k === key)?.[1];
    const type = last('type');
    const id = last('id');
    return typeof type === 'string' && REQUESTS.has(type) && typeof id === 'number' ? [{ type, id }] : [];
  });
}

async function runMessageCase(env: Env, c: MessageCase, slots: Slots): Promise<CaseResult> {
  const peer = await RawPeer.dial(portOf(env, c.endpoint));
  const result = (outcome: Outcome, detail?: string): CaseResult => ({ outcome, ...(detail ? { detail } : {}), internal: internalAnswers(peer), connections: 1, datagrams: 0, ...(peer.undecodable ? { violation: `${peer.undecodable} undecodable frames from the peer` } : {}) });
  try {
    const frames = [encodeFrame(encodeFuzz(c.hello, slots))];
    if (c.prelude.startsWith('start:')) {
      // Wait for the welcome and the session, so the mutated messages can name a session of their own.
      peer.write(frames.pop()!);
      peer.write(encodeFrame(encodeMessage({ type: 'start', id: PRELUDE_ID, service: c.prelude.slice(6), client: { bearers: [TCP], host: 'peerway-fuzz', version: PROTOCOL_VERSION } })));
      const r = await peer.until(() => peer.answered(PRELUDE_ID) !== undefined);
      if (r === 'timeout') return result('hang', 'no answer to the hello or the start of a session');
      const reply = peer.answered(PRELUDE_ID);
      if (reply?.type === 'reply') slots = { ...slots, started: (reply.value as SessionStarted).session };
    } else if (c.prelude === 'register') {
      frames.push(encodeFrame(encodeMessage({ type: 'register', id: PRELUDE_ID, services: [{ name: slots.service, xml: fuzzServiceXml(slots.service), file: 'fuzz.xml' }] })));
    }
    frames.push(...c.messages.map((m) => encodeFrame(encodeFuzz(m, slots))), PROBE);
    // One write puts the hello and what follows in one segment (read before the peer's handlers are in
    // place); one write per frame, a turn apart, lets the peer handle each on its own. Both are decided by
    // the case, so a replay does the same.
    if (!c.split) peer.write(Buffer.concat(frames));
    else {
      for (const f of frames) {
        peer.write(f);
        await new Promise((r) => setImmediate(r));
      }
    }
    // Closed, or every request answered (an error is an answer) and the probe behind them too.
    const requests = requestsIn(c.messages);
    const r = await peer.until(() => peer.answered(PROBE_ID) !== undefined && requests.every((q) => peer.answered(q.id) !== undefined));
    if (r !== 'timeout') return result(r === 'done' ? 'answered' : 'closed');
    const unanswered = requests.filter((q) => peer.answered(q.id) === undefined).map((q) => `${q.type} ${q.id}`);
    return result('hang', peer.answered(PROBE_ID) ? `requests never answered: ${unanswered.join(', ')}` : 'neither closed nor answered the probe');
  } finally {
    peer.destroy();
  }
}

/** One UDP socket per lane; a lane runs its cases one after another (a case is a short conversation). */
export class UdpLane {
  readonly socket = dgram.createSocket('udp4');
  private readonly inbox: Buffer[] = [];
  private sequence = 1;
  private readonly waiters = new Set<() => void>();

  constructor(private readonly port: number) {
    this.socket.on('message', (d) => {
      this.inbox.push(d);
      if (this.inbox.length > 64) this.inbox.shift();
      for (const w of [...this.waiters]) w();
    });
    this.socket.on('error', () => undefined); // an ICMP unreachable if the runner is gone: the liveness check reports it
  }

  async bind(): Promise<void> {
    await new Promise<void>((r) => this.socket.bind(0, '127.0.0.1', r));
  }

  send(bytes: Uint8Array): Promise<void> {
    return new Promise((r) => this.socket.send(bytes, this.port, '127.0.0.1', () => r()));
  }

  nextSequence(): number {
    const s = this.sequence;
    this.sequence = (this.sequence + 1) >>> 0 || 1;
    return s;
  }

  resetSequence(): void {
    this.sequence = 1;
  }

  /** Waits (bounded) for a datagram matching `match`, resending `again` every 200 ms (udp loses things). */
  async expect(match: (d: Buffer) => boolean, again: () => Promise<void>, timeoutMs = 3000): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    this.inbox.length = 0;
    await again();
    while (Date.now() < deadline) {
      if (this.inbox.some(match)) return true;
      await new Promise<void>((r) => {
        const w = () => {
          clearTimeout(t);
          this.waiters.delete(w);
          r();
        };
        const t = setTimeout(w, 200);
        this.waiters.add(w);
      });
      if (!this.inbox.some(match)) await again();
    }
    return this.inbox.some(match);
  }

  close(): void {
    try {
      this.socket.close();
    } catch {
      // closed already
    }
  }
}

const udpMessage = (d: Buffer): Message | undefined => {
  if (d.length <= UDP_HEADER_BYTES || d[1] !== UdpKind.DATA) return undefined;
  try {
    return decodeMessage(d.subarray(UDP_HEADER_BYTES));
  } catch {
    return undefined;
  }
};

async function runUdpCase(lane: UdpLane, c: UdpCase, slots: Slots): Promise<CaseResult> {
  let datagrams = 0;
  const send = async (b: Uint8Array) => {
    datagrams++;
    await lane.send(b);
  };
  if (c.connect !== 'none') {
    lane.resetSequence();
    await send(encodeUdpDatagram(UdpKind.CONNECT, 0, c.connect === 'short' ? c.nonce.subarray(0, 2) : c.nonce));
  }
  if (c.hello) await send(encodeUdpDatagram(UdpKind.DATA, lane.nextSequence(), encodeFuzz(goodHello('link', true), slots)));
  for (const d of c.datagrams) {
    if ('raw' in d) await send(d.raw);
    else if ('message' in d) await send(encodeUdpDatagram(UdpKind.DATA, d.seq === 'next' ? lane.nextSequence() : d.seq, encodeFuzz(d.message, slots)));
    else await send(encodeUdpDatagram(d.kind, d.seq === 'next' ? lane.nextSequence() : d.seq, d.payload));
  }
  if (c.close) await send(encodeUdpDatagram(UdpKind.CLOSE, 0));
  return { outcome: 'answered', internal: [], connections: 0, datagrams };
}

/** The runner's udp link still accepts a connection, a link hello and answers a request on it. */
async function udpLiveness(lane: UdpLane, slots: Slots): Promise<string | undefined> {
  const nonce = randomBytes(4);
  lane.resetSequence();
  const accepted = await lane.expect((d) => d[1] === UdpKind.ACCEPT && d.subarray(UDP_HEADER_BYTES).equals(nonce), () => lane.send(encodeUdpDatagram(UdpKind.CONNECT, 0, nonce)));
  if (!accepted) return 'the udp link listener did not accept a connection within 3 s';
  const hello = encodeUdpDatagram(UdpKind.DATA, lane.nextSequence(), encodeFuzz(goodHello('link', true), slots));
  if (!(await lane.expect((d) => udpMessage(d)?.type === 'welcome', () => lane.send(hello)))) return 'the udp link did not welcome a valid link hello within 3 s';
  const answered = await lane.expect(
    (d) => {
      const m = udpMessage(d);
      return (m?.type === 'error' || m?.type === 'reply') && m.id === PROBE_ID;
    },
    () => lane.send(encodeUdpDatagram(UdpKind.DATA, lane.nextSequence(), encodeMessage({ type: 'list', id: PROBE_ID }))),
  );
  await lane.send(encodeUdpDatagram(UdpKind.CLOSE, 0));
  return answered ? undefined : 'the udp link did not answer a request within 3 s';
}

// ---- the run -----------------------------------------------------------------------------------------------

export interface FuzzOptions {
  seed: number;
  /** Cases in total, shared among the targets by weight. */
  cases: number;
  /** No new batch starts after this; running ones finish within their deadlines. */
  timeBudgetMs: number;
  /** Attack connections in flight at once (default 4: the suite runs three test files at a time on 2 cores). */
  concurrency?: number;
  targets?: readonly TargetName[];
  /** Crashes after which the processes are started again (default 3); after that the run stops. */
  maxRestarts?: number;
  /** Progress lines (default: none). */
  log?: (line: string) => void;
  /** Where failing inputs are saved (default: $TMPDIR/peerway-fuzz/seed-S). */
  reportDir?: string;
}

export interface FuzzFailure {
  kind: 'crash' | 'hang' | 'leak' | 'good-client' | 'parser' | 'violation';
  target: TargetName | 'run';
  /** `target:batch:index`, replayable with --seed and --replay. */
  caseKey?: string;
  message: string;
  /** The input (or the process's output) saved for reproduction. */
  file?: string;
}

export interface FuzzReport {
  seed: number;
  requested: number;
  cases: number;
  byTarget: Record<TargetName, number>;
  /** Wall time spent per target, checks between batches included. */
  msByTarget: Record<TargetName, number>;
  connections: number;
  datagrams: number;
  crashes: number;
  hangs: number;
  leakedFds: number;
  parserErrors: number;
  violations: number;
  goodChecks: number;
  goodFailures: number;
  restarts: number;
  /** Each distinct crash (process and where it threw) with how many times it happened. */
  crashSignatures: Record<string, number>;
  /** Suspicious, not fatal: INTERNAL answers and engine errors in the processes' logs, by message. */
  internal: Record<string, { count: number; example: string }>;
  /** Open descriptors before the attacks and after them (settled); measured unless the run gave up. */
  fds: { server: [number, number]; runner: [number, number] };
  fdsMeasured: boolean;
  failures: FuzzFailure[];
  durationMs: number;
  stoppedByTime: boolean;
}

/** Runs the fuzz targets against fresh processes and returns what happened; never throws for what it finds. */
export async function runFuzz(options: FuzzOptions): Promise<FuzzReport> {
  const started = performance.now();
  const log = options.log ?? (() => undefined);
  const concurrency = options.concurrency ?? 4;
  const maxRestarts = options.maxRestarts ?? MAX_RESTARTS;
  const targets = options.targets ?? TARGETS;
  const dir = options.reportDir ?? path.join(os.tmpdir(), 'peerway-fuzz', `seed-${options.seed}`);
  const totalWeight = targets.reduce((s, t) => s + WEIGHTS[t], 0);
  const plan = targets.map((t) => ({ target: t, total: Math.floor((options.cases * WEIGHTS[t]) / totalWeight), done: 0, batch: Math.max(1, Math.round((ROUND_CASES * WEIGHTS[t]) / totalWeight)) }));
  plan[0].total += options.cases - plan.reduce((sum, p) => sum + p.total, 0); // shares add up to exactly `cases`
  const report: FuzzReport = {
    seed: options.seed,
    requested: options.cases,
    cases: 0,
    byTarget: Object.fromEntries(TARGETS.map((t) => [t, 0])) as Record<TargetName, number>,
    msByTarget: Object.fromEntries(TARGETS.map((t) => [t, 0])) as Record<TargetName, number>,
    connections: 0,
    datagrams: 0,
    crashes: 0,
    hangs: 0,
    leakedFds: 0,
    parserErrors: 0,
    violations: 0,
    goodChecks: 0,
    goodFailures: 0,
    restarts: 0,
    crashSignatures: {},
    internal: {},
    fds: { server: [0, 0], runner: [0, 0] },
    fdsMeasured: false,
    failures: [],
    durationMs: 0,
    stoppedByTime: false,
  };
  const fail = (f: FuzzFailure, saved?: string) => {
    if (saved !== undefined) {
      mkdirSync(dir, { recursive: true });
      f.file = path.join(dir, `${f.kind}-${(f.caseKey ?? f.target).replace(/:/g, '-')}-${report.failures.length}.txt`);
      writeFileSync(f.file, saved);
    }
    if (report.failures.length < 200) report.failures.push(f); // the counts go on; the details of 200 are plenty
    log(`FAIL ${f.kind} ${f.caseKey ?? f.target}: ${f.message.split('\n')[0]}`);
  };
  const suspicious = (message: string, example: string) => {
    const k = message.replace(/\d+/g, 'N').slice(0, 240);
    (report.internal[k] ??= { count: 0, example }).count++;
  };
  const timeUp = () => performance.now() - started > options.timeBudgetMs;

  rmSync(dir, { recursive: true, force: true }); // reports of an earlier run with this seed would mislead
  const parser = new ParserWorker();
  let env = await startEnvironment();
  let lanes = await openLanes(env, concurrency);
  const baseline = async () => {
    await checkGoodClient(env);
    report.fds.server[0] = fdCount(env.server.proc.child.pid);
    report.fds.runner[0] = fdCount(env.runner.child.pid);
  };
  await baseline();
  const inFlight = new Set<string>();
  const recent: string[] = [];

  const scanLogs = () => {
    for (const name of ['server', 'runner'] as const) {
      const proc = name === 'server' ? env.server.proc : env.runner;
      const text = proc.stderr();
      for (const line of text.slice(env.logOffsets[name]).split('\n')) if (INTERNAL_PATTERN.test(line) && !HANDLED_PATTERN.test(line)) suspicious(`${name} log: ${line.replace(/^\[[^\]]*\]\s*/, '').replace(/"peer":"[^"]*",?/, '')}`, `logged during ${recent.at(-1) ?? 'start'}`);
      env.logOffsets[name] = text.length;
    }
  };
  const alive = () => exitOf(env.server.proc) === undefined && exitOf(env.runner) === undefined;
  /**
   * A process that dies is seen by its sockets before its exit shows: a crashing server may take seconds
   * to exit (its logger flushing). Give it that time before blaming the connection or the good client.
   */
  const diedMeanwhile = async (ms = 5000) => {
    for (const until = Date.now() + ms; alive() && Date.now() < until; ) await sleep(100);
    return !alive();
  };
  /** The good client was not served while both processes live: reported once, then the processes start afresh. */
  let broken = false;
  const restart = async () => {
    broken = false;
    closeLanes(lanes);
    await env.scope.close();
    env = await startEnvironment();
    lanes = await openLanes(env, concurrency);
    await baseline();
  };
  /**
   * Finds the case that kills a process: the candidates one at a time on fresh processes, most recent
   * first, each followed by a check that both processes still answer; then, for crashes that need what
   * came before (a udp case that talks on the connection of the previous one), in their original order.
   */
  const isolate = async (keys: string[]): Promise<{ key: string; c: NetworkCase; alone: boolean } | undefined> => {
    const replay = async (key: string) => {
      const [t, b, i] = key.split(':');
      const c = generateCases(options.seed, t as TargetName, Number(b), Number(i) + 1)[Number(i)] as NetworkCase;
      await runCase(env, lanes[0], c, slotsFor(env, c.kind === 'udp' ? 'unreliable' : c.endpoint, key)).catch(() => undefined);
      return c;
    };
    for (const key of keys) {
      const c = await replay(key);
      if (!(await responsive(env))) return { key, c, alone: true };
    }
    await restart();
    for (const key of [...keys].reverse()) {
      const c = await replay(key);
      if (!(await responsive(env))) return { key, c, alone: false };
    }
    return undefined;
  };
  /**
   * After a batch: did a process die? Then report its last words and the case that kills it (replayed on
   * fresh processes), once per distinct crash, and start afresh: at most `maxRestarts` times.
   */
  const afterCrash = async (target: TargetName): Promise<'alive' | 'restarted' | 'gave-up'> => {
    if (alive()) return 'alive';
    const dead = (['server', 'runner'] as const).flatMap((name) => {
      const proc = name === 'server' ? env.server.proc : env.runner;
      const exit = exitOf(proc);
      const output = proc.stderr();
      // The same bug kills it again and again in a long run: report it once, with a count.
      return exit ? [{ name, exit, output, signature: `${name}: ${crashSignature(output)}` }] : [];
    });
    scanLogs();
    const candidates = [...new Set([...inFlight, ...[...recent].reverse()])];
    inFlight.clear();
    report.crashes += dead.length;
    const fresh = dead.filter((d) => report.crashSignatures[d.signature] === undefined);
    for (const d of dead) report.crashSignatures[d.signature] = (report.crashSignatures[d.signature] ?? 0) + 1;
    if (report.restarts >= maxRestarts) {
      for (const d of fresh) fail({ kind: 'crash', target, message: `the ${d.name} ${d.exit}; one of ${candidates.join(', ')} killed it\n${lastLines(d.output)}` }, d.output.slice(-20_000));
      return 'gave-up';
    }
    report.restarts++;
    await restart();
    if (fresh.length === 0) return 'restarted';
    const culprit = await isolate(candidates);
    for (const d of fresh) {
      const who = !culprit
        ? `not reproduced by replaying ${candidates.join(', ')}`
        : culprit.alone
          ? `${culprit.key} kills it (replay: --seed ${options.seed} --replay ${culprit.key})`
          : `${culprit.key} kills it after the cases before it, replayed in order: ${[...candidates].reverse().join(', ')}`;
      fail(
        { kind: 'crash', target, ...(culprit ? { caseKey: culprit.key } : {}), message: `the ${d.name} ${d.exit}: ${who}\n${lastLines(d.output)}` },
        `${culprit ? describeCase(culprit.c) : `candidates: ${candidates.join(' ')}`}\n--- ${d.name} stderr (tail)\n${d.output.slice(-20_000)}`,
      );
    }
    if (culprit) await restart(); // the replay killed it again (it may not have exited yet)
    return 'restarted';
  };
  const goodClient = async (when: string) => {
    if (broken) return;
    const problem = await checkGoodClient(env);
    report.goodChecks++;
    // A process that died is reported as a crash; the good client failing with it says nothing more.
    if (problem && !(await diedMeanwhile())) {
      broken = true;
      report.goodFailures++;
      const running = `cases running: ${[...inFlight].join(', ') || '(none)'}; just before: ${[...recent].reverse().join(', ')}`;
      const logs = `--- server stderr (tail)\n${env.server.proc.stderr().slice(-30_000)}\n--- runner stderr (tail)\n${env.runner.stderr().slice(-30_000)}`;
      fail({ kind: 'good-client', target: 'run', message: `${when}: ${problem}; ${running}` }, `${running}\n${logs}`);
    }
  };
  /** After a batch that left the good client unserved: start afresh, like after a crash (and as bounded). */
  const afterBroken = async (): Promise<'alive' | 'restarted' | 'gave-up'> => {
    if (!broken) return 'alive';
    broken = false;
    if (report.restarts >= maxRestarts) return 'gave-up';
    report.restarts++;
    await restart();
    return 'restarted';
  };

  /** Runs a batch of network cases; resolves with how many ran (a dying process stops the batch early). */
  const runNetworkBatch = async (target: NetworkTarget, batch: number, count: number): Promise<number> => {
    const cases = generateCases(options.seed, target, batch, count) as NetworkCase[];
    let next = 0;
    let ran = 0;
    const lane = async (laneIndex: number) => {
      for (let i = next++; i < cases.length && alive(); i = next++) {
        const c = cases[i];
        const caseKey = `${target}:${batch}:${i}`;
        inFlight.add(caseKey);
        const slots = slotsFor(env, c.kind === 'udp' ? 'unreliable' : c.endpoint, caseKey);
        let r: CaseResult;
        try {
          r = await runCase(env, lanes[laneIndex], c, slots);
        } catch (err) {
          r = { outcome: 'hang', detail: `could not run: ${(err as Error).message}`, internal: [], connections: 1, datagrams: 0 };
        }
        inFlight.delete(caseKey);
        // Cases that could not even connect delivered nothing: they cannot be what killed a process.
        if (!r.detail?.startsWith('could not run')) recent.push(caseKey);
        if (recent.length > 16) recent.shift();
        ran++;
        report.cases++;
        report.byTarget[target]++;
        report.connections += r.connections;
        report.datagrams += r.datagrams;
        for (const m of r.internal) suspicious(`${target} answer: ${m}`, caseKey);
        // Cut short by a dying process: the crash's, not a hang or a violation of its own.
        if ((r.outcome === 'hang' || r.violation) && (await diedMeanwhile())) continue;
        if (!alive()) continue;
        if (r.outcome === 'hang') {
          report.hangs++;
          fail({ kind: 'hang', target, caseKey, message: `${caseKey}: ${r.detail ?? 'neither closed nor answered'} within ${CASE_DEADLINE_MS} ms` }, describeCase(c));
        }
        if (r.violation) {
          report.violations++;
          fail({ kind: 'violation', target, caseKey, message: `${caseKey}: ${r.violation}` }, describeCase(c));
        }
      }
    };
    await Promise.all(Array.from({ length: concurrency }, (_, i) => lane(i)));
    if (target === 'udp' && alive() && !broken) {
      const problem = await udpLiveness(lanes[0], slotsFor(env, 'unreliable', 'liveness'));
      if (problem && !(await diedMeanwhile())) {
        report.hangs++;
        fail({ kind: 'hang', target, message: `after batch ${batch}: ${problem}` });
      }
    }
    return ran;
  };

  const runParserBatch = async (target: ParserTarget, batch: number, count: number): Promise<number> => {
    const result = await parser.run({ target, seed: options.seed, batch, count }, 20_000 + count * 50);
    const ran = 'stuckAt' in result ? result.stuckAt + 1 : result.ran;
    report.cases += ran;
    report.byTarget[target] += ran;
    if ('stuckAt' in result) {
      report.hangs++;
      const input = generateCases(options.seed, target, batch, ran)[result.stuckAt];
      fail({ kind: 'hang', target, caseKey: `${target}:${batch}:${result.stuckAt}`, message: `${target} parser: ${result.why}` }, typeof input === 'string' ? input : JSON.stringify(input));
      return ran;
    }
    for (const p of result.problems) {
      if (p.what === 'slow') report.hangs++;
      else report.parserErrors++;
      fail({ kind: p.what === 'slow' ? 'hang' : 'parser', target, caseKey: `${target}:${batch}:${p.index}`, message: p.message }, p.input);
    }
    return ran;
  };

  let gaveUp = false;
  try {
    // Round-robin: one batch of each target per round, so every target runs early and the checks between
    // batches see the effect of each.
    for (let batch = 0; !gaveUp && !report.stoppedByTime && plan.some((p) => p.done < p.total); batch++) {
      for (const p of plan) {
        if (p.done >= p.total) continue;
        if (timeUp()) {
          report.stoppedByTime = true;
          break;
        }
        const count = Math.min(p.batch, p.total - p.done);
        const batchStarted = performance.now();
        // The good client keeps working during the batch, not only between batches.
        const beat = new AbortController();
        const heartbeat = (async () => {
          for (; !beat.signal.aborted && alive(); await sleep(HEARTBEAT_MS, beat.signal)) await goodClient(`during ${p.target} batch ${batch}`);
        })();
        // Cases a crash cut off are made up by later batches (with other cases: each batch has its own seed).
        p.done += isParser(p.target) ? await runParserBatch(p.target, batch, count) : await runNetworkBatch(p.target, batch, count);
        beat.abort();
        await heartbeat;
        let state: 'alive' | 'restarted' | 'gave-up';
        try {
          state = await afterCrash(p.target);
          if (state === 'alive') state = await afterBroken();
        } catch (err) {
          // The processes would not start again (a broken build under our feet, say): stop with what we have.
          fail({ kind: 'crash', target: 'run', message: `could not start the server and runner again: ${(err as Error).message.split('\n')[0]}` });
          state = 'gave-up';
        }
        if (state === 'gave-up') {
          gaveUp = true;
          break;
        }
        if (state === 'alive') await goodClient(`after ${p.target} batch ${batch}`);
        scanLogs();
        report.msByTarget[p.target] += Math.round(performance.now() - batchStarted);
      }
      if (batch % 10 === 9) log(`round ${batch + 1}: ${report.cases} cases, ${report.connections} connections, ${report.failures.length} failures, ${Math.round((performance.now() - started) / 1000)} s`);
    }
    if (!gaveUp) await measureLeaks(env, lanes, report, fail);
  } finally {
    closeLanes(lanes);
    await parser.close();
    if (report.failures.length > 0 || Object.keys(report.internal).length > 0) {
      // The processes' own words, for whatever the report only names.
      mkdirSync(dir, { recursive: true });
      writeFileSync(path.join(dir, 'server.log'), env.server.proc.stderr());
      writeFileSync(path.join(dir, 'runner.log'), env.runner.stderr());
    }
    await env.scope.close();
    report.durationMs = Math.round(performance.now() - started);
  }
  return report;
}

type NetworkTarget = Exclude<TargetName, ParserTarget>;
/** Runs one network case against the environment's processes (its udp datagrams from `lane`). */
export function runCase(env: Env, lane: UdpLane, c: NetworkCase, slots: Slots): Promise<CaseResult> {
  return c.kind === 'udp' ? runUdpCase(lane, c, slots) : c.kind === 'frames' ? runFrameCase(env, c, slots) : runMessageCase(env, c, slots);
}
/** A readable form of a network case, for the saved reports (`--replay` rebuilds the exact bytes). */
function describeCase(c: NetworkCase): string {
  const hex = (b: Uint8Array) => `${b.length} bytes: ${Buffer.from(b.subarray(0, 2000)).toString('hex')}${b.length > 2000 ? '…' : ''}`;
  if (c.kind === 'messages') return [`messages to ${c.endpoint}, prelude ${c.prelude}, ${c.split ? 'one write per frame' : 'one write'}`, ...[c.hello, ...c.messages].map((m) => describeValue(m, 4000))].join('\n');
  if (c.kind === 'frames') return [`frames to ${c.endpoint}${c.expect ? `, expected ${c.expect.outcome}` : ''}`, ...c.chunks.map((ch) => (typeof ch === 'string' ? `<${ch}>` : hex(ch)))].join('\n');
  const datagram = (d: DatagramSpec) => ('raw' in d ? `raw ${hex(d.raw)}` : 'message' in d ? `DATA seq ${d.seq}: ${describeValue(d.message, 4000)}` : `kind ${d.kind} seq ${d.seq}: ${hex(d.payload)}`);
  return [`udp: connect ${c.connect} (nonce ${hex(c.nonce)}), valid link hello first ${c.hello}, CLOSE after ${c.close}`, ...c.datagrams.map(datagram)].join('\n');
}

export async function openLanes(env: Env, n: number): Promise<UdpLane[]> {
  const lanes = Array.from({ length: n }, () => new UdpLane(env.attack.ports.unreliable));
  await Promise.all(lanes.map((l) => l.bind()));
  return lanes;
}
function closeLanes(lanes: UdpLane[]): void {
  for (const l of lanes) l.close();
}

/** Descriptors of both processes once every attack socket is closed, allowed a little time to settle. */
async function measureLeaks(env: Env, lanes: UdpLane[], report: FuzzReport, fail: (f: FuzzFailure, saved?: string) => void): Promise<void> {
  closeLanes(lanes);
  lanes.length = 0;
  // Sockets close a moment after their peer (a refused one is destroyed after a second): wait, bounded, for
  // the counts to come back to where they were, then judge with a little slack.
  const deadline = Date.now() + 6000;
  const now = () => ({ server: fdCount(env.server.proc.child.pid), runner: fdCount(env.runner.child.pid) });
  let fds = now();
  while ((fds.server > report.fds.server[0] || fds.runner > report.fds.runner[0]) && Date.now() < deadline) {
    await sleep(200);
    fds = now();
  }
  report.fdsMeasured = true;
  report.fds.server[1] = fds.server;
  report.fds.runner[1] = fds.runner;
  for (const name of ['server', 'runner'] as const) {
    const [before, after] = report.fds[name];
    if (after > before + FD_SLACK) {
      report.leakedFds += after - before;
      const pid = name === 'server' ? env.server.proc.child.pid : env.runner.child.pid;
      let listing = '';
      try {
        listing = readdirSync(`/proc/${pid}/fd`).map((fd) => `${fd} -> ${readlinkSafe(`/proc/${pid}/fd/${fd}`)}`).join('\n');
      } catch {
        // gone meanwhile
      }
      fail({ kind: 'leak', target: 'run', message: `the ${name} holds ${after} descriptors, ${before} before the attacks (allowed ${FD_SLACK} more) 6 s after the last attack` }, listing);
    }
  }
}
function readlinkSafe(p: string): string {
  try {
    return readlinkSync(p);
  } catch {
    return '?';
  }
}

/** A summary for humans: seed, counts, and every failure with its reproduction. */
export function formatReport(r: FuzzReport): string {
  const lines = [
    `peerway fuzz: seed ${r.seed}, ${r.cases}/${r.requested} cases in ${(r.durationMs / 1000).toFixed(1)} s${r.stoppedByTime ? ' (stopped by the time budget)' : ''}`,
    `  by target: ${TARGETS.map((t) => `${t} ${r.byTarget[t]} (${(r.msByTarget[t] / 1000).toFixed(1)} s)`).join(', ')}`,
    `  ${r.connections} connections, ${r.datagrams} datagrams; good client ${r.goodChecks - r.goodFailures}/${r.goodChecks} checks served; ${r.restarts} restarts`,
    `  crashes ${r.crashes}, hangs ${r.hangs}, leaked fds ${r.leakedFds} (${r.fdsMeasured ? `server ${r.fds.server.join(' → ')}, runner ${r.fds.runner.join(' → ')}` : 'not measured: the run gave up'}), parser errors ${r.parserErrors}, violations ${r.violations}`,
  ];
  for (const [signature, n] of Object.entries(r.crashSignatures)) lines.push(`  crash ${n}×: ${signature}`);
  const internal = Object.entries(r.internal);
  if (internal.length > 0) {
    lines.push(`  suspicious (${internal.length} kinds): internal errors answered or logged`);
    for (const [m, { count, example }] of internal.slice(0, 30)) lines.push(`    ${count}× ${m} (e.g. ${example})`);
  }
  for (const f of r.failures.slice(0, 30)) lines.push(`  ${f.kind.toUpperCase()} ${f.caseKey ?? f.target}: ${f.message.split('\n')[0]}${f.file ? `\n    saved: ${f.file}` : ''}`);
  if (r.failures.length > 30) lines.push(`  … ${r.failures.length - 30} more failures`);
  return lines.join('\n');
}

/**
 * Runs a case again against fresh processes (the `--replay target:batch:index` of scripts/fuzz.mjs), or a
 * range of a batch in order (`target:batch:from-to`), stopping at the first case after which a process is
 * gone or the good client is not served: for what one case alone does not do.
 */
export async function replayCase(seed: number, caseKey: string): Promise<string> {
  const [target, batch, range] = caseKey.split(':') as [TargetName, string, string];
  if (!TARGETS.includes(target)) throw new Error(`unknown target "${target}" (targets: ${TARGETS.join(', ')})`);
  const [from, to = from] = range.split('-').map(Number);
  const inputs = generateCases(seed, target, Number(batch), to + 1);
  if (isParser(target)) {
    const results = await Promise.all(inputs.slice(from).map(async (input) => `${typeof input === 'string' ? input : JSON.stringify(input)}\n→ ${(await checkParser(target, input as ParserInput)) ?? 'accepted or refused with an allowed error'}`));
    return results.join('\n\n');
  }
  const env = await startEnvironment();
  const lanes = await openLanes(env, 1);
  const out: string[] = [];
  try {
    for (let i = from; i <= to; i++) {
      const c = inputs[i] as NetworkCase;
      const key = `${target}:${batch}:${i}`;
      const r = await runCase(env, lanes[0], c, slotsFor(env, c.kind === 'udp' ? 'unreliable' : c.endpoint, key));
      await sleep(from === to ? 500 : 50);
      const good = await checkGoodClient(env);
      const state = `server ${exitOf(env.server.proc) ?? 'alive'}, runner ${exitOf(env.runner) ?? 'alive'}; good client: ${good ?? 'served'}`;
      const outcome = `→ ${r.outcome}${r.detail ? ` (${r.detail})` : ''}${r.violation ? `; ${r.violation}` : ''}${r.internal.length ? `; ${r.internal.join('; ')}` : ''}`;
      if (from === to || good || exitOf(env.server.proc) || exitOf(env.runner)) out.push(`${key}: ${describeCase(c)}`, outcome, state);
      if (good || exitOf(env.server.proc) || exitOf(env.runner)) break;
    }
    out.push(`--- server stderr (tail)\n${env.server.proc.stderr().slice(-3000)}`, `--- runner stderr (tail)\n${env.runner.stderr().slice(-3000)}`);
    return out.join('\n');
  } finally {
    closeLanes(lanes);
    await env.scope.close();
  }
}
