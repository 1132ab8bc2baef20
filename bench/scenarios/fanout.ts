import type { PeerwayClient } from '../../src/client/client.js';
import { encodeMessage } from '../../src/wire/codec.js';
import { brokerSide, startBroker, which, type OutsideBroker } from '../brokers.js';
import { SERVICE_NAMES, describeRoute, directRoute, type BenchContext } from '../context.js';
import { cpuUnavailable, type ProcessSet } from '../cpu.js';
import { cpuNote, rateFigure, rateRounds, sleep } from '../measure.js';
import { cpuFigure } from './cpu-rows.js';
import { TARGETS, naFigure, type Figure, type ScenarioOutput } from '../model.js';
import { FramedSocket } from '../raw-clients.js';
import type { RawPeer } from '../raw-peer.js';
import type { Scenario } from '../scenario.js';
import { DRAIN_MS, Delivery, measureRound, type FanoutSide } from './fanout-round.js';

/**
 * Runtime-data fan-out: one service sets a leaf as fast as it can (a batch per event-loop turn) and every
 * subscriber must receive every update. A round publishes a fixed number of updates and ends when every
 * subscriber has the last one, so the rate is the end-to-end delivered updates/s (the slowest hop sets it)
 * and nothing is left queued for the next round. Direct (service → subscribers) and via server
 * (service → server → subscribers) against a raw pub/sub hub (publisher process → hub process →
 * subscribers); Peerway and raw subscribers live in the bench process: one process per side.
 */

/** Subscribers connect this many at a time. */
const CONNECT_BATCH = 25;

/** N Peerway subscribers of `kind`'s counter, each its own client connection and session. */
async function peerwaySide(ctx: BenchContext, kind: 'direct' | 'routed', n: number, updates: number, counter: { value: number }, processes?: ProcessSet): Promise<FanoutSide | { why: string }> {
  const control = await ctx.session(kind);
  const clients: PeerwayClient[] = [];
  const d = new Delivery();
  const close = () => Promise.all(clients.map((c) => ctx.closeClient(c))).then(() => undefined);
  const subscribe = async (): Promise<ReturnType<typeof directRoute>> => {
    const client = await ctx.newClient();
    clients.push(client);
    const session = await client.startSession(SERVICE_NAMES[kind]);
    const route = directRoute(session, 'runtimedata', 'counter');
    await session.watch('counter', (c) => d.got(c.value as number));
    return route;
  };
  let route: string | undefined;
  try {
    // The first subscriber alone, so a route that is not direct stops here before n clients connect.
    const first = await subscribe();
    if (kind === 'direct') {
      if (!first.ok) {
        await close();
        return { why: first.why };
      }
      route = describeRoute(first.route);
    }
    for (let i = 1; i < n; i += CONNECT_BATCH) {
      await Promise.all(Array.from({ length: Math.min(CONNECT_BATCH, n - i) }, subscribe));
    }
  } catch (err) {
    await close();
    throw err;
  }
  const batch = ctx.plan.fanout.batch;
  return {
    close,
    ...(route ? { route } : {}),
    series: {
      key: kind === 'direct' ? `direct ×${n}` : `via server ×${n}`,
      deadlineMs: DRAIN_MS + 60_000,
      ...(processes ? { processes } : {}),
      round: () => {
        const from = counter.value;
        counter.value += updates;
        return measureRound(d, from + updates, n, () => control.call('publish', { from, count: updates, batch }, { timeoutMs: 60_000 }), { subscribers: n });
      },
    },
  };
}

/** N raw subscribers of the hub, and the raw publisher process driven over stdin. */
async function rawSide(ctx: BenchContext, hubPort: number, publisher: RawPeer, n: number, updates: number, bodyBytes: number, counter: { value: number }, processes?: ProcessSet): Promise<FanoutSide> {
  const subs: FramedSocket[] = [];
  const d = new Delivery();
  try {
    for (let i = 0; i < n; i++) {
      const s = await FramedSocket.connect({ kind: 'tcp', port: hubPort });
      subs.push(s);
      s.send(Buffer.from('S'));
      await s.next(5000); // the hub's acknowledgement: from now on it forwards to this subscriber
      s.onFrame = (body) => d.got(body.readUInt32BE(0));
    }
  } catch (err) {
    for (const s of subs) s.close();
    throw err;
  }
  const batch = ctx.plan.fanout.batch;
  return {
    close: async () => {
      for (const s of subs) s.close();
      await sleep(50); // let the hub notice, so the next size starts with only its own subscribers
    },
    series: {
      key: `raw hub ×${n}`,
      deadlineMs: DRAIN_MS + 60_000,
      ...(processes ? { processes } : {}),
      round: () => {
        const from = counter.value;
        counter.value += updates;
        return measureRound(d, from + updates, n, () => publisher.command(`publish ${from} ${updates} ${batch} ${bodyBytes}`, /done \d+/, 60_000), { subscribers: n });
      },
    },
  };
}

