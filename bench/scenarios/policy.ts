import { createHash, randomBytes } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { connect, type PeerwayClient } from '../../src/client/client.js';
import type { Session } from '../../src/client/session.js';
import { startPeerway, type PeerwayProcess } from '../../src/cli/peerway-process.js';
import { PeerwayError } from '../../src/errors.js';
import { loadPolicy } from '../../src/policy/policy-file.js';
import { Policy } from '../../src/policy/policy.js';
import { SERVICE_NAMES, describeRoute, directRoute, type BenchContext } from '../context.js';
import { latencyFigure, latencyRounds, median, round3, type LatencySeries, type LatencyStats } from '../measure.js';
import { naFigure, type Figure, type Target } from '../model.js';
import { onOneCore, oneCoreUnavailable } from '../one-core.js';
import { benchFile } from '../raw-peer.js';
import { checkEcho, type Scenario } from '../scenario.js';

/**
 * What an enforced access policy costs a call. Two Peerway setups side by side, each a server of its own
 * with one runner per bench service (BenchDirect: echo on a direct tcp route; BenchRouted: relayed by the
 * server), as the calls scenarios run them: one server without a policy (everyone is anonymous, the
 * allow-all authorization point), one with an enforced policy of STATEMENTS statements generated into the
 * bench's temp dir (policyYaml). Its client and runners present tokens. The four echo series (direct and
 * routed, with and without the policy) are measured in the same interleaved rounds, then again on one
 * core, as the other round-trip rows are.
 *
 * Where the policy acts on a call: the server decides every relayed call (Policy.authorize: the
 * statements that can decide an action, identity, service and name are found once and cached, so a call
 * pays a key, a map lookup and the last deciding statement); on a direct route the runner checks the
 * session's grants, the denials the server handed it at session start (not empty here: the policy denies
 * the bench client burst, publish and tick).
 */

/** Statements in the generated policy. */
const STATEMENTS = 100;
/** The issue's bound: an enforced policy may cost a call at most 5%. */
const TARGET: Target = { text: '≤ 1.05×', on: 'ratio', op: '<=', limit: 1.05 };

/** Identities of the bench's peers on the policy server (the tokens are made per run). */
const CLIENT = 'bench-client';
const RUNNER = 'bench-runner';
/** Identities the statements also name (tokens never presented: realistic company for the two above). */
const OTHERS = ['hmi', 'climate-runner', 'telematics', 'ota', 'nav', 'seat-runner', 'logger'] as const;
/** Services the statements name besides the bench ones (none is registered: the server warns, once). */
const OTHER_SERVICES = ['Climate', 'Vehicle', 'Seat', 'Navigation', 'Telematics', 'Lighting', 'Door', 'Battery', 'Media', 'Ota'] as const;

const DIRECT = SERVICE_NAMES.direct;
const ROUTED = SERVICE_NAMES.routed;

const sha256 = (token: string): string => createHash('sha256').update(token, 'utf8').digest('hex');

/**
 * The generated policy: enforced, with identities by token hash (the bench client, the bench runner and
 * a few others; one by certificate subject) and exactly STATEMENTS statements, in this order:
 *
 * 1. everyone may describe every service;
 * 2. the bench runner may register the two bench services;
 * 3. the bench client (and hmi) may do nothing with `Bench*`: a deny that covers echo, so the allow at
 *    the end is what decides, not the only statement that applies;
 * 4. … STATEMENTS − 3: allows and denies on other services, methods, events and paths, with globs (`Clim*`,
 *    `*Sensor`, `set*`, `cabin.*`, `**.status`), `when` conditions on other services' data, and statements
 *    that name the bench client and match `Bench*` (or every service) but other methods (`set*`,
 *    `echo*Admin`), or that match echo but not the bench client, or near-miss service names
 *    (`BenchClimate`): the statements a decision for the bench call has to look at and pass over;
 * STATEMENTS − 2 … STATEMENTS: the bench client may read `counter`, call `echo` of BenchDirect, and call
 *    `ech*` of BenchRouted (a glob).
 *
 * So the bench client gets echo, counter and describe; burst, publish and tick stay denied (statement 3).
 */
