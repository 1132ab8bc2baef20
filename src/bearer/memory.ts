import { PeerwayError } from '../errors.js';
import { DEFAULT_MAX_FRAME_BYTES } from '../wire/frame-decoder.js';
import type { Bearer, BearerAddress, BearerOptions, CloseInfo, ConnectionHandlers, ConnectOptions, Listener, MessageConnection } from './bearer.js';
import { HeldDelivery } from './held-delivery.js';

const MEMORY_ID = 'connect.bearer.memory';

/**
 * Bytes sent but not yet delivered above which send() returns false: the default high-water mark of a
 * Node socket, so code that handles backpressure over tcp meets it at the same point here.
 */
export const MEMORY_HIGH_WATER_MARK_BYTES = 64 * 1024;

/** Letters, digits and `.`, `_`, `~`, `-`: the characters a URL carries unescaped, so a name is its own URL form. */
const NAME = /^[A-Za-z0-9._~-]+$/;

interface MemoryListenerEntry {
  onConnection(connection: MessageConnection): void;
  maxMessageBytes: number;
  /** The listener's ends of the connections it accepted, for close(). */
  connections: Set<MemoryConnection>;
  accepted: number;
}

/** Every listening name in this process. Module-level on purpose: it is what connect() dials into. */
const listeners = new Map<string, MemoryListenerEntry>();
let freshNames = 0;

/**
 * One end of an in-process pair. Messages are copied on send and handed to the peer on a later turn of
 * the event loop, so the core sees the same asynchrony as over a socket (no handler ever runs inside
 * send()), and the same close, size-limit and backpressure rules as the stream bearers.
 */
class MemoryConnection implements MessageConnection {
  readonly bearer = MEMORY_ID;
  readonly reliable = true;
  private peer!: MemoryConnection;
  private readonly delivery = new HeldDelivery();
  /** Sent, not yet handed to the peer. */
  private outbox: Buffer[] = [];
  private outboxBytes = 0;
  private scheduled = false;
  /** send() returned false, so the sender waits for a drain. */
  private owesDrain = false;
  private closeReason: string | undefined;
  private ended = false;

  private constructor(
    readonly remote: string,
    private readonly maxMessageBytes: number,
    private readonly onEnd: () => void,
  ) {}

  /** Two connected ends; both are labelled `remote` so the logs of either side name the same pair. */
  static pair(remote: string, clientMax: number, serverMax: number, onServerEnd: (server: MemoryConnection) => void): [client: MemoryConnection, server: MemoryConnection] {
    const client = new MemoryConnection(remote, clientMax, () => undefined);
    const server: MemoryConnection = new MemoryConnection(remote, serverMax, () => onServerEnd(server));
    client.peer = server;
    server.peer = client;
    return [client, server];
  }

  get closed(): boolean {
    return this.ended || this.closeReason !== undefined;
  }

  get queuedBytes(): number {
    return this.outboxBytes;
  }

  start(handlers: ConnectionHandlers): void {
    this.delivery.start(handlers);
  }

  send(payload: Uint8Array): boolean {
    if (this.closed) throw new PeerwayError('CONNECTION_CLOSED', `connection to ${this.remote} is closed`);
    if (payload.length > this.maxMessageBytes) {
      throw new PeerwayError('FRAME_TOO_LARGE', `message of ${payload.length} bytes is above the limit of ${this.maxMessageBytes} bytes on ${MEMORY_ID}`, {
        details: { length: payload.length, limit: this.maxMessageBytes },
      });
    }
    // A copy, because the caller may reuse its buffer before the message is delivered.
    this.outbox.push(Buffer.copyBytesFrom(payload));
    this.outboxBytes += payload.length;
    this.schedule();
    if (this.outboxBytes < MEMORY_HIGH_WATER_MARK_BYTES) return true;
    this.owesDrain = true;
    return false;
  }

  close(reason = 'closed locally'): void {
    if (this.closed) return;
    this.closeReason = reason;
    // Queued behind what was already sent, so those messages reach the peer before the close.
    this.schedule();
  }

  /**
   * setImmediate rather than a microtask or nextTick: two ends answering each other would otherwise run
   * forever inside one turn and starve timers and I/O (including a test's own timeout).
   */
  private schedule(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    setImmediate(this.flush);
  }

  private readonly flush = (): void => {
    this.scheduled = false;
    this.deliverOutbox();
    if (this.ended) return;
    if (this.closeReason !== undefined) {
      // What the peer sent before it could know of the close still arrives, as over a socket.
      this.peer.deliverOutbox();
      this.endBoth({ reason: this.closeReason });
    } else if (this.owesDrain) {
      this.owesDrain = false;
      this.delivery.drain();
    }
  };

  private deliverOutbox(): void {
    const batch = this.outbox;
    this.outbox = [];
    this.outboxBytes = 0;
    for (const m of batch) this.peer.receive(m);
  }

  private receive(payload: Buffer): void {
    if (this.ended) return;
    // The receiver's own limit, as a stream bearer's frame decoder enforces it: the sender may allow more.
    if (payload.length > this.maxMessageBytes) {
      const error = new PeerwayError('FRAME_TOO_LARGE', `peer sent a message of ${payload.length} bytes, above the limit of ${this.maxMessageBytes} bytes`, {
        details: { length: payload.length, limit: this.maxMessageBytes },
      });
      return this.endBoth({ reason: error.message, error });
    }
    try {
      this.delivery.message(payload);
    } catch (err) {
      // As in StreamConnection: a handler that throws ends its connection with the error, not the process.
      const error = PeerwayError.from(err, 'PROTOCOL');
      this.endBoth({ reason: error.message, error });
    }
  }

