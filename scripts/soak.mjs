#!/usr/bin/env node
// The soak run of the fault matrix (issue "Recovery", point 6):
//   node scripts/soak.mjs [--rounds N] [--minutes M] [--only fault,…] [--pace-ms P]
// Defaults: 3 rounds of every fault, at most 5 minutes, a 1 ms pause between the load's `record` calls
// (0 saturates a 2-core machine). `npm run soak` builds first: the server, runner and watch processes are
// the built dist/. Prints a table and exits 1 on any violated check.
import { parseArgs } from 'node:util';
import { boundedRun } from './bounded-run.mjs';

const { values } = parseArgs({
  options: {
    rounds: { type: 'string', default: '3' },
    minutes: { type: 'string', default: '5' },
    only: { type: 'string' },
    'pace-ms': { type: 'string' },
  },
});
boundedRun('test/soak/soak-main.ts', values, 'soak');
