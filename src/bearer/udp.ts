import dgram from 'node:dgram';
import net from 'node:net';
import { randomBytes } from 'node:crypto';
import { PeerwayError } from '../errors.js';
import { partialFrames } from '../wire/frame-decoder.js';
import { HeldDelivery } from './held-delivery.js';
import type { Bearer, BearerAddress, BearerOptions, CloseInfo, ConnectionHandlers, ConnectOptions, Listener, MessageConnection } from './bearer.js';
import { formatHost } from './tcp.js';

const UDP_ID = 'connect.bearer.udp';
/** Payload bytes per datagram by default: with the header and IP/UDP headers this stays under a 1280-byte IPv6 MTU. */
export const DEFAULT_UDP_PAYLOAD_BYTES = 1200;
/** The largest datagram payload: the largest IPv4 UDP payload (65535 − 20 IP − 8 UDP = 65507) minus our header. */
const MAX_UDP_PAYLOAD_BYTES = 65507 - 6;
/** The largest message by default; bigger than a datagram, it travels in FRAGMENT datagrams. */
export const DEFAULT_UDP_MESSAGE_BYTES = 1024 * 1024;
/** The receive buffer asked for at most, whatever maxMessageBytes is. */
const MAX_RECEIVE_BUFFER_BYTES = 16 * 1024 * 1024;
const CONNECT_RETRY_MS = 100;
const DEFAULT_CONNECT_TIMEOUT_MS = 2000;
/** A silent peer is dropped within this (keepalives go out every third of it): 30 s, as on reliable links. */
const DEFAULT_IDLE_TIMEOUT_MS = 30_000;

/**
 * Datagram layout: magic (1 byte, 0x50 'P'), kind (1 byte), sequence (uint32 BE), then the payload.
 * CONNECT and ACCEPT carry a 4-byte random nonce that names the connection attempt, so a client that
 * restarts on the same port is a new connection rather than a continuation of stale sequence numbers.
 */
export const UDP_MAGIC = 0x50;
/** Bytes in front of every payload: magic, kind, sequence. */
export const UDP_HEADER_BYTES = 6;
/**
 * Datagram kinds. DATA and FRAGMENT are sequenced; KEEPALIVE exists so a receive-only peer is not idled
 * out. A message bigger than a datagram travels as FRAGMENTs with consecutive sequence numbers.
 */
export const UdpKind = { DATA: 0, CONNECT: 1, ACCEPT: 2, CLOSE: 3, KEEPALIVE: 4, FRAGMENT: 5 } as const;
/**
 * Bytes at the start of a FRAGMENT payload: message number (uint32 BE, counted per sender), message length
 * (uint32 BE, the whole message), fragment index (uint16 BE) and fragment count (uint16 BE). Fragment i
 * carries bytes ⌊i·length/count⌋ up to ⌊(i+1)·length/count⌋ of the message, so every fragment is checked
 * on arrival and the receiver allocates the message once, from any fragment.
 */
export const UDP_FRAGMENT_HEADER_BYTES = 12;
/** Fragments of one message at most (the uint16 count). */
export const UDP_MAX_FRAGMENTS = 0xffff;
/** Messages in reassembly at once on one connection; one more abandons the oldest. */
export const UDP_MAX_REASSEMBLING = 4;
/** An incomplete message is abandoned when none of its fragments arrived for this long. */
export const UDP_REASSEMBLY_TIMEOUT_MS = 1000;
/** Numbers of abandoned or refused messages remembered, so their late fragments start no new reassembly. */
const ABANDONED_REMEMBERED = 32;

/** Encodes one datagram (exported for tests that craft raw traffic). */
export function encodeUdpDatagram(kind: number, sequence: number, payload: Uint8Array = new Uint8Array(0)): Buffer {
  const out = Buffer.allocUnsafe(UDP_HEADER_BYTES + payload.length);
  out[0] = UDP_MAGIC;
  out[1] = kind;
  out.writeUInt32BE(sequence >>> 0, 2);
  out.set(payload, UDP_HEADER_BYTES);
  return out;
}

