import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { execFileSync, spawn } from 'node:child_process';
import { ROOT } from '../helpers/harness.js';

/**
 * The bench is not a test (it asserts nothing about speed), but the suite must keep working: this runs
 * `npm run bench -- --quick` once as a real process (`node --import tsx bench/main.ts`, what the script
 * runs, minus its prebench build: npm test has just built dist/) and checks that every scenario produced
 * numbers, that the table was printed and that the JSON results carry the machine description.
 */

const SCENARIOS = ['direct-rtt', 'routed-rtt', 'grpc', 'pipelined', 'local', 'ssl', 'udp-events', 'fanout', 'slow-subscriber', 'codec', 'session-start', 'scale', 'server-cpu', 'policy', 'gateway'];

interface FigureJson {
  value: number | null;
  na?: string;
}
interface RowJson {
  id: string;
  peerway: FigureJson;
  baseline: FigureJson;
  ratio: number | null;
}
interface ScenarioJson {
  id: string;
  title: string;
  status: string;
  error?: string;
  rows: RowJson[];
}

// Its own deadline, past the runner's 120 s per test: this asserts that every scenario works, not how fast,
// and a machine busy with other test files (or a bench beside the suite) can make it take several minutes.
test('npm run bench -- --quick runs every scenario, prints the table and writes the JSON results', { timeout: 600_000 }, async (t) => {
  const dir = mkdtempSync(path.join(tmpdir(), 'peerway-bench-test-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const out = path.join(dir, 'quick.json');

  // About 60 s on a quiet 2-core machine; the bound stops a hung bench, not a slow one.
  const run = await runBench(['--quick', '--out', out], 540_000);
  assert.equal(run.code, 0, `bench exited with ${run.code}\n--- stdout:\n${run.stdout}\n--- stderr:\n${run.stderr}`);

  const report = JSON.parse(readFileSync(out, 'utf8')) as { quick: boolean; machine: Record<string, unknown>; scenarios: ScenarioJson[] };
  assert.equal(report.quick, true);
  for (const key of ['cpuModel', 'cores', 'node', 'os', 'date']) assert.ok(report.machine[key], `machine.${key} is missing`);
  assert.deepEqual(report.scenarios.map((s) => s.id), SCENARIOS);

  const isNumber = (x: unknown) => typeof x === 'number' && Number.isFinite(x);
  for (const s of report.scenarios) {
    assert.equal(s.status, 'ok', `scenario ${s.id} failed: ${s.error}`);
    assert.ok(s.rows.length > 0, `scenario ${s.id} has no rows`);
    for (const r of s.rows) {
      // A Peerway figure is a number, or n/a only because the route the client got was a server route.
      const p = r.peerway;
      assert.ok(isNumber(p.value) || (p.value === null && /^n\/a \(route /.test(p.na ?? '')), `${s.id}/${r.id}: Peerway figure ${p.value} (${p.na})`);
      if (r.baseline.value !== null) assert.ok(isNumber(r.baseline.value), `${s.id}/${r.id}: baseline is ${r.baseline.value}`);
    }
    assert.ok(s.rows.some((r) => isNumber(r.baseline.value) && isNumber(r.ratio)), `scenario ${s.id} has no measured ratio`);
    assert.ok(run.stdout.includes(s.title), `the table does not show "${s.title}"`);
  }
  assert.match(run.stdout, /scenario \/ comparison\s+Peerway\s+baseline\s+ratio\s+target\s+met/);

  // Round trips are measured a second time on one core where taskset exists (it comes with util-linux).
  for (const id of ['direct-rtt', 'routed-rtt', 'local', 'ssl']) {
    const scenario = report.scenarios.find((s) => s.id === id)! as ScenarioJson & { notes: string[] };
    const oneCore = scenario.rows.filter((r) => r.id.endsWith('-one-core'));
    if (process.platform === 'linux' && installed('taskset')) {
      assert.ok(oneCore.length > 0 && oneCore.every((r) => isNumber(r.baseline.value) && isNumber(r.ratio)), `${id}: one-core rows ${JSON.stringify(oneCore)}`);
    } else {
      assert.equal(oneCore.length, 0);
      assert.ok(scenario.notes.some((n) => /one-core figures/.test(n)), `${id}: no note says why one-core figures are missing`);
    }
  }

  // The outside references of the fan-out: measured when the broker is installed (CI installs both), and
  // otherwise named as skipped, never silently missing.
  const fanout = report.scenarios.find((s) => s.id === 'fanout')! as ScenarioJson & { notes: string[] };
  for (const [broker, suffix] of [['nats-server', 'nats'], ['mosquitto', 'mqtt']] as const) {
    const rows = fanout.rows.filter((r) => r.id.endsWith(`-vs-${suffix}`));
    if (installed(broker)) {
      assert.equal(rows.length, 3, `${broker} is installed: one row per subscriber count`);
      for (const r of rows) assert.ok(isNumber(r.baseline.value) && r.baseline.value! > 0, `${r.id}: ${broker} delivered ${r.baseline.value}`);
    } else {
      assert.equal(rows.length, 0);
      assert.ok(fanout.notes.some((n) => n.startsWith(`${broker}: skipped`)), `no note says ${broker} was skipped`);
    }
  }
});

/**
 * Runs bench/main.ts to completion as its own process and returns its exit code and output. Past
 * `timeoutMs` it gets SIGTERM (the bench stops the processes it started and exits 1), then SIGKILL.
 */
function runBench(args: string[], timeoutMs: number): Promise<{ code: number | NodeJS.Signals; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, ['--import', 'tsx', path.join(ROOT, 'bench', 'main.ts'), ...args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  let kill: NodeJS.Timeout | undefined;
  const term = setTimeout(() => {
    child.kill('SIGTERM');
    kill = setTimeout(() => child.kill('SIGKILL'), 3000);
  }, timeoutMs);
  return new Promise((resolve, reject) => {
    child.once('error', reject);
    child.once('close', (code, signal) => {
      clearTimeout(term);
      clearTimeout(kill);
      resolve({ code: code ?? signal ?? 1, stdout, stderr });
    });
  });
}

function installed(command: string): boolean {
  try {
    execFileSync('sh', ['-c', `command -v ${command}`], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}
