import { test } from 'node:test';
import assert from 'node:assert/strict';
import { makeTestCertificates } from '../helpers/certs.js';
import { startServerWith, writeConfig } from '../helpers/adapters.js';
import { connectClient, fixture, runPeerway, startRunner, startServer } from '../helpers/harness.js';

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