/** The fragment header of a FRAGMENT datagram. */
export interface UdpFragmentHeader {
  /** The sender's number for the message, the same in all its fragments. */
  message: number;
  /** Bytes of the whole message. */
  length: number;
  /** 0 … count − 1; fragment i has sequence number (sequence of fragment 0) + i. */
  index: number;
  count: number;
}

/** Encodes one FRAGMENT datagram carrying `body`, the index-th part of a message (exported for tests). */
export function encodeUdpFragment(sequence: number, header: UdpFragmentHeader, body: Uint8Array): Buffer {
  const out = Buffer.allocUnsafe(UDP_HEADER_BYTES + UDP_FRAGMENT_HEADER_BYTES + body.length);
  out[0] = UDP_MAGIC;
  out[1] = UdpKind.FRAGMENT;
  out.writeUInt32BE(sequence >>> 0, 2);
  out.writeUInt32BE(header.message >>> 0, 6);
  out.writeUInt32BE(header.length, 10);
  out.writeUInt16BE(header.index, 14);
  out.writeUInt16BE(header.count, 16);
  out.set(body, UDP_HEADER_BYTES + UDP_FRAGMENT_HEADER_BYTES);
  return out;
}

/** Where fragment `index` of `count` starts in a message of `length` bytes (it ends where index + 1 starts). */
export function udpFragmentOffset(length: number, count: number, index: number): number {
  return Math.floor((index * length) / count);
}

/** Counters of one UDP connection, for tests, logs and the inspector. */
export interface UdpStats {
  /** Messages handed to the message handler: a DATA datagram, or every FRAGMENT of a message. */
  delivered: number;
  /** DATA and FRAGMENT datagrams received, whatever became of them (delivered, held for reassembly, dropped). */
  received: number;
  /** DATA or FRAGMENT datagrams not newer than the last delivered message, never delivered: out of order. */
  droppedStale: number;
  /** DATA or FRAGMENT datagrams already delivered, or already held for reassembly (duplicated datagrams). */
  droppedDuplicate: number;
  /** Messages abandoned with fragments missing: lost, too slow, over the reassembly bounds, or overtaken. */
  droppedIncomplete: number;
  /**
   * Datagrams refused as they are: a malformed fragment header, a fragment that disagrees with the others of
   * its message, a message above maxMessageBytes, or a fragment of a message already abandoned.
   */
  droppedInvalid: number;
  /** Messages sent. */
  sent: number;
  /** FRAGMENT datagrams sent (a message above maxDatagramBytes goes out as several). */
  sentFragments: number;
  /** KEEPALIVE datagrams received: the peer is alive while it has nothing to say. */
  keepalives: number;
}

/** The sizes one connection works with, resolved from attributes and options by `udpLimits`. */
interface UdpSizes {
  /** Payload bytes per datagram (attribute maxDatagramBytes). */
  maxDatagramBytes: number;
  /** Bytes of a whole message, sent or reassembled. */
  maxMessageBytes: number;
  /** The fix named when a message is above maxMessageBytes. */
  fix: string;
}

/** A message whose fragments are arriving. */
interface PartialMessage {
  number: number;
  /** Sequence number of fragment 0: the message is newer than the last delivered one if this is. */
  first: number;
  count: number;
  body: Buffer;
  have: Uint8Array;
  received: number;
  /** When its last fragment arrived, for the deadline. */
  touched: number;
}

/** How far sequence `a` is ahead of `b` (RFC 1982 serial arithmetic, so the 32-bit counter may wrap); 0 when it is not. */
function aheadOf(a: number, b: number): number {
  const d = (a - b) >>> 0;
  return d < 0x80000000 ? d : 0;
}

/**
 * One direction-pair of sequenced datagrams with a peer. Unreliable by design: nothing is retransmitted;
 * a message that is not newer than the last delivered one is dropped and counted, so the application
 * sees each message at most once and never goes back in time. A fragmented message is as new as its
 * first fragment and, once delivered, as old as its last: fragments of a message that began before the
 * last delivered message are dropped, and a delivered message abandons every older one still in reassembly.
 */
