import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { connect, type ClientOptions, type PeerwayClient } from '../src/client/client.js';
import type { Session } from '../src/client/session.js';
import { startPeerway, type PeerwayProcess } from '../src/cli/peerway-process.js';
import { makeTestCertificates } from '../test/helpers/certs.js';
import { NA_SERVER_ROUTE } from './model.js';
import type { Plan } from './plan.js';
import type { Progress } from './progress.js';
import { RawPeer, benchFile } from './raw-peer.js';
import type { RawAddress } from './raw-clients.js';

/** The bench services in bench/services, by the route their scenarios measure. */
export type ServiceKind = 'direct' | 'udp' | 'routed' | 'local' | 'ssl';
/** Service names, as declared in the XML files. */
export const SERVICE_NAMES: Record<ServiceKind, string> = { direct: 'BenchDirect', udp: 'BenchUdp', routed: 'BenchRouted', local: 'BenchLocal', ssl: 'BenchSsl' };

/** Paths of a throw-away CA and a server certificate for `localhost` / 127.0.0.1 signed by it. */
export interface BenchCertificates {
  ca: string;
  certificate: string;
  key: string;
}

/** A Peerway server process started for the bench. */
export interface BenchServer {
  proc: PeerwayProcess;
  url: string;
  pid: number;
}

/** What the client reports about the route of one resource (the API peer-to-peer adds to Session). */
export interface RouteInfo {
  linkType: 'direct' | 'server';
  link?: string;
  bearer?: string;
}

/**
 * Whether `session` will use a direct route for a resource. Until Session has `routeFor` (peer-to-peer
 * landing), or when it answers `server`, the scenario prints NA_SERVER_ROUTE instead of a wrong number.
 */
export function directRoute(session: Session, kind: 'method' | 'event' | 'runtimedata', name: string): { ok: true; route: RouteInfo } | { ok: false; why: string } {
  const routeFor = (session as unknown as { routeFor?: (k: string, n: string) => RouteInfo }).routeFor;
  if (typeof routeFor !== 'function') return { ok: false, why: NA_SERVER_ROUTE };
  const route = routeFor.call(session, kind, name);
  if (!route || route.linkType !== 'direct') return { ok: false, why: NA_SERVER_ROUTE };
  return { ok: true, route };
}

/** A short text naming the route for table details (`direct, link reliable, tcp`). */
export function describeRoute(route: RouteInfo): string {
  const bearer = route.bearer?.replace('connect.bearer.', '');
  return ['direct', route.link && `link ${route.link}`, bearer].filter(Boolean).join(', ');
}

/**
 * Everything the scenarios share, started lazily so `--only` starts just what it needs: Peerway server and
 * runner processes (through startPeerway, i.e. real `bin/peerway` processes), raw baseline peers, clients,
 * the throw-away certificates and a temp dir. `close()` stops all of it.
 */
export class BenchContext {
  private readonly servers = new Map<string, Promise<BenchServer>>();
  private readonly runners = new Map<string, Promise<PeerwayProcess>>();
  private readonly peers: RawPeer[] = [];
  private readonly echoes = new Map<string, Promise<RawAddress>>();
  /** pid of the raw echo peer per kind, and of the relay under `relay`. */
  private readonly rawPids = new Map<string, number>();
  private readonly clients = new Set<PeerwayClient>();
  private readonly controls = new Map<string, Promise<PeerwayClient>>();
  private readonly sessions = new Map<string, Promise<Session>>();
  private certsPromise: Promise<BenchCertificates> | undefined;
  private readonly processes: PeerwayProcess[] = [];
  private readonly externals: ChildProcess[] = [];
  private readonly cleanups: (() => Promise<void>)[] = [];

  private constructor(
    readonly plan: Plan,
    readonly progress: Progress,
    readonly tmp: string,
    private readonly cpuProfDir: string | undefined,
  ) {}

  static async create(plan: Plan, progress: Progress, cpuProfDir?: string): Promise<BenchContext> {
    return new BenchContext(plan, progress, await mkdtemp(path.join(tmpdir(), 'peerway-bench-')), cpuProfDir);
  }

  /** Environment of Peerway processes: quiet logs (per-session info lines would cost server CPU), optional profiling. */
  env(role: string): NodeJS.ProcessEnv {
    const env: NodeJS.ProcessEnv = { PEERWAY_LOG_LEVEL: 'warn' };
    if (this.cpuProfDir) {
      // Node 20 refuses --cpu-prof in NODE_OPTIONS, and startPeerway runs bin/peerway without node flags,
      // so a preload starts the inspector's profiler instead. One directory per role says whose profile it is.
      env.NODE_OPTIONS = `${process.env.NODE_OPTIONS ?? ''} --import=${pathToFileURL(benchFile('tools', 'cpu-profile.mjs')).href}`.trim();
      env.PEERWAY_BENCH_CPU_PROF_DIR = path.join(this.cpuProfDir, role);
    }
    return env;
  }

