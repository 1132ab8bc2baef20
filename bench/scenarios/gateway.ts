import { randomBytes } from 'node:crypto';
import { connect, type PeerwayClient } from '../../src/client/client.js';
import { startPeerway, type PeerwayProcess } from '../../src/cli/peerway-process.js';
import { SERVICE_NAMES, type BenchContext } from '../context.js';
import { JsonSocket, KeepAliveHttp, MinimalHttp } from '../gateway-clients.js';
import { latencyFigure, latencyRounds, type LatencySeries, type LatencyStats } from '../measure.js';
import type { ScenarioOutput, Target } from '../model.js';
import { onOneCore, oneCoreUnavailable } from '../one-core.js';
import { benchFile } from '../raw-peer.js';
import { checkEcho, type Scenario } from '../scenario.js';

/**
 * Round trips through the HTTP and WebSocket gateway (`peerway server --http`), one call in flight, on a
 * server of its own that listens on tcp and HTTP, with one runner hosting BenchRouted. Every series calls
 * BenchRouted.echo with the same 64 bytes, so every Peerway series takes the same relay (client → server →
 * runner and back) and differs only in its front end:
 *
 * - `tcp`: a Peerway Node client on the tcp bearer (binary MessagePack), the reference for both gateways;
 * - `api`: `POST /api/services/BenchRouted/methods/echo` with `{"data": base64}` → `{"value": base64}`;
 * - `kanzi`: `GET /serviceinvoke/BenchRouted/method/echo?data=base64` → `{"status":"OK","type","value"}`;
 * - `ws`: a `call` message on `/ws` (after a `start`) → `{"id","ok","result"}`.
 *
 * The HTTP figures are also put next to a raw fastify app answering the same JSON from a process of its own
 * (bench/peers/fastify-echo.mjs), with no broker, relay or service behind it: what fastify and HTTP/1.1 cost
 * by themselves. Both HTTP series go through the same client (Node's http with a keep-alive agent), and the
 * WebSocket figure is also put next to the same peer's ws echo (@fastify/websocket, as the gateway uses).
 * Every client parses the reply it gets (JSON.parse, or the Peerway client's MessagePack decoding). The JSON
 * API call and the fastify POST echo are timed once more through a minimal HTTP/1.1 client (MinimalHttp):
 * Node's http client spends more of its own time on a slower reply, which the other rows charge to the
 * gateway; the minimal one leaves mostly the servers' work.
 */

const SERVICE = SERVICE_NAMES.routed;

/**
 * HTTP invoke within 2.5× a raw fastify echo. What the gateway adds to the echo's request (HTTP parsing,
 * fastify routing and body parsing, a JSON reply) is one relayed call, server → runner → server, which costs
 * less than the whole tcp call (that one also has a client hop), plus its own work per request (the identity
 * hook, the definition and argument checks, base64 both ways: a few µs). With Node's http client a fastify
 * echo costs about as much as a server-routed tcp call or more, so a thin gateway comes out at 2× or below;
 * the other 25% is the margin the bearer targets allow over their raw baselines (≤ 1.25×). The notes print
 * the sum (fastify echo + tcp call) next to the HTTP figures.
 */
const HTTP_VS_FASTIFY: Target = { text: '≤ 2.5×', on: 'ratio', op: '<=', limit: 2.5 };
/**
 * A WebSocket JSON call within 1.5× the same call over tcp: one message each way on an open connection to
 * the same server, relayed alike, with as many wake-ups; ws framing costs about what Peerway's framing does
 * (the raw ws echo is as fast as a raw TCP ping-pong), so what differs is JSON and base64 instead of
 * MessagePack at both ends, a few µs each: near 1.25×, plus a margin for noise.
 */
const WS_VS_TCP: Target = { text: '≤ 1.5×', on: 'ratio', op: '<=', limit: 1.5 };

/** What this scenario starts of its own (the context's servers have no HTTP port). */
interface GatewaySetup {
  server?: PeerwayProcess;
  runner?: PeerwayProcess;
  client?: PeerwayClient;
  http?: KeepAliveHttp;
  rawHttp?: KeepAliveHttp;
  minimal?: MinimalHttp;
  rawMinimal?: MinimalHttp;
  ws?: JsonSocket;
  rawWs?: JsonSocket;
}

async function stop(setup: GatewaySetup): Promise<void> {
  setup.ws?.close();
  setup.rawWs?.close();
  setup.http?.close();
  setup.rawHttp?.close();
  setup.minimal?.close();
  setup.rawMinimal?.close();
  await setup.client?.close().catch(() => undefined);
  await setup.runner?.stop();
  await setup.server?.stop();
}

/**
 * `peerway server --listen tcp://127.0.0.1:0 --http 127.0.0.1:0` and a runner hosting BenchRouted on it;
 * resolves with the tcp URL and the HTTP port (from `listening http 127.0.0.1:PORT`).
 */
