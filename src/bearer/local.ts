import net from 'node:net';
import { lstat, stat, unlink } from 'node:fs/promises';
import os from 'node:os';
import { isAbsolute, join, resolve } from 'node:path';
import { PeerwayError } from '../errors.js';
import type { Bearer, BearerAddress, BearerOptions, ConnectOptions, Listener, MessageConnection } from './bearer.js';
import { SlabReader } from './slab-reader.js';
import { StreamConnection } from './stream-connection.js';
import { connectSocket, listenSocketServer } from './socket-helpers.js';

const LOCAL_ID = 'connect.bearer.local';
/** How long the stale-socket probe waits: a live listener accepts at once, even when busy (backlog). */
const PROBE_TIMEOUT_MS = 1000;

/**
 * `connect.bearer.local`: length-prefixed frames over a Unix domain socket, same host only.
 *
 * Addresses carry the socket in `path`: an absolute file path (`local:///run/peerway.sock`) or, on Linux,
 * an abstract-namespace name written `local://@name` and held as `path: '\0name'` (the form Node's `net`
 * takes). Abstract sockets have no file, so there is nothing stale to clean and nothing to remove.
 */
export const localBearer: Bearer = {
  id: LOCAL_ID,
  schemes: ['local'],
  reliable: true,
  addressAttributes: ['path'],
  reach: 'host',
  howToConfigure: 'Run the client on the same host as the service, or change the route so a tcp route follows the local one',

  /** A socket file per process, service and link in the temp directory: unique without configuration. */
  linkListenAddress({ service, link }) {
    return { bearer: LOCAL_ID, path: join(os.tmpdir(), `peerway-${process.pid}-${service}-${link}.sock`) };
  },

  parsePathAttribute(value: string, baseDir: string) {
    if (value.startsWith('@')) {
      return value.length === 1 ? { problem: 'an abstract socket name follows the @, e.g. @peerway' } : { path: `\0${value.slice(1)}` };
    }
    if (value === '') return { problem: 'path must name a socket file, e.g. /run/peerway.sock' };
    return { path: resolve(baseDir, value) };
  },

  async listen(address: BearerAddress, onConnection: (c: MessageConnection) => void, options: BearerOptions = {}): Promise<Listener> {
    const path = requirePath(address);
    const abstract = path.startsWith('\0');
    if (!abstract) await removeStaleSocket(path);
    const server = net.createServer();
    let accepted = 0;
    const listener = await listenSocketServer(
      server,
      { path },
      (socket) => {
        accepted++;
        onConnection(new StreamConnection(LOCAL_ID, socket, `${describePath(path)}#${accepted}`, options.maxMessageBytes));
      },
      () => ({ bearer: LOCAL_ID, path }),
    ).catch((err: unknown) => {
      const cause = err instanceof PeerwayError ? (err.cause as NodeJS.ErrnoException | undefined) : undefined;
      // Abstract names have no file to probe, so "in use" can only mean a live listener.
      if (abstract && cause?.code === 'EADDRINUSE') throw liveListenerError(path, cause);
      throw err;
    });
    const inode = abstract ? undefined : (await stat(path)).ino;
    return {
      address: listener.address,
      async close() {
        await listener.close();
        // Node usually unlinks the file itself; if not, remove it, but only if it is still ours (same inode).
        if (inode !== undefined) {
          const now = await stat(path).catch(() => undefined);
          if (now?.ino === inode) await unlink(path).catch(() => undefined);
        }
      },
    };
  },

  async connect(address: BearerAddress, options: ConnectOptions = {}): Promise<MessageConnection> {
    const path = requirePath(address);
    const where = formatLocalUrl(path);
    const reader = new SlabReader();
    const socket = await connectSocket(() => net.connect({ path, onread: reader.onread }), 'connect', where, options, (err) => {
      if (err.code === 'ENOENT') return `no socket at ${describePath(path)} (is ${options.peer ?? 'the server'} running and listening there?)`;
      if (err.code === 'ECONNREFUSED') return `nothing listens on ${describePath(path)} (a stale socket left by a process that exited?)`;
      if (err.code === 'EACCES') return `permission denied on ${describePath(path)} (check the socket's file mode and owner)`;
      return undefined;
    });
    return new StreamConnection(LOCAL_ID, socket, describePath(path), options.maxMessageBytes, true, reader);
  },

  parseUrl(url: string): BearerAddress {
    const rest = url.trim().replace(/^local:\/\//, '');
    if (rest.startsWith('@')) {
      if (rest.length === 1) throw badLocalUrl(url);
      return { bearer: LOCAL_ID, path: `\0${decodeURIComponent(rest.slice(1))}` };
    }
    const path = decodeURIComponent(rest);
    if (!isAbsolute(path)) throw badLocalUrl(url);
    return { bearer: LOCAL_ID, path };
  },

  formatUrl(address: BearerAddress): string {
    return formatLocalUrl(address.path ?? '');
  },
};

function formatLocalUrl(path: string): string {
  const encode = (s: string) => s.split('/').map(encodeURIComponent).join('/');
  return path.startsWith('\0') ? `local://@${encode(path.slice(1))}` : `local://${encode(path)}`;
}

/** `@name` for abstract sockets (a NUL byte would vanish from logs), the path otherwise. */
function describePath(path: string): string {
  return path.startsWith('\0') ? `@${path.slice(1)}` : path;
}

function requirePath(address: BearerAddress): string {
  const path = address.path;
  if (!path || (!path.startsWith('\0') && !isAbsolute(path))) {
    throw new PeerwayError(
      'CONFIG_INVALID',
      `${LOCAL_ID} needs an absolute socket path (local:///run/peerway.sock) or an abstract name (local://@peerway), got ${JSON.stringify(path ?? '')}`,
    );
  }
  return path;
}

function badLocalUrl(url: string): PeerwayError {
  return new PeerwayError('USAGE', `invalid address "${url}": expected local:///ABSOLUTE/PATH.sock or local://@NAME`);
}

function liveListenerError(path: string, cause?: unknown): PeerwayError {
  return new PeerwayError('CONFIG_INVALID', `cannot listen on ${describePath(path)}: another process is listening on ${describePath(path)}`, { cause });
}

/**
 * Makes `path` free for listen() without ever deleting something that matters: a socket is removed only
 * when a connect attempt is refused (its owner is gone); a live socket or any non-socket file is an error.
 */
async function removeStaleSocket(path: string): Promise<void> {
  const info = await lstat(path).catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOENT') return undefined;
    throw new PeerwayError('CONFIG_INVALID', `cannot listen on ${path}: ${err.message}`, { cause: err });
  });
  if (!info) return;
  if (!info.isSocket()) {
    const kind = info.isDirectory() ? 'a directory' : info.isSymbolicLink() ? 'a symbolic link' : info.isFile() ? 'a regular file' : 'not a socket';
    throw new PeerwayError(
      'CONFIG_INVALID',
      `cannot listen on ${path}: the path exists and is ${kind}, not a socket; it was left untouched (choose another path or remove it yourself)`,
    );
  }
  const state = await probe(path);
  if (state === 'live') throw liveListenerError(path);
  if (state !== 'stale') throw new PeerwayError('CONFIG_INVALID', `cannot listen on ${path}: cannot check whether the existing socket is in use: ${state.message}`, { cause: state });
  await unlink(path).catch((err: NodeJS.ErrnoException) => {
    if (err.code !== 'ENOENT') throw new PeerwayError('CONFIG_INVALID', `cannot remove the stale socket ${path}: ${err.message}`, { cause: err });
  });
}

/**
 * 'stale' when nobody accepts on the socket, 'live' when someone does (or is too busy to answer), and the
 * error when the probe itself fails (e.g. EACCES), in which case we know nothing and delete nothing.
 */
function probe(path: string): Promise<'live' | 'stale' | NodeJS.ErrnoException> {
  return new Promise((resolve) => {
    const socket = net.connect({ path });
    const done = (state: 'live' | 'stale' | NodeJS.ErrnoException) => {
      clearTimeout(timer);
      socket.destroy();
      resolve(state);
    };
    const timer = setTimeout(() => done('live'), PROBE_TIMEOUT_MS);
    socket.once('connect', () => done('live'));
    socket.once('error', (err: NodeJS.ErrnoException) => done(err.code === 'ECONNREFUSED' || err.code === 'ENOENT' ? 'stale' : err));
  });
}
