import type { Session } from '../../src/client/session.js';
import { encodeMessage } from '../../src/wire/codec.js';
import { UDP_HEADER_BYTES } from '../../src/bearer/udp.js';
import { describeRoute, directRoute } from '../context.js';
import { rateFigure, rateRounds, round3, type RateSample, type RateSeries, type RateStats } from '../measure.js';
import { naFigure } from '../model.js';
import { DatagramCounter, settle } from '../raw-clients.js';
import type { Scenario } from '../scenario.js';

/** How long to wait after the sender finished for datagrams still queued, without any arriving. */
const QUIET_MS = 150;

/**
 * Unreliable events: the service emits `tick` events as fast as it can (a batch per event-loop turn) over
 * the direct udp route; the client counts what arrives. Against a raw dgram sender process with the same
 * pacing and the same datagram size. Loss is what did not arrive (a kernel buffer overflowing when the
 * receiver falls behind).
 */
export const udpEvents: Scenario = {
  id: 'udp-events',
  title: 'unreliable events over udp',
  summary: 'events/s and loss on the direct udp route vs raw dgram datagrams of the same size and pacing',
  async run(ctx, out) {
    const plan = ctx.plan.udp;
    const payload = Buffer.alloc(ctx.plan.payloadBytes, 0x5a);
    // The raw datagrams are as big as Peerway's: header + an encoded event push as links carry it (no session id).
    const datagramBytes = UDP_HEADER_BYTES + encodeMessage({ type: 'event', name: 'tick', args: { seq: plan.count, data: payload } }).length;
    const counter = await DatagramCounter.open();
    const { peer: sender } = await ctx.rawPeer('dgram-sender.mjs');
    const deadlineMs = 60_000;
    try {
      const series: RateSeries[] = [
        {
          key: 'raw dgram',
          deadlineMs,
          round: async () => {
            counter.reset();
            const t0 = performance.now();
            await sender.command(`send ${counter.port} ${plan.count} ${plan.batch} ${datagramBytes}`, /done \d+/, deadlineMs);
            await settle(() => counter.received, plan.count, QUIET_MS, 5000);
            return sample(counter.received, plan.count, t0, counter.lastAt);
          },
        },
      ];
      const direct = await ctx.session('udp');
      const check = directRoute(direct, 'event', 'tick');
      if (check.ok) series.push(await eventSeries('direct udp', direct, plan, deadlineMs));
      // For reference: the same events relayed by the server over tcp (reliable, so no loss, but through a hop).
      series.push(await eventSeries('via server', await ctx.session('routed'), plan, deadlineMs));
      const stats = await rateRounds(series, ctx.plan.rounds, plan.warmupRounds, (s) => ctx.progress.step(s));
      const raw = eventFigure('raw dgram', stats.get('raw dgram'));
      out.row({
        id: 'udp-events-vs-raw-dgram',
        label: 'direct udp events/s vs raw dgram',
        peerway: check.ok ? eventFigure('direct udp events', stats.get('direct udp'), { route: describeRoute(check.route) }) : naFigure('direct udp events', 'events/s', check.why),
        baseline: raw,
      });
      out.row({ id: 'server-events-vs-raw-dgram', label: 'server-routed (tcp) events/s vs raw dgram', peerway: eventFigure('events via server', stats.get('via server')), baseline: raw });
      out.note(`${plan.count} events per round, ${plan.batch} per event-loop turn, ${datagramBytes}-byte datagrams; rate = received / (last arrival − start)`);
    } finally {
      counter.close();
    }
  },
};

/** A Peerway series: subscribe to tick, then each round asks the service to burst and counts arrivals. */
async function eventSeries(key: string, session: Session, plan: { count: number; batch: number }, deadlineMs: number): Promise<RateSeries> {
  let received = 0;
  let lastAt = 0;
  await session.onEvent('tick', () => {
    received++;
    lastAt = performance.now();
  });
  return {
    key,
    deadlineMs,
    round: async () => {
      received = 0;
      lastAt = 0;
      const t0 = performance.now();
      await session.call('burst', { count: plan.count, batch: plan.batch }, { timeoutMs: deadlineMs });
      await settle(() => received, plan.count, QUIET_MS, 5000);
      return sample(received, plan.count, t0, lastAt);
    },
  };
}

function sample(received: number, sent: number, t0: number, lastAt: number): RateSample {
  const end = lastAt > 0 ? lastAt : performance.now();
  return { count: received, seconds: (end - t0) / 1000, extra: { sent, lossPercent: round3((100 * (sent - received)) / sent) } };
}

/** events/s with the median loss of the rounds as detail. */
function eventFigure(label: string, stats: RateStats | undefined, extra?: Record<string, unknown>) {
  const losses = (stats?.rounds ?? []).map((r) => r.extra?.lossPercent ?? 0).sort((a, b) => a - b);
  const loss = losses.length ? losses[losses.length >> 1] : NaN;
  return rateFigure(label, 'events/s', stats, `loss ${loss.toFixed(loss < 1 ? 2 : 1)}%`, { lossPercent: loss, ...extra });
}
