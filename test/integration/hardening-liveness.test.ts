import { test } from 'node:test';
import { startPeerway } from '../../src/cli/peerway-process.js';
import { startRunner, startServer } from '../helpers/harness.js';
import { HARD, goodClientWorks } from '../helpers/hard-service.js';
import { RawPeer } from '../helpers/raw-peer.js';

/**
 * The attacks and careless deployments of the hardening issue, each on real processes: the server and
 * runner survive, what is attacked is refused or dropped with a logged reason, memory stays bounded, and
 * a well-behaved client keeps being served.
 */

test('a connection that sends half a frame after its hello is dropped by the keepalive', async (t) => {
  const server = await startServer(t, ['--keepalive', '300', '--keepalive-timeout', '300']);
  await startRunner(t, server.url, [HARD]);
  const bad = await RawPeer.connect(server.port);
  bad.socket.write(Buffer.from([0, 0, 1])); // three bytes of a four-byte length
  await Promise.race([bad.closed, new Promise((_, reject) => setTimeout(() => reject(new Error('still open after 5 s')), 5000))]);
  await server.proc.waitFor(/stopped answering: no reply to a keepalive within 300 ms/, { stream: 'stderr' });
  await goodClientWorks(server.url, t);
});

test('a frozen runner is dropped by the keepalive, its name comes free, and a runner waiting for it registers', async (t) => {
  const server = await startServer(t, ['--keepalive', '300', '--keepalive-timeout', '300']);
  const frozen = await startRunner(t, server.url, [HARD], ['--keepalive', '0']);
  const replacement = startPeerway(['runner', '--server', server.url, HARD]);
  t.after(() => replacement.stop());
  await replacement.waitFor(/the server refused the registration; retrying/, { stream: 'stderr' });
  frozen.child.kill('SIGSTOP');
  t.after(() => frozen.child.kill('SIGKILL'));
  await server.proc.waitFor(/service unregistered/, { stream: 'stderr' });
  await replacement.waitFor(/^registered Hard/m, { timeoutMs: 15_000 });
  await goodClientWorks(server.url, t);
});
