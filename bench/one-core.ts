import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

const run = promisify(execFile);

/**
 * Round trips between processes on a small VM depend on whether the scheduler keeps both on one vCPU: a
 * pair on two vCPUs pays for waking an idle one, and which pairs end up together changes from run to run
 * (bench/README.md). Measured with every process of the bench confined to one CPU, the ratio shows the
 * per-call cost of Peerway itself and stays put between runs. `taskset` (util-linux) does the confining.
 */

/** Why one-core figures cannot be measured here, or undefined when they can. */
export async function oneCoreUnavailable(): Promise<string | undefined> {
  if (process.platform !== 'linux') return 'one-core figures need Linux (taskset)';
  try {
    await run('taskset', ['-p', String(process.pid)]);
    return undefined;
  } catch (err) {
    return `one-core figures skipped: taskset did not run (${(err as Error).message.split('\n')[0]}); it comes with util-linux`;
  }
}

/**
 * Runs `work` with every thread of the given processes confined to CPU 0, then gives each process the
 * affinity it had, also when `work` fails. Processes must not be started meanwhile: they would inherit the
 * confinement from the bench process.
 */
export async function onOneCore<T>(pids: number[], work: () => Promise<T>): Promise<T> {
  const saved = new Map<number, string>();
  try {
    for (const pid of pids) {
      const { stdout } = await run('taskset', ['-p', String(pid)]);
      const mask = /mask:\s*([0-9a-f]+)/i.exec(stdout)?.[1];
      if (!mask) throw new Error(`cannot read the CPU affinity of process ${pid} from "${stdout.trim()}"`);
      saved.set(pid, mask);
      await run('taskset', ['-a', '-p', '1', String(pid)]);
    }
    return await work();
  } finally {
    for (const [pid, mask] of saved) await run('taskset', ['-a', '-p', mask, String(pid)]).catch(() => undefined);
  }
}