export class UdpConnection implements MessageConnection {
  readonly bearer = UDP_ID;
  readonly reliable = false;
  private readonly delivery = new HeldDelivery();
  private ended = false;
  private nextSequence = 1;
  private nextMessage = 1;
  private lastDelivered = 0;
  /** Bit i set: sequence lastDelivered − 1 − i was delivered (to tell duplicates from late arrivals). */
  private window = 0;
  private counters: UdpStats = { delivered: 0, received: 0, droppedStale: 0, droppedDuplicate: 0, droppedIncomplete: 0, droppedInvalid: 0, sent: 0, sentFragments: 0, keepalives: 0 };
  private lastReceived = Date.now();
  private lastSent = Date.now();
  private readonly timer: NodeJS.Timeout;
  private readonly partials = new Map<number, PartialMessage>();
  /** Bytes of the partial messages, bounded by twice maxMessageBytes (and, with all connections, by partialFrames). */
  private partialBytes = 0;
  private readonly abandoned: number[] = [];
  private sweeper: NodeJS.Timeout | undefined;

  /** @internal Built by the bearer; `transmit` sends one datagram to the peer, `release` frees the transport. */
  constructor(
    readonly remote: string,
    private readonly sizes: UdpSizes,
    idleTimeoutMs: number,
    private readonly transmit: (datagram: Buffer) => void,
    private readonly release: () => void,
  ) {
    // Keepalives let a peer that only receives (an event subscriber) stay alive on the other side.
    const tickMs = Math.max(10, Math.floor(idleTimeoutMs / 4));
    let lastTick = Date.now();
    this.timer = setInterval(() => {
      const now = Date.now();
      // A tick far behind its schedule means this process was stalled: datagrams that arrived meanwhile are
      // still unread (timers run before the socket is polled), so silence cannot be judged on this tick.
      const stalled = now - lastTick > 2 * tickMs;
      lastTick = now;
      if (!stalled && now - this.lastReceived > idleTimeoutMs) this.end({ reason: `no datagram from ${remote} for ${idleTimeoutMs} ms (idle timeout)` });
      else if (now - this.lastSent >= idleTimeoutMs / 3) this.raw(UdpKind.KEEPALIVE, 0);
    }, tickMs);
    this.timer.unref();
  }

  get closed(): boolean {
    return this.ended;
  }

  /** Datagrams are handed to the kernel at once: nothing waits here for a slow peer. */
  readonly queuedBytes = 0;

  /** Counters since the connection opened. */
  stats(): UdpStats {
    return { ...this.counters };
  }

  /** Messages in reassembly now, and the bytes they hold. */
  reassembly(): { messages: number; bytes: number } {
    return { messages: this.partials.size, bytes: this.partialBytes };
  }

  start(handlers: ConnectionHandlers): void {
    this.delivery.start(handlers);
  }

  /** Sends a message in one DATA datagram, or in FRAGMENTs when it is above maxDatagramBytes. */
  send(payload: Uint8Array): boolean {
    if (this.ended) throw new PeerwayError('CONNECTION_CLOSED', `connection to ${this.remote} is closed`);
    const { maxDatagramBytes, maxMessageBytes, fix } = this.sizes;
    if (payload.length > maxMessageBytes) {
      throw new PeerwayError(
        'FRAME_TOO_LARGE',
        `message of ${payload.length} bytes is above the ${UDP_ID} message limit (limit ${maxMessageBytes} bytes); send large messages over a reliable link, or ${fix}`,
        { details: { length: payload.length, limit: maxMessageBytes } },
      );
    }
    this.counters.sent++;
    if (payload.length <= maxDatagramBytes) {
      this.raw(UdpKind.DATA, this.takeSequence(), payload);
      return true;
    }
    const count = Math.ceil(payload.length / (maxDatagramBytes - UDP_FRAGMENT_HEADER_BYTES));
    const header = { message: this.nextMessage, length: payload.length, index: 0, count };
    this.nextMessage = (this.nextMessage + 1) >>> 0;
    for (let index = 0; index < count; index++) {
      const body = payload.subarray(udpFragmentOffset(payload.length, count, index), udpFragmentOffset(payload.length, count, index + 1));
      this.counters.sentFragments++;
      this.lastSent = Date.now();
      this.transmit(encodeUdpFragment(this.takeSequence(), { ...header, index }, body));
    }
    return true;
  }