  /**
   * A Peerway server on 127.0.0.1 (ephemeral port); `name` separates the scale scenario's own server.
   * `args` are added to its command line when it is first started (the cluster scenario's --cluster).
   */
  server(name = 'main', args: string[] = []): Promise<BenchServer> {
    let s = this.servers.get(name);
    if (!s) {
      s = (async () => {
        const proc = startPeerway(['server', '--listen', 'tcp://127.0.0.1:0', ...args], { env: this.env(`server-${name}`) });
        this.processes.push(proc);
        const m = await proc.waitFor(/listening connect\.bearer\.tcp 127\.0\.0\.1:(\d+)/);
        return { proc, url: `tcp://127.0.0.1:${m[1]}`, pid: proc.child.pid! };
      })();
      this.servers.set(name, s);
    }
    return s;
  }

  /** Makes sure a runner hosting the `kind` bench service is registered with server `serverName`. */
  service(kind: ServiceKind, serverName = 'main'): Promise<PeerwayProcess> {
    const key = `${serverName}/${kind}`;
    let r = this.runners.get(key);
    if (!r) {
      r = (async () => {
        const server = await this.server(serverName);
        const xml = kind === 'ssl' ? await this.sslServiceFile() : benchFile('services', `bench-${kind}.xml`);
        // One runner per service: a definition that a runner refuses (p2p work in progress) fails only its scenarios.
        const proc = startPeerway(['runner', '--server', server.url, xml], { env: this.env(`runner-${kind}`) });
        this.processes.push(proc);
        await proc.waitFor(/^registered .*$/m);
        return proc;
      })();
      this.runners.set(key, r);
    }
    return r;
  }

  /** The pid of the runner hosting `kind` on `serverName` (started if needed). */
  async runnerPid(kind: ServiceKind, serverName = 'main'): Promise<number> {
    return (await this.service(kind, serverName)).child.pid!;
  }

  /** A new client of server `serverName`, closed by `close()` unless closed earlier with `closeClient`. */
  async newClient(serverName = 'main', options: ClientOptions = {}): Promise<PeerwayClient> {
    const server = await this.server(serverName);
    const client = await connect(server.url, { timeoutMs: 15_000, connectTimeoutMs: 10_000, agent: 'peerway-bench', ...options });
    this.clients.add(client);
    return client;
  }

  async closeClient(client: PeerwayClient): Promise<void> {
    this.clients.delete(client);
    await client.close().catch(() => undefined);
  }

  /** The shared client of `serverName`, for control calls and single-session scenarios. */
  control(serverName = 'main'): Promise<PeerwayClient> {
    let c = this.controls.get(serverName);
    if (!c) {
      c = this.newClient(serverName);
      this.controls.set(serverName, c);
    }
    return c;
  }

  /**
   * A session with the `kind` service on the shared client (started once, reused). The ssl service gets a
   * client of its own with an ssl adapter trusting the throw-away CA: that is what makes a client offer
   * connect.bearer.ssl for peer-to-peer routes.
   */
  session(kind: ServiceKind, serverName = 'main'): Promise<Session> {
    const key = `${serverName}/${kind}`;
    let s = this.sessions.get(key);
    if (!s) {
      s = (async () => {
        await this.service(kind, serverName);
        const client =
          kind === 'ssl'
            ? await this.newClient(serverName, { adapters: { 'connect.bearer.ssl': { ca: (await this.certs()).ca } } })
            : await this.control(serverName);
        return client.startSession(SERVICE_NAMES[kind]);
      })();
      this.sessions.set(key, s);
    }
    return s;
  }

  /** Starts a raw baseline peer (stopped by `close()`). */
  async rawPeer(script: string, args: string[] = []): Promise<{ peer: RawPeer; ready: string }> {
    const started = await RawPeer.start(script, args);
    this.peers.push(started.peer);
    return started;
  }

  /** Starts an installed program (an outside broker), killed by `close()`; its output is discarded. */
  external(command: string, args: string[]): ChildProcess {
    const child = spawn(command, args, { stdio: 'ignore' });
    child.on('error', () => undefined); // reported by the caller's readiness check instead
    this.externals.push(child);
    return child;
  }

