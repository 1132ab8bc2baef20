import type { PeerwayClient } from '../../src/client/client.js';
import { SERVICE_NAMES } from '../context.js';
import { hasProcfs, readCpuSeconds, readRssMB } from '../machine.js';
import { round3, sleep } from '../measure.js';
import { TARGETS, naFigure, type Figure } from '../model.js';
import type { Scenario } from '../scenario.js';
import { untilOr } from './fanout-round.js';

/** The figure the target is written for. */
const TARGET_CLIENTS = 1000;

/**
 * Scale: N clients (1000; 100 with --quick), each its own connection with a session and a runtime-data
 * subscription, on a server of their own. Server RSS (VmRSS) and CPU (utime + stime) are read from /proc,
 * so this needs Linux. The subscriptions go to BenchRouted, so every update is fanned out by the server:
 * the server's worst case. The baseline is the same server idle with the service registered.
 */
export const scale: Scenario = {
  id: 'scale',
  title: 'scale: clients with a session and a subscription',
  summary: 'server RSS and CPU with 1000 clients each holding a session and a runtime-data subscription, vs the idle server',
  async run(ctx, out) {
    const n = ctx.plan.scale.clients;
    const label = `${n} clients × (session + subscription)`;
    if (!hasProcfs()) {
      const why = 'n/a (needs /proc: Linux only)';
      out.row({ id: 'scale-rss', label: `server RSS, ${label}`, peerway: naFigure('server RSS', 'MB', why), baseline: naFigure('idle server RSS', 'MB', why) });
      return;
    }
    const server = await ctx.server('scale');
    await ctx.service('routed', 'scale');
    const control = await ctx.session('routed', 'scale');
    await sleep(300); // let start-up garbage settle before the idle reading
    const idleRss = readRssMB(server.pid);
    const cpu0 = readCpuSeconds(server.pid);

    let delivered = 0;
    let final = -1;
    let remaining = 0;
    let allDone: () => void = () => {};
    const clients: PeerwayClient[] = [];
    const t0 = performance.now();
    try {
      for (let i = 0; i < n; i += ctx.plan.scale.concurrency) {
        ctx.progress.step(`connecting clients ${i}/${n}`);
        await Promise.all(
          Array.from({ length: Math.min(ctx.plan.scale.concurrency, n - i) }, async () => {
            const client = await ctx.newClient('scale');
            clients.push(client);
            const session = await client.startSession(SERVICE_NAMES.routed);
            await session.watch('counter', (c) => {
              delivered++;
              if (c.value === final && --remaining === 0) allDone();
            });
          }),
        );
      }
      const setupSeconds = (performance.now() - t0) / 1000;
      const cpuSetup = readCpuSeconds(server.pid) - cpu0;
      ctx.progress.step('measuring RSS');
      await sleep(500);
      const rss = readRssMB(server.pid);

      // Updates, one per event-loop turn of the service, each fanned out by the server to all N sessions.
      ctx.progress.step('fanning out updates');
      const updates = ctx.plan.scale.updates;
      final = updates;
      remaining = n;
      const done = new Promise<void>((r) => (allDone = r));
      const cpu1 = readCpuSeconds(server.pid);
      const t1 = performance.now();
      await control.call('publish', { from: 0, count: updates, batch: 1 }, { timeoutMs: 60_000 });
      await untilOr(done, 30_000);
      const fanSeconds = (performance.now() - t1) / 1000;
      const cpuFan = readCpuSeconds(server.pid) - cpu1;

      const rssFig: Figure = { label: `server RSS, ${label}`, value: round3(rss), unit: 'MB', detail: `${(((rss - idleRss) * 1024) / n).toFixed(1)} KB/client`, extra: { clients: n, setupSeconds: round3(setupSeconds) } };
      out.row({
        id: 'scale-rss',
        label: `server RSS, ${label}`,
        peerway: rssFig,
        baseline: { label: 'idle server, service registered', value: round3(idleRss), unit: 'MB' },
        // The target is written for 1000 sessions; a smaller (quick) run has nothing to judge.
        ...(n >= TARGET_CLIENTS ? { target: TARGETS.serverRssMb } : {}),
      });
      out.row({
        id: 'scale-cpu-setup',
        label: `server CPU to accept ${n} clients and start their sessions`,
        peerway: { label: 'server CPU', value: round3(cpuSetup), unit: 'CPU s', detail: `${round3((cpuSetup * 1000) / n)} ms/client`, extra: { wallSeconds: round3(setupSeconds) } },
        baseline: naFigure('—', 'CPU s', '—'),
      });
      out.row({
        id: 'scale-cpu-fanout',
        label: `server CPU for ${updates} updates fanned out to ${n} subscribers`,
        peerway: {
          label: 'server CPU',
          value: round3(cpuFan),
          unit: 'CPU s',
          detail: `${round3((cpuFan * 1e6) / (updates * n))} µs/delivery`,
          extra: { delivered, expected: updates * n, wallSeconds: round3(fanSeconds) },
        },
        baseline: naFigure('—', 'CPU s', '—'),
      });
      if (n < TARGET_CLIENTS) out.note(`quick run: ${n} clients instead of ${TARGET_CLIENTS}, so the RSS target is not judged`);
      out.note('CPU from /proc/<pid>/stat (utime + stime, 10 ms resolution); RSS from /proc/<pid>/status VmRSS');
    } finally {
      ctx.progress.step('closing clients');
      await Promise.all(clients.map((c) => ctx.closeClient(c)));
    }
  },
};