  close(reason = 'closed locally'): void {
    if (this.ended) return;
    this.raw(UdpKind.CLOSE, 0);
    this.end({ reason });
  }

  /**
   * @internal Called by the bearer for each datagram from this peer, from the socket's 'message' event:
   * nothing may escape it (a throw there is the process's uncaught exception). Whatever the handlers throw
   * while a message is delivered ends this connection with the error, as a stream connection's does.
   */
  receive(kind: number, sequence: number, payload: Buffer): void {
    if (this.ended) return;
    try {
      this.receiveDatagram(kind, sequence, payload);
    } catch (err) {
      this.fail(err);
    }
  }

  /** @internal Ends this connection because of `err`, telling the peer (CLOSE) and the handlers why. */
  fail(err: unknown): void {
    if (this.ended) return;
    const error = PeerwayError.from(err, 'PROTOCOL');
    try {
      this.raw(UdpKind.CLOSE, 0);
    } catch {
      // The socket is gone already: the peer learns it by its idle timeout.
    }
    this.end({ reason: `connection to ${this.remote} failed: ${error.message}`, error });
  }

  private receiveDatagram(kind: number, sequence: number, payload: Buffer): void {
    this.lastReceived = Date.now();
    if (kind === UdpKind.CLOSE) this.end({ reason: 'closed by peer' });
    if (kind === UdpKind.KEEPALIVE) this.counters.keepalives++;
    if (kind !== UdpKind.DATA && kind !== UdpKind.FRAGMENT) return;
    this.counters.received++;
    if (!this.isNew(sequence)) return;
    if (kind === UdpKind.FRAGMENT) return this.receiveFragment(sequence, payload);
    if (payload.length > this.sizes.maxMessageBytes) this.counters.droppedInvalid++;
    else this.deliver(sequence, sequence, payload);
  }

  /** @internal Ends the connection without telling the peer (it is gone, or told us). */
  end(info: CloseInfo): void {
    if (this.ended) return;
    this.ended = true;
    clearInterval(this.timer);
    clearTimeout(this.sweeper);
    for (const p of [...this.partials.values()]) this.drop(p);
    this.release();
    this.delivery.close(info);
  }

  private takeSequence(): number {
    const sequence = this.nextSequence;
    this.nextSequence = (this.nextSequence + 1) >>> 0 || 1;
    return sequence;
  }

  /** Whether a sequenced datagram is newer than the last delivered message; counts it when it is not. */
  private isNew(sequence: number): boolean {
    if (aheadOf(sequence, this.lastDelivered) > 0) return true;
    const behind = (this.lastDelivered - sequence) >>> 0;
    const seen = behind === 0 || (behind <= 32 && (this.window >>> (behind - 1)) & 1);
    if (seen) this.counters.droppedDuplicate++;
    else this.counters.droppedStale++;
    return false;
  }

  /** Delivers the message that used sequences first … last, and abandons what it overtook. */
  private deliver(first: number, last: number, message: Buffer): void {
    const ahead = (last - this.lastDelivered) >>> 0;
    let window = ahead > 32 ? 0 : ahead === 32 ? 1 << 31 : (this.window << ahead) | (1 << (ahead - 1));
    // The message's other fragments count as delivered too: a duplicate of one is a duplicate, not stale.
    for (let behind = 1, n = Math.min((last - first) >>> 0, 32); behind <= n; behind++) window |= 1 << (behind - 1);
    this.window = window >>> 0;
    this.lastDelivered = last;
    for (const p of [...this.partials.values()]) if (aheadOf(p.first, last) === 0) this.abandon(p);
    this.counters.delivered++;
    this.delivery.message(message);
  }

