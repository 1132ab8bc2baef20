import { randomBytes } from 'node:crypto';
import type { Session } from '../../src/client/session.js';
import { connectGrpcEcho } from '../grpc-client.js';
import { describeRoute, directRoute, type BenchContext } from '../context.js';
import { latencyFigure, latencyRounds, type LatencySeries, type LatencyStats } from '../measure.js';
import { TARGETS, naFigure, type Figure, type ScenarioOutput } from '../model.js';
import { onOneCore, oneCoreUnavailable } from '../one-core.js';
import { FramedSocket, type RawAddress } from '../raw-clients.js';
import { checkEcho, type Scenario } from '../scenario.js';

/**
 * Call round trips, one call in flight: each Peerway route next to the raw transport it runs on, and
 * gRPC-js as the outside reference. Every series of one scenario is measured in the same rounds.
 */

/** A Peerway echo series, after one checked call (so a broken path fails instead of being timed). */
async function echoSeries(key: string, session: Session, payload: Buffer): Promise<LatencySeries> {
  checkEcho(await session.call('echo', { data: payload }), payload, `${session.service}.echo`);
  return { key, once: () => session.call('echo', { data: payload }) };
}

/** A raw ping-pong series on a fresh connection; the caller closes the socket. */
async function rawSeries(key: string, address: RawAddress, payload: Buffer): Promise<{ series: LatencySeries; socket: FramedSocket }> {
  const socket = await FramedSocket.connect(address);
  checkEcho(await socket.request(payload), payload, `raw ${key}`);
  return { socket, series: { key, once: () => socket.request(payload) } };
}

type DirectCheck = ReturnType<typeof directRoute>;

/** The Peerway figure of a direct series, or its n/a when the route was not direct. */
function directFigure(label: string, check: DirectCheck, stats: Map<string, LatencyStats>, key: string): Figure {
  return check.ok ? latencyFigure(label, stats.get(key), { extra: { route: describeRoute(check.route) } }) : naFigure(label, 'µs', check.why);
}

/**
 * The direct echo route of the `kind` bench service: its check (n/a when the session got a server route,
 * or a direct route on another bearer than `bearer`), and the series to time, added to `series` only when
 * the route is the one the scenario measures.
 */
async function addDirectSeries(ctx: BenchContext, series: LatencySeries[], key: string, kind: 'direct' | 'local' | 'ssl', payload: Buffer, bearer?: string): Promise<DirectCheck> {
  const session = await ctx.session(kind);
  const checked = directRoute(session, 'method', 'echo');
  const route = bearer ? onBearer(checked, bearer) : checked;
  if (route.ok) series.push(await echoSeries(key, session, payload));
  return route;
}

/** Runs `work` with raw sockets it opens, closing them however it ends. */
async function withSockets(work: (open: (key: string, a: RawAddress, p: Buffer) => Promise<LatencySeries>) => Promise<void>): Promise<void> {
  const sockets: FramedSocket[] = [];
  try {
    await work(async (key, address, payload) => {
      const { series, socket } = await rawSeries(key, address, payload);
      sockets.push(socket);
      return series;
    });
  } finally {
    for (const s of sockets) s.close();
  }
}

const step = (ctx: BenchContext) => (what: string) => ctx.progress.step(what);

type RowSpec = Parameters<ScenarioOutput['row']>[0];

/**
 * Measures the series as they run (the judged row), then again with every bench process on one CPU (the
 * same row, `…, one core`): the first is what a user gets from the scheduler, the second Peerway's own cost,
 * steady from run to run (see bench/one-core.ts). Where taskset is missing, a note says so instead.
 */
