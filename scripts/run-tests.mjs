#!/usr/bin/env node
// Runs every test file with node's test runner. Node 20 does not expand globs for --test, so the files are
// listed here. TypeScript tests run through tsx; the processes they spawn use the built dist/ (npm test
// builds first, see "pretest").
import { spawn } from 'node:child_process';
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

// Files run in the order of the substrings that select them (alphabetically within one), and node starts
// them in that order: `npm run mutate` names the quick in-process tests first, so that with
// PEERWAY_TEST_BAIL a mutant they catch stops the run before the slow process-spawning files get going.
const rank = (f) => (only.length === 0 ? 0 : only.findIndex((o) => f.includes(o)));
const files = find(path.join(root, 'test'))
  .filter((f) => rank(f) >= 0)
  .sort((a, b) => rank(a) - rank(b) || (a < b ? -1 : a > b ? 1 : 0));
if (files.length === 0) {
  console.error('no test files found');
  process.exit(1);
}
// Integration tests mostly wait on sockets and child processes, so a little more parallelism than cores pays off.
// The timeout (per test, and per file: node counts a file as a test) only catches a hang: every wait in the
// tests has its own deadline, and a busy machine can make a long file (the fuzz run, the quick bench) take
// minutes. It must not turn a slow machine into a red run.
const concurrency = process.env.PEERWAY_TEST_CONCURRENCY ?? '3';
const args = ['--import', 'tsx', '--test', `--test-concurrency=${concurrency}`, '--test-reporter=spec', '--test-reporter-destination=stdout', '--test-timeout=600000'];

// PEERWAY_TEST_BAIL=1 (for `npm run mutate`): stop at the first failing test. Node's runner holds back the
// report of a file until every file before it has finished, so one runner for all files would notice a quick
// file's failure only after the slow files started beside it. Here each file gets a runner of its own (the
// same concurrency), in a process group of its own so that stopping it also stops the servers it spawned.
if (process.env.PEERWAY_TEST_BAIL === '1') {
  const { BAIL_MARKER } = await import('./bail-reporter.mjs');
  const reporter = new URL('./bail-reporter.mjs', import.meta.url).href;
  const running = new Set();
  let failed = false;
  const stopAll = () => {
    for (const child of running) {
      try {
        process.kill(-child.pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
  };
  const runFile = (file) =>
    new Promise((resolve) => {
      const child = spawn(process.execPath, [...args, `--test-reporter=${reporter}`, '--test-reporter-destination=stderr', file], {
        stdio: ['ignore', 'inherit', 'pipe'],
        cwd: root,
        detached: true,
      });
      running.add(child);
      let pending = '';
      child.stderr.on('data', (chunk) => {
        pending += chunk.toString('utf8');
        const lines = pending.split('\n');
        pending = lines.pop() ?? '';
        for (const line of lines) {
          if (!line.startsWith(BAIL_MARKER)) {
            process.stderr.write(`${line}\n`);
          } else if (!failed) {
            failed = true;
            process.stderr.write(`stopping at the first failure (PEERWAY_TEST_BAIL=1): ${line.slice(BAIL_MARKER.length).trim()}\n`);
            stopAll();
          }
        }
      });
      child.on('exit', (code) => {
        running.delete(child);
        // A file that failed without a failing test (a crash, a syntax error) fails the run as well.
        if (code !== 0 && !failed) {
          failed = true;
          process.stderr.write(`stopping: ${path.relative(root, file)} exited with ${code}\n`);
          stopAll();
        }
        resolve();
      });
    });
  // A stop from outside (Ctrl-C, Stryker's timeout) takes the test processes with it.
  for (const signal of ['SIGINT', 'SIGTERM']) {
    process.on(signal, () => {
      stopAll();
      process.exit(1);
    });
  }
  const queue = [...files];
  const worker = async () => {
    while (!failed && queue.length > 0) await runFile(queue.shift());
  };
  await Promise.all(Array.from({ length: Number(concurrency) }, worker));
  process.exit(failed ? 1 : 0);
}

const child = spawn(process.execPath, [...args, ...files], { stdio: 'inherit', cwd: root });
// A stop from outside (Ctrl-C) takes the test processes with it.
for (const signal of ['SIGINT', 'SIGTERM']) {
  process.on(signal, () => {
    try {
      process.kill(child.pid, 'SIGKILL');
    } catch {
      // already gone
    }
    process.exit(1);
  });
}
child.on('exit', (code) => process.exit(code ?? 1));
