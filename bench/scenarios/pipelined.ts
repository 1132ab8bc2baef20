import { randomBytes } from 'node:crypto';
import { directRoute, describeRoute } from '../context.js';
import { cpuUnavailable } from '../cpu.js';
import { cpuNote, pipelined, rateFigure, rateRounds, type RateSeries } from '../measure.js';
import { TARGETS, naFigure } from '../model.js';
import { cpuFigure } from './cpu-rows.js';
import { FramedSocket } from '../raw-clients.js';
import { checkEcho, type Scenario } from '../scenario.js';

/**
 * Pipelined calls: 100 calls in flight on one connection, calls completed per second. Direct against a raw
 * pipelined TCP echo (the target), and server-routed against the raw relay (for information). Each series
 * also reports the CPU µs per call of every process it keeps busy (bench client, echo, relay, server,
 * runner), read from /proc around the measured rounds.
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
      const noCpu = cpuUnavailable();
      const bench = process.pid;
      const echo = ctx.rawPid('tcp');
      const server = (await ctx.server()).pid;
      const procs = (p: Record<string, number>) => (noCpu ? {} : { processes: p });
      const series: RateSeries[] = [
        { key: 'raw TCP', round: load(() => raw.request(payload)), deadlineMs, ...procs({ bench, echo }) },
        { key: 'raw relay', round: load(() => relay.request(payload)), deadlineMs, ...procs({ bench, relay: ctx.rawPid('relay'), echo }) },
        { key: 'routed', round: load(() => routed.call('echo', { data: payload })), deadlineMs, ...procs({ bench, server, runner: await ctx.runnerPid('routed') }) },
      ];
      if (check.ok) series.push({ key: 'direct', round: load(() => direct.call('echo', { data: payload })), deadlineMs, ...procs({ bench, server, runner: await ctx.runnerPid('direct') }) });
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
      out.row({
        id: 'pipelined-direct-cpu-per-call',
        label: 'CPU µs per call, all processes: direct vs raw TCP (lower is better)',
        peerway: check.ok ? cpuFigure('direct', 'call', stats.get('direct'), noCpu) : naFigure('direct', 'CPU µs/call', check.why),
        baseline: cpuFigure('raw TCP', 'call', stats.get('raw TCP'), noCpu),
      });
      out.row({
        id: 'pipelined-routed-cpu-per-call',
        label: 'CPU µs per call, all processes: server-routed vs raw relay (lower is better)',
        peerway: cpuFigure('server-routed', 'call', stats.get('routed'), noCpu),
        baseline: cpuFigure('raw relay', 'call', stats.get('raw relay'), noCpu),
      });
      if (noCpu) out.note(noCpu);
      for (const key of ['raw TCP', 'raw relay', 'direct', 'routed']) {
        const note = cpuNote('call', key, stats.get(key));
        if (note) out.note(note);
      }
    } finally {
      raw.close();
      relay.close();
    }
  },
};