async function rowsWithOneCore(ctx: BenchContext, out: ScenarioOutput, series: LatencySeries[], rows: (stats: Map<string, LatencyStats>) => RowSpec[]): Promise<void> {
  for (const r of rows(await latencyRounds(series, ctx.plan.rtt, step(ctx)))) out.row(r);
  const unavailable = await oneCoreUnavailable();
  if (unavailable) {
    out.note(unavailable);
    return;
  }
  const pinned = await onOneCore(ctx.pids(), () => latencyRounds(series, ctx.plan.rtt, (what) => ctx.progress.step(`one core: ${what}`)));
  for (const r of rows(pinned)) out.row({ ...r, id: `${r.id}-one-core`, label: `${r.label}, one core` });
  out.note('one core: the same series again with the bench and every process it started confined to CPU 0 (taskset), which takes the scheduler out of the ratio');
}

/**
 * A direct route's round trip next to a raw ping-pong on the transport it runs on (tcp, TLS): the raw
 * series, then the Peerway one when the session really got that direct route.
 */
function directVsRaw(spec: {
  id: string;
  title: string;
  summary: string;
  raw: { kind: 'tcp' | 'tls'; key: string; label: string };
  service: 'direct' | 'ssl';
  /** The bearer the route must use; a route on another bearer is reported as n/a. */
  bearer?: string;
  row: { id: string; label: string; figure: string; target: (typeof TARGETS)[keyof typeof TARGETS] };
}): Scenario {
  return {
    id: spec.id,
    title: spec.title,
    summary: spec.summary,
    async run(ctx, out) {
      const payload = randomBytes(ctx.plan.payloadBytes);
      await withSockets(async (open) => {
        const series = [await open(spec.raw.key, await ctx.rawEcho(spec.raw.kind), payload)];
        const route = await addDirectSeries(ctx, series, spec.service, spec.service, payload, spec.bearer);
        await rowsWithOneCore(ctx, out, series, (stats) => [
          {
            id: spec.row.id,
            label: spec.row.label,
            peerway: directFigure(spec.row.figure, route, stats, spec.service),
            baseline: latencyFigure(spec.raw.label, stats.get(spec.raw.key)),
            target: spec.row.target,
          },
        ]);
      });
    },
  };
}

/** Direct call round trip vs raw TCP ping-pong. */
export const directRtt = directVsRaw({
  id: 'direct-rtt',
  title: 'direct call RTT',
  summary: 'client ↔ service on a direct tcp route vs raw TCP ping-pong (same framing, 64-byte payload)',
  raw: { kind: 'tcp', key: 'raw TCP', label: 'raw TCP ping-pong' },
  service: 'direct',
  row: { id: 'direct-vs-raw-tcp', label: 'direct tcp call vs raw TCP ping-pong', figure: 'direct call', target: TARGETS.directVsRawTcp },
});

/** Server-routed call round trip vs a raw 3-process relay. */
export const routedRtt: Scenario = {
  id: 'routed-rtt',
  title: 'server-routed call RTT',
  summary: 'client → server → runner and back vs a raw TCP relay (client → relay process → echo process)',
  async run(ctx, out) {
    const payload = randomBytes(ctx.plan.payloadBytes);
    await withSockets(async (open) => {
      const series = [await open('raw relay', await ctx.rawRelay(), payload), await echoSeries('routed', await ctx.session('routed'), payload)];
      await rowsWithOneCore(ctx, out, series, (stats) => [
        {
          id: 'routed-vs-raw-relay',
          label: 'server-routed call vs raw TCP relay',
          peerway: latencyFigure('server-routed call', stats.get('routed')),
          baseline: latencyFigure('raw TCP relay (3 processes)', stats.get('raw relay')),
          target: TARGETS.routedVsRawRelay,
        },
      ]);
    });
  },
};

