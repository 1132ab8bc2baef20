import { readFileSync } from 'node:fs';
import type { PeerwayClient } from '../../src/client/client.js';
import type { Session } from '../../src/client/session.js';
import { PROTOCOL_VERSION } from '../../src/wire/messages.js';
import { SERVICE_NAMES } from '../context.js';
import { hasProcfs, readCpuSeconds, readRssMB } from '../machine.js';
import { median, rateFigure, rateRounds, round3, type RateSample, type RateSeries } from '../measure.js';
import type { Target } from '../model.js';
import type { RawPeer } from '../raw-peer.js';
import type { Scenario } from '../scenario.js';
import { DRAIN_MS, Delivery, measureRound } from './fanout-round.js';

/**
 * A slow subscriber next to fast ones. N fast subscribers (client connections of the bench process, as in
 * the fan-out scenario) watch BenchRouted's `counter` through a server of their own; the service publishes
 * a fixed number of updates per round and a round ends when every fast subscriber has the last one. Two
 * series, interleaved by rounds: without a slow subscriber, and with SLOW (one) raw connection(s)
 * (bench/peers/slow-subscriber.mjs) that subscribe to the same runtime data and then never read (they
 * send a ping every 2 s, so the server's keepalive, which drops a silent peer, leaves them to the push
 * bounds this scenario is about).
 *
 * Before each round with them, updates are published until the server holds the slow subscribers' pushes
 * (socket buffers full, more than --soft-queued-bytes unwritten: health.coalesced counts each held update
 * replaced by a newer one), so the measured part is the steady state of a subscriber that stopped
 * reading; the rounds without them publish the same number of updates first, untimed, so both series start
 * from the same work. After the rounds, a drop check: one more slow subscriber that also takes events, and
 * tick events until the server drops it past --max-held-bytes (runtime data alone never gets there: it
 * is coalesced to one held push per path). Server RSS and `peerway stats` health in the notes.
 */

/** Fast subscribers, as in the fan-out scenario's middle size. */
const FAST = 10;
/** Slow subscribers in the rounds with them (the peer and the fill take any number). */
const SLOW: number = 1;
/** `a slow one`, `2 slow ones`. */
const SLOW_ONES = SLOW === 1 ? 'a slow one' : `${SLOW} slow ones`;
/** A slow subscriber should cost the fast ones little: the fan-out target's 0.8×, against the same fast subscribers without it. */
const TARGET: Target = { text: '≥ 0.8×', on: 'ratio', op: '>=', limit: 0.8 };
/** Updates per fill step; the fill stops once a whole step was held for every slow subscriber. */
const FILL_STEP = 10_000;
/** Bounds of one fill: about 16 MB of pushes per slow subscriber, or this long. */
const FILL_MAX_UPDATES = 400_000;
const FILL_MAX_MS = 30_000;
/** Drop check: tick events per step (64-byte payload each), at most this many in all, or this long. */
const DROP_STEP = 20_000;
const DROP_MAX_EVENTS = 600_000;
const DROP_MAX_MS = 30_000;
const EVENT_BATCH = 64;

/** Updates per measured round. */
const updatesPerRound = (quick: boolean): number => (quick ? 5_000 : 20_000);

/** What the server reports in `peerway stats` (client.stats(): the same request). */
interface Health {
  coalesced: number;
  slowConsumersClosed: number;
  sessions: number;
  limits: Record<string, number>;
}

async function health(client: PeerwayClient): Promise<Health> {
  const s = await client.stats({ timeoutMs: 10_000 });
  return {
    coalesced: s.health?.coalesced ?? NaN,
    slowConsumersClosed: s.health?.slowConsumersClosed ?? NaN,
    sessions: s.sessions,
    limits: s.limits ?? {},
  };
}

/** Peak resident set size (VmHWM) of `pid` in MB. */
function readPeakRssMB(pid: number): number {
  const m = /^VmHWM:\s+(\d+)\s+kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : NaN;
}

const MB = (bytes: number) => `${(bytes / 2 ** 20).toFixed(bytes % 2 ** 20 === 0 ? 0 : 1)} MiB`;
const mb = (megabytes: number) => `${megabytes.toFixed(1)} MB`;

