import dgram from 'node:dgram';
import net from 'node:net';
import { randomBytes } from 'node:crypto';
import { PeerwayError } from '../errors.js';
import { HeldDelivery } from './held-delivery.js';
import type { Bearer, BearerAddress, BearerOptions, CloseInfo, ConnectionHandlers, ConnectOptions, Listener, MessageConnection } from './bearer.js';
import { formatHost } from './tcp.js';

const UDP_ID = 'connect.bearer.udp';
/** Payload bytes per datagram by default: with the header and IP/UDP headers this stays under a 1280-byte IPv6 MTU. */
export const DEFAULT_UDP_PAYLOAD_BYTES = 1200;
/** The largest message: the largest IPv4 UDP payload (65535 − 20 IP − 8 UDP = 65507) minus our header. */
const MAX_UDP_PAYLOAD_BYTES = 65507 - 6;
const CONNECT_RETRY_MS = 100;
const DEFAULT_CONNECT_TIMEOUT_MS = 2000;
const DEFAULT_IDLE_TIMEOUT_MS = 60_000;

/**
 * Datagram layout: magic (1 byte, 0x50 'P'), kind (1 byte), sequence (uint32 BE), then the payload.
 * CONNECT and ACCEPT carry a 4-byte random nonce that names the connection attempt, so a client that
 * restarts on the same port is a new connection rather than a continuation of stale sequence numbers.
 */
export const UDP_MAGIC = 0x50;
/** Bytes in front of every payload: magic, kind, sequence. */
export const UDP_HEADER_BYTES = 6;
/** Datagram kinds. Only DATA is sequenced; KEEPALIVE exists so a receive-only peer is not idled out. */
export const UdpKind = { DATA: 0, CONNECT: 1, ACCEPT: 2, CLOSE: 3, KEEPALIVE: 4 } as const;

/** Encodes one datagram (exported for tests that craft raw traffic). */
export function encodeUdpDatagram(kind: number, sequence: number, payload: Uint8Array = new Uint8Array(0)): Buffer {
  const out = Buffer.allocUnsafe(UDP_HEADER_BYTES + payload.length);
  out[0] = UDP_MAGIC;
  out[1] = kind;
  out.writeUInt32BE(sequence >>> 0, 2);
  out.set(payload, UDP_HEADER_BYTES);
  return out;
}

/** Counters of one UDP connection, for tests, logs and the inspector. */
export interface UdpStats {
  /** Datagrams handed to the message handler. */
  delivered: number;
  /** Older than the last delivered one and never delivered: arrived out of order. */
  droppedStale: number;
  /** Already delivered once (a duplicated datagram). */
  droppedDuplicate: number;
  sent: number;
  /** KEEPALIVE datagrams received: the peer is alive while it has nothing to say. */
  keepalives: number;
}

/**
 * One direction-pair of sequenced datagrams with a peer. Unreliable by design: nothing is retransmitted;
 * a datagram that is not newer than the last delivered one is dropped and counted, so the application
 * sees each message at most once and never goes back in time.
 */
export class UdpConnection implements MessageConnection {
  readonly bearer = UDP_ID;
  readonly reliable = false;
  private readonly delivery = new HeldDelivery();
  private ended = false;
  private nextSequence = 1;
  private lastDelivered = 0;
  /** Bit i set: sequence lastDelivered − 1 − i was delivered (to tell duplicates from late arrivals). */
  private window = 0;
  private counters: UdpStats = { delivered: 0, droppedStale: 0, droppedDuplicate: 0, sent: 0, keepalives: 0 };
  private lastReceived = Date.now();
  private lastSent = Date.now();
  private readonly timer: NodeJS.Timeout;