  private receiveFragment(sequence: number, payload: Buffer): void {
    const body = payload.subarray(UDP_FRAGMENT_HEADER_BYTES);
    if (payload.length < UDP_FRAGMENT_HEADER_BYTES) return void this.counters.droppedInvalid++;
    const number = payload.readUInt32BE(0);
    const length = payload.readUInt32BE(4);
    const index = payload.readUInt16BE(8);
    const count = payload.readUInt16BE(10);
    const first = (sequence - index) >>> 0;
    // A fragment of a message that began at or before the last delivered one would take delivery back in time.
    if (aheadOf(first, this.lastDelivered) === 0) return void this.counters.droppedStale++;
    let p = this.partials.get(number);
    const valid =
      count >= 1 && index < count && count <= length && length <= this.sizes.maxMessageBytes &&
      body.length === udpFragmentOffset(length, count, index + 1) - udpFragmentOffset(length, count, index) &&
      (p ? p.first === first && p.count === count && p.body.length === length : !this.abandoned.includes(number));
    if (!valid) return void this.counters.droppedInvalid++;
    if (!p) {
      const made = this.admit(number, first, length, count);
      if (!made) return;
      p = made;
    }
    if (p.have[index >> 3] & (1 << (index & 7))) return void this.counters.droppedDuplicate++;
    p.have[index >> 3] |= 1 << (index & 7);
    p.received++;
    p.touched = Date.now();
    body.copy(p.body, udpFragmentOffset(length, count, index));
    if (p.received < count) return this.arm();
    this.drop(p);
    this.deliver(first, (first + count - 1) >>> 0, p.body);
  }

  /**
   * Starts reassembling a message within the bounds: at most UDP_MAX_REASSEMBLING messages and twice
   * maxMessageBytes on this connection (older messages are abandoned to make room, or the new one is
   * refused when it is the oldest), and the process-wide budget of unfinished frames.
   */
  private admit(number: number, first: number, length: number, count: number): PartialMessage | undefined {
    const age = (m: { first: number }) => aheadOf(m.first, this.lastDelivered);
    while (this.partials.size >= UDP_MAX_REASSEMBLING || this.partialBytes + length > 2 * this.sizes.maxMessageBytes) {
      const oldest = [...this.partials.values()].reduce((a, b) => (age(b) < age(a) ? b : a));
      if (age({ first }) < age(oldest)) return this.refuse(number);
      this.abandon(oldest);
    }
    if (partialFrames.limit > 0 && partialFrames.held + length > partialFrames.limit) return this.refuse(number);
    const p: PartialMessage = { number, first, count, body: Buffer.allocUnsafe(length), have: new Uint8Array(Math.ceil(count / 8)), received: 0, touched: Date.now() };
    this.partials.set(number, p);
    this.partialBytes += length;
    partialFrames.held += length;
    return p;
  }

  private refuse(number: number): undefined {
    this.counters.droppedIncomplete++;
    this.remember(number);
    return undefined;
  }

  private abandon(p: PartialMessage): void {
    this.drop(p);
    this.counters.droppedIncomplete++;
    this.remember(p.number);
  }

  private drop(p: PartialMessage): void {
    if (!this.partials.delete(p.number)) return;
    this.partialBytes -= p.body.length;
    partialFrames.held -= p.body.length;
  }

  private remember(number: number): void {
    this.abandoned.push(number);
    if (this.abandoned.length > ABANDONED_REMEMBERED) this.abandoned.shift();
  }

  /** Abandons, at their deadline, the messages that stopped receiving fragments. */
  private arm(): void {
    if (this.sweeper || this.partials.size === 0) return;
    const oldest = Math.min(...[...this.partials.values()].map((p) => p.touched));
    this.sweeper = setTimeout(() => {
      this.sweeper = undefined;
      const now = Date.now();
      for (const p of [...this.partials.values()]) if (now - p.touched >= UDP_REASSEMBLY_TIMEOUT_MS) this.abandon(p);
      this.arm();
    }, Math.max(10, oldest + UDP_REASSEMBLY_TIMEOUT_MS - Date.now()));
    this.sweeper.unref();
  }

