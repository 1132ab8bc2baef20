#!/usr/bin/env node
// The long fuzz run (issue "Hardening"): node scripts/fuzz.mjs [--cases N] [--seed S] [--minutes M]
// [--concurrency C] [--max-restarts R] [--targets frames,client,…] [--replay TARGET:BATCH:INDEX[-LAST]].
// Defaults: 100,000 cases, a random seed (printed), at most 20 minutes (about 6 without crashes: each crash
// costs a restart of both processes). Builds nothing: run `npm run build` first (the server and runner are
// the built dist/). Exits 1 on any crash, hang, leak or good-client failure.
import { parseArgs } from 'node:util';
import { boundedRun } from './bounded-run.mjs';

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
boundedRun('test/fuzz/fuzz-main.ts', values, `fuzz (seed ${values.seed})`);