  /** @internal Built by the bearer; `transmit` sends one datagram to the peer, `release` frees the transport. */
  constructor(
    readonly remote: string,
    private readonly maxMessageBytes: number,
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

  start(handlers: ConnectionHandlers): void {
    this.delivery.start(handlers);
  }

  send(payload: Uint8Array): boolean {
    if (this.ended) throw new PeerwayError('CONNECTION_CLOSED', `connection to ${this.remote} is closed`);
    if (payload.length > this.maxMessageBytes) {
      throw new PeerwayError(
        'FRAME_TOO_LARGE',
        `message of ${payload.length} bytes does not fit one ${UDP_ID} datagram (limit ${this.maxMessageBytes} bytes); send large messages over a reliable link, or raise attribute maxDatagramBytes (at most ${MAX_UDP_PAYLOAD_BYTES})`,
        { details: { length: payload.length, limit: this.maxMessageBytes } },
      );
    }
    this.counters.sent++;
    this.raw(UdpKind.DATA, this.nextSequence, payload);
    this.nextSequence = (this.nextSequence + 1) >>> 0 || 1;
    return true;
  }

  close(reason = 'closed locally'): void {
    if (this.ended) return;
    this.raw(UdpKind.CLOSE, 0);
    this.end({ reason });
  }

  /** @internal Called by the bearer for each datagram from this peer. */
  receive(kind: number, sequence: number, payload: Buffer): void {
    if (this.ended) return;
    this.lastReceived = Date.now();
    if (kind === UdpKind.CLOSE) this.end({ reason: 'closed by peer' });
    if (kind === UdpKind.KEEPALIVE) this.counters.keepalives++;
    if (kind !== UdpKind.DATA) return;
    // Serial-number arithmetic (RFC 1982) so the 32-bit sequence may wrap.
    const ahead = (sequence - this.lastDelivered) >>> 0;
    if (ahead === 0 || ahead >= 0x80000000) {
      const behind = ahead === 0 ? 0 : (this.lastDelivered - sequence) >>> 0;
      const seen = behind === 0 || (behind <= 32 && (this.window >>> (behind - 1)) & 1);
      if (seen) this.counters.droppedDuplicate++;
      else this.counters.droppedStale++;
      return;
    }
    this.window = ahead > 32 ? 0 : ahead === 32 ? 1 << 31 : ((this.window << ahead) | (1 << (ahead - 1))) >>> 0;
    this.lastDelivered = sequence;
    this.counters.delivered++;
    this.delivery.message(payload);
  }

  /** @internal Ends the connection without telling the peer (it is gone, or told us). */
  end(info: CloseInfo): void {
    if (this.ended) return;
    this.ended = true;
    clearInterval(this.timer);
    this.release();
    this.delivery.close(info);
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
 * `connect.bearer.udp`: the unreliable link. One Peerway message per datagram, sequence numbers drop stale
 * and duplicate datagrams, nothing is retransmitted. A tiny CONNECT/ACCEPT exchange gives the core the same
 * connection model as the stream bearers; CLOSE (best effort) and an idle timeout end connections.
 */
export const udpBearer: Bearer = {
  id: UDP_ID,
  schemes: ['udp'],
  reliable: false,
  attributes: ['maxDatagramBytes', 'idleTimeoutMs'],
  attributeKinds: { maxDatagramBytes: 'number', idleTimeoutMs: 'number' },
  howToConfigure: 'Enable the udp bearer on the client (it is on by default; do not pass --no-udp)',

  async listen(address: BearerAddress, onConnection: (c: MessageConnection) => void, options: BearerOptions = {}): Promise<UdpListener> {
    const host = address.host ?? '127.0.0.1';
    const { maxMessageBytes, idleTimeoutMs } = udpLimits(options);
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
          maxMessageBytes,
          idleTimeoutMs,
          (d) => socket.send(d, rinfo.port, rinfo.address),
          () => {
            if (connections.get(key)?.connection === connection) connections.delete(key);
          },
        );
        connections.set(key, { nonce, connection });
        reply();
        onConnection(connection);
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
      socket.bind({ address: host, port: address.port ?? 0 }, () => resolve());
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
    const { maxMessageBytes, idleTimeoutMs } = udpLimits(options);
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
        connection = new UdpConnection(peer, maxMessageBytes, idleTimeoutMs, (d) => socket.send(d), () => setImmediate(() => socket.close()));
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
        const hello = encodeUdpDatagram(UdpKind.CONNECT, 0, nonce);
        const sendHello = () => socket.send(hello);
        sendHello();
        // No retransmission for data, but the connect phase must survive a lost CONNECT or ACCEPT.
        retry = setInterval(sendHello, CONNECT_RETRY_MS);
      });
    });
  },
};

function parseHeader(datagram: Buffer): { kind: number; sequence: number } | undefined {
  if (datagram.length < UDP_HEADER_BYTES || datagram[0] !== UDP_MAGIC) return undefined;
  return { kind: datagram[1], sequence: datagram.readUInt32BE(2) };
}

/**
 * Payload limit and idle timeout from the attributes, checked so a bad value fails loudly. A general
 * `maxMessageBytes` only ever lowers the datagram limit: raising it past the MTU is an explicit choice.
 */
function udpLimits(options: BearerOptions): { maxMessageBytes: number; idleTimeoutMs: number } {
  const attrs = options.attributes ?? {};
  const datagram = attrs.maxDatagramBytes !== undefined ? Number(attrs.maxDatagramBytes) : DEFAULT_UDP_PAYLOAD_BYTES;
  if (!Number.isInteger(datagram) || datagram < 1 || datagram > MAX_UDP_PAYLOAD_BYTES) {
    throw new PeerwayError('CONFIG_INVALID', `${UDP_ID}: attribute maxDatagramBytes must be a whole number from 1 to ${MAX_UDP_PAYLOAD_BYTES}, got "${attrs.maxDatagramBytes}"`);
  }
  const idle = attrs.idleTimeoutMs !== undefined ? Number(attrs.idleTimeoutMs) : DEFAULT_IDLE_TIMEOUT_MS;
  if (!Number.isInteger(idle) || idle < 100) {
    throw new PeerwayError('CONFIG_INVALID', `${UDP_ID}: attribute idleTimeoutMs must be a whole number of at least 100, got "${attrs.idleTimeoutMs}"`);
  }
  return { maxMessageBytes: Math.min(datagram, options.maxMessageBytes ?? Infinity), idleTimeoutMs: idle };
}
