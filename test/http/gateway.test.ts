import { test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
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

/** A GET with the Host header a browser would send for a page served under `name` (fetch does not let it be set). */
function getWithHost(base: string, path: string, host: string): Promise<{ status: number; body: string }> {
  const url = new URL(path, base);
  return new Promise((resolve, reject) => {
    const req = http.get({ host: url.hostname, port: url.port, path: url.pathname, headers: { host } }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.setTimeout(5000, () => req.destroy(new Error('no answer within 5 s')));
  });
}

test('a request that reached the gateway by a name that could be a rebound DNS name is refused; IPs, localhost and listed origins are served', async (t) => {
  const { server, base } = await httpServer(t, ['--http-origin', 'http://hmi.example:8080']);
  const port = new URL(base).port;
  const rebound = await getWithHost(base, '/api/services', `attacker.example:${port}`);
  assert.equal(rebound.status, 403);
  const body = JSON.parse(rebound.body) as { error: { code: string; message: string } };
  assert.equal(body.error.code, 'POLICY_DENIED');
  assert.match(body.error.message, /reached by the name attacker\.example, which could be a rebound DNS name; list an origin with that host with --http-origin/);
  await server.proc.waitFor(/http request refused/, { stream: 'stderr' });
  for (const host of [`127.0.0.1:${port}`, `localhost:${port}`, `hmi.example:${port}`]) {
    assert.equal((await getWithHost(base, '/api/services', host)).status, 200, host);
  }
});