  /** The raw echo peer for `kind` (started once): where a raw client connects. */
  rawEcho(kind: 'tcp' | 'uds' | 'tls'): Promise<RawAddress> {
    let e = this.echoes.get(kind);
    if (!e) {
      e = (async (): Promise<RawAddress> => {
        if (kind === 'uds') {
          const { ready, peer } = await this.rawPeer('echo-server.mjs', ['--uds', path.join(this.tmp, 'raw-echo.sock')]);
          this.rawPids.set(kind, peer.pid);
          return { kind, path: ready };
        }
        if (kind === 'tls') {
          const c = await this.certs();
          const { ready, peer } = await this.rawPeer('echo-server.mjs', ['--tls', '--cert', c.certificate, '--key', c.key]);
          this.rawPids.set(kind, peer.pid);
          return { kind, port: Number(ready), ca: await readFile(c.ca) };
        }
        const { ready, peer } = await this.rawPeer('echo-server.mjs', ['--tcp']);
        this.rawPids.set(kind, peer.pid);
        return { kind, port: Number(ready) };
      })();
      this.echoes.set(kind, e);
    }
    return e;
  }

  /** The raw relay peer (client → relay process → raw tcp echo process), started once. */
  rawRelay(): Promise<RawAddress> {
    let e = this.echoes.get('relay');
    if (!e) {
      e = (async (): Promise<RawAddress> => {
        const target = await this.rawEcho('tcp');
        const { ready, peer } = await this.rawPeer('relay.mjs', ['--target-port', String((target as { port: number }).port)]);
        this.rawPids.set('relay', peer.pid);
        return { kind: 'tcp', port: Number(ready) };
      })();
      this.echoes.set('relay', e);
    }
    return e;
  }

  /**
   * The throw-away CA and server certificate (generated once per run into the temp dir, with the test
   * suite's generator: one openssl recipe for both).
   */
  certs(): Promise<BenchCertificates> {
    this.certsPromise ??= makeTestCertificates(path.join(this.tmp, 'certs')).then((c) => ({
      ca: c.ca.certificate,
      certificate: c.server.certificate,
      key: c.server.key,
    }));
    return this.certsPromise;
  }

  /** bench-ssl.xml.in with the certificate paths filled in, plus a sibling .mjs, in the temp dir. */
  private async sslServiceFile(): Promise<string> {
    const c = await this.certs();
    const template = await readFile(benchFile('services', 'bench-ssl.xml.in'), 'utf8');
    const xml = template.replaceAll('@CERTIFICATE@', c.certificate).replaceAll('@KEY@', c.key).replaceAll('@CA@', c.ca);
    const file = path.join(this.tmp, 'bench-ssl.xml');
    await writeFile(file, xml);
    const impl = pathToFileURL(benchFile('services', 'bench-service.mjs')).href;
    await writeFile(path.join(this.tmp, 'bench-ssl.mjs'), `import { makeBenchService } from '${impl}';\nexport default makeBenchService();\n`);
    return file;
  }

  /** pid of a started raw echo peer (`tcp`, `uds`, `tls`) or of the relay (`relay`); -1 before it started. */
  rawPid(kind: 'tcp' | 'uds' | 'tls' | 'relay'): number {
    return this.rawPids.get(kind) ?? -1;
  }

  /** The bench process and every process it started that is still running (for one-core rounds). */
  pids(): number[] {
    const children = [...this.processes.map((p) => p.child), ...this.peers.map((p) => p.child), ...this.externals];
    const alive = children.filter((c) => c.pid !== undefined && c.exitCode === null && c.signalCode === null).map((c) => c.pid!);
    return [process.pid, ...alive];
  }

  /** Runs `cleanup` at `close()`, after the Peerway processes stopped (an outside cluster started by a scenario). */
  defer(cleanup: () => Promise<void>): void {
    this.cleanups.push(cleanup);
  }

  /** Stops every client, process and raw peer, and removes the temp dir. Never throws. */
  async close(): Promise<void> {
    await Promise.all([...this.clients].map((c) => c.close().catch(() => undefined)));
    this.clients.clear();
    await Promise.all(this.peers.map((p) => p.stop().catch(() => undefined)));
    for (const e of this.externals) if (e.exitCode === null && e.signalCode === null) e.kill('SIGTERM');
    // Runners first, so the server does not log each of them going away as a warning … then the servers.
    const runners = new Set(await Promise.all([...this.runners.values()].map((r) => r.catch(() => undefined))));
    await Promise.all(this.processes.filter((p) => runners.has(p)).map((p) => p.stop()));
    await Promise.all(this.processes.filter((p) => !runners.has(p)).map((p) => p.stop()));
    for (const c of this.cleanups.splice(0)) await c().catch(() => undefined);
    await rm(this.tmp, { recursive: true, force: true }).catch(() => undefined);
  }

  /** Output of the Peerway processes, for a crash report. */
  processOutput(): string {
    return this.processes
      .map((p) => p.stderr().trim())
      .filter(Boolean)
      .join('\n');
  }
}
