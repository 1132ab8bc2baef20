import { PeerwayError } from '../src/errors.js';
import { ECHO_SERVICE } from './peers/grpc-echo-service.mjs';

/** A unary echo client for bench/peers/grpc-server.mjs. */
export interface GrpcEcho {
  echo(payload: Buffer): Promise<Buffer>;
  close(): void;
}

/**
 * Connects a gRPC-js client to the bench's gRPC echo server (ECHO_SERVICE, the definition both ends
 * share). @grpc/grpc-js is a dev dependency, so it is imported only when this runs; without it the caller
 * reports the gRPC rows as not measured.
 */
export async function connectGrpcEcho(port: number): Promise<GrpcEcho> {
  let grpc: typeof import('@grpc/grpc-js');
  try {
    grpc = await import('@grpc/grpc-js');
  } catch (err) {
    throw new PeerwayError('CONFIG_INVALID', `@grpc/grpc-js is not installed (it is a dev dependency; run npm install in a checkout): ${(err as Error).message}`);
  }
  const Client = grpc.makeGenericClientConstructor(ECHO_SERVICE, 'Echo');
  const client = new Client(`127.0.0.1:${port}`, grpc.credentials.createInsecure()) as InstanceType<typeof Client> & {
    echo(req: Buffer, cb: (err: Error | null, res?: Buffer) => void): void;
  };
  await new Promise<void>((resolve, reject) =>
    client.waitForReady(Date.now() + 5000, (err?: Error) => (err ? reject(new PeerwayError('CONNECT_FAILED', `gRPC server on port ${port}: ${err.message}`)) : resolve())),
  );
  return {
    echo: (payload) =>
      new Promise((resolve, reject) => client.echo(payload, (err, res) => (err ? reject(err) : resolve(res!)))),
    close: () => client.close(),
  };
}
