import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, rm, symlink, mkdir, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { ROOT } from '../helpers/harness.js';

/** The browser client is exported by the package as `peerway/browser` (issue #13, point 5). */

const exec = promisify(execFile);

test('`peerway/browser` resolves to web/peerway-client.js for a project that depends on peerway', async (t) => {
  // A project with peerway in its node_modules (a link to this checkout, as npm install from a path makes).
  const project = await mkdtemp(path.join(tmpdir(), 'peerway-browser-export-'));
  t.after(() => rm(project, { recursive: true, force: true }));
  await mkdir(path.join(project, 'node_modules'));
  await symlink(ROOT, path.join(project, 'node_modules', 'peerway'), 'dir');
  await writeFile(path.join(project, 'package.json'), JSON.stringify({ name: 'uses-peerway', type: 'module', dependencies: { peerway: '*' } }));
  const script = "console.log(import.meta.resolve('peerway/browser')); const m = await import('peerway/browser'); console.log(Object.keys(m).sort().join(','));";
  const { stdout } = await exec(process.execPath, ['--input-type=module', '--preserve-symlinks', '-e', script], { cwd: project, timeout: 30_000 });
  const [resolved, exports] = stdout.trim().split('\n');
  assert.equal(resolved, pathToFileURL(path.join(project, 'node_modules', 'peerway', 'web', 'peerway-client.js')).href);
  for (const name of ['connect', 'PeerwayError']) assert.ok(exports.split(',').includes(name), `peerway/browser exports ${name} (it exports ${exports})`);
});

test('the packed package holds the browser client and its types', async () => {
  const { stdout } = await exec('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], { cwd: ROOT, timeout: 60_000, maxBuffer: 16 * 1024 * 1024 });
  const files = (JSON.parse(stdout) as { files: { path: string }[] }[])[0].files.map((f) => f.path);
  assert.ok(files.includes('web/peerway-client.js'), 'web/peerway-client.js is in the package');
  assert.ok(files.includes('web/peerway-client.d.ts'), 'web/peerway-client.d.ts is in the package');
});