  /** Ends this side with `info` and the peer with its own close reason, if it gave one, or 'closed by peer'. */
  private endBoth(info: CloseInfo): void {
    this.peer.end({ reason: this.peer.closeReason ?? 'closed by peer' });
    this.end(info);
  }

  private end(info: CloseInfo): void {
    if (this.ended) return;
    this.ended = true;
    this.outbox = [];
    this.outboxBytes = 0;
    this.onEnd();
    this.delivery.close(info);
  }
}

/**
 * `connect.bearer.memory`: connections between listeners and dialers in the same process, with no socket.
 * For fast tests of the core and for embedding a server, runners and clients in one process.
 *
 * Addresses are names: `memory://NAME`, held as `{ path: NAME }`. Listening with no name (`memory://`,
 * path absent or empty) takes a fresh one (`mem-1`, `mem-2`, …), reported in the listener's address.
 * A name reaches only listeners of this process.
 */
export const memoryBearer: Bearer = {
  id: MEMORY_ID,
  schemes: ['memory'],
  reliable: true,
  addressAttributes: ['path'],
  reach: 'process',
  // Offering it to a server in another process is pointless; an embedding application opts in by name.
  offer: 'never',
  howToConfigure: 'Run the client in the same process as the service (memory:// reaches only that process), or change the route so a tcp route follows the memory one',

  /** A fresh name per link: two runners in one process may host the same service and link. */
  linkListenAddress() {
    return { bearer: MEMORY_ID };
  },

  parsePathAttribute(value: string) {
    return NAME.test(value) ? { path: value } : { problem: `path "${value}" must be a name of letters, digits, '.', '_', '~' or '-', e.g. server` };
  },

  // async with nothing to await: a refused name must reach the caller as a rejection, as with every bearer.
  // eslint-disable-next-line @typescript-eslint/require-await
  async listen(address: BearerAddress, onConnection: (c: MessageConnection) => void, options: BearerOptions = {}): Promise<Listener> {
    const name = address.path ? checkName(address.path) : freshName();
    if (listeners.has(name)) {
      throw new PeerwayError(
        'CONFIG_INVALID',
        `cannot listen on memory://${name}: already in use by another listener in this process (pick another name, or none for a fresh one)`,
      );
    }
    const entry: MemoryListenerEntry = { onConnection, maxMessageBytes: options.maxMessageBytes ?? DEFAULT_MAX_FRAME_BYTES, connections: new Set(), accepted: 0 };
    listeners.set(name, entry);
    let closing: Promise<void> | undefined;
    return {
      address: { bearer: MEMORY_ID, path: name },
      close: () =>
        (closing ??= new Promise<void>((done) => {
          listeners.delete(name);
          for (const c of [...entry.connections]) c.close('listener closed');
          // The closes go out on the next turn; resolving after them lets the caller see every connection ended.
          setImmediate(done);
        })),
    };
  },

  async connect(address: BearerAddress, options: ConnectOptions = {}): Promise<MessageConnection> {
    if (!address.path) throw new PeerwayError('CONFIG_INVALID', `${MEMORY_ID} needs a name to connect to, e.g. memory://server`);
    const name = checkName(address.path);
    const where = `memory://${name}`;
    return new Promise<MessageConnection>((resolve, reject) => {
      if (options.signal?.aborted) return reject(new PeerwayError('ABORTED', `connecting to ${where} was aborted`));
      const fail = (err: PeerwayError) => {
        cleanup();
        reject(err);
      };
      const cleanup = () => {
        clearImmediate(accept);
        clearTimeout(timer);
        options.signal?.removeEventListener('abort', onAbort);
      };
      // The accept happens a turn later, like a socket's, so an abort or a listener close in between wins.
      const accept = setImmediate(() => {
        cleanup();
        const entry = listeners.get(name);
        if (!entry) return reject(new PeerwayError('CONNECT_FAILED', `nothing listens on ${where} in this process (memory:// reaches only listeners of the same process)`));
        const label = `${where}#${++entry.accepted}`;
        const [client, server] = MemoryConnection.pair(label, options.maxMessageBytes ?? DEFAULT_MAX_FRAME_BYTES, entry.maxMessageBytes, (s) => entry.connections.delete(s));
        entry.connections.add(server);
        resolve(client);
        entry.onConnection(server);
      });
      const onAbort = () => fail(new PeerwayError('ABORTED', `connecting to ${where} was aborted`));
      const timer = options.timeoutMs === undefined ? undefined : setTimeout(() => fail(new PeerwayError('TIMEOUT', `cannot connect to ${where}: no answer within ${options.timeoutMs} ms`)), options.timeoutMs);
      options.signal?.addEventListener('abort', onAbort, { once: true });
    });
  },

  parseUrl(url: string): BearerAddress {
    const name = url.trim().replace(/^memory:\/\//, '');
    if (name === '') return { bearer: MEMORY_ID };
    if (!NAME.test(name)) {
      throw new PeerwayError('USAGE', `invalid address "${url}": expected memory://NAME with a name of letters, digits, '.', '_', '~' or '-' (or memory:// to listen on a fresh name)`);
    }
    return { bearer: MEMORY_ID, path: name };
  },

  formatUrl(address: BearerAddress): string {
    return `memory://${address.path ?? ''}`;
  },
};

function checkName(name: string): string {
  if (!NAME.test(name)) {
    throw new PeerwayError('CONFIG_INVALID', `${MEMORY_ID}: invalid name ${JSON.stringify(name)}; use letters, digits, '.', '_', '~' or '-'`);
  }
  return name;
}

function freshName(): string {
  let name: string;
  do name = `mem-${++freshNames}`;
  while (listeners.has(name));
  return name;
}
