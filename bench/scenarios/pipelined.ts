import { randomBytes } from 'node:crypto';
import { directRoute, describeRoute } from '../context.js';
import { pipelined, rateFigure, rateRounds, type RateSeries } from '../measure.js';
import { TARGETS, naFigure } from '../model.js';
import { FramedSocket } from '../raw-clients.js';
import { checkEcho, type Scenario } from '../scenario.js';

/**
 * Pipelined calls: 100 calls in flight on one connection, calls completed per second. Direct against a raw
 * pipelined TCP echo (the target), and server-routed against the raw relay (for information).
 */
export const pipelinedCalls: Scenario = {
  id: 'pipelined',
  title: 'pipelined calls/s (100 in flight)',
  summary: 'calls/s with 100 in flight: direct vs raw pipelined TCP echo, server-routed vs raw pipelined relay',
  async run(ctx, out) {
    const plan = ctx.plan.pipelined;
    const payload = randomBytes(ctx.plan.payloadBytes);
    const raw = await FramedSocket.connect(await ctx.rawEcho('tcp'));
    const relay = await FramedSocket.connect(await ctx.rawRelay());
    try {
      const routed = await ctx.session('routed');
      const direct = await ctx.session('direct');
      const check = directRoute(direct, 'method', 'echo');
      checkEcho(await raw.request(payload), payload, 'raw echo');
      checkEcho(await relay.request(payload), payload, 'raw relay');
      checkEcho(await routed.call('echo', { data: payload }), payload, 'BenchRouted.echo');
      const deadlineMs = plan.maxMs + 30_000;
      const load = (op: () => Promise<unknown>) => () => pipelined(op, plan.inFlight, plan.calls, plan.maxMs);
      const series: RateSeries[] = [
        { key: 'raw TCP', round: load(() => raw.request(payload)), deadlineMs },
        { key: 'raw relay', round: load(() => relay.request(payload)), deadlineMs },
        { key: 'routed', round: load(() => routed.call('echo', { data: payload })), deadlineMs },
      ];
      if (check.ok) series.push({ key: 'direct', round: load(() => direct.call('echo', { data: payload })), deadlineMs });
      const stats = await rateRounds(series, ctx.plan.rounds, plan.warmupRounds, (s) => ctx.progress.step(s));
      out.row({
        id: 'pipelined-direct-vs-raw-tcp',
        label: 'direct pipelined vs raw pipelined TCP',
        peerway: check.ok ? rateFigure('direct calls', 'calls/s', stats.get('direct'), undefined, { route: describeRoute(check.route) }) : naFigure('direct calls', 'calls/s', check.why),
        baseline: rateFigure('raw pipelined TCP echo', 'calls/s', stats.get('raw TCP')),
        target: TARGETS.pipelinedVsRaw,
      });
      out.row({
        id: 'pipelined-routed-vs-raw-relay',
        label: 'server-routed pipelined vs raw pipelined relay',
        peerway: rateFigure('server-routed calls', 'calls/s', stats.get('routed')),
        baseline: rateFigure('raw pipelined relay', 'calls/s', stats.get('raw relay')),
      });
    } finally {
      raw.close();
      relay.close();
    }
  },
};
