import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { PeerwayError } from '../errors.js';

/** Absolute path of bin/peerway in this checkout/package. */
export const PEERWAY_BIN = fileURLToPath(new URL('../../bin/peerway', import.meta.url));

export interface PeerwayProcess {
  child: ChildProcess;
  /** Everything written to stdout/stderr so far (kept for assertions and failure reports). */
  stdout(): string;
  stderr(): string;
  /** Resolves with the first match of `pattern` in stdout (or stderr with `stream: 'stderr'`), past or future. */
  waitFor(pattern: RegExp, options?: { timeoutMs?: number; stream?: 'stdout' | 'stderr' }): Promise<RegExpMatchArray>;
  /** Resolves with the exit code (or the signal name) once the process ended. */
  exited: Promise<number | NodeJS.Signals>;
  /** SIGTERM, then SIGKILL after a grace period; resolves when the process is gone. */
  stop(graceMs?: number): Promise<number | NodeJS.Signals>;
}

/**
 * Starts `peerway <args>` as a real child process (the demo and the integration tests use this), keeping its
 * output and letting the caller wait for a line such as `listening …` with a timeout instead of sleeping.
 */
/** Children still running; killed if this process exits without stopping them (no orphans). */
const running = new Set<ChildProcess>();
process.once('exit', () => {
  for (const c of running) c.kill('SIGKILL');
});

export interface StartOptions {
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  ownProcessGroup?: boolean;
  /** A command that runs the process for us, e.g. `['ip', 'netns', 'exec', NAME]` (it must exec, not fork). */
  prefix?: string[];
  /** A node script to run instead of `peerway` (given `args`). */
  script?: string;
}

export function startPeerway(args: string[], options: StartOptions = {}): PeerwayProcess {
  const argv = [process.execPath, options.script ?? PEERWAY_BIN, ...args];
  const [file, ...rest] = [...(options.prefix ?? []), ...argv];
  const child = spawn(file, rest, {
    env: { ...process.env, PEERWAY_LOG_FORMAT: 'pretty', ...options.env },
    cwd: options.cwd,
    stdio: ['ignore', 'pipe', 'pipe'],
    // In a group of its own, a child does not get the terminal's Ctrl-C: its parent stops it, in order.
    detached: options.ownProcessGroup === true,
  });
  const out = { stdout: '', stderr: '' };
  const waiters: { stream: 'stdout' | 'stderr'; pattern: RegExp; resolve: (m: RegExpMatchArray) => void }[] = [];
  const feed = (stream: 'stdout' | 'stderr') => (chunk: Buffer) => {
    out[stream] += chunk.toString('utf8');
    for (const w of [...waiters]) {
      if (w.stream !== stream) continue;
      const m = out[stream].match(w.pattern);
      if (m) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve(m);
      }
    }
  };
  child.stdout.on('data', feed('stdout'));
  child.stderr.on('data', feed('stderr'));
  running.add(child);
  const exited = new Promise<number | NodeJS.Signals>((resolve) =>
    child.once('exit', (code, signal) => {
      running.delete(child);
      resolve(code ?? signal ?? 0);
    }),
  );
  let ended = false;
  void exited.then(() => (ended = true));

  return {
    child,
    stdout: () => out.stdout,
    stderr: () => out.stderr,
    exited,
    waitFor(pattern, { timeoutMs = 15_000, stream = 'stdout' } = {}) {
      const m = out[stream].match(pattern);
      if (m) return Promise.resolve(m);
      return new Promise((resolve, reject) => {
        const waiter = { stream, pattern, resolve: (x: RegExpMatchArray) => (clearTimeout(timer), resolve(x)) };
        const fail = (why: string) => {
          const i = waiters.indexOf(waiter);
          if (i >= 0) waiters.splice(i, 1);
          clearTimeout(timer);
          reject(new PeerwayError('TIMEOUT', `peerway ${args[0]}: ${why} waiting for ${pattern}\n--- stdout:\n${out.stdout}\n--- stderr:\n${out.stderr}`));
        };
        const timer = setTimeout(() => fail(`no match within ${timeoutMs} ms`), timeoutMs);
        waiters.push(waiter);
        void exited.then((code) => {
          if (waiters.includes(waiter)) fail(`exited (${code}) before a match`);
        });
      });
    },
    async stop(graceMs = 3000) {
      if (!ended) {
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
        const code = await exited;
        clearTimeout(timer);
        return code;
      }
      return exited;
    },
  };
}
