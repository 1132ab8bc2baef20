#!/usr/bin/env node
// The long fuzz run (issue "Hardening"): node scripts/fuzz.mjs [--cases N] [--seed S] [--minutes M]
// [--concurrency C] [--max-restarts R] [--targets frames,client,…] [--replay TARGET:BATCH:INDEX[-LAST]].
// Defaults: 100,000 cases, a random seed (printed), at most 20 minutes (about 6 without crashes: each crash
// costs a restart of both processes). Builds nothing: run `npm run build` first (the server and runner are
// the built dist/). Exits 1 on any crash, hang, leak or good-client failure.
import { spawn } from 'node:child_process';
import path from 'node:path';
import { parseArgs } from 'node:util';

const root = path.resolve(new URL('..', import.meta.url).pathname);
const { values } = parseArgs({
  options: {
    cases: { type: 'string', default: '100000' },
    seed: { type: 'string', default: String(Math.floor(Math.random() * 2 ** 31)) },
    minutes: { type: 'string', default: '20' },
    concurrency: { type: 'string', default: '4' },
    'max-restarts': { type: 'string', default: '300' },
    targets: { type: 'string' },
    replay: { type: 'string' },
  },
});
const args = Object.entries(values).flatMap(([k, v]) => (v === undefined ? [] : [`--${k}`, v]));
// Its own process group, so that stopping it also stops the server and runner it started (a killed node
// process runs no exit handlers to do that itself).
const child = spawn(process.execPath, ['--import', 'tsx', path.join(root, 'test', 'fuzz', 'fuzz-main.ts'), ...args], { stdio: 'inherit', cwd: root, detached: true });
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
  console.error(`fuzz: still running ${hardLimitMs / 60_000} minutes after the start; killed (seed ${values.seed})`);
  stopAll('SIGKILL');
}, hardLimitMs);
child.on('exit', (code, signal) => {
  clearTimeout(killer);
  process.exit(code ?? (signal ? 1 : 0));
});
