import { test } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Bearer, ConnectOptions, MessageConnection } from '../../src/bearer/bearer.js';
import { memoryBearer } from '../../src/bearer/memory.js';
import { registerBearer } from '../../src/bearer/registry.js';
import type { ServiceEvent } from '../../src/client/session.js';
import { PeerwayError } from '../../src/errors.js';
import { Collector, fixture } from '../helpers/harness.js';
import { MEMORY, memoryStack } from '../helpers/in-memory.js';

/**
 * A memory bearer whose first connection attempts do not answer within the deadline (an unreachable or
 * slow host), and whose later ones do: the link is late.
 */
let slowAttemptsLeft = 0;
const lazyBearer: Bearer = {
  ...memoryBearer,
  id: 'connect.bearer.lazy',
  schemes: ['lazy'],
  offer: 'never',
  async connect(address, options: ConnectOptions = {}): Promise<MessageConnection> {
    if (slowAttemptsLeft > 0) {
      slowAttemptsLeft--;
      await sleep(options.timeoutMs ?? 1000);
      throw new PeerwayError('TIMEOUT', `cannot connect to lazy://${address.path}: no answer within ${options.timeoutMs} ms`);
    }
    return memoryBearer.connect({ ...address, bearer: memoryBearer.id }, options);
  },
  async listen(address, onConnection, options) {
    const listener = await memoryBearer.listen({ ...address, bearer: memoryBearer.id }, onConnection, options);
    return { address: { ...listener.address, bearer: 'connect.bearer.lazy' }, close: () => listener.close() };
  },
};
registerBearer(lazyBearer);

test('a link that does not answer within the deadline falls back at once, and is taken when it comes up', async (t) => {
  const stack = await memoryStack(t, [{ xml: fixture('memory', 'lazy-lab.xml'), impl: fixture('p2p', 'lab.mjs') }]);
  slowAttemptsLeft = 1;
  const client = await stack.client({ bearers: [MEMORY, lazyBearer.id], linkTimeoutMs: 200 });
  const rerouted = new Promise<{ link: string; resources: string[] }>((resolve) => client.once('rerouted', resolve));
  const started = Date.now();
  const s = await client.startSession('LazyLab');
  assert.ok(Date.now() - started < 2000, `the session started in ${Date.now() - started} ms, without waiting for the link`);
  assert.deepEqual(s.routeFor('method', 'echo'), { linkType: 'server' });
  assert.equal(await s.call('echo', { text: 'a' }), 'a via server');
  const ticks = new Collector<ServiceEvent>();
  await s.onEvent('tick', ticks.push);
  await s.call('emitTicks', { count: 1 });
  assert.equal((await ticks.next(1))[0].route, 'server');

  const up = await rerouted;
  assert.deepEqual([up.link, up.resources.sort()], ['slow', ['event:tick', 'method:echo']]);
  assert.deepEqual(s.routeFor('method', 'echo'), { linkType: 'direct', link: 'slow', bearer: MEMORY });
  assert.equal(await s.call('echo', { text: 'b' }), 'b via direct');
  await s.call('emitTicks', { count: 1 });
  const [, second] = await ticks.next(2);
  assert.equal(second.route, 'direct', 'the subscription moved to the link');
  await s.call('setCounter', { value: 1 }); // a barrier on the server route: no copy of tick came that way
  assert.equal(ticks.items.length, 2);
});
