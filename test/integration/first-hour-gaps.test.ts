import { test } from 'node:test';
import assert from 'node:assert/strict';
import { unlink } from 'node:fs/promises';
import { makeTestCertificates } from '../helpers/certs.js';
import { startServerWith, writeConfig } from '../helpers/adapters.js';
import type { DataChange } from '../../src/client/session.js';
import { Collector, connectClient, fixture, runPeerway, startRunner, startServer } from '../helpers/harness.js';
import { withOwnSocket } from '../helpers/own-socket.js';

/**
 * Points of the first-hour issue (#11) the first round of tests left unproved, on real processes.
 */

const TYPES = fixture('definitions', 'types.xml');
const SSL = 'connect.bearer.ssl';

/** A runner that must stop by itself (not be stopped at the end of `timeoutMs`), with an error and no retry. */
async function runnerStops(args: string[]): Promise<string> {
  const r = await runPeerway(['runner', ...args, TYPES], { timeoutMs: 20_000 });
  assert.notEqual(r.code, 'SIGTERM', `it stopped by itself; stderr:\n${r.stderr}`);
  assert.notEqual(r.code, 0);
  assert.doesNotMatch(r.stderr, /retrying|reconnecting/, 'it did not retry');
  return r.stderr;
}

test('a runner pointed at a TLS port, or at one whose certificate does not verify, stops with the reason instead of retrying', async (t) => {
  const certs = await makeTestCertificates();
  const config = await writeConfig(certs.dir, 'runner-tls.xml', [
    { type: SSL, attributes: { port: '0', ...certs.server } },
    { type: SSL, attributes: { port: '0', ...certs.expired } },
  ]);
  const server = await startServerWith(['--config', config], 2);
  t.after(() => server.stop());
  const [good, expired] = server.listeners.map((l) => l.address);
  // Plain tcp to the TLS port.
  assert.match(await runnerStops(['--server', `tcp://${good}`]), /CONNECT_FAILED[^\n]*the port is a connect\.bearer\.ssl \(TLS\) port: connect with ssl:\/\//);
  // ssl, but without the CA that signed the server's certificate.
  assert.match(await runnerStops(['--server', `ssl://${good}`, '--ca', certs.otherCa.certificate]), /CONNECT_FAILED[^\n]*is not signed by a trusted CA/);
  // ssl to an expired certificate.
  assert.match(await runnerStops(['--server', `ssl://${expired}`, '--ca', certs.ca.certificate]), /CONNECT_FAILED[^\n]*expired on/);
});

test('the server logs why each session ended: stopped by its client, or its service went away', async (t) => {
  const server = await startServer(t);
  const runner = await startRunner(t, server.url, [TYPES]);
  const client = await connectClient(t, server.url, { agent: 'session-end-test' });
  const stopped = await client.startSession('Types');
  const gone = await client.startSession('Types');
  const [stoppedId, goneId] = [stopped.id, gone.id];
  await stopped.stop();
  const line = (id: string) => new RegExp(`session ended[^\\n]*"session":"${id}"[^\\n]*"reason":"([^"]*)"`);
  assert.equal((await server.proc.waitFor(line(stoppedId), { stream: 'stderr' }))[1], 'stopped by its client');
  runner.child.kill('SIGKILL');
  assert.match((await server.proc.waitFor(line(goneId), { stream: 'stderr' }))[1], /^service Types went away: the runner at .* disconnected$/);
});

test('runtime data bigger than one udp datagram from the start is watched over the unreliable link: the first value and the next arrive whole', async (t) => {
  const server = await startServer(t);
  await startRunner(t, server.url, [fixture('p2p', 'udp-data.xml')]);
  const s = await (await connectClient(t, server.url)).startSession('UdpData');
  assert.deepEqual(s.routeFor('data', 'big'), { linkType: 'direct', link: 'unreliable', bearer: 'connect.bearer.udp' });
  const changes = new Collector<DataChange>();
  const watch = await s.watch('big', changes.push);
  assert.equal(watch.snapshot, 'first'.padEnd(6000, 'x'), 'the first value, in fragments, whole');
  // A later change is a push: resent until one arrives whole (a lost fragment loses the message, as a lost datagram would).
  const arrived = () => changes.items.find((c) => c.value === 'second'.padEnd(5000, 'x'));
  for (let i = 0; i < 20 && !arrived(); i++) {
    await s.call('setBig', { size: 5000, tag: 'second' });
    await changes.next(changes.items.length + 1, 1000).catch(() => undefined);
  }
  assert.ok(arrived(), `the change arrived whole; got ${changes.items.map((c) => String(c.value).length).join(', ')}`);
  assert.deepEqual([arrived()!.route, arrived()!.link], ['direct', 'unreliable']);
});

test("a direct link that cannot be opened is blamed on the service's runner, not on the server", async (t) => {
  const server = await startServer(t);
  const { file, socket } = await withOwnSocket(t, fixture('p2p', 'link-gone.xml'));
  await startRunner(t, server.url, [file]);
  await unlink(socket); // the runner's link socket is gone: opening the link fails
  const client = await connectClient(t, server.url);
  const warnings: string[] = [];
  client.on('warning', (w: string) => warnings.push(w));
  const s = await client.startSession('LinkGone');
  assert.equal(s.routeFor('method', 'echo').linkType, 'server');
  assert.equal(warnings.length, 1);
  assert.match(warnings[0], /link ipc \(connect\.bearer\.local\) could not be opened: .*\(is the runner of LinkGone running and listening there\?\); using the server route instead/);
  assert.doesNotMatch(warnings[0], /is the server running/);
});
