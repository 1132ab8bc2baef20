import { execFile } from 'node:child_process';
import net from 'node:net';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import type { PeerwayClient } from '../../src/client/client.js';
import type { Session } from '../../src/client/session.js';
import type { PeerwayProcess } from '../../src/cli/peerway-process.js';
import { parseInstructions } from '../../src/routing/instructions.js';
import { encodeMessage } from '../../src/wire/codec.js';
import { encodeFrame } from '../../src/wire/frame-decoder.js';
import { PROTOCOL_VERSION, type Message } from '../../src/wire/messages.js';
import { killHard, nextMatch, within, type Cluster } from './cluster.js';
import type { Load } from './load.js';

const run = promisify(execFile);
const now = () => performance.now();

export type FaultName =
  | 'runner-kill'
  | 'runner-stop'
  | 'server-kill'
  | 'server-stop'
  | 'client-kill'
  | 'client-stop'
  | 'partial-frame-server'
  | 'partial-frame-link'
  | 'link-cut';

/** What a fault needs while it runs, and where it notes its times (performance.now()). */
export interface FaultContext {
  cluster: Cluster;
  client: PeerwayClient;
  session: Session;
  load: Load;
  /** The second client process (`peerway watch Keeper --path n`) of the client faults. */
  watcher?: Watcher;
  /** How long a stopped process stays stopped, and a killed one down before its restart. */
  stopMs: number;
  downMs: number;
  /** When the fault was injected. */
  faultAt: number;
  /** When the peer that went away was back: the restarted process ready, or SIGCONT sent. */
  peerBackAt?: number;
  /** When what the fault broke worked again, where that is not the load's next call (see each fault). */
  restoredAt?: number;
  violations: string[];
  notes: string[];
}

export interface Fault {
  name: FaultName;
  /** One line for tables and test names. */
  title: string;
  /** Error codes the load may see under this fault; any other is a violation. */
  expected: readonly string[];
  /** The calls whose acknowledgements measure the outage: those that need the peer the fault hit. */
  probe: 'record' | 'bump';
  /** The server answers throughout: every `services` request of the load must succeed. */
  serverStaysUp: boolean;
  /** Starts a second client process (`peerway watch`) before the load. */
  watcher?: boolean;
  /**
   * The fault freezes a process (SIGSTOP) until `peerBackAt`: the calls sent to it as it froze must
   * settle before it wakes up (the keepalive notices a frozen peer), not hang on until it answers.
   */
  freezes?: boolean;
  /** `record` loops of the load (default 1): more calls in flight when routes move. */
  recordLoops?: number;
  inject(ctx: FaultContext): Promise<void>;
}

/** A `peerway watch` process subscribed to every event of Keeper and to `n`, its lines timestamped. */
export interface Watcher {
  proc: PeerwayProcess;
  lines: { at: number; line: Record<string, unknown> }[];
}

export function startWatcher(cluster: Cluster): Watcher {
  const proc = cluster.spawn(['watch', '--server', cluster.serverUrl, 'Keeper', '--path', 'n']);
  const lines: Watcher['lines'] = [];
  let rest = '';
  proc.child.stdout?.on('data', (chunk: Buffer) => {
    const parts = (rest + chunk.toString('utf8')).split('\n');
    rest = parts.pop() ?? '';
    for (const text of parts) {
      try {
        lines.push({ at: now(), line: JSON.parse(text) as Record<string, unknown> });
      } catch {
        // not a watch line
      }
    }
  });
  return { proc, lines };
}

/** Stops a process for `ms`, then lets it go on; notes the fault and the SIGCONT. */
async function freeze(ctx: FaultContext, proc: PeerwayProcess, during?: () => Promise<void>): Promise<void> {
  ctx.faultAt = now();
  proc.child.kill('SIGSTOP');
  const until = ctx.faultAt + ctx.stopMs;
  await during?.();
  await sleep(Math.max(0, until - now()));
  proc.child.kill('SIGCONT');
  ctx.peerBackAt = now();
}

/** Writes `bytes` on a fresh TCP connection to 127.0.0.1:`port`, then closes it (FIN, or RST with `reset`). */
async function partialFrame(port: number, bytes: Buffer, reset: boolean): Promise<void> {
  const socket = net.connect(port, '127.0.0.1');
  socket.on('error', () => undefined);
  await new Promise<void>((resolve, reject) => socket.once('connect', resolve).once('error', reject));
  await new Promise<void>((resolve) => socket.write(bytes, () => resolve()));
  await sleep(30); // the peer reads the part before the close
  if (reset) socket.resetAndDestroy();
  else socket.destroy();
}

const frame = (m: Record<string, unknown>) => encodeFrame(encodeMessage(m as unknown as Message));

