/** How a peer that went away is tried again (client reconnects, session restores). */
export interface BackoffOptions {
  /** First wait (default 100 ms): the first retries come quickly, a restarted peer is usually back at once. */
  initialDelayMs?: number;
  /** Longest wait between two attempts (default 1000 ms), so a peer back is found within about a second. */
  maxDelayMs?: number;
  /** Each wait is the previous one times this (default 2). */
  factor?: number;
  /**
   * Fraction of each wait drawn at random, + or - (default 0.2): a hundred clients of one restarted server
   * do not all knock at the same instant.
   */
  jitter?: number;
}

/** Waits that grow from `initialDelayMs` to `maxDelayMs`, each spread by the jitter; `reset()` starts over. */
export class Backoff {
  private attempt = 0;
  private readonly initial: number;
  private readonly max: number;
  private readonly factor: number;
  private readonly jitter: number;

  constructor(
    options: BackoffOptions = {},
    /** Source of randomness in [0, 1): replaceable so a test can pin the jitter. */
    private readonly random: () => number = Math.random,
  ) {
    this.initial = Math.max(0, options.initialDelayMs ?? 100);
    this.max = Math.max(this.initial, options.maxDelayMs ?? 1000);
    this.factor = Math.max(1, options.factor ?? 2);
    this.jitter = Math.min(1, Math.max(0, options.jitter ?? 0.2));
  }

  /** The wait before the next attempt. */
  next(): number {
    const base = Math.min(this.max, this.initial * this.factor ** this.attempt);
    this.attempt++;
    const spread = base * this.jitter * (this.random() * 2 - 1);
    return Math.max(0, Math.round(base + spread));
  }

  reset(): void {
    this.attempt = 0;
  }

  /** Attempts made since the last reset. */
  get attempts(): number {
    return this.attempt;
  }
}
