import { randomBytes } from 'node:crypto';
import { cpuUnavailable } from '../cpu.js';
import { describeRoute, directRoute } from '../context.js';
import { cpuNote, latencyFigure, latencyRounds, pipelined, rateFigure, rateRounds, type LatencySeries, type RateSeries } from '../measure.js';
import { naFigure, type Figure } from '../model.js';
import { OUTSIDE_PEERS, PeerAbsent, type OutsideEcho, type OutsidePeer } from '../outside-peers.js';
import { FramedSocket } from '../raw-clients.js';
import { checkEcho, type Scenario } from '../scenario.js';

/**
 * The middleware users compare Peerway with: gRPC-js unary, socket.io with acknowledgements, Moleculer's
 * TCP transporter and NATS request/reply (bench/outside-peers.ts), each an echo in a process of its own
 * with the same 64-byte payload. Measured in the same rounds as Peerway's direct and server-routed calls
 * and the honest raw TCP echo: the round trip (one call in flight) and pipelined calls/s (100 in flight),
 * with CPU µs per call of every process. A peer whose library or program is absent is skipped with a note.
 */
export const outsidePeers: Scenario = {
  id: 'peers',
  title: 'outside peers: call RTT and calls/s with 100 in flight',
  summary: 'direct and server-routed calls vs gRPC-js, socket.io emitWithAck, Moleculer TCP and NATS request/reply (each skipped with a note when absent): RTT and calls/s with 100 in flight',
  async run(ctx, out) {
    const payload = randomBytes(ctx.plan.payloadBytes);
    const started: { peer: OutsidePeer; echo: OutsideEcho }[] = [];
    const raw = await FramedSocket.connect(await ctx.rawEcho('tcp'));
    try {
      for (const peer of OUTSIDE_PEERS) {
        ctx.progress.step(`${peer.name}: starting`);
        try {
          const echo = await peer.start(ctx);
          started.push({ peer, echo });
          checkEcho(await echo.echo(payload), payload, peer.name);
          out.note(echo.setup);
        } catch (err) {
          if (!(err instanceof PeerAbsent)) throw err;
          out.note(`${peer.name}: skipped: ${err.message}`);
        }
      }
      const routed = await ctx.session('routed');
      const direct = await ctx.session('direct');
      const check = directRoute(direct, 'method', 'echo');
      checkEcho(await raw.request(payload), payload, 'raw echo');
      checkEcho(await routed.call('echo', { data: payload }), payload, 'BenchRouted.echo');
      const calls: { key: string; op: () => Promise<unknown>; processes: Record<string, number> }[] = [
        { key: 'raw TCP', op: () => raw.request(payload), processes: { echo: ctx.rawPid('tcp') } },
        { key: 'routed', op: () => routed.call('echo', { data: payload }), processes: { server: (await ctx.server()).pid, runner: await ctx.runnerPid('routed') } },
        ...started.map(({ peer, echo }) => ({ key: peer.name, op: () => echo.echo(payload), processes: echo.processes })),
      ];
      if (check.ok) calls.push({ key: 'direct', op: () => direct.call('echo', { data: payload }), processes: { runner: await ctx.runnerPid('direct') } });

      // Round trips: one call in flight, the series interleaved in slices as in the other RTT scenarios.
      const latency: LatencySeries[] = calls.map((c) => ({ key: c.key, once: c.op }));
      const rtt = await latencyRounds(latency, ctx.plan.rtt, (s) => ctx.progress.step(`RTT ${s}`));
      // Pipelined: 100 in flight, whole rounds alternating, CPU per call of each process around each round.
      const plan = ctx.plan.pipelined;
      const noCpu = cpuUnavailable();
      const rates: RateSeries[] = calls.map((c) => ({
        key: c.key,
        round: () => pipelined(c.op, plan.inFlight, plan.calls, plan.maxMs),
        deadlineMs: plan.maxMs + 30_000,
        ...(noCpu ? {} : { processes: { bench: process.pid, ...c.processes } }),
      }));
      const tput = await rateRounds(rates, ctx.plan.rounds, plan.warmupRounds, (s) => ctx.progress.step(`pipelined ${s}`));

      const route = check.ok ? { route: describeRoute(check.route) } : undefined;
      const directRtt: Figure = check.ok ? latencyFigure('direct call', rtt.get('direct'), { extra: route }) : naFigure('direct call', 'µs', check.why);
      const routedRtt = latencyFigure('server-routed call', rtt.get('routed'));
      const directRate: Figure = check.ok ? rateFigure('direct calls', 'calls/s', tput.get('direct'), undefined, route) : naFigure('direct calls', 'calls/s', check.why);
      const routedRate = rateFigure('server-routed calls', 'calls/s', tput.get('routed'));
      const rawRtt = latencyFigure('raw TCP ping-pong', rtt.get('raw TCP'));
      const rawRate = rateFigure('raw pipelined TCP echo', 'calls/s', tput.get('raw TCP'));
      out.row({ id: 'peers-direct-vs-raw-tcp', label: 'direct call RTT vs raw TCP ping-pong', peerway: directRtt, baseline: rawRtt });
      out.row({ id: 'peers-direct-pipelined-vs-raw-tcp', label: 'direct pipelined calls/s vs raw pipelined TCP', peerway: directRate, baseline: rawRate });
      for (const { peer } of started) {
        const rttFig = latencyFigure(peer.name, rtt.get(peer.name));
        const rateFig = rateFigure(peer.name, 'calls/s', tput.get(peer.name));
        out.row({ id: `peers-direct-speedup-over-${peer.id}`, label: `direct RTT speed-up over ${peer.name}`, peerway: directRtt, baseline: rttFig, ratioKind: 'baseline/peerway' });
        out.row({ id: `peers-routed-speedup-over-${peer.id}`, label: `server-routed RTT speed-up over ${peer.name}`, peerway: routedRtt, baseline: rttFig, ratioKind: 'baseline/peerway' });
        out.row({ id: `peers-direct-pipelined-vs-${peer.id}`, label: `direct pipelined calls/s vs ${peer.name}`, peerway: directRate, baseline: rateFig });
        out.row({ id: `peers-routed-pipelined-vs-${peer.id}`, label: `server-routed pipelined calls/s vs ${peer.name}`, peerway: routedRate, baseline: rateFig });
      }
      if (noCpu) out.note(noCpu);
      for (const c of calls) {
        const note = cpuNote('call (100 in flight)', c.key, tput.get(c.key));
        if (note) out.note(note);
      }
      out.note(`64-byte payload; ${plan.inFlight} calls in flight for the pipelined figures; every peer in a process of its own, the bench process is the client of all`);
    } finally {
      raw.close();
      for (const { echo } of started) await echo.close().catch(() => undefined);
    }
  },
};
