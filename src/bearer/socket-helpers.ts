import type { Server, Socket } from 'node:net';
import { PeerwayError } from '../errors.js';
import type { BearerAddress, ConnectOptions, Listener } from './bearer.js';

const DEFAULT_CONNECT_TIMEOUT_MS = 10_000;

/**
 * Waits for a freshly created socket to reach `readyEvent` ('connect', or 'secureConnect' for TLS), with a
 * timeout and abort signal, and turns the usual failures into CONNECT_FAILED / TIMEOUT errors that say
 * where we tried to go.
 */
export function connectSocket<S extends Socket>(
  create: () => S,
  readyEvent: string,
  where: string,
  options: ConnectOptions,
  describeError: (err: NodeJS.ErrnoException) => string | undefined = () => undefined,
): Promise<S> {
  return new Promise<S>((resolve, reject) => {
    if (options.signal?.aborted) {
      reject(new PeerwayError('ABORTED', `connecting to ${where} was aborted`));
      return;
    }
    const socket = create();
    const timeoutMs = options.timeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS;
    const cleanup = () => {
      clearTimeout(timer);
      socket.off('error', onError);
      socket.off(readyEvent, onReady);
      options.signal?.removeEventListener('abort', onAbort);
    };
    const fail = (err: PeerwayError) => {
      cleanup();
      socket.destroy();
      reject(err);
    };
    const onReady = () => {
      cleanup();
      resolve(socket);
    };
    const onError = (err: NodeJS.ErrnoException) => {
      const specific = describeError(err);
      const why = specific ?? (err.code === 'ECONNREFUSED' ? `connection refused (is ${options.peer ?? 'the server'} running and listening there?)` : err.message);
      fail(new PeerwayError('CONNECT_FAILED', `cannot connect to ${where}: ${why}`, { cause: err, details: { code: err.code } }));
    };
    const onAbort = () => fail(new PeerwayError('ABORTED', `connecting to ${where} was aborted`));
    const timer = setTimeout(
      () => fail(new PeerwayError('TIMEOUT', `cannot connect to ${where}: no answer within ${timeoutMs} ms`)),
      timeoutMs,
    );
    socket.once('error', onError);
    socket.once(readyEvent, onReady);
    options.signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/**
 * Starts a socket server, tracks its connections so close() can end them, and reports the bound address.
 * Listen errors (EADDRINUSE, EACCES) become CONFIG_INVALID errors naming the address.
 */
export function listenSocketServer(
  server: Server,
  listenArgs: { port?: number; host?: string; path?: string },
  onSocket: (socket: Socket) => void,
  boundAddress: (bound: { host?: string; port?: number; path?: string }) => BearerAddress,
  connectionEvent = 'connection',
): Promise<Listener> {
  const sockets = new Set<Socket>();
  server.on(connectionEvent, (socket: Socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
    onSocket(socket);
  });
  const where = listenArgs.path ?? `${listenArgs.host}:${listenArgs.port}`;
  return new Promise<Listener>((resolve, reject) => {
    const onError = (err: NodeJS.ErrnoException) => {
      const hint = err.code === 'EADDRINUSE' ? ' (address already in use: pick another port, or 0 for any free one)' : '';
      reject(new PeerwayError('CONFIG_INVALID', `cannot listen on ${where}: ${err.message}${hint}`, { cause: err }));
    };
    server.once('error', onError);
    server.listen(listenArgs, () => {
      server.off('error', onError);
      const a = server.address();
      const bound = typeof a === 'string' || a === null ? { path: listenArgs.path } : { host: (a).address, port: (a).port };
      resolve({
        address: boundAddress(bound),
        close: () =>
          new Promise<void>((done) => {
            server.close(() => done());
            for (const s of sockets) s.destroy();
          }),
      });
    });
  });
}