export function policyYaml(tokens: { client: string; runner: string }): string {
  const lines: string[] = ['mode: enforced', 'identities:'];
  lines.push(`  ${CLIENT}: { token_sha256: ${sha256(tokens.client)} }`);
  lines.push(`  ${RUNNER}: { token_sha256: ${sha256(tokens.runner)} }`);
  for (const name of OTHERS) lines.push(`  ${name}: { token_sha256: ${sha256(`${name}-${randomBytes(8).toString('hex')}`)} }`);
  lines.push('  diagnostics: { certificate: "CN=diagnostics,O=Bench" }');

  const head = [
    'allow: { who: "*", service: "*", actions: [describe] }',
    `allow: { who: ${RUNNER}, service: [${DIRECT}, ${ROUTED}], actions: [register] }`,
    `deny: { who: [${CLIENT}, hmi], service: "Bench*", actions: [call, subscribe, read] }`,
  ];
  const tail = [
    `allow: { who: ${CLIENT}, service: "Bench*", read: [counter] }`,
    `allow: { who: ${CLIENT}, service: ${DIRECT}, call: [echo] }`,
    `allow: { who: ${CLIENT}, service: ${ROUTED}, call: ["ech*"] }`,
  ];
  const filler: string[] = [];
  for (let i = 0; filler.length < STATEMENTS - head.length - tail.length; i++) {
    const svc = OTHER_SERVICES[i % OTHER_SERVICES.length];
    const other = OTHERS[i % OTHERS.length];
    const templates = [
      `allow: { who: [hmi, diagnostics], service: ${svc}, actions: [call, subscribe, read] }`,
      `allow: { who: "*", service: "${svc.slice(0, 4)}*", call: ["get*", status] }`,
      `deny: { who: [${CLIENT}, ${other}], service: "*", call: ["set${svc}*", "reset*"] }`,
      `allow: { who: [${CLIENT}, telematics], service: ${svc}, read: ["cabin.*", "**.status", "zones.t*"] }`,
      `deny: { who: "*", service: "*Sensor${i}", subscribe: ["overheat*", fault] }`,
      `allow: { who: ${CLIENT}, service: "Bench${svc}", call: [echo] }`,
      `deny: { who: hmi, service: ${svc}, call: [setTemperature], when: { "Vehicle:speed": { gt: 0 } } }`,
      `allow: { who: [ota, diagnostics], service: "Bench*", call: [burst, publish], subscribe: [tick] }`,
      `deny: { who: "*", service: "Bench*", call: ["echo*Admin", "*Secret"] }`,
      `allow: { who: ${other}, service: [${svc}, "${svc}Backup"], actions: [subscribe], read: [diagnostics] }`,
      `deny: { who: [${CLIENT}, logger], service: "*${svc.slice(-3)}", read: ["secrets.**"], when: { "Vehicle:gear": { in: [P, N] } } }`,
    ];
    filler.push(templates[i % templates.length]);
  }
  const statements = [...head, ...filler, ...tail];
  if (statements.length !== STATEMENTS) throw new Error(`generated ${statements.length} statements, not ${STATEMENTS}`);
  lines.push('statements:');
  for (const s of statements) lines.push(`  - ${s}`);
  return lines.join('\n') + '\n';
}

/** The policy server and its runners, started by this scenario (the context knows only servers without a policy). */
interface PolicySetup {
  server: PeerwayProcess;
  runners: PeerwayProcess[];
  client?: PeerwayClient;
  file: string;
}


/** Starts `peerway server --policy FILE` and a runner (with the runner's token) per bench service. */
async function startPolicySetup(ctx: BenchContext, setup: Partial<PolicySetup>, tokens: { client: string; runner: string }): Promise<PolicySetup & { url: string }> {
  const dir = path.join(ctx.tmp, 'policy');
  await mkdir(dir, { recursive: true });
  const file = path.join(dir, 'policy.yaml');
  await writeFile(file, policyYaml(tokens));
  setup.file = file;
  const server = startPeerway(['server', '--listen', 'tcp://127.0.0.1:0', '--policy', file], { env: ctx.env('server-policy') });
  setup.server = server;
  setup.runners = [];
  const m = await server.waitFor(/listening connect\.bearer\.tcp 127\.0\.0\.1:(\d+)/);
  const url = `tcp://127.0.0.1:${m[1]}`;
  for (const kind of ['direct', 'routed'] as const) {
    const runner = startPeerway(['runner', '--server', url, '--token', tokens.runner, benchFile('services', `bench-${kind}.xml`)], { env: ctx.env(`runner-${kind}-policy`) });
    setup.runners.push(runner);
    await runner.waitFor(/^registered .*$/m);
  }
  return { ...(setup as PolicySetup), url };
}

