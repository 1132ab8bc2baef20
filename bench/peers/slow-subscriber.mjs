// Slow subscribers: Peerway client connections that subscribe and then never read. Each one speaks the
// client protocol by hand (MessagePack maps in Peerway's length-prefixed frames): hello, start <service>,
// ready, subscribe to runtime data <path> (and, with `events`, to every event), then socket.pause(), so
// what the server pushes piles up in the kernel's socket buffers and then in the server, which holds and
// coalesces it and past its bound drops the connection (src/wire/push-outbox.ts). A paused connection
// sends a ping every 2 s (answers unread), so the server's keepalive sees a live peer that reads nothing.
//
//   node slow-subscriber.mjs --port <server port> --service <name> --path <runtime-data path> --protocol <version>
//
// Commands on stdin, one answer line each on stdout:
//   open <count> <data|events>   opens <count> slow connections; answers `opened <count>`
//   close                        resumes reading on each (discarding), stops its session, closes it; answers
//                                `closed <count> dropped <k>`: k connections the server had already closed
//                                (closed before the stop was answered, or with an error notice)
// Prints `ready` at once; exits when stdin closes (the bench went away).
import net from 'node:net';
import { Packr } from 'msgpackr';
import { exitWithParent, frame, frameReader, onCommand, parseArgs } from './framing.mjs';

const args = parseArgs(process.argv.slice(2));
const PORT = Number(args.port);
const SERVICE = String(args.service);
const PATH = String(args.path);
const PROTOCOL = Number(args.protocol);
/** Bound on every wait for the server (the bench also runs this under a deadline). */
const WAIT_MS = 10_000;
/** A paused connection still sends a ping this often (never reading the answers). */
const ALIVE_MS = 2_000;

const packr = new Packr({ useRecords: false });
exitWithParent();

/** One connection: requests by id, then paused for good until `close`. */
class SlowConnection {
  constructor(socket) {
    this.socket = socket;
    this.nextId = 1;
    this.waiting = new Map(); // id → resolve(message)
    this.welcome = undefined;
    this.closedByServer = false;
    this.sawError = false;
    this.ended = new Promise((resolve) => socket.once('close', resolve));
    socket.on('error', () => undefined);
    socket.on('close', () => {
      for (const resolve of this.waiting.values()) resolve(undefined);
      this.waiting.clear();
    });
    socket.on(
      'data',
      frameReader((f) => {
        const m = packr.unpack(f.subarray(4));
        if (m.type === 'welcome') this.welcome?.(m);
        else if ((m.type === 'reply' || m.type === 'error') && m.id !== undefined && this.waiting.has(m.id)) {
          const resolve = this.waiting.get(m.id);
          this.waiting.delete(m.id);
          resolve(m);
        } else if (m.type === 'error') this.sawError = true; // a notice without id: the server is closing us
      }),
    );
  }

  static async open(kind) {
    const socket = await new Promise((resolve, reject) => {
      const s = net.connect({ host: '127.0.0.1', port: PORT }, () => resolve(s));
      s.once('error', reject);
    });
    socket.setNoDelay(true);
    const c = new SlowConnection(socket);
    const welcome = new Promise((resolve) => (c.welcome = resolve));
    socket.write(frame(packr.pack({ type: 'hello', version: PROTOCOL, role: 'client', agent: 'peerway-bench-slow-subscriber' })));
    await bounded(welcome, 'welcome');
    const started = await c.request({ type: 'start', service: SERVICE, client: { bearers: [], host: 'peerway-bench-slow', version: PROTOCOL } });
    c.session = started.value.session;
    await c.request({ type: 'ready', session: c.session, routes: {} });
    await c.request({ type: 'subscribe', session: c.session, kind: 'data', name: PATH });
    if (kind === 'events') await c.request({ type: 'subscribe', session: c.session, kind: 'event' });
    // From here on nothing is read: Node fills its own small read buffer, then leaves the rest in the kernel.
    socket.pause();
    // … but something is said now and then, as a slow reader would: a peer silent for 10 s is pinged and,
    // since this one never reads the ping, dropped by the server's keepalive instead of its push bounds.
    c.alive = setInterval(() => {
      if (!socket.destroyed) socket.write(frame(packr.pack({ type: 'ping', id: c.nextId++ })));
    }, ALIVE_MS);
    return c;
  }

  /** Sends a request and waits (bounded) for its answer; an error answer throws. */
  async request(body) {
    const id = this.nextId++;
    const answer = new Promise((resolve) => this.waiting.set(id, resolve));
    this.socket.write(frame(packr.pack({ ...body, id })));
    const m = await bounded(answer, body.type);
    if (!m) throw new Error(`the server closed the connection before answering ${body.type}`);
    if (m.type === 'error') throw new Error(`${body.type}: ${m.error?.code} ${m.error?.message}`);
    return m;
  }

  /**
   * Reads again (the backlog is decoded and dropped), stops the session so the server forgets it at once
   * rather than keeping it detached, and closes. Resolves with whether the server had dropped us.
   */
  async close() {
    clearInterval(this.alive);
    const stopped = new Promise((resolve) => this.waiting.set(this.nextId, resolve));
    if (!this.socket.destroyed) this.socket.write(frame(packr.pack({ type: 'stop', session: this.session, id: this.nextId++ })));
    this.socket.resume();
    const answer = await bounded(stopped, 'stop', true);
    const dropped = this.sawError || !answer || answer.type !== 'reply';
    this.socket.end();
    await bounded(this.ended, 'close', true).finally(() => this.socket.destroy());
    return dropped;
  }
}

/** `promise`, or after WAIT_MS a rejection (or undefined with `quiet`). */
function bounded(promise, what, quiet = false) {
  let timer;
  const timeout = new Promise((resolve, reject) => {
    timer = setTimeout(() => (quiet ? resolve(undefined) : reject(new Error(`no ${what} from the server within ${WAIT_MS} ms`))), WAIT_MS);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

let open = [];
let busy = Promise.resolve();
onCommand((words) => {
  // One command at a time, in order.
  busy = busy.then(() => run(words)).catch((err) => {
    console.error(`slow-subscriber: ${err.message}`);
    console.log(`failed ${err.message}`);
  });
});

async function run([cmd, count, kind]) {
  if (cmd === 'open') {
    const n = Number(count);
    const settled = await Promise.allSettled(Array.from({ length: n }, () => SlowConnection.open(kind === 'events' ? 'events' : 'data')));
    // Those that did open are kept, so `close` closes them too.
    open.push(...settled.filter((s) => s.status === 'fulfilled').map((s) => s.value));
    const failed = settled.find((s) => s.status === 'rejected');
    if (failed) throw failed.reason;
    console.log(`opened ${n}`);
  } else if (cmd === 'close') {
    const closing = open;
    open = [];
    const dropped = await Promise.all(closing.map((c) => c.close()));
    console.log(`closed ${closing.length} dropped ${dropped.filter(Boolean).length}`);
  }
}

console.log('ready');
