import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startPeerway } from '../../src/cli/peerway-process.js';

/** `peerway demo` shows where its inspector is (issue #13, point 7), and that address serves it. */

test('peerway demo prints the inspector URL, and the URL serves the inspector page and the live API', async (t) => {
  const demo = startPeerway(['demo']);
  t.after(() => demo.stop());
  const [, url] = await demo.waitFor(/^ {2}inspector: (http:\/\/127\.0\.0\.1:\d+\/) \(open it in a browser/m, { timeoutMs: 30_000 });
  const page = await fetch(url);
  assert.equal(page.status, 200);
  assert.match(page.headers.get('content-type') ?? '', /^text\/html/);
  assert.match(await page.text(), /<title>Peerway inspector<\/title>/);
  // The page's own script and the demo's services are behind the same address.
  assert.equal((await fetch(new URL('inspector.js', url))).status, 200);
  await demo.waitFor(/runner registered Climate/);
  const services = (await (await fetch(new URL('api/services', url))).json()) as { name: string }[];
  assert.deepEqual(services.map((s) => s.name).sort(), ['Climate', 'Vehicle']);
});
