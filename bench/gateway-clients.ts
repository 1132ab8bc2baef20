import http from 'node:http';
import net from 'node:net';
import WebSocket from 'ws';
import { PeerwayError } from '../src/errors.js';

/**
 * The client side of the gateway scenario: a keep-alive HTTP/1.1 client and a WebSocket client speaking
 * the gateway's JSON messages. Both serve the Peerway gateway and the raw fastify echo peer alike, so a
 * baseline differs from the gateway only in what the gateway does behind the same HTTP.
 */

/**
 * One keep-alive HTTP/1.1 connection to 127.0.0.1:`port` (Node's own client: `http.Agent` with keepAlive
 * and one socket; undici, which is faster, is not installed). `request` resolves with the parsed JSON
 * body of a 200 answer and rejects with the status and body of any other.
 */
export class KeepAliveHttp {
  private readonly agent = new http.Agent({ keepAlive: true, maxSockets: 1 });

  constructor(
    private readonly port: number,
    private readonly timeoutMs = 15_000,
  ) {}

  request(method: 'GET' | 'POST', path: string, body?: string): Promise<unknown> {
    return new Promise((resolve, reject) => {
      const headers: http.OutgoingHttpHeaders = body === undefined ? {} : { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) };
      const req = http.request({ host: '127.0.0.1', port: this.port, method, path, agent: this.agent, headers, timeout: this.timeoutMs }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () => {
          const text = chunks.length === 1 ? chunks[0].toString('utf8') : Buffer.concat(chunks).toString('utf8');
          if (res.statusCode !== 200) {
            reject(new PeerwayError('PROTOCOL', `HTTP ${method} ${path.split('?')[0]} answered ${res.statusCode}: ${text.slice(0, 300)}`));
            return;
          }
          try {
            resolve(JSON.parse(text));
          } catch (err) {
            reject(err instanceof Error ? err : new Error(String(err)));
          }
        });
        res.on('error', reject);
      });
      req.on('timeout', () => req.destroy(new PeerwayError('TIMEOUT', `HTTP ${method} ${path.split('?')[0]} got no answer within ${this.timeoutMs} ms`)));
      req.on('error', reject);
      req.end(body);
    });
  }

  close(): void {
    this.agent.destroy();
  }
}

/**
 * A minimal HTTP/1.1 client on one kept-alive socket: writes the request in one write and reads a reply
 * with a Content-Length (what fastify sends for JSON), nothing else. One request at a time. It does far
 * less than Node's http client, so the figures it gives are mostly the server's: the scenario uses it to
 * tell what the gateway costs from what the client's own handling of a slower reply costs.
 */
export class MinimalHttp {
  private pending: { resolve: (r: unknown) => void; reject: (e: Error) => void; what: string } | undefined;
  private buffered: Buffer = Buffer.alloc(0);
  private closedWith: Error | undefined;

