import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { startPeerway, type PeerwayProcess } from '../../src/cli/peerway-process.js';
import { fixture } from '../helpers/harness.js';
import { NetLab, netnsUnavailable } from '../helpers/netns.js';

/**
 * Client, server and runner on three hosts (network namespaces this test makes, joined by veth pairs and
 * bridges). Network A joins the server and the runner; network B joins the server and the client; the
 * server does not forward between them. The client is plugged into A as well where a test says so.
 */

const unavailable = await netnsUnavailable();
/** One line the client script printed. */
interface Line {
  kind: string;
  text?: string;
  link?: string;
  routes?: Record<string, unknown>;
}
const line = (text: string): Line => JSON.parse(text) as Line;

const KEEPER = fixture('recovery', 'keeper.xml');
const CLIENT = fixture('netns', 'client.mjs');

async function threeHosts(t: TestContext, options: { clientOnA: boolean }) {
  const lab = await NetLab.create(t);
  for (const host of ['s', 'r', 'c']) await lab.host(host);
  await lab.network('a');
  await lab.network('b');
  await lab.plug('s', 'a', 'eth0', '10.77.1.1/24');
  await lab.plug('r', 'a', 'eth0', '10.77.1.2/24');
  await lab.plug('s', 'b', 'eth1', '10.77.2.1/24');
  await lab.plug('c', 'b', 'eth0', '10.77.2.3/24');
  if (options.clientOnA) await lab.plug('c', 'a', 'eth1', '10.77.1.3/24');
  const started: PeerwayProcess[] = [];
  t.after(() => Promise.all(started.map((p) => p.stop())));
  const start = (host: string, args: string[], script?: string) => {
    const p = startPeerway(args, { prefix: lab.prefix(host), ...(script ? { script } : {}) });
    started.push(p);
    return p;
  };
  const server = start('s', ['server', '--listen', 'tcp://10.77.1.1:4000', '--listen', 'tcp://10.77.2.1:4000']);
  await server.waitFor(/listening connect\.bearer\.tcp 10\.77\.2\.1:4000/);
  const runner = start('r', ['runner', '--server', 'tcp://10.77.1.1:4000', '--p2p-host', '10.77.1.2', '--keepalive', '1000', '--keepalive-timeout', '1000', KEEPER]);
  await runner.waitFor(/^registered /m);
  const client = start('c', ['tcp://10.77.2.1:4000', 'Keeper'], CLIENT);
  await client.waitFor(/"kind":"started"/);
  return { lab, server, runner, client };
}

test('a direct link reaches across hosts: the client on the runner\'s network calls it directly', { skip: unavailable }, async (t) => {
  const { client } = await threeHosts(t, { clientOnA: true });
  const [started] = await client.waitFor(/\{"kind":"started".*\}/);
  assert.deepEqual(line(started).routes?.['method:echo'], { linkType: 'direct', link: 'reliable' });
  await client.waitFor(/"value":"3 via direct"/);
  assert.doesNotMatch(client.stdout(), /"kind":"(warning|error)"/);
});

test("a client that cannot reach the runner's host falls back to the server route, with the warning", { skip: unavailable }, async (t) => {
  const { client } = await threeHosts(t, { clientOnA: false });
  const [warning] = await client.waitFor(/\{"kind":"warning","text":"Keeper method \\"echo\\".*\}/);
  assert.match(line(warning).text ?? '', /^Keeper method "echo": link reliable \(connect\.bearer\.tcp\) could not be opened: cannot connect to tcp:\/\/10\.77\.1\.2:\d+: connect ENETUNREACH.*; using the server route instead$/);
  await client.waitFor(/"value":"3 via server"/);
  assert.doesNotMatch(client.stdout(), /via direct|"kind":"error"/);
});

test('cutting the client\'s cable to the runner mid-session fails over to the server route, and restoring it moves back', { skip: unavailable }, async (t) => {
  const { lab, client } = await threeHosts(t, { clientOnA: true });
  await client.waitFor(/"value":"2 via direct"/);
  await lab.setLink('c', 'eth1', 'down');
  const [dropped] = await client.waitFor(/\{"kind":"warning","text":"Keeper: direct link reliable dropped.*\}/, { timeoutMs: 20_000 });
  assert.match(line(dropped).text ?? '', /stopped answering: no reply to a keepalive.*; moved .*method "echo" → the server route/);
  await client.waitFor(/"kind":"warning","text":"Keeper: direct link reliable dropped[^]*via server"/, { timeoutMs: 10_000 });
  await lab.setLink('c', 'eth1', 'up');
  const [rerouted] = await client.waitFor(/\{"kind":"rerouted".*\}/, { timeoutMs: 30_000 });
  assert.equal(line(rerouted).link, 'reliable');
  await client.waitFor(/"kind":"rerouted"[^]*via direct"/, { timeoutMs: 10_000 });
  // Every call made across the cut was answered: none failed while the route moved.
  const errors = client.stdout().split('\n').filter((l) => l.includes('"kind":"error"'));
  assert.ok(errors.length <= 2, `calls failed across the failover: ${errors.join('\n')}`);
});
