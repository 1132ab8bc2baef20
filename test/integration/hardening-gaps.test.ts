import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseInstructions } from '../../src/routing/instructions.js';
import { PROTOCOL_VERSION } from '../../src/wire/messages.js';
import { startRunner, startServer } from '../helpers/harness.js';
import { HARD, goodClientWorks } from '../helpers/hard-service.js';
import { RawPeer } from '../helpers/raw-peer.js';

/**
 * Points of the hardening issue the first round of tests left unproved, each on real processes: the
 * attacked process survives, the attacker is closed with a logged reason, the caller gets a typed error,
 * and a well-behaved client keeps being served.
 */

/** Resolves when `peer` is closed; rejects after `ms` (a bounded wait, not a timed assertion). */
function closedWithin(peer: RawPeer, ms: number, what: string): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    peer.closed.finally(() => clearTimeout(timer)),
    new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`${what} still open after ${ms} ms`)), ms))),
  ]);
}

test('a connection that never sends its hello is closed at --hello-timeout with a logged reason, on the server and on a runner link', async (t) => {
  const server = await startServer(t, ['--hello-timeout', '300']);
  const runner = await startRunner(t, server.url, [HARD], ['--hello-timeout', '300']);
  // The server's port: connected, silent.
  const silent = await RawPeer.connect(server.port, false);
  t.after(() => silent.close());
  await closedWithin(silent, 10_000, 'a silent connection to the server');
  await server.proc.waitFor(/connection refused[^\n]*no hello within 300 ms/, { stream: 'stderr' });
  // A runner's link port: a session gives its address; the connection never says hello.
  const client = await RawPeer.connect(server.port);
  t.after(() => client.close());
  const started = (await client.request({ type: 'start', service: 'Hard', client: { bearers: ['connect.bearer.tcp'], host: 'x', version: PROTOCOL_VERSION } })) as {
    value: { routing: string };
  };
  const link = parseInstructions(started.value.routing).links.find((l) => l.name === 'reliable')!;
  assert.equal(link.address.bearer, 'connect.bearer.tcp');
  const silentLink = await RawPeer.connect(link.address.port!, false);
  t.after(() => silentLink.close());
  await closedWithin(silentLink, 10_000, 'a silent connection to the runner link');
  await runner.waitFor(/link connection refused[^\n]*no hello within 300 ms/, { stream: 'stderr' });
  assert.equal(server.proc.child.exitCode, null);
  assert.equal(runner.child.exitCode, null);
  await goodClientWorks(server.url, t);
});
