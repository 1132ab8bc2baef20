// ServiceHost in process, for what the wire cannot reach on a real runner without a forged server.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PeerwayError } from '../../src/errors.js';
import { silentLogger } from '../../src/logger.js';
import { allowAll } from '../../src/policy/authorizer.js';
import { ServiceHost } from '../../src/runner/service-host.js';
import { loadService } from '../../src/service/load-service.js';
import { resolveLimits } from '../../src/wire/limits.js';
import { fixture } from '../helpers/harness.js';

test('a relayed request for a session this service does not know is SESSION_NOT_FOUND, not a TypeError', async () => {
  const runtime = await loadService(fixture('p2p', 'lab.xml'));
  const host = new ServiceHost(runtime, {
    reliableBearer: 'connect.bearer.tcp',
    p2pHost: '127.0.0.1',
    place: { host: 'h', process: 'p' },
    authorizer: allowAll,
    adapters: {},
    limits: resolveLimits(),
    toServer: () => undefined,
    log: silentLogger(),
  });
  const notFound = (e: unknown) => e instanceof PeerwayError && e.code === 'SESSION_NOT_FOUND' && e.message === 'session nope is not open on service Lab';
  assert.throws(() => host.session('nope'), notFound);
  assert.throws(() => host.identityOf('nope'), notFound);
  assert.throws(() => host.assertServerRoute('nope', 'method:echo'), notFound);
});