  private raw(kind: number, sequence: number, payload?: Uint8Array): void {
    this.lastSent = Date.now();
    this.transmit(encodeUdpDatagram(kind, sequence, payload));
  }
}

/** The UDP listener: a Listener plus the count of datagrams it dropped because no connection owned them. */
export interface UdpListener extends Listener {
  stats(): { droppedUnknown: number; connections: number };
}

/**
 * `connect.bearer.udp`: the unreliable link. One Peerway message per datagram, or per run of FRAGMENT
 * datagrams when it is bigger than one; sequence numbers drop stale and duplicate datagrams, nothing is
 * retransmitted, and a message missing a fragment is dropped and counted. A tiny CONNECT/ACCEPT exchange
 * gives the core the same connection model as the stream bearers; CLOSE (best effort) and an idle timeout
 * end connections.
 */
export const udpBearer: Bearer = {
  id: UDP_ID,
  schemes: ['udp'],
  reliable: false,
  attributes: ['maxDatagramBytes', 'maxMessageBytes', 'idleTimeoutMs'],
  attributeKinds: { maxDatagramBytes: 'number', maxMessageBytes: 'number', idleTimeoutMs: 'number' },
  datagramPayloadBytes: DEFAULT_UDP_PAYLOAD_BYTES,
  howToConfigure: 'Enable the udp bearer on the client (it is on by default; do not pass --no-udp)',

  async listen(address: BearerAddress, onConnection: (c: MessageConnection) => void, options: BearerOptions = {}): Promise<UdpListener> {
    const host = address.host ?? '127.0.0.1';
    const { sizes, idleTimeoutMs } = udpLimits(options);
    const socket = dgram.createSocket(net.isIPv6(host) ? 'udp6' : 'udp4');
    const connections = new Map<string, { nonce: number; connection: UdpConnection }>();
    let droppedUnknown = 0;
    let closing: Promise<void> | undefined;
    socket.on('message', (datagram, rinfo) => {
      const header = parseHeader(datagram);
      const key = `${formatHost(rinfo.address)}:${rinfo.port}`;
      const known = connections.get(key);
      if (header?.kind === UdpKind.CONNECT && datagram.length >= UDP_HEADER_BYTES + 4) {
        const nonce = datagram.readUInt32BE(UDP_HEADER_BYTES);
        const reply = () => socket.send(encodeUdpDatagram(UdpKind.ACCEPT, 0, datagram.subarray(UDP_HEADER_BYTES, UDP_HEADER_BYTES + 4)), rinfo.port, rinfo.address);
        // A retransmitted CONNECT (our ACCEPT was lost) is answered again; a new nonce is a new connection.
        if (known?.nonce === nonce) return reply();
        known?.connection.end({ reason: `${key} reconnected` });
        const connection = new UdpConnection(
          key,
          sizes,
          idleTimeoutMs,
          (d) => socket.send(d, rinfo.port, rinfo.address),
          () => {
            if (connections.get(key)?.connection === connection) connections.delete(key);
          },
        );
        connections.set(key, { nonce, connection });
        reply();
        try {
          onConnection(connection);
        } catch (err) {
          // The listener's owner threw taking the connection: that connection ends, the listener goes on.
          connection.fail(err);
        }
        return;
      }
      if (!header || !known) {
        droppedUnknown++;
        return;
      }
      known.connection.receive(header.kind, header.sequence, datagram.subarray(UDP_HEADER_BYTES));
    });
    // Send errors on an unconnected socket (a peer's ICMP) must not crash the process; idle timeouts clean up.
    socket.on('error', () => undefined);
    await new Promise<void>((resolve, reject) => {
      socket.once('error', (err: NodeJS.ErrnoException) => {
        const hint = err.code === 'EADDRINUSE' ? ' (address already in use: pick another port, or 0 for any free one)' : '';
        reject(new PeerwayError('CONFIG_INVALID', `cannot listen on udp://${formatHost(host)}:${address.port ?? 0}: ${err.message}${hint}`, { cause: err }));
      });
      socket.bind({ address: host, port: address.port ?? 0 }, () => {
        widenReceiveBuffer(socket, sizes);
        resolve();
      });
    });
    return {
      address: { bearer: UDP_ID, host, port: socket.address().port },
      stats: () => ({ droppedUnknown, connections: connections.size }),
      close: () =>
        (closing ??= new Promise<void>((done) => {
          for (const { connection } of [...connections.values()]) connection.close('listener closed');
          // send() to an address resolves it on the next tick; close a turn later so the CLOSE datagrams leave.
          setImmediate(() => socket.close(() => done()));
        })),
    };
  },

  async connect(address: BearerAddress, options: ConnectOptions = {}): Promise<MessageConnection> {
    const host = address.host ?? '127.0.0.1';
    const port = address.port ?? 2002;
    const peer = `${formatHost(host)}:${port}`;
    const where = `udp://${peer}`;
    const { sizes, idleTimeoutMs } = udpLimits(options);
    const timeoutMs = options.timeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS;
    const nonce = randomBytes(4);
    return new Promise<MessageConnection>((resolve, reject) => {
      if (options.signal?.aborted) return reject(new PeerwayError('ABORTED', `connecting to ${where} was aborted`));
      const socket = dgram.createSocket(net.isIPv6(host) ? 'udp6' : 'udp4');
      let connection: UdpConnection | undefined;
      let retry: NodeJS.Timeout | undefined;
      let settled = false;
      const finish = (err?: PeerwayError) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        clearInterval(retry);
        options.signal?.removeEventListener('abort', onAbort);
        if (err) {
          socket.close();
          reject(err);
          return;
        }
        // The socket closes a turn later so a CLOSE datagram queued just before still leaves.
        connection = new UdpConnection(peer, sizes, idleTimeoutMs, (d) => socket.send(d), () => setImmediate(() => socket.close()));
        resolve(connection);
      };
      const onAbort = () => finish(new PeerwayError('ABORTED', `connecting to ${where} was aborted`));
      const timer = setTimeout(
        () => finish(new PeerwayError('TIMEOUT', `cannot connect to ${where}: no answer within ${timeoutMs} ms (is a ${UDP_ID} listener there? a firewall may drop datagrams)`)),
        timeoutMs,
      );
      options.signal?.addEventListener('abort', onAbort, { once: true });
      socket.on('error', (err: NodeJS.ErrnoException) => {
        // On a connected socket the kernel reports an ICMP port-unreachable as ECONNREFUSED.
        const why = err.code === 'ECONNREFUSED' ? `nothing listens on ${where}` : `cannot connect to ${where}: ${err.message}`;
        if (!settled) finish(new PeerwayError('CONNECT_FAILED', why, { cause: err, details: { code: err.code } }));
        else connection?.end({ reason: why, error: new PeerwayError('CONNECTION_CLOSED', why, { cause: err }) });
      });
      socket.on('message', (datagram) => {
        const header = parseHeader(datagram);
        if (!header) return;
        if (!settled) {
          if (header.kind === UdpKind.ACCEPT && datagram.subarray(UDP_HEADER_BYTES).equals(nonce)) finish();
          return;
        }
        connection?.receive(header.kind, header.sequence, datagram.subarray(UDP_HEADER_BYTES));
      });
      socket.connect(port, host, () => {
        if (settled) return;
        widenReceiveBuffer(socket, sizes);
        const hello = encodeUdpDatagram(UdpKind.CONNECT, 0, nonce);
        const sendHello = () => socket.send(hello);
        sendHello();
        // No retransmission for data, but the connect phase must survive a lost CONNECT or ACCEPT.
        retry = setInterval(sendHello, CONNECT_RETRY_MS);
      });
    });
  },
};

