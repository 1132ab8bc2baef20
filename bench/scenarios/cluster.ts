import { randomBytes } from 'node:crypto';
import { connect as natsConnect, type NatsConnection } from 'nats';
import type { PeerwayClient } from '../../src/client/client.js';
import { launchNatsCluster, natsServerBinary, type NatsCluster } from '../../test/helpers/nats-cluster.js';
import { which } from '../brokers.js';
import { SERVICE_NAMES, type BenchContext } from '../context.js';
import { latencyFigure, latencyRounds, rateFigure, rateRounds, type LatencySeries } from '../measure.js';
import { naFigure } from '../model.js';
import { checkEcho, type Scenario } from '../scenario.js';
import { DRAIN_MS, Delivery, measureRound, type FanoutSide } from './fanout-round.js';

/**
 * Servers federated over NATS (README, "Scaling out"): a three-node nats-server cluster (routes between the
 * nodes) and three Peerway servers a, b, c, each joined to its own node; `BenchRouted` on a runner of a.
 * Rows: a call from a client of b (b → NATS → a → runner) against the same call from a client of a, and
 * against raw NATS request/reply across two nodes (the hop's floor); runtime-data fan-out to subscribers
 * spread over the three servers against the same number on one server.
 */

const SERVERS = ['a', 'b', 'c'] as const;
const serverKey = (s: (typeof SERVERS)[number]) => `cluster-${s}`;

async function startCluster(ctx: BenchContext): Promise<NatsCluster> {
  const cluster = await launchNatsCluster(3, {}, (stop) => ctx.defer(stop));
  // Quiet and quick to notice each other; a server that joins late is found by the next heartbeat.
  for (const [i, s] of SERVERS.entries()) await ctx.server(serverKey(s), ['--cluster', cluster.nodes[i].url, '--name', s, '--cluster-heartbeat', '250']);
  await ctx.service('routed', serverKey('a'));
  for (const s of SERVERS) {
    const client = await ctx.control(serverKey(s));
    for (let i = 0; !(await client.services()).some((x) => x.name === SERVICE_NAMES.routed); i++) {
      if (i > 100) throw new Error(`server ${s} never listed ${SERVICE_NAMES.routed}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  return cluster;
}

/** N subscribers of BenchRouted's counter on the given servers (round-robin), each its own connection and session. */
async function fanoutSide(ctx: BenchContext, key: string, servers: string[], n: number, updates: number, counter: { value: number }): Promise<FanoutSide> {
  const control = await ctx.session('routed', serverKey('a'));
  const clients: PeerwayClient[] = [];
  const d = new Delivery();
  const close = () => Promise.all(clients.map((c) => ctx.closeClient(c))).then(() => undefined);
  try {
    for (let i = 0; i < n; i++) {
      const client = await ctx.newClient(servers[i % servers.length]);
      clients.push(client);
      const session = await client.startSession(SERVICE_NAMES.routed);
      await session.watch('counter', (c) => d.got(c.value as number));
    }
  } catch (err) {
    await close();
    throw err;
  }
  const batch = ctx.plan.fanout.batch;
  return {
    close,
    series: {
      key,
      deadlineMs: DRAIN_MS + 60_000,
      round: () => {
        const from = counter.value;
        counter.value += updates;
        return measureRound(d, from + updates, n, () => control.call('publish', { from, count: updates, batch }, { timeoutMs: 60_000 }), { subscribers: n });
      },
    },
  };
}

export const clusterScenario: Scenario = {
  id: 'cluster',
  title: 'servers federated over NATS',
  summary: 'call RTT from a client of server b to a service on server a (over NATS) vs on one server and vs raw NATS request/reply; fan-out to subscribers on three servers vs one',
  async run(ctx, out) {
    if (natsServerBinary() === 'nats-server' && !which('nats-server')) {
      out.row({ id: 'cluster-call', label: 'call across servers vs one server', peerway: naFigure('call across servers', 'µs', 'n/a (nats-server is not installed)'), baseline: naFigure('call on one server', 'µs', 'n/a') });
      return;
    }
    ctx.progress.step('starting three NATS nodes and three servers');
    const cluster = await startCluster(ctx);
    const payload = randomBytes(ctx.plan.payloadBytes);
    const series: LatencySeries[] = [];
    for (const [key, server] of [['one server', 'a'], ['across servers', 'b']] as const) {
      const session = await (await ctx.control(serverKey(server))).startSession(SERVICE_NAMES.routed);
      checkEcho(await session.call('echo', { data: payload }), payload, `${key} echo`);
      series.push({ key, once: () => session.call('echo', { data: payload }) });
    }
    // Raw NATS: this process on node 2 asks a responder process on node 1, as b asks a.
    await ctx.rawPeer('nats-echo.mjs', ['--url', cluster.nodes[0].url]);
    const nc: NatsConnection = await natsConnect({ servers: cluster.nodes[1].url });
    ctx.defer(() => nc.close());
    for (let i = 0; i < 100; i++) {
      try {
        checkEcho((await nc.request('peerway.bench.echo', payload, { timeout: 1000 })).data, payload, 'raw nats echo');
        break;
      } catch (err) {
        if (i === 99) throw err;
        await new Promise((r) => setTimeout(r, 50)); // the responder's interest is still crossing the route
      }
    }
    series.push({ key: 'raw nats', once: () => nc.request('peerway.bench.echo', payload, { timeout: 5000 }) });
    const stats = await latencyRounds(series, ctx.plan.rtt, (s) => ctx.progress.step(s));
    const across = latencyFigure('client of b → a (NATS) → runner', stats.get('across servers'));
    out.row({ id: 'cluster-call', label: 'call across servers vs the same call on one server', peerway: across, baseline: latencyFigure('client of a → runner', stats.get('one server')) });
    out.row({ id: 'cluster-call-vs-nats', label: 'call across servers vs raw NATS request/reply across two nodes', peerway: across, baseline: latencyFigure('raw nats request/reply', stats.get('raw nats')) });

    const n = ctx.plan.quick ? 12 : 30;
    const updates = ctx.plan.quick ? 50 : 2000;
    const counter = { value: 0 };
    const fig: Record<string, ReturnType<typeof rateFigure>> = {};
    // One side at a time: both watch the same counter, so the other side's subscribers must be gone.
    for (const [key, servers] of [[`one server ×${n}`, ['a']], [`three servers ×${n}`, ['a', 'b', 'c']]] as const) {
      ctx.progress.step(`${key}: connecting`);
      const side = await fanoutSide(ctx, key, servers.map((s) => serverKey(s)), n, updates, counter);
      try {
        const st = await rateRounds([side.series], ctx.plan.rounds, ctx.plan.fanout.warmupRounds, (s) => ctx.progress.step(s));
        fig[key] = rateFigure(key.replace('×', 'with '), 'updates/s', st.get(key));
      } finally {
        await side.close();
      }
    }
    out.row({ id: 'cluster-fanout', label: `via-server fan-out to ${n} spread over three servers vs all on one`, peerway: fig[`three servers ×${n}`], baseline: fig[`one server ×${n}`] });
    out.note(`three nats-server nodes (${natsServerBinary()}) with routes on 127.0.0.1; servers a, b, c each on its own node; ${updates} updates per fan-out round, ${ctx.plan.fanout.batch} per event-loop turn; the fan-out sides run one after the other`);
  },
};
