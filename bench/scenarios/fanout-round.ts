import type { RateSample, RateSeries } from '../measure.js';

/**
 * What every side of the fan-out comparison shares: a side is N subscribers plus the way to publish to
 * them, and one round publishes a fixed number of updates and ends when every subscriber has the last.
 */

/** How long a round may take after its publisher finished before it counts as stuck. */
export const DRAIN_MS = 30_000;

/** One side of a fan-out comparison at one subscriber count. */
export interface FanoutSide {
  series: RateSeries;
  close(): Promise<void>;
  /** The route the subscribers got (direct sides). */
  route?: string;
}

/** Round bookkeeping shared by the subscribers of one side. */
export class Delivery {
  delivered = 0;
  private final = -1;
  private remaining = 0;
  private resolve: (() => void) | undefined;

  /** Starts a round whose last value is `final`, for `subscribers` subscribers. */
  expect(final: number, subscribers: number): Promise<void> {
    this.final = final;
    this.remaining = subscribers;
    this.delivered = 0;
    return new Promise((r) => (this.resolve = r));
  }

  /** One update arrived at one subscriber. */
  got(value: number): void {
    this.delivered++;
    if (value === this.final && --this.remaining === 0) this.resolve?.();
  }

  get complete(): boolean {
    return this.remaining === 0;
  }
}

/**
 * One round: publish (resolves when the publisher has sent everything), then wait until every subscriber
 * has the final value or DRAIN_MS passed. A round that did not complete still counts what arrived, and
 * says so in `incomplete`.
 */
export async function measureRound(d: Delivery, final: number, n: number, publish: () => Promise<unknown>, extra: Record<string, number>): Promise<RateSample> {
  const all = d.expect(final, n);
  const t0 = performance.now();
  await publish();
  await untilOr(all, DRAIN_MS);
  const seconds = (performance.now() - t0) / 1000;
  return { count: d.delivered, seconds, extra: { ...extra, incomplete: d.complete ? 0 : 1 } };
}

/** Waits for `promise`, at most `ms`, and leaves no timer behind either way. */
export async function untilOr(promise: Promise<unknown>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([promise, new Promise<void>((r) => (timer = setTimeout(r, ms)))]);
  clearTimeout(timer);
}

