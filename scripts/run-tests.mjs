#!/usr/bin/env node
// Runs every test file with node's test runner. Node 20 does not expand globs for --test, so the files are
// listed here. TypeScript tests run through tsx; the processes they spawn use the built dist/ (npm test
// builds first, see "pretest").
import { spawnSync } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import path from 'node:path';

const root = path.resolve(new URL('..', import.meta.url).pathname);
const only = process.argv.slice(2); // optional: substrings selecting files

function find(dir) {
  return readdirSync(dir).flatMap((name) => {
    const p = path.join(dir, name);
    if (statSync(p).isDirectory()) return name === 'fixtures' ? [] : find(p);
    return /\.test\.ts$/.test(name) ? [p] : [];
  });
}

const files = find(path.join(root, 'test'))
  .filter((f) => only.length === 0 || only.some((o) => f.includes(o)))
  .sort();
if (files.length === 0) {
  console.error('no test files found');
  process.exit(1);
}
// Integration tests mostly wait on sockets and child processes, so a little more parallelism than cores pays off.
// The timeout (per test, and per file: node counts a file as a test) only catches a hang: every wait in the
// tests has its own deadline, and a busy machine can make a long file (the fuzz run, the quick bench) take
// minutes. It must not turn a slow machine into a red run.
const concurrency = process.env.PEERWAY_TEST_CONCURRENCY ?? '3';
const result = spawnSync(
  process.execPath,
  ['--import', 'tsx', '--test', `--test-concurrency=${concurrency}`, '--test-reporter=spec', '--test-timeout=600000', ...files],
  { stdio: 'inherit', cwd: root },
);
process.exit(result.status ?? 1);
