// Runs a long TypeScript entry point (the fuzz run, the soak) in a process group of its own, so that
// stopping it also stops the servers, runners and watches it started (a killed node process runs no exit
// handlers to do that itself). The run stops itself at its time budget; `minutes` + 2 is the hard bound if
// something in it does not. Exits with the run's code.
import { spawn } from 'node:child_process';
import path from 'node:path';

const root = path.resolve(new URL('..', import.meta.url).pathname);

/** `values`: parsed options, passed on as `--name value`; `label`: how the run names itself in a kill message. */
export function boundedRun(entry, values, label) {
  const args = Object.entries(values).flatMap(([k, v]) => (v === undefined ? [] : [`--${k}`, v]));
  const child = spawn(process.execPath, ['--import', 'tsx', path.join(root, entry), ...args], { stdio: 'inherit', cwd: root, detached: true });
  const stopAll = (signal) => {
    try {
      process.kill(-child.pid, signal);
    } catch {
      // gone already
    }
  };
  process.on('SIGINT', () => stopAll('SIGTERM'));
  process.on('SIGTERM', () => stopAll('SIGTERM'));
  const hardLimitMs = (Number(values.minutes) + 2) * 60_000;
  const killer = setTimeout(() => {
    console.error(`${label}: still running ${hardLimitMs / 60_000} minutes after the start; killed`);
    stopAll('SIGKILL');
  }, hardLimitMs);
  child.on('exit', (code, signal) => {
    clearTimeout(killer);
    // Whatever the run left behind in its group (a stopped process, say) goes with it.
    stopAll('SIGKILL');
    process.exit(code ?? (signal ? 1 : 0));
  });
}