/** Connections that stop half-way through a frame: in the length prefix, in a hello, in a request after the hello. */
function partialFrames(hello: Record<string, unknown>): Buffer[] {
  const helloFrame = frame(hello);
  const request = frame({ type: 'list', id: 1 });
  return [
    Buffer.from([0, 0]),
    helloFrame.subarray(0, Math.ceil(helloFrame.length / 2)),
    Buffer.concat([helloFrame, request.subarray(0, 6)]),
    Buffer.concat([Buffer.from([0, 1, 0, 0]), Buffer.alloc(100, 0x91)]), // a 64 KiB frame announced, 100 bytes sent
  ];
}

/**
 * Why `ss -K` cannot cut a connection here (undefined when it can): it needs CAP_NET_ADMIN and a kernel
 * with socket destruction (CONFIG_INET_DIAG_DESTROY). Tried on a connection of its own.
 */
export async function linkCutUnavailable(): Promise<string | undefined> {
  const server = net.createServer((s) => s.on('error', () => undefined));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as net.AddressInfo).port;
  const socket = net.connect(port, '127.0.0.1');
  socket.on('error', () => undefined);
  try {
    await new Promise<void>((resolve, reject) => socket.once('connect', resolve).once('error', reject));
    const closed = new Promise<boolean>((resolve) => socket.once('close', () => resolve(true)));
    await run('ss', ['-K', 'dst', '127.0.0.1', 'dport', '=', String(port)]);
    const cut = (await within(closed, 1000)) === true;
    return cut ? undefined : 'ss -K did not close a loopback connection (needs CAP_NET_ADMIN and CONFIG_INET_DIAG_DESTROY)';
  } catch (err) {
    return `ss -K is not usable here: ${(err as Error).message}`;
  } finally {
    socket.destroy();
    server.close();
  }
}

/** The host and port of the session's direct link `reliable` (from its routing instructions). */
export function linkPort(session: Session): number {
  const link = parseInstructions(session.routing ?? '').links.find((l) => l.name === 'reliable');
  if (!link?.address.port) throw new Error(`session ${session.id} has no "reliable" link: ${session.routing}`);
  return link.address.port;
}

/**
 * The fault matrix of the recovery issue: kill -9 and SIGSTOP of runner, server and (another) client, a
 * socket closed half-way through a frame (to the server and to a runner link), and a link cut.
 */
