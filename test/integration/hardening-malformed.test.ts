import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import { randomBytes } from 'node:crypto';
import type { PeerwayProcess } from '../../src/cli/peerway-process.js';
import type { CloseInfo, MessageConnection } from '../../src/bearer/bearer.js';
import { getBearer } from '../../src/bearer/registry.js';
import { UDP_HEADER_BYTES, UdpKind, encodeUdpDatagram } from '../../src/bearer/udp.js';
import { parseInstructions } from '../../src/routing/instructions.js';
import { MAX_HELD_MESSAGES } from '../../src/wire/channel.js';
import { MAX_NESTING_DEPTH, decodeMessage, encodeMessage } from '../../src/wire/codec.js';
import { encodeFrame } from '../../src/wire/frame-decoder.js';
import { PROTOCOL_VERSION, type Message } from '../../src/wire/messages.js';
import { connectClient, fixture, startRunner, startServer } from '../helpers/harness.js';
import { HARD, goodClientWorks } from '../helpers/hard-service.js';
import { RawPeer } from '../helpers/raw-peer.js';

/**
 * What the fuzz suite (test/fuzz) found, one test each on real processes and sockets: malformed messages
 * from a peer are refused with a typed error naming what is wrong (never INTERNAL), only the offending
 * connection (or request) is affected, neither the server nor the runner dies, and good clients are
 * served throughout.
 */

const LAB = fixture('p2p', 'lab.xml');
const TCP = 'connect.bearer.tcp';
const UDP = 'connect.bearer.udp';

const frame = (m: Record<string, unknown>) => encodeFrame(encodeMessage(m as unknown as Message));
const helloFrame = (extra: Record<string, unknown> = {}) => frame({ type: 'hello', version: PROTOCOL_VERSION, role: 'client', ...extra });
const errorOf = (m: Message | undefined) => (m?.type === 'error' ? m.error : undefined);
/** A message as a peer may send it, whatever the protocol's types say. */
const loose = (m: Record<string, unknown>): Record<string, unknown> => m;
/** A map whose toString is not a function: `${x}` and String(x) throw on it. */
const poisoned = { toString: 1 };

/** A value nested `depth` levels deep (a list in a list …), as MessagePack bytes; no encoder is asked. */
function nestedBytes(depth: number): Buffer {
  const out = Buffer.alloc(depth + 1, 0x91);
  out[depth] = 0xc0;
  return out;
}

/** A message map whose last field's value is raw MessagePack `value` (the other fields encoded normally). */
function withRawField(fields: Record<string, unknown>, name: string, value: Buffer): Buffer {
  const head = encodeMessage({ ...fields, [name]: null } as unknown as Message);
  // The encoder writes fields in order and nil as one byte (0xc0): the last byte is the field's value.
  return Buffer.concat([head.subarray(0, head.length - 1), value]);
}

function alive(...procs: PeerwayProcess[]): void {
  for (const p of procs) assert.equal(p.child.exitCode, null, `a process exited; its log:\n${p.stderr().slice(-3000)}`);
}

/** Sends everything in one write, so the peer reads it as one chunk: the hello and what follows it together. */
function writeTogether(peer: RawPeer, ...frames: Buffer[]): void {
  peer.socket.write(Buffer.concat(frames));
}

/** A well-behaved client is served by Lab on both routes: the server's and the direct link. */
async function labClientWorks(t: TestContext, url: string): Promise<void> {
  const s = await (await connectClient(t, url)).startSession('Lab');
  await s.call('setCounter', { value: 1 });
  assert.equal(await s.call('echo', { text: 'good' }), 'good via direct');
}