async function startGateway(ctx: BenchContext, setup: GatewaySetup): Promise<{ url: string; httpPort: number }> {
  const server = startPeerway(['server', '--listen', 'tcp://127.0.0.1:0', '--http', '127.0.0.1:0'], { env: ctx.env('server-gateway') });
  setup.server = server;
  const tcpPort = (await server.waitFor(/listening connect\.bearer\.tcp 127\.0\.0\.1:(\d+)/))[1];
  const url = `tcp://127.0.0.1:${tcpPort}`;
  setup.runner = startPeerway(['runner', '--server', url, benchFile('services', 'bench-routed.xml')], { env: ctx.env('runner-routed-gateway') });
  const [http] = await Promise.all([server.waitFor(/^listening http 127\.0\.0\.1:(\d+)$/m), setup.runner.waitFor(/^registered .*$/m)]);
  return { url, httpPort: Number(http[1]) };
}

/** Throws when a JSON echo came back with something other than the base64 it was sent. */
function checkJsonEcho(got: unknown, sent: string, what: string): void {
  if (got !== sent) throw new Error(`${what} returned ${JSON.stringify(got)?.slice(0, 80)} instead of its payload`);
}

/** A series after one checked round trip (a broken path fails instead of being timed). */
async function checked(key: string, once: () => Promise<unknown>, value: (reply: unknown) => unknown, sent: string): Promise<LatencySeries> {
  checkJsonEcho(value(await once()), sent, key);
  return { key, once };
}

const field = (name: string) => (reply: unknown) => (reply as Record<string, unknown> | null)?.[name];

