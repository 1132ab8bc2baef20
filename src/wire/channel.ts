import { PeerwayError } from '../errors.js';
import type { CloseInfo, MessageConnection } from './connection.js';
import { decodeMessage, encodeMessage, encodeReply } from './codec.js';
import { fieldProblem } from './message-fields.js';
import type { ErrorMessage, Message, ProtocolRequests, Push, ReplyTo, Request, RequestBody, RequestType } from './messages.js';
import { PUSH_TYPES, REQUEST_TYPES, isPush, isRequest } from './messages.js';

export interface RequestOptions {
  timeoutMs?: number;
  signal?: AbortSignal;
  /**
   * Rewrites the error the request fails with (a relay saying SERVICE_GONE where its connection said
   * CONNECTION_CLOSED). Cheaper than a .catch on the hot path: no extra promise per request.
   */
  mapError?: (error: PeerwayError) => PeerwayError;
}

/** Options of Channel.request that only the library's own callers set. */
export interface ChannelRequestOptions extends RequestOptions {
  /**
   * Turns the reply's value into what the request resolves with (a client's check of a call's result); what
   * it throws rejects the request as it is, without mapError. Run where the reply is matched, it saves the
   * caller a promise and a turn of the microtask queue per request.
   */
  result?: (value: unknown) => unknown;
}

/**
 * Answers to the peer's requests, one function per request kind this side serves. A kind without a
 * function is refused with PROTOCOL; a thrown error (or a rejected promise) becomes an `error` reply with
 * its code.
 */
export type RequestHandlers = {
  [K in RequestType]?: (message: ProtocolRequests[K]['request']) => ReplyTo<K> | Promise<ReplyTo<K>>;
};

export interface ChannelHandlers {
  requests?: RequestHandlers;
  push?(message: Push): void;
  close?(info: CloseInfo): void;
  /**
   * A handler threw while handling `message` (a push handler, or a reply that could not be sent), or a push
   * was dropped as malformed (a field of the wrong type; nested too deep to decode, then without `message`).
   * The channel stays open: one faulty listener or one bad push must not end a connection that carries
   * other sessions.
   */
  fault?(error: PeerwayError, message?: Message): void;
  /** The connection took what was queued: a sender holding messages back may send again. */
  drain?(): void;
}

/**
 * The bounds of one connection (README, "Limits and guarantees"). Every field is optional; a missing or
 * zero one means no bound of that kind.
 */
export interface ChannelLimits {
  /** Bytes queued for a peer that does not read, above which the connection is closed with LIMIT_EXCEEDED. */
  maxQueuedBytes?: number;
  /** The peer's requests being answered at once; one more is refused at once with LIMIT_EXCEEDED. */
  maxInFlight?: number;
  /**
   * Silence after which the peer is asked a `ping`; one that does not answer within `keepAliveTimeoutMs`
   * is closed. A peer stopped in the middle of a frame cannot answer either, so this also bounds how long a
   * partial frame may wait. Reliable connections only (udp has keepalives of its own).
   */
  keepAliveMs?: number;
  keepAliveTimeoutMs?: number;
}

/** Defaults of ChannelLimits: a peer that stops answering is dropped within about 20 s. */
export const DEFAULT_LIMITS = {
  maxQueuedBytes: 32 * 1024 * 1024,
  maxInFlight: 1000,
  keepAliveMs: 10_000,
  keepAliveTimeoutMs: 5_000,
} as const satisfies Required<ChannelLimits>;

/**
 * What a channel holds between a hello and its handlers: a client may pipeline requests behind its hello
 * in one packet, and the hello's check may take its time (a refused token is answered late). As many
 * messages as it may have requests in flight afterwards, and at most one largest frame of bytes; one more
 * closes the connection with LIMIT_EXCEEDED (docs/protocol.md, Hello).
 */
export const MAX_HELD_MESSAGES: number = DEFAULT_LIMITS.maxInFlight;
export const MAX_HELD_BYTES = 16 * 1024 * 1024;

