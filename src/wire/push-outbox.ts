import { PeerwayError } from '../errors.js';

/**
 * Where an outbox sends: a Channel, or any other connection that can say how much it has not written
 * yet (a browser WebSocket, a Server-Sent Events stream).
 */
export interface PushTarget {
  readonly closed: boolean;
  /** Bytes accepted but not yet written to the peer. */
  readonly queuedBytes: number;
  /** Who is on the other end, for the slow-consumer message. */
  readonly peerLabel: string;
  sendEncoded(bytes: Uint8Array): void;
  /** Closes the connection with this error. */
  fail(error: PeerwayError): void;
}

/** How much a subscriber that does not keep up may hold back (README, "Limits and guarantees"). */
export interface PushLimits {
  /** Bytes queued on the connection above which pushes are held instead of sent. */
  softQueuedBytes: number;
  /** Bytes of pushes held (events, plus the latest runtime data per path) above which the subscriber is dropped. */
  maxHeldBytes: number;
}

export const DEFAULT_PUSH_LIMITS: PushLimits = { softQueuedBytes: 1024 * 1024, maxHeldBytes: 8 * 1024 * 1024 };

/** What the outboxes of a process did, for `peerway stats`. */
export const pushCounters = { coalesced: 0, slowConsumersClosed: 0 };

/**
 * The pushes (events, runtime data) of one connection, with a subscriber that does not keep up in mind:
 * while the connection has more than `softQueuedBytes` unwritten, pushes are held instead of queued,
 * runtime data coalesced to the latest value per key (a reader wants the state, not every step) and
 * events kept in order; once the held bytes pass `maxHeldBytes` the connection is closed with
 * LIMIT_EXCEEDED, as NATS does with slow consumers. `flush()` (on the connection's drain) sends what was
 * held. So a subscriber that never reads costs a bounded amount of memory, and one that reads slowly
 * still ends up with the current state.
 */
export class PushOutbox {
  private events: Uint8Array[] = [];
  private readonly data = new Map<string, Uint8Array>();
  private heldBytes = 0;

  constructor(
    private readonly channel: PushTarget,
    private readonly limits: PushLimits = DEFAULT_PUSH_LIMITS,
    /** A push the connection refused (above its message limit, say); dropped either way. */
    private readonly onDropped: (error: PeerwayError) => void = () => undefined,
  ) {}

  /**
   * Sends (or holds) one encoded push. With a `coalesceKey` only the latest push of that key is kept
   * while holding. Never throws: a push to a connection that is going away is dropped.
   */
  push(bytes: Uint8Array, coalesceKey?: string): void {
    const channel = this.channel;
    if (channel.closed) return;
    // 0 turns a bound off.
    if (this.heldBytes === 0 && (this.limits.softQueuedBytes <= 0 || channel.queuedBytes <= this.limits.softQueuedBytes)) {
      this.send(bytes);
      return;
    }
    if (coalesceKey === undefined) {
      this.events.push(bytes);
    } else {
      const previous = this.data.get(coalesceKey);
      if (previous) {
        this.heldBytes -= previous.length;
        this.data.delete(coalesceKey); // re-inserted below: the map keeps the order of the latest writes
        pushCounters.coalesced++;
      }
      this.data.set(coalesceKey, bytes);
    }
    this.heldBytes += bytes.length;
    if (this.limits.maxHeldBytes > 0 && this.heldBytes > this.limits.maxHeldBytes) this.dropSlowConsumer();
  }

  /** Sends what was held (the connection drained). */
  flush(): void {
    if (this.heldBytes === 0 || this.channel.closed) return;
    const events = this.events;
    this.events = [];
    for (const bytes of events) this.send(bytes);
    // Latest writes last: a subtree written after one of its leaves overrides it, as it did at the source.
    for (const bytes of this.data.values()) this.send(bytes);
    this.data.clear();
    this.heldBytes = 0;
  }

  /** Bytes held back right now. */
  get held(): number {
    return this.heldBytes;
  }

  private send(bytes: Uint8Array): void {
    try {
      this.channel.sendEncoded(bytes);
    } catch (err) {
      // Closing (its close handler cleans up), or above the connection's message limit: dropped.
      if (!this.channel.closed) this.onDropped(PeerwayError.from(err));
    }
  }

  private dropSlowConsumer(): void {
    pushCounters.slowConsumersClosed++;
    const held = this.heldBytes;
    this.events = [];
    this.data.clear();
    this.heldBytes = 0;
    this.channel.fail(
      new PeerwayError(
        'LIMIT_EXCEEDED',
        `${this.channel.peerLabel} does not keep up with its subscriptions: ${this.channel.queuedBytes} bytes queued and ${held} bytes of events and runtime data held back, above the limit of ${this.limits.maxHeldBytes}; closed as a slow consumer`,
        { details: { queued: this.channel.queuedBytes, held, limit: this.limits.maxHeldBytes } },
      ),
    );
  }
}
