import { PeerwayError } from '../src/errors.js';
import { freePort, waitForPort, which } from './brokers.js';
import type { BenchContext } from './context.js';
import type { ProcessSet } from './cpu.js';
import { connectGrpcEcho } from './grpc-client.js';

/**
 * The middleware users compare Peerway with, as outside references for calls: each echoes the 64-byte
 * payload from a process of its own, and the bench process is its client, as it is Peerway's. Libraries
 * are dev dependencies, imported only here: one that is not installed is skipped with a note.
 */

/** A connected echo client of one outside peer. */
export interface OutsideEcho {
  /** One call with the payload; resolves with what came back. */
  echo(payload: Buffer): Promise<Uint8Array>;
  /** The processes serving it (for CPU per call; the bench process is added by the caller). */
  processes: ProcessSet;
  /** What the note says about how it was set up. */
  setup: string;
  close(): Promise<void>;
}

/** One outside peer: its id (row ids), its name (labels) and how to start it. */
export interface OutsidePeer {
  id: string;
  name: string;
  start(ctx: BenchContext): Promise<OutsideEcho>;
}

/** Thrown when a peer's library or program is absent: the scenario notes it as skipped, not failed. */
export class PeerAbsent extends Error {}

async function load<T>(specifier: string): Promise<T> {
  try {
    return (await import(specifier)) as T;
  } catch (err) {
    throw new PeerAbsent(`${specifier} is not installed (a dev dependency: npm install in a checkout): ${(err as Error).message.split('\n')[0]}`);
  }
}

const grpcJs: OutsidePeer = {
  id: 'grpc',
  name: 'gRPC-js unary',
  async start(ctx) {
    await load('@grpc/grpc-js');
    const { peer, ready } = await ctx.rawPeer('grpc-server.mjs');
    const client = await connectGrpcEcho(Number(ready));
    return {
      echo: (p) => client.echo(p),
      processes: { 'grpc server': peer.pid },
      setup: 'gRPC-js: insecure HTTP/2, service defined in code with identity (de)serializers (no protobuf work)',
      close: () => Promise.resolve(client.close()),
    };
  },
};

/**
 * The part of socket.io-client the bench uses, declared here so the bench type-checks without the dev
 * dependency (it is only imported at run time, and skipped when absent).
 */
interface SocketIoClient {
  io: (
    url: string,
    options: { transports: string[]; reconnection: boolean },
  ) => {
    once(event: 'connect', listener: () => void): void;
    once(event: 'connect_error', listener: (err: Error) => void): void;
    timeout(ms: number): { emitWithAck(event: string, ...args: unknown[]): Promise<unknown> };
    close(): void;
  };
}

const socketIo: OutsidePeer = {
  id: 'socketio',
  name: 'socket.io emitWithAck',
  async start(ctx) {
    const { io } = await load<SocketIoClient>('socket.io-client');
    await load('socket.io');
    const { peer, ready } = await ctx.rawPeer('socketio-server.mjs');
    const socket = io(`http://127.0.0.1:${ready}`, { transports: ['websocket'], reconnection: false });
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new PeerwayError('TIMEOUT', 'socket.io did not connect within 5 s')), 5000);
      socket.once('connect', () => (clearTimeout(timer), resolve()));
      socket.once('connect_error', (err: Error) => (clearTimeout(timer), reject(err)));
    });
    return {
      echo: (p) => socket.timeout(10_000).emitWithAck('echo', p) as Promise<Uint8Array>,
      processes: { 'socket.io server': peer.pid },
      setup: 'socket.io: WebSocket transport only, `emitWithAck` answered by an acknowledgement callback, binary payload as an attachment',
      close: () => Promise.resolve(void socket.close()),
    };
  },
};

interface MoleculerModule {
  ServiceBroker: new (options: Record<string, unknown>) => {
    start(): Promise<void>;
    stop(): Promise<void>;
    call(action: string, params: unknown): Promise<unknown>;
    waitForServices(names: string[], timeoutMs: number): Promise<void>;
  };
}

const moleculerTcp: OutsidePeer = {
  id: 'moleculer',
  name: 'Moleculer TCP transporter',
  async start(ctx) {
    const mod = await load<MoleculerModule & { default?: MoleculerModule }>('moleculer');
    const ServiceBroker = mod.ServiceBroker ?? mod.default!.ServiceBroker;
    const port = await freePort();
    const { peer } = await ctx.rawPeer('moleculer-node.mjs', ['--port', String(port)]);
    const broker = new ServiceBroker({
      nodeID: `bench-client-${process.pid}`,
      logger: false,
      transporter: { type: 'TCP', options: { udpDiscovery: false, port: await freePort(), urls: [`127.0.0.1:${port}/bench-echo`] } },
    });
    await broker.start();
    await broker.waitForServices(['echo'], 10_000);
    return {
      echo: async (p) => Buffer.from((await broker.call('echo.echo', { data: p.toString('base64') })) as string, 'base64'),
      processes: { 'moleculer node': peer.pid },
      setup: 'Moleculer: TCP transporter (discovery off, the echo node named by address), JSON serializer: the payload travels as base64',
      close: () => broker.stop(),
    };
  },
};

type NatsModule = typeof import('nats');

const natsRequest: OutsidePeer = {
  id: 'nats',
  name: 'NATS request/reply',
  async start(ctx) {
    const nats = await load<NatsModule>('nats');
    const program = which('nats-server');
    if (!program) throw new PeerAbsent('nats-server is not installed (apt-get install nats-server)');
    const port = await freePort();
    const server = ctx.external(program, ['-a', '127.0.0.1', '-p', String(port)]);
    await waitForPort(port, 10_000, 'nats-server');
    const { peer } = await ctx.rawPeer('nats-echo.mjs', ['--port', String(port)]);
    const nc = await nats.connect({ servers: `127.0.0.1:${port}` });
    return {
      echo: async (p) => (await nc.request('peerway.bench.echo', p, { timeout: 10_000 })).data,
      processes: { 'nats-server': server.pid ?? -1, 'nats echo': peer.pid },
      setup: `NATS: nats.js request/reply through ${program} (the echo is a nats.js subscriber in a process of its own)`,
      close: () => nc.close(),
    };
  },
};

/** Every outside peer of the `peers` scenario, in the order they print. */
export const OUTSIDE_PEERS: readonly OutsidePeer[] = [grpcJs, socketIo, moleculerTcp, natsRequest];
