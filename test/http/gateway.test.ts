import { test } from 'node:test';
import assert from 'node:assert/strict';
import { example, startServer } from '../helpers/harness.js';

/** The HTTP gateway on a real server process: it listens where told, identifies callers, answers JSON. */

async function httpServer(t: import('node:test').TestContext, extra: string[] = []) {
  const server = await startServer(t, ['--service', example('vehicle.xml'), '--http', '0', ...extra]);
  const [, address] = await server.proc.waitFor(/^listening http (\S+)$/m);
  return { server, base: `http://${address}` };
}

test('--http listens on 127.0.0.1 by default and serves the JSON API', async (t) => {
  const { base } = await httpServer(t);
  assert.match(base, /^http:\/\/127\.0\.0\.1:\d+$/);
  const res = await fetch(`${base}/api/services`);
  assert.equal(res.status, 200);
  assert.deepEqual(((await res.json()) as { name: string }[]).map((s) => s.name), ['Vehicle']);
  const stats = (await (await fetch(`${base}/api/stats`)).json()) as { services: Record<string, unknown> };
  assert.ok(stats.services.Vehicle);
});

test('an unknown route, a malformed Authorization header and a token without a policy', async (t) => {
  const { base } = await httpServer(t);
  const missing = await fetch(`${base}/nope`);
  assert.equal(missing.status, 404);
  assert.match(((await missing.json()) as { error: { message: string } }).error.message, /no route GET \/nope/);
  const malformed = await fetch(`${base}/api/services`, { headers: { authorization: 'Basic abc' } });
  assert.equal(malformed.status, 401);
  assert.equal(((await malformed.json()) as { error: { code: string } }).error.code, 'UNAUTHORIZED');
  const anyToken = await fetch(`${base}/api/services`, { headers: { authorization: 'Bearer whatever' } });
  assert.equal(anyToken.status, 200, 'without a policy a token changes nothing');
});
