import { copyFile, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { TestContext } from 'node:test';

/**
 * A fixture whose local link listens on a fixed `/tmp/peerway-test-*.sock` path, copied (with its
 * implementation module, if it has one) into a directory of its own with a socket path of its own. Two test
 * runs on one machine (`npm run mutate` runs two mutants at a time, two checkouts run their tests) must not
 * share a socket: one run's unlink or runner then makes the other's test fail, or pass, for the wrong reason.
 */
export async function withOwnSocket(t: TestContext, file: string): Promise<{ file: string; socket: string }> {
  const xml = await readFile(file, 'utf8');
  const fixed = /\/tmp\/peerway-test-[a-z-]+\.sock/.exec(xml);
  if (!fixed) throw new Error(`${file} has no /tmp/peerway-test-*.sock path to replace`);
  const dir = await mkdtemp(path.join(tmpdir(), 'peerway-sock-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const socket = path.join(dir, 'link.sock');
  const copy = path.join(dir, path.basename(file));
  await writeFile(copy, xml.replaceAll(fixed[0], socket));
  const impl = file.replace(/\.xml$/, '.mjs');
  if (existsSync(impl)) await copyFile(impl, copy.replace(/\.xml$/, '.mjs'));
  return { file: copy, socket };
}
