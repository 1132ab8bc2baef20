import type { TestContext } from 'node:test';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { startPeerway, type PeerwayProcess } from '../../src/cli/peerway-process.js';
import { connect, type PeerwayClient, type ClientOptions } from '../../src/client/client.js';

/** Repository root, for fixtures and examples. */
export const ROOT = path.resolve(fileURLToPath(new URL('../..', import.meta.url)));
export const fixture = (...parts: string[]) => path.join(ROOT, 'test', 'fixtures', ...parts);
export const example = (name: string) => path.join(ROOT, 'examples', name);

export interface RunningServer {
  proc: PeerwayProcess;
  /** `tcp://127.0.0.1:PORT` */
  url: string;
  port: number;
}

/**
 * Starts a real `peerway server` on an ephemeral port and stops it when the test ends.
 * Extra args are appended (e.g. `--service FILE.xml`).
 */
export async function startServer(t: TestContext, args: string[] = [], env: NodeJS.ProcessEnv = {}): Promise<RunningServer> {
  const proc = startPeerway(['server', '--listen', 'tcp://127.0.0.1:0', ...args], { env });
  t.after(() => proc.stop());
  const m = await proc.waitFor(/listening connect\.bearer\.tcp 127\.0\.0\.1:(\d+)/);
  const port = Number(m[1]);
  return { proc, url: `tcp://127.0.0.1:${port}`, port };
}

/** Starts a real `peerway runner` for the given definition files and waits until it registered. */
export async function startRunner(t: TestContext, serverUrl: string, files: string[], args: string[] = [], env: NodeJS.ProcessEnv = {}): Promise<PeerwayProcess> {
  const proc = startPeerway(['runner', '--server', serverUrl, ...args, ...files], { env });
  t.after(() => proc.stop());
  await proc.waitFor(/^registered .*$/m);
  return proc;
}

/** Connects a client with short timeouts (so a broken test fails fast) and closes it when the test ends. */
export async function connectClient(t: TestContext, url: string, options: ClientOptions = {}): Promise<PeerwayClient> {
  const client = await connect(url, { timeoutMs: 5000, connectTimeoutMs: 5000, ...options });
  t.after(() => client.close());
  return client;
}

/** Runs `peerway …` to completion and returns its exit code and output. */
export async function runPeerway(args: string[], options: { timeoutMs?: number; env?: NodeJS.ProcessEnv } = {}): Promise<{ code: number | NodeJS.Signals; stdout: string; stderr: string }> {
  const proc = startPeerway(args, { env: options.env ?? {} });
  const timer = setTimeout(() => void proc.stop(), options.timeoutMs ?? 20_000);
  const code = await proc.exited;
  clearTimeout(timer);
  return { code, stdout: proc.stdout(), stderr: proc.stderr() };
}

/** Collects values pushed to a callback; `next(n)` waits (bounded) until n have arrived. */
export class Collector<T> {
  readonly items: T[] = [];
  private waiters: { n: number; resolve: () => void }[] = [];
  readonly push = (item: T): void => {
    this.items.push(item);
    this.waiters = this.waiters.filter((w) => (this.items.length >= w.n ? (w.resolve(), false) : true));
  };
  // The deadline only catches a hang: items that arrive end the wait at once, and a loaded 2-core machine
  // once took longer than 5 s to deliver three events (2026-12-01, under a mutation run and two test runs).
  async next(n: number, timeoutMs = 20_000): Promise<T[]> {
    if (this.items.length >= n) return this.items;
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`expected ${n} items within ${timeoutMs} ms, got ${this.items.length}: ${JSON.stringify(this.items)}`)), timeoutMs);
      this.waiters.push({ n, resolve: () => (clearTimeout(timer), resolve()) });
    });
    return this.items;
  }
}
