import type { TestContext } from 'node:test';
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { startServer, type RunningServer } from '../helpers/harness.js';

/** What the HTTP gateway tests share: a server with --http, JSON requests, a Server-Sent Events reader, policy files. */

export interface HttpServer extends RunningServer {
  /** `http://127.0.0.1:PORT` */
  base: string;
  httpPort: number;
}

/** A real `peerway server --http 0` (plus `args`); stopped when the test ends. */
export async function httpServer(t: TestContext, args: string[] = [], env: NodeJS.ProcessEnv = {}): Promise<HttpServer> {
  const server = await startServer(t, ['--http', '0', ...args], env);
  const [, address, port] = await server.proc.waitFor(/^listening http (127\.0\.0\.1:(\d+))$/m);
  return { ...server, base: `http://${address}`, httpPort: Number(port) };
}

export interface JsonAnswer<T = unknown> {
  status: number;
  contentType: string;
  body: T;
}

/** fetch with a deadline, answering the status, content type and parsed JSON body. */
export async function request<T = unknown>(url: string, init: RequestInit = {}, timeoutMs = 10_000): Promise<JsonAnswer<T>> {
  const res = await fetch(url, { ...init, signal: AbortSignal.timeout(timeoutMs) });
  const text = await res.text();
  return { status: res.status, contentType: res.headers.get('content-type') ?? '', body: (text === '' ? undefined : JSON.parse(text)) as T };
}

/** POSTs a JSON body (or none when `body` is undefined). */
export function postJson<T = unknown>(url: string, body?: unknown, headers: Record<string, string> = {}): Promise<JsonAnswer<T>> {
  return request<T>(url, {
    method: 'POST',
    headers: body === undefined ? headers : { 'content-type': 'application/json', ...headers },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
}

/** The JSON API's error body. */
export interface ApiError {
  error: { code: string; message: string; details?: Record<string, unknown> };
}

export interface SseMessage {
  event: string;
  data: unknown;
}

/** Waits (bounded) until `check` holds, polling; fails with `what` and the last value seen. */
export async function eventually<T>(probe: () => Promise<T> | T, check: (value: T) => boolean, what: string, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: T = await probe();
  while (!check(last)) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}; last: ${JSON.stringify(last)}`);
    await new Promise((r) => setTimeout(r, 50));
    last = await probe();
  }
  return last;
}

/**
 * A Server-Sent Events stream read with a streaming fetch reader: parses `event:`/`data:` messages and
 * `:` comments as they arrive. `until` waits with a deadline; `close` aborts the request.
 */
export class SseStream {
  readonly messages: SseMessage[] = [];
  readonly comments: string[] = [];
  ended = false;
  private waiters: (() => void)[] = [];

  private constructor(
    readonly response: Response,
    private readonly abort: AbortController,
  ) {}

  /** Opens the stream; a refusal (not `text/event-stream`) is answered as is, with its JSON in `refusal`. */
  static async open(t: TestContext, url: string, headers: Record<string, string> = {}, timeoutMs = 10_000): Promise<SseStream> {
    const abort = new AbortController();
    const timer = setTimeout(() => abort.abort(), timeoutMs);
    const response = await fetch(url, { headers, signal: abort.signal });
    clearTimeout(timer);
    const stream = new SseStream(response, abort);
    t.after(() => stream.close());
    if (stream.isEventStream) void stream.pump();
    return stream;
  }

  get isEventStream(): boolean {
    return (this.response.headers.get('content-type') ?? '').startsWith('text/event-stream');
  }

  /** The JSON body of a refused stream. */
  async refusal(): Promise<ApiError> {
    return (await this.response.json()) as ApiError;
  }

  named(event: string): unknown[] {
    return this.messages.filter((m) => m.event === event).map((m) => m.data);
  }

  async until(check: (s: SseStream) => boolean, what: string, timeoutMs = 10_000): Promise<void> {
    if (check(this)) return;
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w !== waiter);
        reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}; got ${JSON.stringify(this.messages).slice(-2000)}${this.ended ? ' (stream ended)' : ''}`));
      }, timeoutMs);
      const waiter = () => {
        if (!check(this)) return;
        clearTimeout(timer);
        this.waiters = this.waiters.filter((w) => w !== waiter);
        resolve();
      };
      this.waiters.push(waiter);
    });
  }

  close(): void {
    this.abort.abort();
  }

  private async pump(): Promise<void> {
    const reader = this.response.body!.getReader();
    const decoder = new TextDecoder();
    let buffer = '';
    try {
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        buffer += decoder.decode(value, { stream: true });
        let end: number;
        while ((end = buffer.indexOf('\n\n')) >= 0) {
          this.parse(buffer.slice(0, end));
          buffer = buffer.slice(end + 2);
        }
      }
    } catch {
      // Aborted by close(), or the server dropped the connection: either way the stream has ended.
    }
    this.ended = true;
    this.notify();
  }

  private parse(block: string): void {
    let event = 'message';
    const data: string[] = [];
    for (const line of block.split('\n')) {
      if (line.startsWith(':')) this.comments.push(line.slice(1).trim());
      else if (line.startsWith('event: ')) event = line.slice(7);
      else if (line.startsWith('data: ')) data.push(line.slice(6));
    }
    if (data.length > 0) this.messages.push({ event, data: JSON.parse(data.join('\n')) });
    this.notify();
  }

  private notify(): void {
    for (const w of [...this.waiters]) w();
  }
}

export const sha = (token: string) => createHash('sha256').update(token, 'utf8').digest('hex');

/** Writes a policy file for the test (removed when it ends). */
export function policyFile(t: TestContext, text: string): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'peerway-http-policy-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const file = path.join(dir, 'policy.yaml');
  writeFileSync(file, text);
  return file;
}

/**
 * The policy of the HTTP tests: `hmi` may use Types and Climate but not call Types.fail, read Climate's
 * cabin.fan or receive Types' ping; `anonymous` may describe Types only (Climate is invisible to it) and
 * use nothing; `runner` hosts what it likes.
 */
export const HTTP_POLICY = `mode: enforced
identities:
  hmi:    { token_sha256: ${sha('hmi-token')} }
  runner: { token_sha256: ${sha('runner-token')} }
statements:
  - allow: { who: "*", service: "*", actions: [describe] }
  - deny:  { who: anonymous, service: Climate, actions: [describe] }
  - allow: { who: runner, service: "*", actions: [register] }
  - allow: { who: hmi, service: [Climate, Types], actions: [call, subscribe, read] }
  - deny:  { who: hmi, service: Types, call: [fail] }
  - deny:  { who: hmi, service: Types, subscribe: [ping] }
  - deny:  { who: hmi, service: Climate, read: [cabin.fan] }
`;

export const HMI = { authorization: 'Bearer hmi-token' };
