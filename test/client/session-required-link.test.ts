import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { PeerwayError } from '../../src/errors.js';
import { fixture } from '../helpers/harness.js';
import { MEMORY, memoryStack } from '../helpers/in-memory.js';

/** A session whose service requires a direct link for one resource, on connect.bearer.memory, when that link drops. */

const PINNED_LAB = { xml: fixture('memory', 'pinned-lab.xml'), impl: fixture('p2p', 'lab.mjs') };

test('a required link drops: the session goes on, the other resources fail over to the server route, the required one fails with LINK_FAILED until the link is back', async (t) => {
  const stack = await memoryStack(t, [PINNED_LAB]);
  const client = await stack.client();
  const s = await client.startSession('PinnedLab');
  assert.deepEqual(s.routeFor('method', 'echo'), { linkType: 'direct', link: 'mem', bearer: MEMORY });
  const warned = new Promise<string>((resolve) => client.on('warning', (w: string) => /dropped/.test(w) && resolve(w)));
  const back = new Promise<{ link: string; resources: string[] }>((resolve) => client.once('rerouted', resolve));

  s.openLinks().get('mem')!.connection.close('cable pulled');
  assert.equal(
    await warned,
    'PinnedLab: direct link mem dropped (cable pulled); moved event "tick" → the server route; method "echo" need this link and fail with LINK_FAILED until it is back; the link is tried again and they move back when it is up',
  );
  assert.equal(s.ended, false, 'the session was not stopped');
  assert.deepEqual(s.routeFor('method', 'echo'), { linkType: 'direct', link: 'mem' }, 'echo stays on its link');
  assert.deepEqual(s.routeFor('event', 'tick'), { linkType: 'server' });
  await assert.rejects(s.call('echo', { text: 'a' }), (e: PeerwayError) => e.code === 'LINK_FAILED');

  const up = await back;
  assert.equal(up.link, 'mem');
  assert.equal(await s.call('echo', { text: 'b' }), 'b via direct');
});