/** A raw client with a started and ready Lab session whose routes take every direct link. */
async function labSession(t: TestContext, port: number): Promise<{ raw: RawPeer; session: string; token: string; ports: Record<string, number> }> {
  const raw = await RawPeer.connect(port);
  t.after(() => raw.close());
  const started = (await raw.request({ type: 'start', service: 'Lab', client: { bearers: [TCP, UDP], host: 'x', version: PROTOCOL_VERSION } })) as {
    value: { session: string; routing: string };
  };
  const { session, routing } = started.value;
  const links = parseInstructions(routing).links;
  const routes = { 'method:echo': { linkType: 'direct', link: 'reliable' }, 'event:tick': { linkType: 'direct', link: 'unreliable' } };
  assert.equal((await raw.request({ type: 'ready', session, routes })).type, 'reply');
  return { raw, session, token: links[0].token, ports: Object.fromEntries(links.map((l) => [l.name, l.address.port!])) };
}

test('a connection that ends while its hello is being checked does not crash the server (finding 1)', async (t) => {
  const server = await startServer(t);
  await startRunner(t, server.url, [HARD]);
  // The frame announced behind the hello is above the limit: the transport closes the connection in the
  // same read, before the (asynchronous) check of the hello lets the server welcome it.
  const oversized = await RawPeer.connect(server.port, false);
  t.after(() => oversized.close());
  writeTogether(oversized, helloFrame(), Buffer.from([0xff, 0xff, 0xff, 0xff, 0x01]));
  await oversized.closed;
  assert.equal(errorOf(oversized.received.find((m) => m.type === 'error'))?.code, 'FRAME_TOO_LARGE');
  // A body that is not MessagePack behind the hello: refused once the hello is, with the reason.
  const garbage = await RawPeer.connect(server.port, false);
  t.after(() => garbage.close());
  writeTogether(garbage, helloFrame(), encodeFrame(Buffer.from([0xc1])));
  await garbage.closed;
  assert.equal(errorOf(garbage.received.find((m) => m.type === 'error'))?.code, 'PROTOCOL');
  await new Promise((r) => setTimeout(r, 200));
  alive(server.proc);
  assert.match(server.proc.stderr(), /connection refused .*the connection closed while its hello was being checked|FRAME_TOO_LARGE|above the limit/);
  await goodClientWorks(server.url, t);
});

test('an error notice whose message is not a string, or that is nested too deep, is taken as a typed error (finding 2)', async (t) => {
  const server = await startServer(t);
  await startRunner(t, server.url, [HARD]);
  // Behind the hello in one packet, so it is handed over with the held messages when the handlers are set.
  const peer = await RawPeer.connect(server.port, false);
  t.after(() => peer.close());
  writeTogether(peer, helloFrame(), frame({ type: 'error', error: { code: 'PROTOCOL', message: poisoned, details: [1] } }), frame({ type: 'list', id: 1 }));
  await peer.until(() => peer.received.some((m) => m.type === 'reply'), 'the list reply');
  // An error answering one of our requests, not a string either, on the same connection: ignored (no such request).
  peer.send(loose({ type: 'error', id: 99, error: { code: 7, message: [poisoned] } }));
  assert.equal((await peer.request({ type: 'list' })).type, 'reply', 'the connection is still served');
  // A fatal notice nested deeper than the codec reads is refused as PROTOCOL naming the limit.
  const deep = await RawPeer.connect(server.port, false);
  t.after(() => deep.close());
  writeTogether(deep, helloFrame(), encodeFrame(withRawField({ type: 'error' }, 'error', nestedBytes(4000))));
  await deep.closed;
  const notice = errorOf(deep.received.find((m) => m.type === 'error'));
  assert.equal(notice?.code, 'PROTOCOL');
  assert.match(notice.message, new RegExp(`deeper than ${MAX_NESTING_DEPTH} levels`));
  alive(server.proc);
  assert.doesNotMatch(server.proc.stderr(), /TypeError|RangeError/);
  await goodClientWorks(server.url, t);
});

/** A udp link conversation by hand: CONNECT, a link hello, then sequenced DATA datagrams. */
class UdpLinkPeer {
  readonly socket = dgram.createSocket('udp4');
  readonly received: Message[] = [];
  private sequence = 1;