/**
 * Asks the kernel for a receive buffer that holds a whole message arriving in one burst (twice its bytes:
 * the kernel charges about twice the payload for each small datagram). The kernel caps it (Linux:
 * net.core.rmem_max) and a platform may refuse it: then the default stays and big messages are lost more often.
 */
function widenReceiveBuffer(socket: dgram.Socket, sizes: UdpSizes): void {
  if (sizes.maxMessageBytes <= sizes.maxDatagramBytes) return;
  try {
    const wanted = Math.min(2 * sizes.maxMessageBytes, MAX_RECEIVE_BUFFER_BYTES);
    if (socket.getRecvBufferSize() < wanted) socket.setRecvBufferSize(wanted);
  } catch {
    // Above the platform's maximum (macOS refuses instead of capping): the default buffer is kept.
  }
}

function parseHeader(datagram: Buffer): { kind: number; sequence: number } | undefined {
  if (datagram.length < UDP_HEADER_BYTES || datagram[0] !== UDP_MAGIC) return undefined;
  return { kind: datagram[1], sequence: datagram.readUInt32BE(2) };
}

/**
 * Datagram and message sizes and the idle timeout from the attributes, checked so a bad value fails loudly.
 * The message limit is attribute maxMessageBytes (default 1 MiB, or what 65535 fragments of a datagram
 * hold when that is less); a general `maxMessageBytes` option only ever lowers it.
 */
