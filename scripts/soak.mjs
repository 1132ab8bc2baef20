#!/usr/bin/env node
// The soak run of the fault matrix (issue "Recovery", point 6):
//   node scripts/soak.mjs [--rounds N] [--minutes M] [--only fault,…] [--pace-ms P]
// Defaults: 3 rounds of every fault, at most 5 minutes, a 1 ms pause between the load's `record` calls
// (0 saturates a 2-core machine). `npm run soak` builds first: the server, runner and watch processes are
// the built dist/. Prints a table and exits 1 on any violated check.
import { spawn } from 'node:child_process';
import path from 'node:path';
import { parseArgs } from 'node:util';

const root = path.resolve(new URL('..', import.meta.url).pathname);
const { values } = parseArgs({
  options: {
    rounds: { type: 'string', default: '3' },
    minutes: { type: 'string', default: '5' },
    only: { type: 'string' },
    'pace-ms': { type: 'string' },
  },
});
const args = Object.entries(values).flatMap(([k, v]) => (v === undefined ? [] : [`--${k}`, v]));
// Its own process group, so that stopping it also stops the servers, runners and watches it started (a
// killed node process runs no exit handlers to do that itself).
const child = spawn(process.execPath, ['--import', 'tsx', path.join(root, 'test', 'soak', 'soak-main.ts'), ...args], { stdio: 'inherit', cwd: root, detached: true });
const stopAll = (signal) => {
  try {
    process.kill(-child.pid, signal);
  } catch {
    // gone already
  }
};
process.on('SIGINT', () => stopAll('SIGTERM'));
process.on('SIGTERM', () => stopAll('SIGTERM'));
// The run stops itself at its time budget; this is the bound if something in it does not.
const hardLimitMs = (Number(values.minutes) + 2) * 60_000;
const killer = setTimeout(() => {
  console.error(`soak: still running ${hardLimitMs / 60_000} minutes after the start; killed`);
  stopAll('SIGKILL');
}, hardLimitMs);
child.on('exit', (code, signal) => {
  clearTimeout(killer);
  // Whatever the run left behind in its group (a stopped process, say) goes with it.
  stopAll('SIGKILL');
  process.exit(code ?? (signal ? 1 : 0));
});
