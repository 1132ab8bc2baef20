import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import type { PeerwayClient } from '../../src/client/client.js';
import type { DataChange, ServiceEvent, Session } from '../../src/client/session.js';
import { PeerwayError } from '../../src/errors.js';

/** One call the load made, and how it ended. Times are performance.now(). */
export interface CallRecord {
  kind: 'record' | 'bump' | 'services';
  /** The id passed to `record`. */
  id?: string;
  startedAt: number;
  settledAt?: number;
  ok?: boolean;
  /** What `bump` returned. */
  value?: number;
  /** The runner epoch when the call settled (bump results are told apart by it). */
  epoch: number;
  /** The error code of a failed call; `UNTYPED` for anything that is not a PeerwayError. */
  code?: string;
  message?: string;
  /** Not settled within its timeout plus a grace period: a hang. */
  hung?: boolean;
}

export interface ReceivedEvent {
  epoch: number;
  n: number;
  route: string;
  at: number;
}

export interface SeenChange {
  value: unknown;
  restored: boolean;
  at: number;
}

export interface LoadOptions {
  /** Time allowed for each call (the client's own timeout); a call not settled by this plus 3 s hangs. */
  callTimeoutMs: number;
  /** `record` loops side by side (calls in flight at once), and the pause between two calls of each (0: none). */
  recordLoops: number;
  paceMs: number;
  /** Pause between two `bump` calls. */
  bumpEveryMs: number;
  /** Pause between two `services` requests (the server alone answers them). */
  serverProbeEveryMs: number;
  /** Bounds: each loop stops on its own after this many calls or this long. */
  maxCalls: number;
  maxMs: number;
}

const HANG_GRACE_MS = 3000;

/**
 * The load of a fault run, on one client: loops calling `record` with unique ids (the direct reliable
 * link), a `bump` now and then (the server route; its counter is watched and its event subscribed), and a
 * `services` request now and then (answered by the server alone). Bounded in count and time; `stop()`
 * ends it sooner. Every call is watched: one that outlives its timeout by 3 s counts as a hang.
 */
export class Load {
  readonly calls: CallRecord[] = [];
  readonly events: ReceivedEvent[] = [];
  readonly changes: SeenChange[] = [];
  private stopped = false;
  private loops: Promise<void>[] = [];
  private readonly dangling: Promise<unknown>[] = [];

  constructor(
    readonly client: PeerwayClient,
    readonly session: Session,
    private readonly epoch: () => number,
    private readonly options: LoadOptions,
  ) {}

  /** Subscribes to `bumped` and watches `n` (before the load starts, as an application would). */
  async subscribe(): Promise<void> {
    await this.session.onEvent('bumped', (e: ServiceEvent) => this.events.push({ epoch: this.epoch(), n: Number(e.args.n), route: e.route, at: performance.now() }));
    await this.session.watch('n', (c: DataChange) => this.changes.push({ value: c.value, restored: c.restored === true, at: performance.now() }));
  }

  start(): void {
    const until = performance.now() + this.options.maxMs;
    const live = () => !this.stopped && performance.now() < until;
    const recordLoop = async (loop: number) => {
      for (let i = 0; i < this.options.maxCalls && live(); i++) {
        const id = `r${loop}.${i}`;
        await this.one('record', () => this.session.call('record', { id }, { timeoutMs: this.options.callTimeoutMs }), { id });
        if (this.options.paceMs > 0) await sleep(this.options.paceMs);
      }
    };
    this.loops = [
      ...Array.from({ length: this.options.recordLoops }, (_, loop) => recordLoop(loop)),
      (async () => {
        for (let i = 0; i < this.options.maxCalls && live(); i++) {
          await this.bump();
          await sleep(this.options.bumpEveryMs);
        }
      })(),
      (async () => {
        for (let i = 0; i < this.options.maxCalls && live(); i++) {
          await this.one('services', () => this.client.services({ timeoutMs: this.options.callTimeoutMs }));
          await sleep(this.options.serverProbeEveryMs);
        }
      })(),
    ];
  }

  /** Stops the loops; resolves once each has ended (every call in them settled or counted as hung). */
  async stop(): Promise<void> {
    this.stopped = true;
    await Promise.all(this.loops);
  }

  /** One `bump`, recorded like the load's own. */
  bump(): Promise<CallRecord> {
    return this.one('bump', () => this.session.call<number>('bump', {}, { timeoutMs: this.options.callTimeoutMs }));
  }

  /** Acknowledged calls of `kind` started at or after `since`. */
  acknowledged(kind: CallRecord['kind'], since = 0): CallRecord[] {
    return this.calls.filter((c) => c.kind === kind && c.ok === true && c.startedAt >= since);
  }

  private async one(kind: CallRecord['kind'], call: () => Promise<unknown>, extra: { id?: string } = {}): Promise<CallRecord> {
    const record: CallRecord = { kind, ...extra, startedAt: performance.now(), epoch: this.epoch() };
    this.calls.push(record);
    let timer: NodeJS.Timeout | undefined;
    const watchdog = new Promise<'hang'>((resolve) => (timer = setTimeout(() => resolve('hang'), this.options.callTimeoutMs + HANG_GRACE_MS)));
    const outcome = call().then(
      (value) => ({ value }),
      (err: unknown) => ({ err }),
    );
    const settled = await Promise.race([outcome, watchdog]);
    clearTimeout(timer);
    record.epoch = this.epoch();
    if (settled === 'hang') {
      record.hung = true;
      this.dangling.push(outcome);
      return record;
    }
    record.settledAt = performance.now();
    if ('err' in settled) {
      record.ok = false;
      record.code = settled.err instanceof PeerwayError ? settled.err.code : 'UNTYPED';
      record.message = settled.err instanceof Error ? settled.err.message : String(settled.err);
    } else {
      record.ok = true;
      if (kind === 'bump') record.value = settled.value as number;
    }
    return record;
  }
}