/** Direct vs server-routed vs gRPC-js unary. */
export const grpcRtt: Scenario = {
  id: 'grpc',
  title: 'direct vs routed vs gRPC-js unary',
  summary: 'direct and server-routed call RTT against each other and against a @grpc/grpc-js unary echo (same 64-byte payload)',
  async run(ctx, out) {
    const payload = randomBytes(ctx.plan.payloadBytes);
    const { ready } = await ctx.rawPeer('grpc-server.mjs');
    const grpc = await connectGrpcEcho(Number(ready));
    try {
      checkEcho(await grpc.echo(payload), payload, 'gRPC echo');
      const series: LatencySeries[] = [{ key: 'gRPC-js', once: () => grpc.echo(payload) }, await echoSeries('routed', await ctx.session('routed'), payload)];
      const direct = await addDirectSeries(ctx, series, 'direct', 'direct', payload);
      const stats = await latencyRounds(series, ctx.plan.rtt, step(ctx));
      const directFig = directFigure('direct call', direct, stats, 'direct');
      const routedFig = latencyFigure('server-routed call', stats.get('routed'));
      const grpcFig = latencyFigure('gRPC-js unary', stats.get('gRPC-js'));
      out.row({ id: 'direct-speedup-over-routed', label: 'direct speed-up over server-routed', peerway: directFig, baseline: routedFig, ratioKind: 'baseline/peerway', target: TARGETS.directSpeedupOverRouted });
      out.row({ id: 'direct-speedup-over-grpc', label: 'direct speed-up over gRPC-js unary', peerway: directFig, baseline: grpcFig, ratioKind: 'baseline/peerway', target: TARGETS.directSpeedupOverGrpc });
      out.row({ id: 'routed-speedup-over-grpc', label: 'server-routed speed-up over gRPC-js unary', peerway: routedFig, baseline: grpcFig, ratioKind: 'baseline/peerway' });
      out.note('gRPC-js: insecure HTTP/2 on 127.0.0.1, service defined in code with identity (de)serializers, so no protobuf work is measured');
    } finally {
      grpc.close();
    }
  },
};

/** Local (Unix socket) link vs raw UDS, and vs the direct tcp route. */
export const localRtt: Scenario = {
  id: 'local',
  title: 'local route RTT',
  summary: 'connect.bearer.local (Unix socket) link vs raw Unix-socket ping-pong, and vs the direct tcp route',
  async run(ctx, out) {
    const payload = randomBytes(ctx.plan.payloadBytes);
    await withSockets(async (open) => {
      const series = [await open('raw UDS', await ctx.rawEcho('uds'), payload)];
      const localRoute = await addDirectSeries(ctx, series, 'local', 'local', payload, 'connect.bearer.local');
      const tcpRoute = await addDirectSeries(ctx, series, 'direct tcp', 'direct', payload);
      await rowsWithOneCore(ctx, out, series, (stats) => {
        const localFig = directFigure('local route call', localRoute, stats, 'local');
        return [
          { id: 'local-vs-raw-uds', label: 'local route call vs raw UDS ping-pong', peerway: localFig, baseline: latencyFigure('raw UDS ping-pong', stats.get('raw UDS')), target: TARGETS.localVsRawUds },
          { id: 'local-vs-direct-tcp', label: 'local route call vs direct tcp call', peerway: localFig, baseline: directFigure('direct tcp call', tcpRoute, stats, 'direct tcp') },
        ];
      });
    });
  },
};

/** TLS link vs raw TLS. */
export const sslRtt = directVsRaw({
  id: 'ssl',
  title: 'ssl route RTT',
  summary: 'connect.bearer.ssl link vs raw TLS ping-pong (throw-away CA and certificate made with openssl at run time)',
  raw: { kind: 'tls', key: 'raw TLS', label: 'raw TLS ping-pong' },
  service: 'ssl',
  bearer: 'connect.bearer.ssl',
  row: { id: 'ssl-vs-raw-tls', label: 'ssl route call vs raw TLS ping-pong', figure: 'ssl route call', target: TARGETS.sslVsRawTls },
});

/** A direct route on another bearer than the scenario measures is reported, not timed under a wrong name. */
function onBearer(check: DirectCheck, bearer: string): DirectCheck {
  if (!check.ok || !check.route.bearer || check.route.bearer === bearer) return check;
  return { ok: false, why: `n/a (route went over ${check.route.bearer}, not ${bearer})` };
}