interface Pending {
  resolve(value: unknown): void;
  reject(err: PeerwayError): void;
  /** performance.now() after which the request fails with TIMEOUT; Infinity for none. */
  deadline: number;
  timeoutMs: number;
  signal?: AbortSignal;
  onAbort?: () => void;
  /** Kept to word error messages; the wording is built only when one is needed. */
  body: RequestBody;
  mapError?: (error: PeerwayError) => PeerwayError;
  result?: (value: unknown) => unknown;
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
      drain: () => this.handlers.drain?.(),
    });
  }

  /**
   * Replaces the handlers; messages held since `hold()` are dispatched to them now, in order. Never throws:
   * a held message that breaks the protocol closes the channel with the reason, as it would have on arrival.
   */
  setHandlers(handlers: ChannelHandlers): void {
    this.handlers = handlers;
    const held = this.held;
    this.held = undefined;
    this.heldBytes = 0;
    if (!held) return;
    for (const m of held) {
      if (this.closed) return;
      if (m instanceof PeerwayError) this.undecodable(m);
      else this.deliver(m);
    }
  }

  /**
   * Keeps messages back until the next setHandlers: between a hello and the handlers its role gets, a
   * request that arrived in the same packet must wait, not be refused. Bounded (MAX_HELD_MESSAGES).
   */
  hold(): void {
    this.held ??= [];
  }

  /** Messages held since hold(); a body refused by the codec is kept as its error, answered in turn. */
  private held: (Message | PeerwayError)[] | undefined;
  private heldBytes = 0;

  /** Applies the connection's bounds and starts its keepalive (see ChannelLimits). */
  configure(limits: ChannelLimits): void {
    this.maxQueuedBytes = limits.maxQueuedBytes ?? 0;
    this.maxInFlight = limits.maxInFlight ?? 0;
    clearInterval(this.keepAliveTimer);
    const interval = limits.keepAliveMs ?? 0;
    if (interval <= 0 || !this.connection.reliable || this.closed) return;
    const timeoutMs = limits.keepAliveTimeoutMs ?? DEFAULT_LIMITS.keepAliveTimeoutMs;
    let seen = this.received;
    let silentTicks = 0;
    let pinging = false;
    // Two ticks per interval, and a ping after two silent ones: counting messages costs nothing per message.
    this.keepAliveTimer = setInterval(() => {
      if (this.received !== seen || pinging) {
        seen = this.received;
        silentTicks = 0;
        return;
      }
      if (++silentTicks < 2) return;
      pinging = true;
      this.request({ type: 'ping' }, { timeoutMs }).then(
        () => (pinging = false),
        (err: PeerwayError) => {
          pinging = false;
          if (err.code === 'TIMEOUT') {
            this.drop(new PeerwayError('TIMEOUT', `${this.peerLabel} stopped answering: no reply to a keepalive within ${timeoutMs} ms after ${interval} ms of silence`));
          }
        },
      );
    }, Math.max(1, Math.floor(interval / 2)));
    this.keepAliveTimer.unref();
  }

  private maxQueuedBytes = 0;
  private maxInFlight = 0;
  private answering = 0;
  private received = 0;
  private keepAliveTimer: NodeJS.Timeout | undefined;

  get closed(): boolean {
    return this.closedInfo !== undefined || this.connection.closed;
  }

  get closeInfo(): CloseInfo | undefined {
    return this.closedInfo;
  }

  /**
   * Sends a message that expects no answer. Returns false under backpressure. Throws when the message
   * cannot be encoded or sent (closed, above the frame limit), and closes the connection with
   * LIMIT_EXCEEDED when the peer leaves more than `maxQueuedBytes` unread.
   */
  send(message: Message): boolean {
    return this.sendEncoded(encodeMessage(message));
  }

  /** Sends a message encoded beforehand (one encoding shared by several connections). */
  sendEncoded(payload: Uint8Array): boolean {
    const ok = this.connection.send(payload);
    if (!ok && this.maxQueuedBytes > 0 && this.connection.queuedBytes > this.maxQueuedBytes) this.overflow();
    return ok;
  }

  /** Bytes queued for the peer and not yet written. */
  get queuedBytes(): number {
    return this.connection.queuedBytes;
  }

  private overflow(): void {
    if (this.localFailure || this.closed) return; // already closing (fail() itself sends)
    const queued = this.connection.queuedBytes;
    this.fail(
      new PeerwayError('LIMIT_EXCEEDED', `${this.peerLabel} does not read what it is sent: ${queued} bytes queued, above the limit of ${this.maxQueuedBytes}; closed as a slow consumer`, {
        details: { queued, limit: this.maxQueuedBytes },
      }),
    );
  }

  /** Sends a request and resolves with the reply's value, or rejects with the peer's typed error. */
  request<B extends RequestBody>(body: B, options: ChannelRequestOptions = {}): Promise<ReplyTo<B['type']>> {
    if (this.closed) {
      return Promise.reject(mapped(options, new PeerwayError('CONNECTION_CLOSED', `${this.peerLabel}: connection is closed`)));
    }
    if (options.signal?.aborted) {
      return Promise.reject(mapped(options, new PeerwayError('ABORTED', `${describe(body)} was aborted`)));
    }
    const id = this.nextId++;
    return new Promise<ReplyTo<B['type']>>((resolve, reject) => {
      const timeoutMs = options.timeoutMs ?? this.defaultTimeoutMs;
      const deadline = timeoutMs > 0 && Number.isFinite(timeoutMs) ? performance.now() + timeoutMs : Infinity;
      // Every field set, in one order: one shape for all entries keeps settle's property reads monomorphic.
      const entry: Pending = { resolve, reject, deadline, timeoutMs, body, mapError: options.mapError, result: options.result, signal: undefined, onAbort: undefined };
      if (options.signal) {
        entry.signal = options.signal;
        entry.onAbort = () => this.settle(id, new PeerwayError('ABORTED', `${describe(body)} was aborted`));
        options.signal.addEventListener('abort', entry.onAbort, { once: true });
      }
      this.pending.set(id, entry);
      if (deadline < this.sweepAt) this.armSweep(deadline);
      try {
        // The body is sent as given, with its id added: callers build it for this request only.
        (body as Request).id = id;
        this.send(body as Request);
      } catch (err) {
        this.settle(id, PeerwayError.from(err));
      }
    });
  }

  /**
   * One timer per channel, not one per request: it fires at the earliest deadline of the pending requests,
   * fails those that are due, and re-arms for the next. A setTimeout and a clearTimeout per call cost more
   * than the call itself on a fast route; requests answered in time never touch the timer. The timer stays
   * armed when nothing is pending (re-arming for every call of a sequence would cost the same again); it
   * then finds nothing to do, and it is cleared when the channel closes.
   */
  private sweepTimer: NodeJS.Timeout | undefined;
  private sweepAt = Infinity;

  private armSweep(at: number): void {
    if (this.sweepTimer) clearTimeout(this.sweepTimer);
    this.sweepAt = at;
    this.sweepTimer = setTimeout(this.sweep, Math.max(0, at - performance.now()));
  }

  private readonly sweep = (): void => {
    this.sweepTimer = undefined;
    this.sweepAt = Infinity;
    const now = performance.now();
    let next = Infinity;
    for (const [id, entry] of this.pending) {
      if (entry.deadline <= now) {
        this.settle(id, new PeerwayError('TIMEOUT', `${describe(entry.body)} got no answer from ${this.peerLabel} within ${entry.timeoutMs} ms`));
      } else if (entry.deadline < next) {
        next = entry.deadline;
      }
    }
    if (next < Infinity) this.armSweep(next);
  };

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

  /**
   * The peer stopped answering: the channel is closed at once (pending requests fail, the close handler
   * runs, what the peer sends later is ignored) while the connection sends the notice and closes in its own
   * time. A frozen peer never acknowledges the close, so waiting for the connection would hold every
   * pending request, and the failover or unregistration the close handler makes, for its grace period.
   */
  private drop(error: PeerwayError): void {
    if (this.closedInfo) return;
    this.fail(error);
    this.onClose({ reason: error.message, error });
  }

  private onPayload(payload: Buffer): void {
    if (this.closedInfo) return; // dropped (see drop()): a late answer does not count
    this.received++;
    let message: Message;
    try {
      message = decodeMessage(payload);
    } catch (err) {
      const error = PeerwayError.from(err, 'PROTOCOL');
      if (!this.firstMessage && this.held) this.holdBack(error, payload.length);
      else this.undecodable(error);
      return;
    }
    if (!this.firstMessage && this.held) this.holdBack(message, payload.length);
    else this.deliver(message);
  }

  private holdBack(message: Message | PeerwayError, bytes: number): void {
    const held = this.held!;
    this.heldBytes += bytes;
    if (held.length < MAX_HELD_MESSAGES && this.heldBytes <= MAX_HELD_BYTES) {
      held.push(message);
      return;
    }
    this.protocolError(
      new PeerwayError(
        'LIMIT_EXCEEDED',
        `more than ${MAX_HELD_MESSAGES} messages or ${MAX_HELD_BYTES} bytes sent behind the hello before it was answered; wait for the welcome before sending more`,
        { details: { limit: MAX_HELD_MESSAGES, limitBytes: MAX_HELD_BYTES } },
      ),
    );
  }

  /**
   * Dispatches one message, containing whatever a handler throws here (a bug, on a peer's input): that
   * fails this connection with the reason, never the process.
   */
  private deliver(message: Message): void {
    try {
      this.dispatch(message);
    } catch (err) {
      this.protocolError(PeerwayError.from(err, 'PROTOCOL'));
    }
  }

  /**
   * A body the codec refused. One nested too deep whose own map names a request and its id is answered
   * with the error, a reply or error reply fails the request it answers, a push is dropped (reported as a
   * fault): the connection, and the other sessions on it, go on. Anything else is fatal.
   */
  private undecodable(error: PeerwayError): void {
    const type = error.details?.type;
    const id = error.details?.id;
    if (this.firstMessage || typeof type !== 'string') {
      this.protocolError(error);
    } else if (REQUEST_KINDS.has(type) && typeof id === 'number') {
      this.replyError(id, error);
    } else if ((type === 'reply' || type === 'error') && typeof id === 'number') {
      this.settle(id, error);
    } else if (PUSH_KINDS.has(type)) {
      this.fault(error);
    } else {
      this.protocolError(error);
    }
  }

  /** Handles one decoded message (held ones too, once the handlers are set). */
  private dispatch(message: Message): void {
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
      const malformed = fieldProblem(message);
      if (malformed) {
        this.fault(malformed, message);
        return;
      }
      try {
        this.handlers.push?.(message);
      } catch (err) {
        this.fault(err, message);
      }
    } else {
      this.protocolError(new PeerwayError('PROTOCOL', `unexpected message type "${message.type}"`));
    }
  }

  private answer(message: Request): void {
    const id = message.id;
    if (message.type === 'ping') {
      this.reply(id, undefined);
      return;
    }
    const handler = this.handlers.requests?.[message.type] as ((m: Request) => unknown) | undefined;
    if (!handler) {
      this.replyError(id, new PeerwayError('PROTOCOL', `this peer does not accept "${message.type}" requests`));
      return;
    }
    const malformed = fieldProblem(message);
    if (malformed) {
      this.replyError(id, malformed);
      return;
    }
    if (this.maxInFlight > 0 && this.answering >= this.maxInFlight) {
      this.replyError(id, new PeerwayError('LIMIT_EXCEEDED', `more than ${this.maxInFlight} requests in flight on this connection; wait for answers before sending more`, { details: { limit: this.maxInFlight } }));
      return;
    }
    try {
      const result = handler(message);
      if (result instanceof Promise) {
        this.answering++;
        result.then(
          (value) => {
            this.answering--;
            this.reply(id, value);
          },
          (err) => {
            this.answering--;
            this.replyError(id, err);
          },
        );
      } else {
        this.reply(id, result);
      }
    } catch (err) {
      this.replyError(id, err);
    }
  }

  /**
   * Sends a reply; a reply that cannot be sent (above the frame limit, say) fails that request at the
   * caller with the reason instead of throwing here, where nothing would catch it.
   */
  private reply(id: number, value: unknown): void {
    if (this.closed) return;
    try {
      this.sendEncoded(encodeReply(id, value));
    } catch (err) {
      this.replyError(id, err);
    }
  }

  /**
   * Sends an error reply. One that cannot be sent as it is (details the codec refuses, such as an integer
   * wider than 64 bits; a message above the frame limit) goes again with its code and a short message
   * saying why, without details: the caller gets a typed error, never a silence that ends in TIMEOUT. The
   * failure is reported as a fault.
   */
  private replyError(id: number, err: unknown): void {
    if (this.closed) return;
    const error = PeerwayError.from(err);
    const message: ErrorMessage = { type: 'error', id, error: error.toWire() };
    try {
      this.send(message);
      return;
    } catch (sendError) {
      this.fault(sendError, message);
      if (this.closed) return;
      const why = PeerwayError.from(sendError).message;
      const text = error.message.length > MAX_FALLBACK_MESSAGE ? `${error.message.slice(0, MAX_FALLBACK_MESSAGE)}…` : error.message;
      const plain: ErrorMessage = { type: 'error', id, error: { code: error.code, message: `${text} (the full error could not be sent: ${why})` } };
      try {
        this.send(plain);
      } catch (again) {
        this.fault(again, plain);
      }
    }
  }

  private fault(err: unknown, message?: Message): void {
    this.faults++;
    this.handlers.fault?.(PeerwayError.from(err), message);
  }

  /** Handler faults so far (see ChannelHandlers.fault). */
  faults = 0;

  private onErrorMessage(message: ErrorMessage): void {
    const error = PeerwayError.fromWire(message.error);
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
    if (entry.signal && entry.onAbort) entry.signal.removeEventListener('abort', entry.onAbort);
    if (error) {
      entry.reject(entry.mapError ? entry.mapError(error) : error);
    } else if (entry.result) {
      let out: unknown;
      try {
        out = entry.result(value);
      } catch (err) {
        entry.reject(PeerwayError.from(err));
        return;
      }
      entry.resolve(out);
    } else {
      entry.resolve(value);
    }
  }

  private protocolError(err: PeerwayError): void {
    this.onProtocolError(err);
    this.fail(err);
  }

  private onClose(info: CloseInfo): void {
    if (this.closedInfo) return;
    // Why the connection ended, when it says more than "closed": the peer's notice, our own refusal, or
    // the transport's (a WebSocket peer refusing a message above its limit, say).
    const transport = info.error && info.error.code !== 'CONNECTION_CLOSED' ? info.error : undefined;
    const fatal = this.fatalFromPeer ?? this.localFailure ?? transport;
    this.closedInfo = fatal ? { reason: fatal.message, error: fatal } : info;
    if (this.sweepTimer) clearTimeout(this.sweepTimer);
    this.sweepTimer = undefined;
    this.sweepAt = Infinity;
    clearInterval(this.keepAliveTimer);
    this.held = undefined;
    this.heldBytes = 0;
    for (const id of [...this.pending.keys()]) {
      const entry = this.pending.get(id)!;
      const err = fatal ?? new PeerwayError('CONNECTION_CLOSED', `${describe(entry.body)}: connection to ${this.peerLabel} closed (${info.reason}) before the answer arrived`);
      this.settle(id, err);
    }
    this.handlers.close?.(this.closedInfo);
  }

  get pendingCount(): number {
    return this.pending.size;
  }
}

/** Longest error text kept when an error reply is sent again without its details. */
const MAX_FALLBACK_MESSAGE = 4096;

const REQUEST_KINDS: ReadonlySet<string> = new Set(REQUEST_TYPES);
const PUSH_KINDS: ReadonlySet<string> = new Set(PUSH_TYPES);

function mapped(options: RequestOptions, error: PeerwayError): PeerwayError {
  return options.mapError ? options.mapError(error) : error;
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
