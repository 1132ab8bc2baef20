import type { TestContext } from 'node:test';
import { connect, type ClientOptions, type PeerwayClient } from '../../src/client/client.js';
import { PeerwayRunner } from '../../src/runner/runner.js';
import { PeerwayServer, type ServerOptions } from '../../src/server/server.js';
import { loadService } from '../../src/service/load-service.js';
import type { ServiceRuntime } from '../../src/service/service-runtime.js';
import type { BearerAddress } from '../../src/bearer/bearer.js';
import { fixture } from './harness.js';

export const MEMORY = 'connect.bearer.memory';
let serial = 0;

/** A service to load: its XML and, when not its sibling, its implementation. */
export interface ServiceFiles {
  xml: string;
  impl?: string;
}

/** The WhoAmI service in process, started, stopped when the test ends. */
export async function startWhoami(t: TestContext): Promise<ServiceRuntime> {
  const runtime = await loadService(fixture('memory', 'whoami.xml'));
  await runtime.start();
  t.after(() => runtime.stop());
  return runtime;
}

export const MEM_LAB: ServiceFiles = { xml: fixture('memory', 'mem-lab.xml'), impl: fixture('p2p', 'lab.mjs') };

async function started(files: ServiceFiles[]): Promise<ServiceRuntime[]> {
  const runtimes = await Promise.all(files.map((f) => loadService(f.xml, f.impl)));
  for (const r of runtimes) await r.start();
  return runtimes;
}

/**
 * A server, a runner and clients in this process, over connect.bearer.memory: the core (broker, routing,
 * client sessions) without sockets or child processes. Everything is stopped when the test ends.
 */
export async function memoryStack(t: TestContext, remote: ServiceFiles[], options: { inProcess?: ServiceFiles[]; server?: Partial<ServerOptions> } = {}) {
  const name = `stack-${process.pid}-${++serial}`;
  const address: BearerAddress = { bearer: MEMORY, path: name };
  const inProcess = await started(options.inProcess ?? []);
  const server = new PeerwayServer({ listen: [address], services: inProcess, ...options.server });
  await server.start();
  const stack = {
    address,
    server,
    runner: undefined as PeerwayRunner | undefined,
    clients: [] as PeerwayClient[],
    /** Connects a client that offers the memory bearer for peer-to-peer routes (unless told otherwise). */
    async client(opts: ClientOptions = {}): Promise<PeerwayClient> {
      const c = await connect(address, { bearers: [MEMORY], timeoutMs: 3000, connectTimeoutMs: 3000, ...opts });
      stack.clients.push(c);
      return c;
    },
  };
  const runtimes = await started(remote);
  if (runtimes.length > 0) {
    stack.runner = new PeerwayRunner({ server: address, services: runtimes, minRetryMs: 10, maxRetryMs: 50 });
    await stack.runner.start();
  }
  t.after(async () => {
    for (const c of stack.clients) await c.close();
    await stack.runner?.stop();
    await stack.server.stop();
    await Promise.all([...inProcess, ...runtimes].map((r) => r.stop()));
  });
  return stack;
}
