import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { startPeerway, type PeerwayProcess } from '../../src/cli/peerway-process.js';
import { ROOT, runPeerway } from '../helpers/harness.js';
import { freePort, natsServerBinary } from '../helpers/nats-cluster.js';

/**
 * The README's "Scaling out" example, run as written, on free ports instead of its fixed ones (so it can
 * run beside other tests): three NATS nodes from examples/cluster/, three servers, a runner, and what
 * `services` and the calls print.
 */
const readme = readFileSync(path.join(ROOT, 'README.md'), 'utf8');
const section = readme.slice(readme.indexOf('## Scaling out'), readme.indexOf('## Errors'));

test('the README "Scaling out" example runs as written: every server lists both services and serves both', async (t) => {
  const script = /```sh\n([\s\S]*?)```/.exec(section)![1].trim().split('\n');
  const shownTable = /`"server"`\):\n\n```\n([\s\S]*?)```/.exec(section)![1].trim().split('\n');
  // Every fixed port of the example gets a free one, in the commands and in the NATS configurations.
  const ports = new Map<string, string>();
  for (const m of [...script.join('\n').matchAll(/127\.0\.0\.1:(\d{4})/g)]) if (!ports.has(m[1])) ports.set(m[1], '');
  for (const f of [1, 2, 3]) for (const m of readFileSync(path.join(ROOT, 'examples', 'cluster', `nats-${f}.conf`), 'utf8').matchAll(/127\.0\.0\.1:(\d{4})/g)) ports.set(m[1], '');
  for (const p of ports.keys()) ports.set(p, String(await freePort()));
  const rewrite = (text: string) => text.replace(/127\.0\.0\.1:(\d{4})\b/g, (_, p: string) => `127.0.0.1:${ports.get(p) ?? p}`);
  const dir = mkdtempSync(path.join(tmpdir(), 'peerway-scaling-'));
  const stops: (() => Promise<unknown>)[] = [];
  t.after(async () => {
    for (const stop of stops.reverse()) await stop();
    rmSync(dir, { recursive: true, force: true });
  });

  const outputs: string[] = [];
  for (const line of script) {
    const words = rewrite(line).replace(/\s*&$/, '').split(/\s+/);
    const background = line.trim().endsWith('&');
    if (words[0] === 'nats-server') {
      const conf = path.join(dir, path.basename(words[2]));
      writeFileSync(conf, rewrite(readFileSync(path.join(ROOT, words[2]), 'utf8')));
      const child = spawn(natsServerBinary(), ['-c', conf], { stdio: 'ignore' });
      const exited = new Promise((r) => child.once('exit', r));
      stops.push(async () => (child.kill('SIGKILL'), await exited));
      continue;
    }
    assert.equal(words[0], 'peerway', line);
    const args = words.slice(1).map((w) => (w.startsWith('examples/') ? path.join(ROOT, w) : w));
    if (background) {
      const proc: PeerwayProcess = startPeerway(args);
      stops.push(() => proc.stop());
      await proc.waitFor(args[0] === 'server' ? /^cluster \S+ joined/m : /^registered /m, { timeoutMs: 20_000 });
      if (args[0] === 'server') assert.match(proc.stderr(), /the cluster link is open/);
      continue;
    }
    // Foreground commands: the cluster may still be hearing of the services, so try (bounded) until they agree.
    let out = '';
    for (let i = 0; i < 50; i++) {
      const r = await runPeerway(args);
      out = r.stdout;
      if (r.code === 0 && (args[0] !== 'services' || out.trim().split('\n').length === shownTable.length)) break;
      await new Promise((r2) => setTimeout(r2, 200));
    }
    outputs.push(out.trim());
  }
  const [table, setTemperature, vin] = outputs;
  const normalize = (rows: string[]) => rows.map((r) => r.replace(/peerway-runner\/\d+/, 'peerway-runner/PID').replace(/\s+/g, ' ')).sort();
  assert.deepEqual(normalize(table.split('\n')), normalize(shownTable));
  assert.match(section, /the calls print `true` and the Vehicle's VIN/);
  assert.equal(setTemperature, 'true');
  assert.equal(vin, '"WPW0DEMO000000001"');
});