export const slowSubscriber: Scenario = {
  id: 'slow-subscriber',
  title: 'slow subscriber next to fast ones',
  summary: `fast subscribers' via-server updates/s with ${SLOW_ONES} (subscribed, never reads) vs without; server RSS and slow-consumer health`,
  async run(ctx, out) {
    const quick = ctx.plan.quick;
    const updates = updatesPerRound(quick);
    const batch = ctx.plan.fanout.batch;
    // A server of its own: its health counters and RSS are this scenario's alone.
    const server = await ctx.server('slow');
    await ctx.service('routed', 'slow');
    const control = await ctx.session('routed', 'slow');
    const controlClient = await ctx.control('slow');
    const procfs = hasProcfs();
    const rss = () => (procfs ? round3(readRssMB(server.pid)) : NaN);
    const cpu = () => (procfs ? readCpuSeconds(server.pid) : NaN);

    const d = new Delivery();
    const clients: PeerwayClient[] = [];
    let slow: RawPeer | undefined;
    let slowOpen = 0;
    const closeSlow = async (): Promise<number> => {
      if (!slow || slowOpen === 0) return 0;
      slowOpen = 0;
      const m = await slow.command('close', /^(closed \d+ dropped (\d+)|failed .*)$/m, 30_000);
      if (m[1].startsWith('failed')) throw new Error(`slow subscriber peer: ${m[1]}`);
      return Number(m[2]);
    };
    const openSlow = async (count: number, kind: 'data' | 'events'): Promise<void> => {
      slowOpen += count; // before: `close` also closes those of a failed `open` that did open
      const m = await slow!.command(`open ${count} ${kind}`, /^(opened \d+|failed .*)$/m, 30_000);
      if (m[1].startsWith('failed')) throw new Error(`slow subscriber peer: ${m[1]}`);
    };

    try {
      ctx.progress.step(`connecting ${FAST} fast subscribers`);
      for (let i = 0; i < FAST; i++) {
        const client = await ctx.newClient('slow');
        clients.push(client);
        const session: Session = await client.startSession(SERVICE_NAMES.routed);
        await session.watch('counter', (c) => d.got(c.value as number));
      }
      const port = /:(\d+)$/.exec(server.url)![1];
      slow = (await ctx.rawPeer('slow-subscriber.mjs', ['--port', port, '--service', SERVICE_NAMES.routed, '--path', 'counter', '--protocol', String(PROTOCOL_VERSION)])).peer;
      const start = await health(controlClient);
      const idleRss = rss();

      let counter = 0;
      /** Publishes `count` updates and waits until every fast subscriber has the last one. */
      const publish = (count: number): Promise<RateSample> => {
        const from = counter;
        counter += count;
        return measureRound(d, from + count, FAST, () => control.call('publish', { from, count, batch }, { timeoutMs: 60_000 }), { subscribers: FAST });
      };

      /**
       * Publishes steps of FILL_STEP until one whole step was coalesced for every slow subscriber (all of
       * them held the whole step), bounded by count and time. Resolves with the updates it took.
       */
      const fill = async (): Promise<{ updates: number; held: boolean }> => {
        const t0 = performance.now();
        let sent = 0;
        let before = (await health(controlClient)).coalesced;
        while (sent < FILL_MAX_UPDATES && performance.now() - t0 < FILL_MAX_MS) {
          await publish(FILL_STEP);
          sent += FILL_STEP;
          const now = (await health(controlClient)).coalesced;
          // Each update replaces the one held for each slow subscriber: SLOW per update once all are held.
          if (now - before >= SLOW * (FILL_STEP - 1)) return { updates: sent, held: true };
          before = now;
        }
        return { updates: sent, held: false };
      };

      const fills: number[] = [];
      let notHeld = 0;
      /**
       * Updates published untimed before a round without slow subscribers: as many as the last fill took
       * (none with --quick, which only proves the scenario works).
       */
      let preload = quick ? 0 : FILL_STEP * 5;
      const rssWith: number[] = [];
      const rssWithout: number[] = [];
      const deadlineMs = FILL_MAX_MS + 2 * DRAIN_MS + 60_000;

      // 'with' first: with --quick (one round, no warm-up round) its fill warms the server for both.
      const series: RateSeries[] = [
        {
          key: 'with',
          deadlineMs,
          round: async () => {
            await openSlow(SLOW, 'data');
            const filled = await fill();
            fills.push(filled.updates);
            if (!filled.held) notHeld++;
            if (!quick) preload = filled.updates;
            const c0 = (await health(controlClient)).coalesced;
            const cpu0 = cpu();
            const sample = await publish(updates);
            const serverCpu = cpu() - cpu0;
            const c1 = (await health(controlClient)).coalesced;
            const r = rss(); // the slow subscribers are still connected and held
            rssWith.push(r);
            await closeSlow();
            return { ...sample, extra: { ...sample.extra, slow: SLOW, fillUpdates: filled.updates, held: filled.held ? 1 : 0, coalesced: c1 - c0, serverCpu: round3(serverCpu), rssMB: r } };
          },
        },
        {
          key: 'without',
          deadlineMs,
          round: async () => {
            for (let sent = 0; sent < preload; sent += FILL_STEP) await publish(FILL_STEP);
            const cpu0 = cpu();
            const sample = await publish(updates);
            const serverCpu = cpu() - cpu0;
            const r = rss();
            rssWithout.push(r);
            return { ...sample, extra: { ...sample.extra, preload, serverCpu: round3(serverCpu), rssMB: r } };
          },
        },
      ];
      const stats = await rateRounds(series, ctx.plan.rounds, ctx.plan.fanout.warmupRounds, (s) => ctx.progress.step(s));
      const withStats = stats.get('with');
      const incomplete = (key: string) => (stats.get(key)?.rounds.some((r) => r.extra?.incomplete) ? `; incomplete rounds: not all arrived within ${DRAIN_MS / 1000} s` : '');
      const coalescedPerUpdate = median((withStats?.rounds ?? []).map((r) => (r.extra?.coalesced ?? NaN) / updates));
      const afterRounds = await health(controlClient);
      /** Server CPU (utime + stime) per published update over the measured rounds of a series, in µs. */
      const cpuPerUpdate = (key: string): number => {
        const rounds = stats.get(key)?.rounds ?? [];
        const total = rounds.reduce((sum, r) => sum + (r.extra?.serverCpu ?? NaN), 0);
        return round3((total * 1e6) / (rounds.length * updates));
      };

      out.row({
        id: 'slow-subscriber-fast-rate',
        label: `${FAST} fast subscribers' updates/s with ${SLOW_ONES} vs without`,
        peerway: rateFigure(`${FAST} fast subscribers, ${SLOW_ONES} held`, 'updates/s', withStats, `held: ${round3(coalescedPerUpdate)} coalesced per update${incomplete('with')}`),
        baseline: rateFigure(`${FAST} fast subscribers, no slow one`, 'updates/s', stats.get('without'), incomplete('without').slice(2) || undefined),
        target: TARGET,
      });

      // Drop check: a slow subscriber that also takes events, which are held in full, not coalesced.
      ctx.progress.step('drop check: events to a slow subscriber');
      await openSlow(1, 'events');
      const drop0 = (await health(controlClient)).slowConsumersClosed;
      const t0 = performance.now();
      let events = 0;
      let dropped = false;
      while (events < DROP_MAX_EVENTS && performance.now() - t0 < DROP_MAX_MS) {
        await control.call('burst', { count: DROP_STEP, batch: EVENT_BATCH }, { timeoutMs: 60_000 });
        events += DROP_STEP;
        if ((await health(controlClient)).slowConsumersClosed > drop0) {
          dropped = true;
          break;
        }
      }
      const dropSeconds = (performance.now() - t0) / 1000;
      const rssAfterDrop = rss();
      const peerSawDrop = await closeSlow();
      const end = await health(controlClient);

      const lim = start.limits;
      out.note(
        `${FAST} fast subscribers (client connections of the bench process) and ${SLOW_ONES} (bench/peers/slow-subscriber.mjs: hello, start, ready, subscribe to counter, then never read, only send a ping every 2 s so the keepalive does not drop it first) on a server of their own with its default limits (soft queued ${MB(lim.softQueuedBytes)}, max held ${MB(lim.maxHeldBytes)}); ${updates} updates per round, ${batch} per event-loop turn`,
      );
      out.note(
        `before each round with ${SLOW_ONES} the server was made to hold its pushes (published until a whole step of ${FILL_STEP} was coalesced${SLOW === 1 ? '' : ' for each'}): ${fills.join(', ')} updates (${quick ? 'with --quick the rounds without publish nothing first' : 'the rounds without publish as many first, untimed'})` +
          (notHeld > 0 ? `; NOT held after ${FILL_MAX_UPDATES} updates or ${FILL_MAX_MS / 1000} s in ${notHeld} round(s)` : '') +
          `; during the measured rounds each update was coalesced ${round3(coalescedPerUpdate)} time(s) (median of the rounds; ${SLOW} = ${SLOW_ONES} held throughout, never dropped: runtime data alone is held as one push per path)`,
      );
      if (procfs) {
        out.note(
          `server CPU (/proc/<pid>/stat utime + stime) per update published to the ${FAST} fast subscribers, over the measured rounds: ${cpuPerUpdate('with')} µs with ${SLOW_ONES} held, ${cpuPerUpdate('without')} µs without${quick ? ' (10 ms clock ticks: rough with --quick)' : ''}`,
        );
        out.note(
          `server RSS (VmRSS): ${mb(idleRss)} idle with the ${FAST} fast subscribers; at the end of the rounds ${mb(Math.max(...rssWith))} with ${SLOW_ONES} held, ${mb(Math.max(...rssWithout))} without (highest of the rounds); ${mb(rssAfterDrop)} after the drop check; peak (VmHWM) ${mb(readPeakRssMB(server.pid))}`,
        );
      } else {
        out.note('server RSS: n/a (needs /proc: Linux only)');
      }
      out.note(
        dropped
          ? `drop check: one more slow subscriber, also subscribed to events: dropped with LIMIT_EXCEEDED within ${events} tick events (checked every ${DROP_STEP}; ${round3(dropSeconds)} s); the peer found ${peerSawDrop} of 1 connection closed by the server`
          : `drop check: one more slow subscriber, also subscribed to events, was NOT dropped after ${events} tick events (${round3(dropSeconds)} s)`,
      );
      out.note(
        `server health (peerway stats): slowConsumersClosed ${end.slowConsumersClosed} (${afterRounds.slowConsumersClosed - start.slowConsumersClosed} during the rounds), coalesced ${end.coalesced}; sessions ${end.sessions} (${start.sessions} before the slow subscribers)`,
      );
    } finally {
      ctx.progress.step('closing subscribers');
      await closeSlow().catch(() => undefined);
      await Promise.all(clients.map((c) => ctx.closeClient(c)));
    }
  },
};
