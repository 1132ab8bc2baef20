import { PeerwayError } from '../errors.js';
import type { CloseInfo, MessageConnection } from '../bearer/bearer.js';
import { decodeMessage, encodeMessage } from './codec.js';
import type { ErrorMessage, Message, Push, Request, RequestBody } from './messages.js';
import { isPush, isRequest } from './messages.js';

export interface RequestOptions {
  timeoutMs?: number;
  signal?: AbortSignal;
}

export interface ChannelHandlers {
  /** Answers a request from the peer; a thrown error becomes an `error` reply with its code. */
  request?(message: Request): unknown | Promise<unknown>;
  push?(message: Push): void;
  close?(info: CloseInfo): void;
}

interface Pending {
  resolve(value: unknown): void;
  reject(err: PeerwayError): void;
  timer?: NodeJS.Timeout;
  signal?: AbortSignal;
  onAbort?: () => void;
  what: string;
}

export const DEFAULT_REQUEST_TIMEOUT_MS = 10_000;

/**
 * The protocol engine on one connection: encodes/decodes messages, matches replies to requests, answers
 * the peer's requests through a handler, and fails every pending request with a typed error when the
 * connection closes — so nothing ever waits forever. It knows nothing about sockets (only
 * MessageConnection), which is what lets every bearer share it.
 */
export class Channel {
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();
  private handlers: ChannelHandlers = {};
  private closedInfo: CloseInfo | undefined;
  /** Default timeout for requests that do not give one. */
  defaultTimeoutMs = DEFAULT_REQUEST_TIMEOUT_MS;

  constructor(
    readonly connection: MessageConnection,
    /** For error messages: what is at the other end (`server at tcp://…`, `runner 127.0.0.1:5555`). */
    readonly peerLabel: string,
    private readonly onProtocolError: (err: PeerwayError) => void = () => {},
  ) {}

  /** Starts delivery to `handlers`. Call once; handlers may be swapped later with setHandlers. */
  start(handlers: ChannelHandlers): void {
    this.handlers = handlers;
    this.connection.start({
      message: (payload) => this.onPayload(payload),
      close: (info) => this.onClose(info),
    });
  }

  setHandlers(handlers: ChannelHandlers): void {
    this.handlers = handlers;
  }

  get closed(): boolean {
    return this.closedInfo !== undefined || this.connection.closed;
  }

  get closeInfo(): CloseInfo | undefined {
    return this.closedInfo;
  }

  /** Sends a message that expects no answer. Returns false under backpressure. */
  send(message: Message): boolean {
    return this.connection.send(encodeMessage(message));
  }

  /** Sends a request and resolves with the reply's value, or rejects with the peer's typed error. */
  request<T = unknown>(body: RequestBody, options: RequestOptions = {}): Promise<T> {
    if (this.closed) {
      return Promise.reject(new PeerwayError('CONNECTION_CLOSED', `${this.peerLabel}: connection is closed`));
    }
    if (options.signal?.aborted) {
      return Promise.reject(new PeerwayError('ABORTED', `${describe(body)} was aborted`));
    }
    const id = this.nextId++;
    return new Promise<T>((resolve, reject) => {
      const entry: Pending = { resolve: resolve as (v: unknown) => void, reject, what: describe(body) };
      const timeoutMs = options.timeoutMs ?? this.defaultTimeoutMs;
      if (timeoutMs > 0 && Number.isFinite(timeoutMs)) {
        entry.timer = setTimeout(() => {
          this.pending.delete(id);
          reject(new PeerwayError('TIMEOUT', `${entry.what} got no answer from ${this.peerLabel} within ${timeoutMs} ms`));
        }, timeoutMs);
      }
      if (options.signal) {
        entry.signal = options.signal;
        entry.onAbort = () => this.settle(id, new PeerwayError('ABORTED', `${entry.what} was aborted`));
        options.signal.addEventListener('abort', entry.onAbort, { once: true });
      }
      this.pending.set(id, entry);
      try {
        this.send({ ...body, id } as Request);
      } catch (err) {
        this.settle(id, PeerwayError.from(err));
      }
    });
  }

  /** Sends a fatal error notice, then closes. */
  fail(error: PeerwayError): void {
    if (this.closed) return;
    this.localFailure ??= error;
    try {
      this.send({ type: 'error', error: error.toWire() });
    } catch {
      // The connection is already unusable; closing below is all we can do.
    }
    this.connection.close(error.message);
  }