  constructor(private readonly port: number) {
    this.socket.on('message', (d) => {
      if (d.length > UDP_HEADER_BYTES && d[1] === UdpKind.DATA) this.received.push(decodeMessage(d.subarray(UDP_HEADER_BYTES)));
    });
  }

  async open(hello: Record<string, unknown>): Promise<void> {
    const nonce = randomBytes(4);
    const accepted = new Promise<void>((resolve) => this.socket.on('message', (d) => d[1] === UdpKind.ACCEPT && d.subarray(UDP_HEADER_BYTES).equals(nonce) && resolve()));
    await new Promise<void>((r) => this.socket.bind(0, '127.0.0.1', r));
    this.raw(encodeUdpDatagram(UdpKind.CONNECT, 0, nonce));
    await accepted;
    this.send({ type: 'hello', version: PROTOCOL_VERSION, role: 'link', ...hello });
    await this.until(() => this.received.some((m) => m.type === 'welcome'), 'the welcome');
  }

  send(m: Record<string, unknown>): void {
    this.raw(encodeUdpDatagram(UdpKind.DATA, this.sequence++, encodeMessage(m as unknown as Message)));
  }

  raw(datagram: Buffer): void {
    this.socket.send(datagram, this.port, '127.0.0.1');
  }

  async until(done: () => boolean, what: string, timeoutMs = 3000): Promise<void> {
    for (const deadline = Date.now() + timeoutMs; !done(); await new Promise((r) => setTimeout(r, 20))) {
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; received ${JSON.stringify(this.received)}`);
    }
  }

  close(): void {
    this.raw(encodeUdpDatagram(UdpKind.CLOSE, 0));
    this.socket.close();
  }
}

test('a poisoned error notice on a udp link does not crash the runner, and the link keeps being served (finding 3)', async (t) => {
  const server = await startServer(t);
  const runner = await startRunner(t, server.url, [LAB]);
  const lab = await labSession(t, server.port);
  const peer = new UdpLinkPeer(lab.ports.unreliable);
  t.after(() => peer.close());
  await peer.open({ token: lab.token, session: lab.session, link: 'unreliable' });
  peer.send({ type: 'error', error: { code: 'NOPE', message: poisoned } });
  peer.send({ type: 'subscribe', id: 1, kind: 'event', name: 'tick' });
  await peer.until(() => peer.received.some((m) => m.type === 'reply' && m.id === 1), 'the subscribe reply');
  alive(runner);
  assert.doesNotMatch(runner.stderr(), /TypeError|RangeError/);
  await labClientWorks(t, server.url);
});

test('whatever a udp connection\'s handlers throw ends that connection with the error, on the listener and the dialing side (finding 3)', async (t) => {
  const udp = getBearer(UDP);
  const closes: CloseInfo[] = [];
  let accepted: MessageConnection | undefined;
  const listener = await udp.listen({ bearer: UDP, host: '127.0.0.1', port: 0 }, (c) => {
    accepted = c;
    c.start({
      message: (m) => {
        if (m.toString() === 'boom') throw new Error('a handler bug');
        c.send(Buffer.from('boom')); // makes the dialing side's handler throw in turn
      },
      close: (info) => closes.push(info),
    });
  });
  t.after(() => listener.close());
  const dialed = await udp.connect(listener.address);
  const dialedClosed = new Promise<CloseInfo>((resolve) => dialed.start({ message: () => {
    throw new Error('a handler bug on the dialing side');
  }, close: resolve }));
  dialed.send(Buffer.from('hi'));
  const info = await dialedClosed;
  assert.equal(info.error?.code, 'PROTOCOL');
  assert.match(info.reason, /a handler bug on the dialing side/);
  // The listener's side: a new connection whose first message makes its handler throw.
  const second = await udp.connect(listener.address);
  second.start({ message: () => undefined, close: () => undefined });
  t.after(() => second.close());
  second.send(Buffer.from('boom'));
  for (const deadline = Date.now() + 3000; !closes.some((c) => /a handler bug/.test(c.reason)) && Date.now() < deadline; ) await new Promise((r) => setTimeout(r, 20));
  assert.ok(closes.some((c) => c.error?.code === 'PROTOCOL' && /a handler bug/.test(c.reason)), JSON.stringify(closes));
  assert.ok(accepted?.closed);
  // The listener still takes connections.
  const third = await udp.connect(listener.address);
  t.after(() => third.close());
  assert.equal(third.closed, false);
});

test(`values nested deeper than ${MAX_NESTING_DEPTH} levels are refused per request with PROTOCOL naming the limit; the connection and the runner go on (finding 4)`, async (t) => {
  const server = await startServer(t);
  const runner = await startRunner(t, server.url, [LAB]);
  const lab = await labSession(t, server.port);
  // Just within the limit: the server relays it and the (cold) runner reads it, answering for its argument.
  const within = withRawField({ type: 'call', id: 50, session: lab.session, method: 'setCounter' }, 'args', Buffer.concat([Buffer.from([0x81, 0xa5, ...Buffer.from('value')]), nestedBytes(MAX_NESTING_DEPTH - 2)]));
  lab.raw.socket.write(encodeFrame(within));
  await lab.raw.until(() => lab.raw.received.some((m) => m.type === 'error' && m.id === 50), 'the answer to the call');
  assert.equal(errorOf(lab.raw.received.find((m) => m.type === 'error' && m.id === 50))?.code, 'BAD_ARGUMENT');
  // Far deeper: refused by the server alone, as the answer to that request.
  lab.raw.socket.write(encodeFrame(withRawField({ type: 'call', id: 51, session: lab.session, method: 'setCounter' }, 'args', nestedBytes(20_000))));
  await lab.raw.until(() => lab.raw.received.some((m) => m.type === 'error' && m.id === 51), 'the answer to the deep call');
  const refused = errorOf(lab.raw.received.find((m) => m.type === 'error' && m.id === 51));
  assert.equal(refused?.code, 'PROTOCOL');
  assert.match(refused.message, /nests maps and arrays deeper than 1000 levels, the protocol's limit/);
  // The same connection and session are served, and the runner kept its server connection.
  assert.equal((await lab.raw.request({ type: 'call', session: lab.session, method: 'setCounter', args: { value: 3 } })).type, 'reply');
  alive(server.proc, runner);
  assert.doesNotMatch(runner.stderr(), /server went away/);
  // On a link too: the runner answers the request and keeps the link.
  const link = await RawPeer.connect(lab.ports.reliable, { role: 'link', token: lab.token, session: lab.session, link: 'reliable' });
  t.after(() => link.close());
  link.socket.write(encodeFrame(withRawField({ type: 'call', id: 7, method: 'echo' }, 'args', nestedBytes(5000))));
  await link.until(() => link.received.some((m) => m.type === 'error' && m.id === 7), 'the answer on the link');
  assert.equal(errorOf(link.received.find((m) => m.type === 'error' && m.id === 7))?.code, 'PROTOCOL');
  assert.equal(((await link.request({ type: 'call', method: 'echo', args: { text: 'ok' } })) as { value?: unknown }).value, 'ok via direct');
  await labClientWorks(t, server.url);
});

test('type-confused fields are answered PROTOCOL naming the field, never INTERNAL, on the server and on links (finding 5)', async (t) => {
  const server = await startServer(t);
  const runner = await startRunner(t, server.url, [LAB]);
  const lab = await labSession(t, server.port);
  const raw = lab.raw;
  const deepSession = Array.from({ length: 600 }).reduce<unknown>((v) => [v], 'x');
  const refusals: [Record<string, unknown>, RegExp][] = [
    [{ type: 'stop', session: { toString: -1 } }, /^stop\.session must be a string, got a map$/],
    [{ type: 'call', session: { toString: -1 }, method: 'echo', args: {} }, /^call\.session must be a string/],
    [{ type: 'attach', session: deepSession, resume: 'x' }, /^attach\.session must be a string, got a list of 1$/],
    [{ type: 'start', service: 'Lab', client: Buffer.from('bytes') }, /^start\.client must be a map, got binary of 5 bytes$/],
    [{ type: 'start', service: 'Lab', client: { host: 'x', version: 1 } }, /^start\.client\.bearers must be a list of bearer ids, got nothing$/],
    [{ type: 'start', service: 'Lab', client: { bearers: 3, host: 'x', version: 1 } }, /^start\.client\.bearers must be a list of bearer ids, got 3$/],
    [{ type: 'start', service: 'Lab', client: { bearers: [TCP, poisoned], host: 'x', version: 1 } }, /^start\.client\.bearers\[1\] must be a string, got a map$/],
    [{ type: 'subscribe', session: lab.session, kind: 'data', name: 42 }, /^subscribe\.name must be a string, got 42$/],
    [{ type: 'subscribe', session: lab.session, kind: 'both' }, /^subscribe\.kind must be "event" or "data", got "both"$/],
    [{ type: 'ready', session: lab.session, routes: { 'method:echo': null } }, /^ready\.routes\["method:echo"\] must be a map, got nothing$/],
  ];
  for (const [body, expected] of refusals) {
    const error = errorOf(await raw.request(body));
    assert.equal(error?.code, 'PROTOCOL', `${JSON.stringify(body).slice(0, 120)} → ${JSON.stringify(error)}`);
    assert.match(error.message, expected);
  }
  // The refused ready changed nothing: the session keeps its direct route for echo.
  const link = await RawPeer.connect(lab.ports.reliable, { role: 'link', token: lab.token, session: lab.session, link: 'reliable' });
  t.after(() => link.close());
  assert.equal(((await link.request({ type: 'call', method: 'echo', args: { text: 'a' } })) as { value?: unknown }).value, 'a via direct');
  const onLink: [Record<string, unknown>, RegExp][] = [
    [{ type: 'call', method: poisoned, args: {} }, /^call\.method must be a string, got a map$/],
    [{ type: 'subscribe', kind: 'data', name: [1] }, /^subscribe\.name must be a string, got a list of 1$/],
    [{ type: 'subscribe', kind: 'events' }, /^subscribe\.kind must be "event" or "data"/],
    [{ type: 'unsubscribe', kind: 7 }, /^unsubscribe\.kind must be/],
  ];
  for (const [body, expected] of onLink) {
    const error = errorOf(await link.request(body));
    assert.equal(error?.code, 'PROTOCOL', `${JSON.stringify(body)} → ${JSON.stringify(error)}`);
    assert.match(error.message, expected);
  }
  // Well-formed requests still work on both.
  assert.equal((await raw.request({ type: 'subscribe', session: lab.session, kind: 'data', name: 'label' })).type, 'reply');
  alive(server.proc, runner);
  assert.doesNotMatch(server.proc.stderr() + runner.stderr(), /TypeError|RangeError|INTERNAL/);
  await labClientWorks(t, server.url);
});

test('a runner push with a field of the wrong type is dropped with a logged reason; the runner and its sessions go on (finding 5)', async (t) => {
  const server = await startServer(t);
  const runner = await RawPeer.connect(server.port, { role: 'runner' });
  t.after(() => runner.close());
  const xml = '<service name="Raw"><methods><method name="m"/></methods><runtime-data><v type="int"/></runtime-data></service>';
  assert.equal((await runner.request({ type: 'register', services: [{ name: 'Raw', xml, file: 'raw.xml' }] })).type, 'reply');
  runner.send(loose({ type: 'data', service: 'Raw', path: 12, value: 1 }));
  runner.send(loose({ type: 'event', service: 'Raw', name: poisoned, args: {} }));
  await server.proc.waitFor(/runner connection fault.*event\.name must be a string, got a map/, { stream: 'stderr', timeoutMs: 5000 });
  assert.match(server.proc.stderr(), /runner connection fault.*data\.path must be a string, got 12/);
  // A valid update afterwards reaches the server: the connection was not dropped, the bad ones never counted.
  runner.send({ type: 'data', service: 'Raw', path: 'v', value: 5 });
  const client = await RawPeer.connect(server.port);
  t.after(() => client.close());
  const dataIn = async () => ((await client.request({ type: 'stats' })) as { value: { services: Record<string, { dataIn: number }> } }).value.services.Raw?.dataIn;
  for (const deadline = Date.now() + 3000; (await dataIn()) !== 1 && Date.now() < deadline; ) await new Promise((r) => setTimeout(r, 50));
  assert.equal(await dataIn(), 1);
  assert.equal(runner.isClosed, false);
  alive(server.proc);
});

test('a link hello with a poisoned error notice in the same packet is accepted, served, and not left refused-but-open (finding 6)', async (t) => {
  const server = await startServer(t);
  const runner = await startRunner(t, server.url, [LAB]);
  const lab = await labSession(t, server.port);
  const link = await RawPeer.connect(lab.ports.reliable, false);
  t.after(() => link.close());
  writeTogether(
    link,
    helloFrame({ role: 'link', token: lab.token, session: lab.session, link: 'reliable' }),
    frame({ type: 'error', error: { code: 'PROTOCOL', message: poisoned } }),
    frame({ type: 'call', id: 1, method: 'echo', args: { text: 'b' } }),
  );
  await link.until(() => link.received.some((m) => m.type === 'reply' && m.id === 1), 'the echo reply');
  assert.equal((link.received.find((m) => m.type === 'reply' && m.id === 1) as { value?: unknown }).value, 'b via direct');
  // A link whose held messages break the protocol is closed (and dropped from the session), with the reason.
  const broken = await RawPeer.connect(lab.ports.reliable, false);
  t.after(() => broken.close());
  writeTogether(broken, helloFrame({ role: 'link', token: lab.token, session: lab.session, link: 'reliable' }), encodeFrame(Buffer.from([0xc1])));
  await broken.closed;
  assert.equal(errorOf(broken.received.find((m) => m.type === 'error'))?.code, 'PROTOCOL');
  assert.doesNotMatch(runner.stderr(), /link connection refused/);
  alive(runner);
  await labClientWorks(t, server.url);
});

test(`up to ${MAX_HELD_MESSAGES} requests behind a hello in one packet are answered; one more closes with LIMIT_EXCEEDED saying why (finding 7)`, async (t) => {
  const server = await startServer(t);
  await startRunner(t, server.url, [HARD]);
  const lists = (n: number) => Array.from({ length: n }, (_, i) => frame({ type: 'list', id: i + 1 }));
  const served = await RawPeer.connect(server.port, false);
  t.after(() => served.close());
  writeTogether(served, helloFrame(), ...lists(MAX_HELD_MESSAGES));
  await served.until(() => served.received.filter((m) => m.type === 'reply').length === MAX_HELD_MESSAGES, 'every reply');
  const flooded = await RawPeer.connect(server.port, false);
  t.after(() => flooded.close());
  writeTogether(flooded, helloFrame(), ...lists(MAX_HELD_MESSAGES + 1));
  await flooded.closed;
  const notice = errorOf(flooded.received.find((m) => m.type === 'error'));
  assert.equal(notice?.code, 'LIMIT_EXCEEDED');
  assert.match(notice.message, new RegExp(`more than ${MAX_HELD_MESSAGES} messages .* behind the hello before it was answered; wait for the welcome`));
  assert.equal(flooded.received.some((m) => m.type === 'reply'), false);
  await goodClientWorks(server.url, t);
});