/** Runtime-data fan-out to 1, 10 and 100 subscribers. */
export const fanout: Scenario = {
  id: 'fanout',
  title: 'runtime-data fan-out',
  summary: 'delivered updates/s to 1, 10 and 100 subscribers, direct and via server, vs a raw pub/sub hub (publisher, hub and subscriber processes)',
  async run(ctx, out) {
    // Raw frames are as big as the server's data push to one session (path, value and session id).
    const bodyBytes = encodeMessage({ type: 'data', session: 'x'.repeat(12), path: 'counter', value: 1_000_000 }).length;
    const hub = await ctx.rawPeer('hub.mjs');
    const hubPort = Number(hub.ready);
    const { peer: publisher } = await ctx.rawPeer('publisher.mjs', ['--port', String(hubPort)]);
    const brokers = await outsideBrokers(ctx, out);
    // CPU per delivered update of every process a side keeps busy (subscribers live in the bench process).
    const noCpu = cpuUnavailable();
    const bench = process.pid;
    const server = (await ctx.server()).pid;
    const procs = {
      raw: noCpu ? undefined : { subscribers: bench, hub: hub.peer.pid, publisher: publisher.pid },
      routed: noCpu ? undefined : { subscribers: bench, server, runner: await ctx.runnerPid('routed') },
      direct: noCpu ? undefined : { subscribers: bench, server, runner: await ctx.runnerPid('direct') },
    };
    if (noCpu) out.note(noCpu);
    const counters = { raw: { value: 0 }, direct: { value: 0 }, routed: { value: 0 }, nats: { value: 0 }, mqtt: { value: 0 } };
    for (const { subscribers: n, updates } of ctx.plan.fanout.sizes) {
      ctx.progress.step(`${n} subscriber(s): connecting`);
      const sides: FanoutSide[] = [];
      try {
        sides.push(await rawSide(ctx, hubPort, publisher, n, updates, bodyBytes, counters.raw, procs.raw));
        const routed = await peerwaySide(ctx, 'routed', n, updates, counters.routed, procs.routed);
        if ('why' in routed) throw new Error(`server-routed subscribers: ${routed.why}`);
        sides.push(routed);
        const direct = await peerwaySide(ctx, 'direct', n, updates, counters.direct, procs.direct);
        if (!('why' in direct)) sides.push(direct);
        for (const b of brokers) sides.push(await brokerSide(ctx, b, n, updates, bodyBytes, counters[b.proto], !noCpu));
        const stats = await rateRounds(
          sides.map((s) => s.series),
          ctx.plan.rounds,
          ctx.plan.fanout.warmupRounds,
          (s) => ctx.progress.step(s),
        );
        const fig = (key: string, label: string, route?: string): Figure => {
          const st = stats.get(key);
          const incomplete = st?.rounds.some((r) => r.extra?.incomplete) ?? false;
          return rateFigure(label, 'updates/s', st, incomplete ? `incomplete rounds: not all arrived within ${DRAIN_MS / 1000} s` : undefined, route ? { route } : undefined);
        };
        const baseline = fig(`raw hub ×${n}`, `raw hub, ${n} subscriber(s)`);
        const directFig = 'why' in direct ? naFigure(`direct, ${n} subscriber(s)`, 'updates/s', direct.why) : fig(`direct ×${n}`, `direct, ${n} subscriber(s)`, direct.route);
        const serverFig = fig(`via server ×${n}`, `via server, ${n} subscriber(s)`);
        out.row({ id: `fanout-direct-${n}`, label: `direct fan-out to ${n} vs raw hub`, peerway: directFig, baseline, target: TARGETS.fanoutVsRawHub });
        out.row({ id: `fanout-server-${n}`, label: `via-server fan-out to ${n} vs raw hub`, peerway: serverFig, baseline, target: TARGETS.fanoutVsRawHub });
        for (const b of brokers) {
          const ref = fig(`${b.name} ×${n}`, `${b.name}, ${n} subscriber(s)`);
          out.row({ id: `fanout-server-${n}-vs-${b.proto}`, label: `via-server fan-out to ${n} vs ${b.name} (outside reference)`, peerway: serverFig, baseline: ref });
        }
        const rawCpu = cpuFigure(`raw hub, ${n}`, 'update', stats.get(`raw hub ×${n}`), noCpu);
        out.row({
          id: `fanout-direct-${n}-cpu-per-update`,
          label: `CPU µs per delivered update, all processes: direct to ${n} vs raw hub (lower is better)`,
          peerway: 'why' in direct ? naFigure(`direct, ${n}`, 'CPU µs/update', direct.why) : cpuFigure(`direct, ${n}`, 'update', stats.get(`direct ×${n}`), noCpu),
          baseline: rawCpu,
        });
        out.row({
          id: `fanout-server-${n}-cpu-per-update`,
          label: `CPU µs per delivered update, all processes: via server to ${n} vs raw hub (lower is better)`,
          peerway: cpuFigure(`via server, ${n}`, 'update', stats.get(`via server ×${n}`), noCpu),
          baseline: rawCpu,
        });
        for (const key of [`raw hub ×${n}`, `direct ×${n}`, `via server ×${n}`, ...brokers.map((b) => `${b.name} ×${n}`)]) {
          const note = cpuNote('delivered update', key, stats.get(key));
          if (note) out.note(note);
        }
      } finally {
        for (const s of sides) await s.close();
      }
    }
    out.note(`updates per round: ${ctx.plan.fanout.sizes.map((s) => `${s.updates} to ${s.subscribers}`).join(', ')}; ${ctx.plan.fanout.batch} per event-loop turn; raw frames ${bodyBytes} bytes`);
  },
};

/** The outside brokers that are installed and start; a note for each one that is not. */
async function outsideBrokers(ctx: BenchContext, out: ScenarioOutput): Promise<OutsideBroker[]> {
  const started: OutsideBroker[] = [];
  for (const name of ['nats-server', 'mosquitto'] as const) {
    const program = which(name);
    if (!program) {
      out.note(`${name}: skipped: not installed`);
      continue;
    }
    try {
      started.push(await startBroker(ctx, name, program));
      out.note(`${name}: ${program}, on 127.0.0.1, ${name === 'mosquitto' ? 'MQTT 3.1.1 QoS 0' : 'NATS core'}; bench/peers/broker-clients.mjs drives it`);
    } catch (err) {
      out.note(`${name}: installed at ${program} but could not be used: ${(err as Error).message.split('\n')[0]}`);
    }
  }
  return started;
}