  private constructor(
    private readonly socket: net.Socket,
    private readonly port: number,
  ) {
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => {
      this.buffered = this.buffered.length === 0 ? chunk : Buffer.concat([this.buffered, chunk]);
      this.parse();
    });
    const fail = (err?: Error) => {
      this.closedWith ??= err ?? new PeerwayError('CONNECTION_CLOSED', 'HTTP connection closed');
      this.pending?.reject(this.closedWith);
      this.pending = undefined;
    };
    socket.on('error', fail);
    socket.on('close', () => fail());
  }

  static connect(port: number, timeoutMs = 5000): Promise<MinimalHttp> {
    return new Promise((resolve, reject) => {
      const socket = net.connect({ host: '127.0.0.1', port });
      const timer = setTimeout(() => socket.destroy(new PeerwayError('TIMEOUT', `HTTP connect to port ${port} took over ${timeoutMs} ms`)), timeoutMs);
      const onError = (err: Error) => {
        clearTimeout(timer);
        reject(err);
      };
      socket.once('connect', () => {
        clearTimeout(timer);
        socket.off('error', onError);
        resolve(new MinimalHttp(socket, port));
      });
      socket.once('error', onError);
    });
  }

  /** Resolves with the parsed JSON body of a 200 reply; rejects on any other status. */
  request(method: 'GET' | 'POST', path: string, body?: string): Promise<unknown> {
    if (this.closedWith) return Promise.reject(this.closedWith);
    if (this.pending) return Promise.reject(new Error('MinimalHttp sends one request at a time'));
    const head = `${method} ${path} HTTP/1.1\r\nHost: 127.0.0.1:${this.port}\r\n`;
    const text = body === undefined ? `${head}\r\n` : `${head}Content-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`;
    return new Promise((resolve, reject) => {
      this.pending = { resolve, reject, what: `HTTP ${method} ${path.split('?')[0]}` };
      this.socket.write(text);
    });
  }

  private parse(): void {
    const pending = this.pending;
    if (!pending) return;
    const end = this.buffered.indexOf('\r\n\r\n');
    if (end < 0) return;
    const head = this.buffered.subarray(0, end).toString('latin1');
    const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(head)?.[1]);
    const length = /\r\ncontent-length:\s*(\d+)/i.exec(head)?.[1];
    if (length === undefined) {
      this.socket.destroy(new PeerwayError('PROTOCOL', `${pending.what}: the reply has no Content-Length (this minimal client reads no other kind)`));
      return;
    }
    const total = end + 4 + Number(length);
    if (this.buffered.length < total) return;
    const text = this.buffered.subarray(end + 4, total).toString('utf8');
    this.buffered = this.buffered.subarray(total);
    this.pending = undefined;
    if (status !== 200) {
      pending.reject(new PeerwayError('PROTOCOL', `${pending.what} answered ${status}: ${text.slice(0, 300)}`));
      return;
    }
    try {
      pending.resolve(JSON.parse(text));
    } catch (err) {
      pending.reject(err instanceof Error ? err : new Error(String(err)));
    }
  }

  close(): void {
    this.socket.destroy();
  }
}

/** A reply to a JSON WebSocket request: `{id, ok: true, result}` or `{id, ok: false, error}` (docs/browser.md). */
interface JsonReply {
  id: number | null;
  ok: boolean;
  result?: unknown;
  error?: { code?: string; message?: string };
}

/**
 * A WebSocket (the `ws` package) sending JSON requests `{id, type, …}` and matching the replies by `id`, as
 * the browser client does. Sent without an Origin header (a Node program, not a page), so the gateway's
 * Origin check lets it in.
 */
export class JsonSocket {
  private nextId = 1;
  private readonly waiting = new Map<number, { resolve: (r: unknown) => void; reject: (e: Error) => void }>();
  private closedWith: Error | undefined;

  private constructor(private readonly socket: WebSocket) {
    socket.on('message', (data: WebSocket.RawData) => {
      const reply = JSON.parse(textOf(data)) as JsonReply;
      const w = typeof reply.id === 'number' ? this.waiting.get(reply.id) : undefined;
      if (!w) return; // a push: the scenario subscribes to nothing
      this.waiting.delete(reply.id!);
      if (reply.ok) w.resolve(reply.result);
      else w.reject(new PeerwayError('PROTOCOL', `WebSocket request ${reply.id} failed: ${reply.error?.code ?? '?'} ${reply.error?.message ?? ''}`));
    });
    const fail = (err?: Error) => {
      this.closedWith ??= err ?? new PeerwayError('CONNECTION_CLOSED', 'WebSocket closed');
      for (const w of this.waiting.values()) w.reject(this.closedWith);
      this.waiting.clear();
    };
    socket.on('error', fail);
    socket.on('close', () => fail());
  }

  /** Opens `url` (`ws://127.0.0.1:PORT/ws`). */
  static connect(url: string, timeoutMs = 5000): Promise<JsonSocket> {
    return new Promise((resolve, reject) => {
      const socket = new WebSocket(url, { perMessageDeflate: false, handshakeTimeout: timeoutMs });
      socket.once('open', () => {
        socket.off('error', reject);
        resolve(new JsonSocket(socket));
      });
      socket.once('error', reject);
    });
  }

  /** Sends `{id, type, ...fields}` and resolves with the reply's `result`. */
  request(type: string, fields: Record<string, unknown> = {}): Promise<unknown> {
    if (this.closedWith) return Promise.reject(this.closedWith);
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.waiting.set(id, { resolve, reject });
      this.socket.send(JSON.stringify({ id, type, ...fields }));
    });
  }

  close(): void {
    this.socket.close();
  }
}

function textOf(data: WebSocket.RawData): string {
  if (Buffer.isBuffer(data)) return data.toString('utf8');
  return (Array.isArray(data) ? Buffer.concat(data) : Buffer.from(data)).toString('utf8');
}
