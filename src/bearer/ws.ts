import http from 'node:http';
import { HeldDelivery } from './held-delivery.js';
import type { Duplex } from 'node:stream';
import { WebSocket, WebSocketServer } from 'ws';
import { PeerwayError } from '../errors.js';
import { DEFAULT_MAX_FRAME_BYTES } from '../wire/frame-decoder.js';
import type { Bearer, BearerAddress, BearerOptions, CloseInfo, ConnectionHandlers, ConnectOptions, Listener, MessageConnection } from './bearer.js';
import { formatHost } from './tcp.js';

const WS_ID = 'connect.bearer.ws';
/** URL path of the WebSocket endpoint when the address names none. */
export const DEFAULT_WS_PATH = '/peerway';
/** send() returns false above this many queued bytes; `drain` fires once everything queued is written. */
const HIGH_WATER_BYTES = 1024 * 1024;
/** A peer that does not answer our close frame is cut off after this long. */
const CLOSE_GRACE_MS = 2000;

/**
 * A MessageConnection over one WebSocket: one binary WebSocket message per Peerway message, no length
 * prefix (WebSocket already frames). Text messages are a protocol error.
 */
export class WsConnection implements MessageConnection {
  readonly bearer = WS_ID;
  readonly reliable = true;
  private readonly delivery = new HeldDelivery();
  private closeInfo: CloseInfo | undefined;
  private ended = false;
  private needDrain = false;

  get queuedBytes(): number {
    return this.ws.bufferedAmount;
  }

  constructor(
    private readonly ws: WebSocket,
    readonly remote: string,
    private readonly maxMessageBytes = DEFAULT_MAX_FRAME_BYTES,
  ) {
    ws.binaryType = 'nodebuffer';
    ws.on('message', (data: Buffer, isBinary: boolean) => {
      if (!isBinary) {
        this.abort(new PeerwayError('PROTOCOL', `${remote} sent a text WebSocket message; ${WS_ID} carries binary messages only`), 1003);
        return;
      }
      // As in StreamConnection: what a handler throws ends this connection with the error, not the process.
      try {
        this.delivery.message(data);
      } catch (err) {
        this.abort(PeerwayError.from(err, 'PROTOCOL'));
      }
    });
    ws.on('error', (err: Error & { code?: string }) => {
      this.closeInfo ??=
        err.code === 'WS_ERR_UNSUPPORTED_MESSAGE_LENGTH'
          ? {
              reason: `${remote} sent a message above the limit of ${maxMessageBytes} bytes`,
              error: new PeerwayError('FRAME_TOO_LARGE', `${remote} sent a WebSocket message above the limit of ${maxMessageBytes} bytes (raise it with --max-message-bytes if this is legitimate)`, { details: { limit: maxMessageBytes } }),
            }
          : { reason: `socket error: ${err.code ?? err.message}`, error: new PeerwayError('CONNECTION_CLOSED', `connection to ${remote} failed: ${err.message}`, { cause: err }) };
    });
    ws.on('close', (code: number, reason: Buffer) => this.finish(code, reason.toString()));
  }

  get closed(): boolean {
    return this.ended || this.ws.readyState !== WebSocket.OPEN;
  }

  start(handlers: ConnectionHandlers): void {
    this.delivery.start(handlers);
  }

  send(payload: Uint8Array): boolean {
    if (this.closed) throw new PeerwayError('CONNECTION_CLOSED', `connection to ${this.remote} is closed`);
    if (payload.length > this.maxMessageBytes) {
      throw new PeerwayError('FRAME_TOO_LARGE', `message of ${payload.length} bytes is above the limit of ${this.maxMessageBytes} bytes on ${WS_ID}`, {
        details: { length: payload.length, limit: this.maxMessageBytes },
      });
    }
    // The completion callback is the only signal ws gives that queued bytes went out; it drives `drain`.
    this.ws.send(payload, { binary: true }, () => {
      if (this.needDrain && this.ws.bufferedAmount <= HIGH_WATER_BYTES) {
        this.needDrain = false;
        this.delivery.drain();
      }
    });
    if (this.ws.bufferedAmount > HIGH_WATER_BYTES) {
      this.needDrain = true;
      return false;
    }
    return true;
  }