/** Stops what startPolicySetup started (runners first, as the context does). Never throws. */
async function stopPolicySetup(setup: Partial<PolicySetup>): Promise<void> {
  await setup.client?.close().catch(() => undefined);
  await Promise.all((setup.runners ?? []).map((r) => r.stop()));
  await setup.server?.stop();
}

/** Resolves with POLICY_DENIED when `work` is refused by the policy; throws when it succeeds or fails otherwise. */
async function refusal(work: () => Promise<unknown>, what: string): Promise<string> {
  try {
    await work();
  } catch (err) {
    if (err instanceof PeerwayError && err.code === 'POLICY_DENIED') return err.code;
    throw new Error(`expected the policy to refuse ${what}, got: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
  }
  throw new Error(`the policy server allowed ${what}: the policy is not enforced, so the figures would not measure it`);
}

/** An echo series after one checked call. */
async function echoSeries(key: string, session: Session, payload: Buffer): Promise<LatencySeries> {
  checkEcho(await session.call('echo', { data: payload }), payload, `${session.service}.echo (${key})`);
  return { key, once: () => session.call('echo', { data: payload }) };
}

/** The direct route of echo, or why it is not direct (n/a rather than a number for the wrong path). */
function directCheck(session: Session): ReturnType<typeof directRoute> {
  return directRoute(session, 'method', 'echo');
}

/**
 * In-process cost of the server's decision for the bench call under the generated policy (for the notes):
 * the first decision of a fresh Policy, which filters all the statements (median of 50 fresh ones, after
 * the first, which also compiles), and a cached one (the same decision again, averaged).
 */
async function decisionCost(file: string): Promise<{ firstUs: number; cachedNs: number }> {
  const model = await loadPolicy(file);
  const identity = { name: CLIENT, via: 'token' as const };
  const resource = { service: ROUTED, name: 'echo' };
  let policy = new Policy(model);
  const decision = policy.authorize(identity, 'call', resource);
  if (!decision.allowed) throw new Error(`the generated policy denies ${CLIENT} echo: ${decision.reason}`);
  const fresh: number[] = [];
  for (let i = 0; i < 50; i++) {
    policy = new Policy(model);
    const t0 = process.hrtime.bigint();
    policy.authorize(identity, 'call', resource);
    fresh.push(Number(process.hrtime.bigint() - t0) / 1000);
  }
  const n = 200_000;
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < n; i++) policy.authorize(identity, 'call', resource);
  return { firstUs: median(fresh), cachedNs: Number(process.hrtime.bigint() - t0) / n };
}

export const policyCost: Scenario = {
  id: 'policy',
  title: `call RTT with an enforced ${STATEMENTS}-statement policy`,
  summary: `direct and server-routed call RTT on a server with an enforced access policy of ${STATEMENTS} statements vs a server without a policy`,
  async run(ctx, out) {
    const payload = randomBytes(ctx.plan.payloadBytes);
    const tokens = { client: `bench-client-${randomBytes(16).toString('hex')}`, runner: `bench-runner-${randomBytes(16).toString('hex')}` };
    const setup: Partial<PolicySetup> = {};
    try {
      // Without a policy: a server of its own (not the calls scenarios' main one), the context's runners.
      ctx.progress.step('server without a policy');
      const noDirect = await ctx.session('direct', 'no-policy');
      const noRouted = await ctx.session('routed', 'no-policy');

      ctx.progress.step(`server with a ${STATEMENTS}-statement policy`);
      const started = await startPolicySetup(ctx, setup, tokens);
      const client = await connect(started.url, { timeoutMs: 15_000, connectTimeoutMs: 10_000, agent: 'peerway-bench', token: tokens.client });
      setup.client = client;
      const withDirect = await client.startSession(DIRECT);
      const withRouted = await client.startSession(ROUTED);

      // The policy is enforced: what it does not allow the bench client is refused, and so is anonymous.
      const deniedPublish = await refusal(() => withRouted.call('publish', { from: 0, count: 1, batch: 1 }), `${CLIENT} to call ${ROUTED}.publish`);
      const anonymous = await connect(started.url, { timeoutMs: 15_000, connectTimeoutMs: 10_000, agent: 'peerway-bench' });
      const deniedAnonymous = await refusal(() => anonymous.startSession(ROUTED), `anonymous to start a session with ${ROUTED}`).finally(() => anonymous.close().catch(() => undefined));
      const policyStats = (await client.stats({ timeoutMs: 10_000 })).policy;

      const series: LatencySeries[] = [await echoSeries('routed, no policy', noRouted, payload), await echoSeries('routed, policy', withRouted, payload)];
      const noDirectRoute = directCheck(noDirect);
      const withDirectRoute = directCheck(withDirect);
      if (noDirectRoute.ok) series.push(await echoSeries('direct, no policy', noDirect, payload));
      if (withDirectRoute.ok) series.push(await echoSeries('direct, policy', withDirect, payload));

      const directFig = (label: string, check: ReturnType<typeof directRoute>, stats: Map<string, LatencyStats>, key: string): Figure =>
        check.ok ? latencyFigure(label, stats.get(key), { extra: { route: describeRoute(check.route) } }) : naFigure(label, 'µs', check.why);
      const rows = (stats: Map<string, LatencyStats>, suffix: { id: string; label: string }) => {
        out.row({
          id: `policy-direct${suffix.id}`,
          label: `direct call with a ${STATEMENTS}-statement policy vs without${suffix.label}`,
          peerway: directFig(`direct call, ${STATEMENTS}-statement policy`, withDirectRoute, stats, 'direct, policy'),
          baseline: directFig('direct call, no policy', noDirectRoute, stats, 'direct, no policy'),
          target: TARGET,
        });
        out.row({
          id: `policy-routed${suffix.id}`,
          label: `server-routed call with a ${STATEMENTS}-statement policy vs without${suffix.label}`,
          peerway: latencyFigure(`server-routed call, ${STATEMENTS}-statement policy`, stats.get('routed, policy')),
          baseline: latencyFigure('server-routed call, no policy', stats.get('routed, no policy')),
          target: TARGET,
        });
      };

      rows(await latencyRounds(series, ctx.plan.rtt, (what) => ctx.progress.step(what)), { id: '', label: '' });
      const unavailable = await oneCoreUnavailable();
      if (unavailable) {
        out.note(unavailable);
      } else {
        const pids = [...ctx.pids(), started.server.child.pid!, ...started.runners.map((r) => r.child.pid!)];
        rows(await onOneCore(pids, () => latencyRounds(series, ctx.plan.rtt, (what) => ctx.progress.step(`one core: ${what}`))), { id: '-one-core', label: ', one core' });
        out.note('one core: the same series again with the bench and every process it started confined to CPU 0 (taskset), which takes the scheduler out of the ratio');
      }

      const cost = await decisionCost(started.file);
      out.note(
        `the policy (enforced, generated into the temp dir): ${OTHERS.length + 3} identities (${CLIENT} and ${RUNNER} by token hash, ${OTHERS.length} more by token hash, one by certificate subject) and ${STATEMENTS} statements: ` +
          `everyone may describe; ${RUNNER} may register ${DIRECT} and ${ROUTED}; ${CLIENT} is denied everything of "Bench*" (statement 3); ${STATEMENTS - 6} allows and denies on other services, methods, events and paths with globs ` +
          `("Clim*", "*Sensor4", "setSeat*", "reset*", "echo*Admin", "cabin.*", "**.status") and when-conditions on other services' data, many naming ${CLIENT} or "*" and matching "Bench*" or "*"; ` +
          `the last three allow ${CLIENT} to read counter, call echo of ${DIRECT}, call "ech*" of ${ROUTED}`,
      );
      out.note(
        `enforced: ${CLIENT}'s call of ${ROUTED}.publish was refused (${deniedPublish}), an anonymous session with ${ROUTED} too (${deniedAnonymous}); server stats: policy ${policyStats?.mode ?? 'n/a'}, ${policyStats?.denied ?? 'n/a'} denied; ` +
          `the direct session's grants deny burst, publish and tick, so the runner looks echo up in them on every direct call`,
      );
      out.note(
        `the server's decision for the bench call, in the bench process (Policy.authorize): ${round3(cost.firstUs)} µs for the first decision of a fresh policy (all ${STATEMENTS} statements filtered), ${Math.round(cost.cachedNs)} ns from then on (the deciding statements are cached per action, identity, service and name)`,
      );
    } finally {
      await stopPolicySetup(setup);
    }
  },
};