export const gateway: Scenario = {
  id: 'gateway',
  title: 'HTTP and WebSocket gateway RTT',
  summary: 'BenchRouted.echo through the HTTP gateway (JSON API, Kanzi invoke) and the browser WebSocket vs the same call over tcp, and vs a raw fastify echo',
  async run(ctx, out) {
    const payload = randomBytes(ctx.plan.payloadBytes);
    const base64 = payload.toString('base64');
    const setup: GatewaySetup = {};
    try {
      ctx.progress.step('server with --http, runner, raw fastify echo');
      // The fastify peer starts while the server and its runner do (quick runs stay short); both are
      // awaited to the end, so nothing is still starting when the finally below stops what was started.
      const [gatewayStart, peerStart] = await Promise.allSettled([startGateway(ctx, setup), ctx.rawPeer('fastify-echo.mjs')]);
      if (gatewayStart.status === 'rejected') throw gatewayStart.reason;
      if (peerStart.status === 'rejected') throw peerStart.reason;
      const { url, httpPort } = gatewayStart.value;
      const rawPort = Number(peerStart.value.ready);

      setup.client = await connect(url, { timeoutMs: 15_000, connectTimeoutMs: 10_000, agent: 'peerway-bench' });
      const session = await setup.client.startSession(SERVICE);
      setup.http = new KeepAliveHttp(httpPort);
      setup.rawHttp = new KeepAliveHttp(rawPort);
      setup.minimal = await MinimalHttp.connect(httpPort);
      setup.rawMinimal = await MinimalHttp.connect(rawPort);
      setup.ws = await JsonSocket.connect(`ws://127.0.0.1:${httpPort}/ws`);
      setup.rawWs = await JsonSocket.connect(`ws://127.0.0.1:${rawPort}/ws`);
      const started = (await setup.ws.request('start', { service: SERVICE })) as { session: string };
      const { http, rawHttp, minimal, rawMinimal, ws, rawWs } = setup;

      const query = `?data=${encodeURIComponent(base64)}`;
      const body = () => JSON.stringify({ data: base64 });
      const wsCall = { session: started.session, method: 'echo' };
      checkEcho(await session.call('echo', { data: payload }), payload, `${SERVICE}.echo over tcp`);
      const series: LatencySeries[] = [
        { key: 'tcp', once: () => session.call('echo', { data: payload }) },
        await checked('api', () => http.request('POST', `/api/services/${SERVICE}/methods/echo`, body()), field('value'), base64),
        await checked('kanzi', () => http.request('GET', `/serviceinvoke/${SERVICE}/method/echo${query}`), field('value'), base64),
        await checked('ws', () => ws.request('call', { ...wsCall, args: { data: base64 } }), (r) => r, base64),
        await checked('fastify POST', () => rawHttp.request('POST', '/echo', body()), field('value'), base64),
        await checked('fastify GET', () => rawHttp.request('GET', `/echo${query}`), field('value'), base64),
        await checked('raw ws', () => rawWs.request('call', { args: { data: base64 } }), (r) => r, base64),
        await checked('api, minimal client', () => minimal.request('POST', `/api/services/${SERVICE}/methods/echo`, body()), field('value'), base64),
        await checked('fastify POST, minimal client', () => rawMinimal.request('POST', '/echo', body()), field('value'), base64),
      ];

      const rows = (stats: Map<string, LatencyStats>, suffix: { id: string; label: string }) => {
        const fig = (label: string, key: string) => latencyFigure(label, stats.get(key));
        const tcp = fig('tcp call (server-routed)', 'tcp');
        const api = fig('JSON API call (HTTP POST)', 'api');
        const kanzi = fig('Kanzi invoke (HTTP GET)', 'kanzi');
        const wsFig = fig('WebSocket JSON call', 'ws');
        const row = (r: Parameters<ScenarioOutput['row']>[0]) => out.row({ ...r, id: `${r.id}${suffix.id}`, label: `${r.label}${suffix.label}` });
        row({ id: 'gateway-api-vs-fastify', label: 'HTTP JSON API call vs raw fastify JSON echo', peerway: api, baseline: fig('raw fastify POST echo', 'fastify POST'), target: HTTP_VS_FASTIFY });
        row({ id: 'gateway-kanzi-vs-fastify', label: 'HTTP Kanzi invoke vs raw fastify GET echo', peerway: kanzi, baseline: fig('raw fastify GET echo', 'fastify GET'), target: HTTP_VS_FASTIFY });
        row({ id: 'gateway-api-vs-tcp', label: 'HTTP JSON API call vs the same call over tcp', peerway: api, baseline: tcp });
        row({ id: 'gateway-kanzi-vs-tcp', label: 'HTTP Kanzi invoke vs the same call over tcp', peerway: kanzi, baseline: tcp });
        row({ id: 'gateway-ws-vs-tcp', label: 'WebSocket JSON call vs the same call over tcp', peerway: wsFig, baseline: tcp, target: WS_VS_TCP });
        row({ id: 'gateway-ws-vs-raw-ws', label: 'WebSocket JSON call vs raw fastify ws echo', peerway: wsFig, baseline: fig('raw fastify ws JSON echo', 'raw ws') });
        row({
          id: 'gateway-api-vs-fastify-minimal-client',
          label: 'HTTP JSON API call vs raw fastify JSON echo, minimal HTTP client',
          peerway: fig('JSON API call, minimal client', 'api, minimal client'),
          baseline: fig('raw fastify POST echo, minimal client', 'fastify POST, minimal client'),
        });
        const p50 = (key: string) => stats.get(key)?.p50 ?? NaN;
        const us = (x: number) => `${x.toFixed(1)} µs`;
        out.note(
          `a thin HTTP gateway would cost about the raw echo plus a relayed call${suffix.label}: fastify POST echo + tcp call = ${us(p50('fastify POST') + p50('tcp'))} against ${us(p50('api'))} for the JSON API call; ` +
            `fastify GET echo + tcp call = ${us(p50('fastify GET') + p50('tcp'))} against ${us(p50('kanzi'))} for the Kanzi invoke; ` +
            `with the minimal HTTP client: ${us(p50('fastify POST, minimal client') + p50('tcp'))} against ${us(p50('api, minimal client'))}`,
        );
      };

      // Nine series, measured twice (as they run, then on one core): a quick run times half as many calls per series.
      const plan = ctx.plan.quick ? { ...ctx.plan.rtt, perRound: Math.ceil(ctx.plan.rtt.perRound / 2) } : ctx.plan.rtt;
      rows(await latencyRounds(series, plan, (what) => ctx.progress.step(what)), { id: '', label: '' });
      const unavailable = await oneCoreUnavailable();
      if (unavailable) {
        out.note(unavailable);
      } else {
        const pids = [...ctx.pids(), setup.server!.child.pid!, setup.runner!.child.pid!];
        rows(await onOneCore(pids, () => latencyRounds(series, plan, (what) => ctx.progress.step(`one core: ${what}`))), { id: '-one-core', label: ', one core' });
        out.note('one core: the same series again with the bench and every process it started confined to CPU 0 (taskset), which takes the scheduler out of the ratio');
      }
      out.note(
        `every series calls ${SERVICE}.echo (64 bytes; base64 in JSON) on one server started with --listen tcp and --http, relayed to its runner: ` +
          'tcp = a Peerway Node client (MessagePack); HTTP = Node http with a keep-alive agent, one connection per target; WebSocket = the ws package, one call in flight, after a start; ' +
          '"minimal HTTP client" = one socket, a request in one write, a Content-Length reply read by hand (bench/gateway-clients.ts): most of what is left is the servers\' work',
      );
      out.note('raw fastify echo: bench/peers/fastify-echo.mjs answers the same JSON (POST body, GET query, ws message) from its own process with nothing behind it: what fastify, HTTP/1.1 and ws cost by themselves');
    } finally {
      await stop(setup);
    }
  },
};