  close(reason = 'closed locally', code = 1000): void {
    if (this.closed) return;
    this.closeInfo ??= { reason };
    // A close reason may hold at most 123 bytes.
    this.ws.close(code, Buffer.from(reason).subarray(0, 123).toString());
    setTimeout(() => this.ws.terminate(), CLOSE_GRACE_MS).unref();
  }

  /** Closes at once because of a fault; the reason is reported to the handlers and logs. */
  abort(error: PeerwayError, code = 1002): void {
    this.closeInfo ??= { reason: error.message, error };
    this.close(error.message, code);
  }

  private finish(code: number, reason: string): void {
    if (this.ended) return;
    this.ended = true;
    this.delivery.close(this.closeInfo ?? closeInfoFor(code, reason, this.remote));
  }
}

/** What attachWsBearer needs besides the server. */
export interface WsAttachOptions extends BearerOptions {
  /** Answer upgrades on other paths with 404 (only when this bearer owns the HTTP server). */
  rejectOtherPaths?: boolean;
}

/** Upgrade handling installed on an http.Server; close() detaches it and closes its connections. */
export interface WsAttachment {
  close(): Promise<void>;
}

/**
 * Serves connect.bearer.ws on `path` of an existing HTTP server, so HTTP and WebSocket share one port.
 * Upgrades on other paths are left to other 'upgrade' listeners (or refused with `rejectOtherPaths`).
 */
export function attachWsBearer(
  server: http.Server,
  path: string,
  onConnection: (connection: MessageConnection) => void,
  options: WsAttachOptions = {},
): WsAttachment {
  const maxMessageBytes = options.maxMessageBytes ?? DEFAULT_MAX_FRAME_BYTES;
  const wss = new WebSocketServer({ noServer: true, maxPayload: maxMessageBytes, perMessageDeflate: false });
  const connections = new Set<WsConnection>();
  const onUpgrade = (req: http.IncomingMessage, socket: Duplex, head: Buffer) => {
    if (new URL(req.url ?? '/', 'http://host').pathname !== path) {
      if (options.rejectOtherPaths) socket.end(`HTTP/1.1 404 Not Found\r\nConnection: close\r\n\r\n`);
      return;
    }
    wss.handleUpgrade(req, socket, head, (ws) => {
      const connection = new WsConnection(ws, `${req.socket.remoteAddress}:${req.socket.remotePort}`, maxMessageBytes);
      connections.add(connection);
      ws.once('close', () => connections.delete(connection));
      onConnection(connection);
    });
  };
  server.on('upgrade', onUpgrade);
  return {
    close: () => {
      server.off('upgrade', onUpgrade);
      for (const c of connections) c.close('listener closed', 1001);
      return new Promise<void>((done) => wss.close(() => done()));
    },
  };
}

/**
 * `connect.bearer.ws`: WebSocket via the `ws` library, for browsers and proxies. `listen` runs its own HTTP
 * server on host:port and serves the endpoint on `path` (default /peerway) through attachWsBearer.
 */
