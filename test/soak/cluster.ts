import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { startPeerway, type PeerwayProcess } from '../../src/cli/peerway-process.js';
import { fixture } from '../helpers/harness.js';

/** The service every fault run uses: `record` (journaled), `bump` (counter `n` + event `bumped`), `echo`. */
export const KEEPER = fixture('recovery', 'keeper.xml');

/** Short keepalives on every peer, so a stopped process is noticed within about a second. */
export const KEEPALIVE_MS = 500;
export const KEEPALIVE_TIMEOUT_MS = 500;
const KEEPALIVE_ARGS = ['--keepalive', String(KEEPALIVE_MS), '--keepalive-timeout', String(KEEPALIVE_TIMEOUT_MS)];

/**
 * The real processes of one fault run: a server on 127.0.0.1 and a runner hosting Keeper (its journal in
 * `env.KEEPER_JOURNAL`), plus whatever else the fault starts. Every process started here is stopped by
 * `stopAll()`, stopped ones (SIGSTOP) included.
 */
export class Cluster {
  server!: PeerwayProcess;
  serverUrl = '';
  serverPort = 0;
  runner!: PeerwayProcess;
  /**
   * Which runner process this is (1 for the first): a new one counts `n` from zero again, so events and
   * bump results are told apart by (epoch, n).
   */
  epoch = 0;
  private readonly started: PeerwayProcess[] = [];

  constructor(private readonly runnerEnv: NodeJS.ProcessEnv) {}

  /** Starts the server, on `url` when given (a restart on the same port), else on an ephemeral port. */
  async startServer(url?: string): Promise<PeerwayProcess> {
    const proc = this.spawn(['server', '--listen', url ?? 'tcp://127.0.0.1:0', ...KEEPALIVE_ARGS]);
    const m = await proc.waitFor(/listening connect\.bearer\.tcp 127\.0\.0\.1:(\d+)/);
    this.server = proc;
    this.serverPort = Number(m[1]);
    this.serverUrl = `tcp://127.0.0.1:${this.serverPort}`;
    return proc;
  }

  /** Starts a runner (a new epoch) and waits until it registered. */
  async startRunner(): Promise<PeerwayProcess> {
    this.epoch++;
    const proc = this.spawn(['runner', '--server', this.serverUrl, ...KEEPALIVE_ARGS, KEEPER], this.runnerEnv);
    await proc.waitFor(/^registered .*$/m);
    this.runner = proc;
    return proc;
  }

  /** Starts another `peerway …` process, stopped with the others. */
  spawn(args: string[], env: NodeJS.ProcessEnv = {}): PeerwayProcess {
    const proc = startPeerway(args, { env });
    this.started.push(proc);
    return proc;
  }

  /** The end of each process's stderr (`server#1`, `runner#2`, …), for a failure report. */
  logs(chars = 3000): Record<string, string> {
    const count: Record<string, number> = {};
    const out: Record<string, string> = {};
    for (const p of this.started) {
      const role = p.child.spawnargs[2] ?? '?';
      count[role] = (count[role] ?? 0) + 1;
      out[`${role}#${count[role]}`] = p.stderr().slice(-chars);
    }
    return out;
  }

  /** Stops every process (SIGCONT first, so a stopped one can take its SIGTERM), bounded. */
  async stopAll(): Promise<void> {
    await Promise.all(
      this.started.map((p) => {
        if (p.child.exitCode === null && p.child.signalCode === null) p.child.kill('SIGCONT');
        return p.stop(1000);
      }),
    );
  }
}

/** `promise`'s value, or `undefined` after `ms`; the timer goes with it (no process kept alive). */
export async function within<T>(promise: Promise<T>, ms: number): Promise<T | undefined> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<undefined>((resolve) => (timer = setTimeout(() => resolve(undefined), ms)));
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** SIGKILL, and resolves once the process is gone (bounded). */
export async function killHard(proc: PeerwayProcess): Promise<void> {
  proc.child.kill('SIGKILL');
  await within(proc.exited, 5000);
}

/**
 * Resolves with the time (performance.now()) at which `pattern` matched once more than it had when this
 * was called, in the process's stdout or stderr; rejects after `timeoutMs`.
 */
export async function nextMatch(proc: PeerwayProcess, pattern: RegExp, stream: 'stdout' | 'stderr', timeoutMs: number): Promise<number> {
  const global = new RegExp(pattern.source, pattern.flags.includes('g') ? pattern.flags : `${pattern.flags}g`);
  const count = () => (stream === 'stdout' ? proc.stdout() : proc.stderr()).match(global)?.length ?? 0;
  const before = count();
  const deadline = performance.now() + timeoutMs;
  while (count() <= before) {
    if (performance.now() > deadline) throw new Error(`no new ${pattern} on ${stream} within ${timeoutMs} ms`);
    await sleep(20);
  }
  return performance.now();
}
