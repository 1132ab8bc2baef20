import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { onOneCore, oneCoreUnavailable } from '../../bench/one-core.js';

/** The CPU affinity mask of a process as taskset prints it (hex, no 0x). */
function mask(pid: number): string {
  return /mask:\s*([0-9a-f]+)/i.exec(execFileSync('taskset', ['-p', String(pid)], { encoding: 'utf8' }))![1];
}

test('onOneCore confines processes to CPU 0 while the work runs and gives their affinity back, also when it fails', async (t) => {
  if (process.platform !== 'linux') return t.skip('taskset is Linux only');
  assert.equal(await oneCoreUnavailable(), undefined, 'taskset (util-linux) should be installed on Linux');
  const child = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 60_000)'], { stdio: 'ignore' });
  t.after(() => child.kill());
  const pid = child.pid!;
  const before = mask(pid);

  const seen = await onOneCore([pid], () => Promise.resolve(mask(pid)));
  assert.equal(seen, '1');
  assert.equal(mask(pid), before);

  await assert.rejects(
    onOneCore([pid], () =>
      Promise.resolve().then(() => {
        assert.equal(mask(pid), '1');
        throw new Error('round failed');
      }),
    ),
    /round failed/,
  );
  assert.equal(mask(pid), before, 'the affinity comes back after a failed round too');
});