export const FAULTS: readonly Fault[] = [
  {
    name: 'runner-kill',
    title: 'runner kill -9, restarted',
    // What was in flight fails with SERVICE_GONE on either route; calls made meanwhile wait for the
    // session, started again once the runner is back.
    expected: ['SERVICE_GONE'],
    probe: 'record',
    serverStaysUp: true,
    async inject(ctx) {
      ctx.faultAt = now();
      await killHard(ctx.cluster.runner);
      await sleep(ctx.downMs);
      await ctx.cluster.startRunner();
      ctx.peerBackAt = now();
    },
  },
  {
    name: 'runner-stop',
    title: 'runner SIGSTOP, SIGCONT',
    // Calls in flight when the runner stopped answering fail with TIMEOUT ("stopped answering") on either
    // route, once the keepalive gives up on it; calls made while it is away wait for the session.
    expected: ['SERVICE_GONE', 'TIMEOUT'],
    probe: 'record',
    serverStaysUp: true,
    freezes: true,
    inject: (ctx) => freeze(ctx, ctx.cluster.runner),
  },
  {
    name: 'server-kill',
    title: 'server kill -9, restarted on its port',
    // A server-routed call in flight fails with CONNECTION_CLOSED; the new server does not know the
    // session, so it is started again with new links, and a direct call in flight on the old link then
    // fails with SERVICE_GONE (the runner closes the sessions the old server held). `services` requests
    // are not session calls: they fail at once while the client is disconnected.
    expected: ['CONNECTION_CLOSED', 'SERVICE_GONE'],
    probe: 'bump',
    serverStaysUp: false,
    async inject(ctx) {
      ctx.faultAt = now();
      await killHard(ctx.cluster.server);
      await sleep(ctx.downMs);
      await ctx.cluster.startServer(ctx.cluster.serverUrl);
      ctx.peerBackAt = now();
    },
  },
  {
    name: 'server-stop',
    title: 'server SIGSTOP, SIGCONT',
    // As for a kill, with TIMEOUT ("stopped answering") for what was in flight when the client's keepalive
    // gave up on the server.
    expected: ['CONNECTION_CLOSED', 'SERVICE_GONE', 'TIMEOUT'],
    probe: 'bump',
    serverStaysUp: false,
    freezes: true,
    inject: (ctx) => freeze(ctx, ctx.cluster.server),
  },
  {
    name: 'client-kill',
    title: 'another client (a watch) kill -9',
    expected: [],
    probe: 'record',
    serverStaysUp: true,
    watcher: true,
    async inject(ctx) {
      ctx.faultAt = now();
      await killHard(ctx.watcher!.proc);
    },
  },
  {
    name: 'client-stop',
    title: 'another client (a watch) SIGSTOP, SIGCONT',
    expected: [],
    probe: 'record',
    serverStaysUp: true,
    freezes: true,
    watcher: true,
    async inject(ctx) {
      const watcher = ctx.watcher!;
      const { server, runner } = ctx.cluster;
      await freeze(ctx, watcher.proc, async () => {
        // Both ends of the stopped subscriber's connections drop it (keepalive), well before it wakes.
        const shed = async (proc: PeerwayProcess, who: string, pattern: RegExp) => {
          try {
            const at = await nextMatch(proc, pattern, 'stderr', ctx.stopMs - 100);
            ctx.notes.push(`${who} dropped the stopped watch after ${Math.round(at - ctx.faultAt)} ms`);
          } catch {
            ctx.violations.push(`the ${who} did not drop the stopped watch within ${ctx.stopMs} ms`);
          }
        };
        await Promise.all([shed(server, 'server', /stopped answering/), shed(runner, 'runner', /link closed with error.*stopped answering/)]);
      });
      // Woken, the watch reconnects by itself and prints values bumped after it woke.
      const before = ctx.load.acknowledged('bump').filter((c) => (c.settledAt ?? 0) < ctx.peerBackAt!).reduce((max, c) => Math.max(max, c.value ?? 0), 0);
      const deadline = now() + 20_000;
      while (now() < deadline) {
        const fresh = watcher.lines.find((l) => l.at >= ctx.peerBackAt! && l.line.kind === 'runtime-data' && Number(l.line.value) > before);
        if (fresh) {
          ctx.restoredAt = fresh.at;
          return;
        }
        await sleep(20);
      }
      ctx.violations.push(`the woken watch printed no value above ${before} within 20 s:\n${watcher.proc.stderr().slice(-2000)}`);
    },
  },
  {
    name: 'partial-frame-server',
    title: 'socket to the server closed mid-frame',
    expected: [],
    probe: 'record',
    serverStaysUp: true,
    async inject(ctx) {
      ctx.faultAt = now();
      const frames = partialFrames({ type: 'hello', version: PROTOCOL_VERSION, role: 'client', agent: 'fault-matrix' });
      for (let round = 0; round < 2; round++) {
        await Promise.all(frames.map((bytes, i) => partialFrame(ctx.cluster.serverPort, bytes, (i + round) % 2 === 1)));
      }
    },
  },
  {
    name: 'partial-frame-link',
    title: 'socket to a runner link closed mid-frame',
    expected: [],
    probe: 'record',
    serverStaysUp: true,
    async inject(ctx) {
      const port = linkPort(ctx.session);
      ctx.faultAt = now();
      const frames = partialFrames({ type: 'hello', version: PROTOCOL_VERSION, role: 'link', session: ctx.session.id, link: 'reliable', token: 'not-the-token' });
      for (let round = 0; round < 2; round++) {
        await Promise.all(frames.map((bytes, i) => partialFrame(port, bytes, (i + round) % 2 === 1)));
      }
    },
  },
  {
    name: 'link-cut',
    title: "the load client's direct link cut (ss -K)",
    // Calls in flight on the cut link fail with SERVICE_GONE; one made after the cut, even in the turns
    // before the close is handled, goes by the server route (LINK_FAILED would be a violation).
    expected: ['SERVICE_GONE'],
    probe: 'record',
    serverStaysUp: true,
    // Calls in flight as the link comes back: the service must hear of the move before the link carries them.
    recordLoops: 4,
    async inject(ctx) {
      const port = linkPort(ctx.session);
      const rerouted = new Promise<number>((resolve) => ctx.client.once('rerouted', () => resolve(now())));
      ctx.faultAt = now();
      const { stdout } = await run('ss', ['-K', 'dst', '127.0.0.1', 'dport', '=', String(port)]);
      const killed = stdout.split('\n').filter((l) => /ESTAB|CLOSE|SYN|FIN|LAST/.test(l)).length;
      if (killed === 0) ctx.violations.push(`ss -K closed no socket to port ${port}:\n${stdout}`);
      else ctx.notes.push(`ss -K closed ${killed} socket(s)`);
      const back = await within(rerouted, 20_000);
      if (back === undefined) ctx.violations.push('the cut link did not come back (no "rerouted") within 20 s');
      else ctx.restoredAt = back;
    },
  },
];
