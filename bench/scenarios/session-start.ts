import type { Session } from '../../src/client/session.js';
import { SERVICE_NAMES, describeRoute, directRoute } from '../context.js';
import { latencyFigure, latencyRounds, type LatencySeries } from '../measure.js';
import { TARGETS, naFigure } from '../model.js';
import type { Scenario } from '../scenario.js';

/**
 * Session start time on an open connection (connect excluded): from `startSession` to the session being
 * usable, which for a service with peer-to-peer routes includes opening and authenticating its link.
 * BenchDirect has exactly one p2p link (the built-in reliable link, tcp). The baseline is a service
 * without routing, whose start involves no link.
 */
export const sessionStart: Scenario = {
  id: 'session-start',
  title: 'session start time',
  summary: 'startSession on an open connection, with p2p links opened, vs a server-routed service (no links)',
  async run(ctx, out) {
    await Promise.all([ctx.service('direct'), ctx.service('routed')]);
    const client = await ctx.control();
    const probe = await client.startSession(SERVICE_NAMES.direct);
    const check = directRoute(probe, 'method', 'echo');
    await probe.stop();
    const starter = (kind: 'direct' | 'routed'): LatencySeries => ({
      key: kind,
      once: () => client.startSession(SERVICE_NAMES[kind]),
      // Stopping is not part of the start time; it runs untimed before the next start.
      after: (s) => (s as Session).stop(),
    });
    const series = [starter('routed')];
    if (check.ok) series.push(starter('direct'));
    const stats = await latencyRounds(series, ctx.plan.sessionStart, (s) => ctx.progress.step(s));
    out.row({
      id: 'session-start-p2p',
      label: 'session start with one p2p link vs without',
      peerway: check.ok
        ? latencyFigure('start with one p2p link', stats.get('direct'), { unit: 'ms', extra: { route: describeRoute(check.route) } })
        : naFigure('start with one p2p link', 'ms', check.why),
      baseline: latencyFigure('start, server-routed service', stats.get('routed'), { unit: 'ms' }),
      target: TARGETS.sessionStartP50Ms,
    });
    out.note('the target applies to the p50 of the start with one p2p link; each started session is stopped (untimed) before the next');
  },
};
