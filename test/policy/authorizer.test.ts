import assert from 'node:assert/strict';
import { test } from 'node:test';
import { PeerwayError } from '../../src/errors.js';
import { enforce, type Authorizer } from '../../src/policy/authorizer.js';

const denyAll = (reason?: string): Authorizer => ({ authorize: () => ({ allowed: false, ...(reason !== undefined ? { reason } : {}) }) });
const HMI = { name: 'hmi' };

/** The POLICY_DENIED error `fn` throws (fails when it throws nothing or something else). */
function denial(fn: () => void): PeerwayError {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof PeerwayError && err.code === 'POLICY_DENIED', `expected POLICY_DENIED, got ${String(err)}`);
    return err;
  }
  assert.fail('expected POLICY_DENIED, nothing was thrown');
}

test('enforce lets an allowed request through', () => {
  assert.doesNotThrow(() => enforce({ authorize: () => ({ allowed: true }) }, HMI, 'call', { service: 'Climate', name: 'reset' }));
});

test('enforce refuses a request on a whole service (no name) naming just the service, without a name in the details', () => {
  const e = denial(() => enforce(denyAll(), HMI, 'register', { service: 'Climate' }));
  assert.equal(e.message, 'hmi may not register Climate');
  assert.deepEqual(e.details, { identity: 'hmi', action: 'register', service: 'Climate' });
});

test('enforce refuses a call naming the service and method, with the reason, and the name in the details', () => {
  const e = denial(() => enforce(denyAll('while the car moves'), HMI, 'call', { service: 'Climate', name: 'setTemperature' }));
  assert.equal(e.message, 'hmi may not call Climate "setTemperature": while the car moves');
  assert.deepEqual(e.details, { identity: 'hmi', action: 'call', service: 'Climate', name: 'setTemperature' });
});

test('enforce refuses a read of the root path as all runtime data of the service, with the empty name in the details', () => {
  const e = denial(() => enforce(denyAll(), HMI, 'read', { service: 'Climate', name: '' }));
  assert.equal(e.message, 'hmi may not read all runtime data of Climate');
  assert.deepEqual(e.details, { identity: 'hmi', action: 'read', service: 'Climate', name: '' });
});

test('enforce words an empty name as all runtime data only for a read: a call of an empty method name is named as such', () => {
  const e = denial(() => enforce(denyAll(), HMI, 'call', { service: 'Climate', name: '' }));
  assert.equal(e.message, 'hmi may not call Climate ""');
});