  close(reason?: string): void {
    this.connection.close(reason);
  }

  private onPayload(payload: Buffer): void {
    let message: Message;
    try {
      message = decodeMessage(payload);
    } catch (err) {
      this.protocolError(PeerwayError.from(err, 'PROTOCOL'));
      return;
    }
    this.dispatch(message);
  }

  /** Handles one decoded message; exposed so the hello handshake can hand over the first message it read. */
  dispatch(message: Message): void {
    if (this.firstMessage) {
      const first = this.firstMessage;
      this.firstMessage = undefined;
      first(message);
      return;
    }
    if (message.type === 'reply') {
      this.settle(message.id, undefined, message.value);
    } else if (message.type === 'error') {
      this.onErrorMessage(message);
    } else if (isRequest(message)) {
      if (typeof message.id !== 'number') {
        this.protocolError(new PeerwayError('PROTOCOL', `request "${message.type}" without a numeric id`));
        return;
      }
      this.answer(message);
    } else if (isPush(message)) {
      this.handlers.push?.(message);
    } else {
      this.protocolError(new PeerwayError('PROTOCOL', `unexpected message type "${message.type}"`));
    }
  }

  private answer(message: Request): void {
    const handler = this.handlers.request;
    const reply = (value: unknown) => {
      if (!this.closed) this.send({ type: 'reply', id: message.id, value });
    };
    const replyError = (err: unknown) => {
      if (!this.closed) this.send({ type: 'error', id: message.id, error: PeerwayError.from(err).toWire() });
    };
    if (!handler) {
      replyError(new PeerwayError('PROTOCOL', `this peer does not accept "${message.type}" requests`));
      return;
    }
    try {
      const result = handler(message);
      if (result instanceof Promise) result.then(reply, replyError);
      else reply(result);
    } catch (err) {
      replyError(err);
    }
  }

  private onErrorMessage(message: ErrorMessage): void {
    const error = PeerwayError.fromWire(message.error ?? { code: 'PROTOCOL', message: 'error message without body' });
    if (typeof message.id === 'number') {
      this.settle(message.id, error);
    } else {
      // A fatal notice: the peer is about to close. Remember why, so pending requests report it.
      this.fatalFromPeer = error;
    }
  }

  private fatalFromPeer: PeerwayError | undefined;
  /** Why we closed the connection ourselves (protocol violation), reported to the close handler. */
  private localFailure: PeerwayError | undefined;
  private firstMessage: ((m: Message) => void) | undefined;

  /** Routes the next message to `handler` instead of normal dispatch (the hello/welcome exchange). */
  takeFirstMessage(handler: (m: Message) => void): void {
    this.firstMessage = handler;
  }

  private settle(id: number, error?: PeerwayError, value?: unknown): void {
    const entry = this.pending.get(id);
    if (!entry) return; // late reply after a timeout: ignore
    this.pending.delete(id);
    if (entry.timer) clearTimeout(entry.timer);
    if (entry.signal && entry.onAbort) entry.signal.removeEventListener('abort', entry.onAbort);
    if (error) entry.reject(error);
    else entry.resolve(value);
  }

  private protocolError(err: PeerwayError): void {
    this.onProtocolError(err);
    this.fail(err);
  }

  private onClose(info: CloseInfo): void {
    if (this.closedInfo) return;
    const fatal = this.fatalFromPeer ?? this.localFailure;
    this.closedInfo = fatal ? { reason: fatal.message, error: fatal } : info;
    for (const id of [...this.pending.keys()]) {
      const entry = this.pending.get(id)!;
      const err = fatal ?? new PeerwayError('CONNECTION_CLOSED', `${entry.what}: connection to ${this.peerLabel} closed (${info.reason}) before the answer arrived`);
      this.settle(id, err);
    }
    this.handlers.close?.(this.closedInfo);
  }

  get pendingCount(): number {
    return this.pending.size;
  }
}

function describe(body: RequestBody): string {
  switch (body.type) {
    case 'call':
      return `call ${body.service ? `${body.service}.` : ''}${body.method}`;
    case 'start':
      return `start session with ${body.service}`;
    default:
      return `"${body.type}" request`;
  }
}
