import type { TestContext } from 'node:test';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';

/** Debian installs nats-server in /usr/sbin, which is not on every user's PATH. */
export function natsServerBinary(): string {
  for (const p of ['/usr/sbin/nats-server', '/usr/bin/nats-server', '/usr/local/bin/nats-server']) if (existsSync(p)) return p;
  return 'nats-server';
}

/** A free TCP port on 127.0.0.1 (bound, then released for the process that will use it). */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}

export interface NatsNode {
  name: string;
  /** `nats://127.0.0.1:PORT`: where clients connect. */
  url: string;
  child: ChildProcess;
  log(): string;
  /** SIGKILL, no goodbye: the other nodes see the route drop. */
  kill(): Promise<void>;
}

export interface NatsCluster {
  nodes: NatsNode[];
  /** Every client URL, comma-separated (`--cluster` value). */
  urls: string;
  /** Kills every node and removes the temp dir. */
  stop(): Promise<void>;
}

/** `what` may be a function: it is read when the wait gives up (a log as it is then). */
async function waitUntil(what: string | (() => string), check: () => Promise<boolean> | boolean, timeoutMs = 15_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return;
    if (Date.now() > end) throw new Error(`nats cluster: ${typeof what === 'function' ? what() : what} within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/**
 * Starts a real nats-server cluster of `size` nodes on 127.0.0.1 (routes between all of them, a temp dir
 * for the configuration) and waits until every node routes to every other; everything is killed and
 * removed when the test ends. `auth` adds a user and password every client must give.
 */
/** What every node requires of its clients: a user and password, or TLS (with client certificates when `verify`). */
export interface NatsAccess {
  auth?: { user: string; password: string };
  tls?: { certificate: string; key: string; ca: string; verify: boolean };
}

export async function startNatsCluster(t: TestContext, size = 3, options: NatsAccess = {}): Promise<NatsCluster> {
  const holder: { stop?: () => Promise<void> } = {};
  t.after(() => holder.stop?.());
  return launchNatsCluster(size, options, (stop) => (holder.stop = stop));
}

/**
 * startNatsCluster without a test (the bench): `onStop` gets the cleanup as soon as the first process is
 * started, so a failure half-way still cleans up; `stop()` on the result does the same.
 */
export async function launchNatsCluster(size = 3, options: NatsAccess = {}, onStop: (stop: () => Promise<void>) => void = () => undefined): Promise<NatsCluster> {
  // The ports are picked free and then released for nats-server, so another process can take one in
  // between (a few times a day with the whole suite running): such a set-up starts again on new ports.
  for (let attempt = 1; ; attempt++) {
    try {
      return await launchOnce(size, options, onStop);
    } catch (err) {
      if (!(err instanceof PortTaken) || attempt === 3) throw err;
    }
  }
}

class PortTaken extends Error {}

async function launchOnce(size: number, options: NatsAccess, onStop: (stop: () => Promise<void>) => void): Promise<NatsCluster> {
  const dir = mkdtempSync(path.join(tmpdir(), 'peerway-nats-'));
  const ports = [];
  for (let i = 0; i < size; i++) ports.push({ client: await freePort(), route: await freePort(), monitor: await freePort() });
  const nodes: NatsNode[] = [];
  const stop = async () => {
    await Promise.all(nodes.map((n) => n.kill()));
    rmSync(dir, { recursive: true, force: true });
  };
  onStop(stop);
  for (let i = 0; i < size; i++) {
    const p = ports[i];
    const routes = ports.filter((_, j) => j !== i).map((o) => `"nats-route://127.0.0.1:${o.route}"`);
    let auth = options.auth ? `authorization { user: "${options.auth.user}", password: "${options.auth.password}" }\n` : '';
    if (options.tls) auth += `tls {\n  cert_file: "${options.tls.certificate}"\n  key_file: "${options.tls.key}"\n  ca_file: "${options.tls.ca}"\n  verify: ${options.tls.verify}\n}\n`;
    const conf = `server_name: n${i + 1}\nlisten: 127.0.0.1:${p.client}\nhttp: 127.0.0.1:${p.monitor}\n${auth}cluster {\n  name: peerway-test\n  listen: 127.0.0.1:${p.route}\n  routes: [${routes.join(', ')}]\n}\n`;
    const file = path.join(dir, `n${i + 1}.conf`);
    writeFileSync(file, conf);
    const child = spawn(natsServerBinary(), ['-c', file], { stdio: ['ignore', 'ignore', 'pipe'] });
    let log = '';
    child.stderr.on('data', (c: Buffer) => (log += c.toString('utf8')));
    // 'close', not 'exit': the log is whole only once stderr has ended.
    const exited = new Promise<void>((resolve) => child.once('close', () => resolve()));
    nodes.push({
      name: `n${i + 1}`,
      url: `nats://127.0.0.1:${p.client}`,
      child,
      log: () => log,
      kill: async () => {
        if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
        await exited;
      },
    });
  }
  const exitedAtStart = (): NatsNode | undefined => nodes.find((n) => n.child.exitCode !== null || n.child.signalCode !== null);
  for (const [i, p] of ports.entries()) {
    await waitUntil(() => `node n${i + 1} routes to the ${size - 1} others (its log:\n${nodes[i].log()})`, async () => {
      // A node that could not start never routes: say so with its log at once, or start again when the
      // reason is a port taken meanwhile.
      const gone = exitedAtStart();
      if (gone) {
        await stop();
        const message = `nats cluster: node ${gone.name} exited at start:\n${gone.log()}`;
        throw /address already in use/i.test(gone.log()) ? new PortTaken(message) : new Error(message);
      }
      try {
        const r = (await (await fetch(`http://127.0.0.1:${p.monitor}/routez`)).json()) as { num_routes?: number };
        return (r.num_routes ?? 0) >= size - 1;
      } catch {
        return false;
      }
    });
  }
  return { nodes, urls: nodes.map((n) => n.url).join(','), stop };
}

/** Fast cluster timing for tests: a heartbeat every 200 ms, a silent server expires after 1 s. */
export const FAST_CLUSTER = ['--cluster-heartbeat', '200', '--cluster-expire', '1000'];
