import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { PeerwayError } from '../src/errors.js';

/** The repository's bench/ folder (this module's own): service fixtures, raw baseline peers, tools, results. */
export const BENCH_DIR = fileURLToPath(new URL('./', import.meta.url));
/** A path inside bench/. */
export const benchFile = (...parts: string[]): string => path.join(BENCH_DIR, ...parts);

/**
 * A raw baseline peer: a small plain .mjs script from bench/peers run with this Node binary. It prints
 * `ready …` when listening, takes commands on stdin (publish, send), answers on stdout, and exits when its
 * stdin closes, so it never outlives the bench.
 */
export class RawPeer {
  private out = '';
  private err = '';
  private waiters: { pattern: RegExp; from: number; resolve: (m: RegExpMatchArray) => void }[] = [];
  readonly exited: Promise<number | string>;

  private constructor(
    readonly name: string,
    readonly child: ChildProcess,
  ) {
    child.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
      this.out += chunk;
      for (const w of [...this.waiters]) {
        const m = this.out.slice(w.from).match(w.pattern);
        if (m) {
          this.waiters.splice(this.waiters.indexOf(w), 1);
          w.resolve(m);
        }
      }
    });
    child.stderr!.setEncoding('utf8').on('data', (chunk: string) => (this.err += chunk));
    // The bench may outlive a peer that crashed; a write to its closed stdin must not crash the bench.
    child.stdin!.on('error', () => undefined);
    this.exited = new Promise((resolve) => child.once('exit', (code, signal) => resolve(code ?? signal ?? 0)));
  }

  /** Starts bench/peers/<script> with `args` and waits for its `ready …` line; resolves with the peer and that line's word. */
  static async start(script: string, args: string[] = [], timeoutMs = 10_000): Promise<{ peer: RawPeer; ready: string }> {
    const child = spawn(process.execPath, [benchFile('peers', script), ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
    const peer = new RawPeer(script, child);
    try {
      const m = await peer.waitFor(/^ready ?(\S*)$/m, timeoutMs, 0);
      return { peer, ready: m[1] ?? '' };
    } catch (err) {
      await peer.stop();
      throw err;
    }
  }

  /** Sends one command line on stdin and waits for the answer matching `answer` (printed after the command). */
  async command(line: string, answer: RegExp, timeoutMs: number): Promise<RegExpMatchArray> {
    const from = this.out.length;
    const waiting = this.waitFor(answer, timeoutMs, from);
    this.child.stdin!.write(line + '\n');
    return waiting;
  }

  /** Writes a command without waiting for its answer (use `waitFor` with the offset from `mark()`). */
  send(line: string): void {
    this.child.stdin!.write(line + '\n');
  }

  mark(): number {
    return this.out.length;
  }

  waitFor(pattern: RegExp, timeoutMs: number, from: number): Promise<RegExpMatchArray> {
    const m = this.out.slice(from).match(pattern);
    if (m) return Promise.resolve(m);
    return new Promise((resolve, reject) => {
      const waiter = {
        pattern,
        from,
        resolve: (x: RegExpMatchArray) => {
          clearTimeout(timer);
          resolve(x);
        },
      };
      const timer = setTimeout(() => {
        this.waiters.splice(this.waiters.indexOf(waiter), 1);
        reject(new PeerwayError('TIMEOUT', `raw peer ${this.name}: no ${pattern} within ${timeoutMs} ms\n--- stderr:\n${this.err}`));
      }, timeoutMs);
      this.waiters.push(waiter);
      void this.exited.then((code) => {
        if (!this.waiters.includes(waiter)) return;
        this.waiters.splice(this.waiters.indexOf(waiter), 1);
        clearTimeout(timer);
        reject(new PeerwayError('CONNECTION_CLOSED', `raw peer ${this.name} exited (${code}) before ${pattern}\n--- stderr:\n${this.err}`));
      });
    });
  }

  get pid(): number {
    return this.child.pid ?? -1;
  }

  /** Closes stdin (the peer exits by itself), then SIGKILL if it is still there after a moment. */
  async stop(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    this.child.stdin!.end();
    const timer = setTimeout(() => this.child.kill('SIGKILL'), 1000);
    await this.exited;
    clearTimeout(timer);
  }
}