function udpLimits(options: BearerOptions): { sizes: UdpSizes; idleTimeoutMs: number } {
  const attrs = options.attributes ?? {};
  const datagram = attrs.maxDatagramBytes !== undefined ? Number(attrs.maxDatagramBytes) : DEFAULT_UDP_PAYLOAD_BYTES;
  if (!Number.isInteger(datagram) || datagram < 1 || datagram > MAX_UDP_PAYLOAD_BYTES) {
    throw new PeerwayError('CONFIG_INVALID', `${UDP_ID}: attribute maxDatagramBytes must be a whole number from 1 to ${MAX_UDP_PAYLOAD_BYTES}, got "${attrs.maxDatagramBytes}"`);
  }
  // What the largest fragment count carries; a datagram too small for a fragment header carries no fragments.
  const capacity = datagram > UDP_FRAGMENT_HEADER_BYTES ? UDP_MAX_FRAGMENTS * (datagram - UDP_FRAGMENT_HEADER_BYTES) : datagram;
  const message = attrs.maxMessageBytes !== undefined ? Number(attrs.maxMessageBytes) : Math.min(DEFAULT_UDP_MESSAGE_BYTES, capacity);
  if (!Number.isInteger(message) || message < 1 || message > capacity) {
    throw new PeerwayError(
      'CONFIG_INVALID',
      `${UDP_ID}: attribute maxMessageBytes must be a whole number from 1 to ${capacity} (${UDP_MAX_FRAGMENTS} fragments with maxDatagramBytes ${datagram}), got "${attrs.maxMessageBytes}"`,
    );
  }
  const idle = attrs.idleTimeoutMs !== undefined ? Number(attrs.idleTimeoutMs) : DEFAULT_IDLE_TIMEOUT_MS;
  if (!Number.isInteger(idle) || idle < 100) {
    throw new PeerwayError('CONFIG_INVALID', `${UDP_ID}: attribute idleTimeoutMs must be a whole number of at least 100, got "${attrs.idleTimeoutMs}"`);
  }
  const lowered = options.maxMessageBytes !== undefined && options.maxMessageBytes < message;
  const fix = lowered
    ? 'raise the maxMessageBytes option'
    : message < capacity
      ? `raise attribute maxMessageBytes (at most ${capacity} with maxDatagramBytes ${datagram})`
      : `raise attribute maxDatagramBytes (at most ${MAX_UDP_PAYLOAD_BYTES}) and then maxMessageBytes`;
  return { sizes: { maxDatagramBytes: datagram, maxMessageBytes: lowered ? options.maxMessageBytes! : message, fix }, idleTimeoutMs: idle };
}