export const wsBearer: Bearer = {
  id: WS_ID,
  schemes: ['ws'],
  reliable: true,
  addressAttributes: ['host', 'port', 'path'],

  parsePathAttribute(value: string) {
    return value.startsWith('/') ? { path: value } : { problem: `path "${value}" must start with /, e.g. /peerway` };
  },

  async listen(address: BearerAddress, onConnection: (c: MessageConnection) => void, options: BearerOptions = {}): Promise<Listener> {
    const host = address.host ?? '127.0.0.1';
    const path = address.path ?? DEFAULT_WS_PATH;
    const server = http.createServer((_req, res) => {
      res.writeHead(426, { 'content-type': 'text/plain', connection: 'close' });
      res.end(`this is a ${WS_ID} endpoint: open a WebSocket at ${path}\n`);
    });
    const attachment = attachWsBearer(server, path, onConnection, { ...options, rejectOtherPaths: true });
    await new Promise<void>((resolve, reject) => {
      server.once('error', (err: NodeJS.ErrnoException) => {
        const hint = err.code === 'EADDRINUSE' ? ' (address already in use: pick another port, or 0 for any free one)' : '';
        reject(new PeerwayError('CONFIG_INVALID', `cannot listen on ws://${formatHost(host)}:${address.port ?? 0}${path}: ${err.message}${hint}`, { cause: err }));
      });
      server.listen({ host, port: address.port ?? 0 }, () => resolve());
    });
    const bound = server.address();
    const port = typeof bound === 'object' && bound ? bound.port : address.port;
    return {
      address: { bearer: WS_ID, host, port, path },
      async close() {
        const closed = new Promise<void>((done) => server.close(() => done()));
        await attachment.close();
        server.closeAllConnections();
        // Upgraded sockets still count for server.close(); peers get CLOSE_GRACE_MS to answer our close frame.
        await closed;
      },
    };
  },

  connect(address: BearerAddress, options: ConnectOptions = {}): Promise<MessageConnection> {
    const host = address.host ?? '127.0.0.1';
    const port = address.port ?? 2002;
    const path = address.path ?? DEFAULT_WS_PATH;
    const peer = `${formatHost(host)}:${port}`;
    const where = `ws://${peer}${path}`;
    const maxMessageBytes = options.maxMessageBytes ?? DEFAULT_MAX_FRAME_BYTES;
    const timeoutMs = options.timeoutMs ?? 10_000;
    return new Promise<MessageConnection>((resolve, reject) => {
      if (options.signal?.aborted) {
        reject(new PeerwayError('ABORTED', `connecting to ${where} was aborted`));
        return;
      }
      const ws = new WebSocket(where, { maxPayload: maxMessageBytes, perMessageDeflate: false });
      let settled = false;
      const finish = (err?: PeerwayError) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        options.signal?.removeEventListener('abort', onAbort);
        if (err) {
          ws.terminate();
          reject(err);
        } else {
          resolve(new WsConnection(ws, peer, maxMessageBytes));
        }
      };
      const onAbort = () => finish(new PeerwayError('ABORTED', `connecting to ${where} was aborted`));
      const timer = setTimeout(() => finish(new PeerwayError('TIMEOUT', `cannot connect to ${where}: no WebSocket handshake within ${timeoutMs} ms`)), timeoutMs);
      options.signal?.addEventListener('abort', onAbort, { once: true });
      ws.once('open', () => finish());
      ws.on('error', (err: NodeJS.ErrnoException) => {
        finish(new PeerwayError('CONNECT_FAILED', `cannot connect to ${where}: ${describeConnectError(err, peer, options.peer)}`, { cause: err, details: { code: err.code } }));
      });
      ws.once('unexpected-response', (req, res) => {
        req.destroy();
        const why = res.statusCode === 404 ? `no ${WS_ID} endpoint at path ${path} (HTTP 404; the default path is ${DEFAULT_WS_PATH})` : `the server answered HTTP ${res.statusCode} instead of a WebSocket upgrade`;
        finish(new PeerwayError('CONNECT_FAILED', `cannot connect to ${where}: ${why}`, { details: { status: res.statusCode } }));
      });
    });
  },
};

function describeConnectError(err: NodeJS.ErrnoException, peer: string, expected = 'the server'): string {
  if (err.code === 'ECONNREFUSED') return `connection refused (is ${expected} running and listening there?)`;
  if (err.code === 'ECONNRESET' || err.code?.startsWith('HPE_')) {
    return `the peer at ${peer} did not answer the WebSocket upgrade: it is probably not a ${WS_ID} endpoint (a plain connect.bearer.tcp port? use tcp://)`;
  }
  return err.message;
}

/** What a WebSocket close code from the peer means for us; 1009 is the peer refusing a message we sent. */
function closeInfoFor(code: number, reason: string, remote: string): CloseInfo {
  if (code === 1006) return { reason: 'connection lost (no close frame)' };
  if (code === 1009) {
    const text = `${remote} refused a message above its size limit (WebSocket close 1009, message too big); send smaller messages, or raise the limit there (--max-message-bytes)`;
    return { reason: text, error: new PeerwayError('FRAME_TOO_LARGE', text) };
  }
  return { reason: `closed by peer (${code}${reason ? `: ${reason}` : ''})` };
}
