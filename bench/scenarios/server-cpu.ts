import { randomBytes } from 'node:crypto';
import type { Session } from '../../src/client/session.js';
import { describeRoute, directRoute } from '../context.js';
import { hasProcfs, readCpuSeconds } from '../machine.js';
import { pipelined, round3, withDeadline } from '../measure.js';
import { TARGETS, naFigure, type Figure } from '../model.js';
import type { Scenario } from '../scenario.js';

/**
 * Server CPU saved by peer-to-peer: the server's CPU seconds (from /proc) while a client makes N direct
 * calls, against N server-routed calls. Calls are pipelined (100 in flight) so the routed run is long
 * enough for the 10 ms resolution of the kernel's CPU accounting; the figures are normalised to exactly N
 * calls in case a run was cut short by its time bound.
 */
export const serverCpu: Scenario = {
  id: 'server-cpu',
  title: 'server CPU saved by direct calls',
  summary: 'server CPU seconds during N direct calls vs N server-routed calls',
  async run(ctx, out) {
    const { calls, inFlight, rounds } = ctx.plan.serverCpu;
    const label = `server CPU during ${calls} direct calls vs ${calls} routed calls`;
    if (!hasProcfs()) {
      const why = 'n/a (needs /proc: Linux only)';
      out.row({ id: 'server-cpu-direct-share', label, peerway: naFigure('direct', 'CPU s', why), baseline: naFigure('routed', 'CPU s', why), ratioAsPercent: true, target: TARGETS.directCpuShare });
      return;
    }
    const server = await ctx.server();
    const payload = randomBytes(ctx.plan.payloadBytes);
    const routed = await ctx.session('routed');
    const direct = await ctx.session('direct');
    const check = directRoute(direct, 'method', 'echo');

    /** Server CPU seconds per call over `rounds` runs of `calls` pipelined calls. */
    const measure = async (session: Session, key: string) => {
      let cpu = 0;
      let done = 0;
      let seconds = 0;
      for (let r = 0; r < rounds; r++) {
        ctx.progress.step(`${key}: round ${r + 1}/${rounds}`);
        const before = readCpuSeconds(server.pid);
        const sample = await withDeadline(pipelined(() => session.call('echo', { data: payload }), inFlight, calls, 60_000), 90_000, `${key} calls`);
        cpu += readCpuSeconds(server.pid) - before;
        done += sample.count;
        seconds += sample.seconds;
      }
      return { perCall: done > 0 ? cpu / done : NaN, done, seconds, cpu };
    };
    const fig = (name: string, m: Awaited<ReturnType<typeof measure>>, extra: Record<string, unknown> = {}): Figure => ({
      label: `server CPU during ${calls} ${name} calls`,
      value: round3(m.perCall * calls),
      unit: 'CPU s',
      detail: `${round3(m.perCall * 1e6)} µs per call`,
      extra: { callsMeasured: m.done, cpuSeconds: round3(m.cpu), wallSeconds: round3(m.seconds), ...extra },
    });
    await routed.call('echo', { data: payload }); // warm the path before the CPU is counted
    const routedFig = fig('routed', await measure(routed, 'routed'));
    let directFig: Figure;
    if (check.ok) {
      await direct.call('echo', { data: payload });
      directFig = fig('direct', await measure(direct, 'direct'), { route: describeRoute(check.route) });
    } else {
      directFig = naFigure(`server CPU during ${calls} direct calls`, 'CPU s', check.why);
    }
    out.row({ id: 'server-cpu-direct-share', label, peerway: directFig, baseline: routedFig, ratioAsPercent: true, target: TARGETS.directCpuShare });
    out.note(`${rounds} run(s) of ${calls} calls each, ${inFlight} in flight; CPU from /proc/<pid>/stat of the server process`);
  },
};
