import { test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { example, fixture, ROOT, runPeerway, startRunner, startServer } from '../helpers/harness.js';

/**
 * The README's tutorial, run as written (on a free port instead of 2002, so it can run beside other
 * tests): every output it promises is what the commands print.
 */
const readme = readFileSync(path.join(ROOT, 'README.md'), 'utf8');
const tutorial = readme.slice(readme.indexOf('## Tutorial'), readme.indexOf('## Concepts'));

test("the README tutorial prints what it says: watch's first lines, the calls' results, check on the seed", async (t) => {
  const server = await startServer(t);
  const runner = await startRunner(t, server.url, [example('climate.xml')]);
  assert.match(runner.stdout(), /^registered Climate with tcp:\/\/127\.0\.0\.1:\d+\n$/, 'the runner line the tutorial quotes');
  const on = ['--server', server.url];

  const shown = /press Ctrl-C:\n\n```\n([\s\S]*?)```/.exec(tutorial)![1].trim().split('\n');
  assert.equal(shown.length, 3);
  const watch = await runPeerway(['watch', ...on, 'Climate', '--count', String(shown.length)]);
  assert.equal(watch.code, 0, watch.stderr);
  assert.deepEqual(watch.stdout.trim().split('\n'), shown);

  const results = /They print `([^`]+)`, `([^`]+)` and `([^`]+)`/.exec(tutorial)!.slice(1);
  const calls = [
    ['setTemperature', 'zone=1', 'celsius=31.5'],
    ['getTemperature', 'zone=1'],
    ['setTemperature', 'zone=1', 'celsius=50'],
  ];
  for (const [i, args] of calls.entries()) {
    const call = await runPeerway(['call', ...on, 'Climate', ...args]);
    assert.equal(call.stdout.trim(), results[i], `call ${args.join(' ')}`);
  }
  assert.match(tutorial, /`reset` returns nothing, so `call` prints `null`/);
  assert.equal((await runPeerway(['call', ...on, 'Climate', 'reset'])).stdout.trim(), 'null');

  const check = await runPeerway(['check', example('climate.xml')]);
  assert.equal(check.code, 0, check.stdout + check.stderr);
  const dir = mkdtempSync(path.join(tmpdir(), 'peerway-tutorial-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const seed = path.join(dir, 'seed.xml');
  copyFileSync(fixture('definitions', 'seed-forked-runtime-data.xml'), seed);
  assert.match(tutorial, /The first `check` lists four `file:line:col` errors and exits 2/);
  const broken = await runPeerway(['check', seed]);
  assert.equal(broken.code, 2);
  assert.equal(broken.stdout.split('\n').filter((l) => /^\S+:\d+:\d+: /.test(l)).length, 4, broken.stdout);
  const fixed = await runPeerway(['check', '--fix', seed]);
  assert.match(fixed.stdout, /fixed \d+ typographic quote\(s\)/);
  assert.equal((readFileSync(seed, 'utf8').match(/bearer="connect\.bearer\.tcp>/g) ?? []).length, 2, 'the two unclosed values are left for the user');
});
