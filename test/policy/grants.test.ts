import assert from 'node:assert/strict';
import { test } from 'node:test';
import { loadDefinitionFile } from '../../src/definition/load-definition.js';
import { PeerwayError } from '../../src/errors.js';
import type { Authorizer } from '../../src/policy/authorizer.js';
import { GrantCheck, computeGrants, dataPaths, mergeGrants, sameGrants } from '../../src/policy/grants.js';
import type { SessionGrants } from '../../src/wire/messages.js';
import { example } from '../helpers/harness.js';

// A guard against a loop that never ends: every test here is in-process and takes milliseconds.
const T = { timeout: 5000 };

const climate = await loadDefinitionFile(example('climate.xml'));
const NODES = new Set(dataPaths(climate.runtimeData));
const HMI = { name: 'hmi' };
const check = (denied: Record<string, string>) => new GrantCheck({ denied }, NODES);

test('dataPaths lists the root, every object and every leaf of the runtime-data tree, parents first', T, () => {
  assert.deepEqual(dataPaths(climate.runtimeData), ['', 'cabin', 'cabin.temperature', 'cabin.fan', 'status']);
});

test('computeGrants asks an authorizer without decisionsFor resource by resource, each denial keyed by action and carrying the server refusal message', T, () => {
  const authorizer: Authorizer = {
    authorize: (_who, action, resource) =>
      (action === 'call' && resource.name === 'setTemperature') || (action === 'subscribe' && resource.name === 'overheat') || (action === 'read' && resource.name === 'cabin.fan')
        ? { allowed: false, reason: 'no' }
        : { allowed: true },
  };
  assert.deepEqual(computeGrants(authorizer, HMI, climate), {
    denied: {
      'call:setTemperature': 'hmi may not call Climate "setTemperature": no',
      'subscribe:overheat': 'hmi may not subscribe Climate "overheat": no',
      'read:cabin.fan': 'hmi may not read Climate "cabin.fan": no',
    },
  });
});

test('computeGrants takes the decisions of an authorizer that computes them itself (decisionsFor) instead of asking resource by resource', T, () => {
  const authorizer: Authorizer = {
    authorize: () => ({ allowed: true }),
    decisionsFor: () => ({ denied: { 'call:reset': 'hmi may not call Climate "reset"' } }),
  };
  assert.deepEqual(computeGrants(authorizer, HMI, climate), { denied: { 'call:reset': 'hmi may not call Climate "reset"' } });
});

test('computeGrants passes on an authorizer failure that is not a denial (a PeerwayError of another code, or any error) instead of recording it as denied', T, () => {
  const failing = (err: Error): Authorizer => ({
    authorize: () => {
      throw err;
    },
  });
  assert.throws(() => computeGrants(failing(new PeerwayError('INTERNAL', 'broken')), HMI, climate), (e: unknown) => e instanceof PeerwayError && e.code === 'INTERNAL');
  assert.throws(() => computeGrants(failing(new Error('plain')), HMI, climate), /plain/);
});

test('mergeGrants joins both deciders\' denials, keeping its own reason where both deny the same resource', T, () => {
  const own: SessionGrants = { denied: { 'call:reset': 'own reset', 'read:status': 'own status' } };
  const peer: SessionGrants = { denied: { 'call:reset': 'peer reset', 'subscribe:overheat': 'peer overheat' } };
  assert.deepEqual(mergeGrants(own, peer), { denied: { 'call:reset': 'own reset', 'read:status': 'own status', 'subscribe:overheat': 'peer overheat' } });
});

test('mergeGrants without a peer, or with a peer that denies nothing, gives its own denials', T, () => {
  const own: SessionGrants = { denied: { 'call:reset': 'own reset' } };
  assert.deepEqual(mergeGrants(own, undefined), own);
  assert.deepEqual(mergeGrants(own, { denied: {} }), own);
});

test('sameGrants is true only for the same denials with the same reasons', T, () => {
  assert.equal(sameGrants({ denied: {} }, { denied: {} }), true);
  assert.equal(sameGrants({ denied: { 'call:reset': 'a' } }, { denied: { 'call:reset': 'a' } }), true);
  assert.equal(sameGrants({ denied: { 'call:reset': 'a' } }, { denied: { 'call:reset': 'b' } }), false, 'another reason');
  assert.equal(sameGrants({ denied: { 'call:reset': 'a' } }, { denied: { 'call:reset': 'a', 'read:status': 'c' } }), false, 'one more denial');
  assert.equal(sameGrants({ denied: { 'call:reset': 'a' } }, { denied: { 'read:status': 'a' } }), false, 'another resource');
});

test('GrantCheck with no grants denies nothing', T, () => {
  const none = new GrantCheck();
  assert.equal(none.denial('call', 'setTemperature'), undefined);
  assert.equal(none.denial('read', ''), undefined);
  assert.doesNotThrow(() => none.enforce('call', 'setTemperature'));
  assert.deepEqual(none.deniedInside(''), []);
});

test('GrantCheck denies exactly the denied call and event with their reasons, and allows the others', T, () => {
  const g = check({ 'call:setTemperature': 'no set', 'subscribe:overheat': 'no overheat' });
  assert.equal(g.denial('call', 'setTemperature'), 'no set');
  assert.equal(g.denial('call', 'getTemperature'), undefined);
  assert.equal(g.denial('subscribe', 'overheat'), 'no overheat');
  assert.equal(g.denial('subscribe', 'fanChanged'), undefined);
  assert.equal(g.denial('subscribe', 'setTemperature'), undefined, 'a call denial does not deny an event of that name');
});

test('GrantCheck decides a read by the path itself: a denied leaf is denied, its parent and siblings are not', T, () => {
  const g = check({ 'read:cabin.temperature': 'no temperature' });
  assert.equal(g.denial('read', 'cabin.temperature'), 'no temperature');
  assert.equal(g.denial('read', 'cabin'), undefined);
  assert.equal(g.denial('read', 'cabin.fan'), undefined);
  assert.equal(g.denial('read', ''), undefined);
});

test('GrantCheck decides a path inside a struct-typed leaf, or with list indices, as the definition node it is in', T, () => {
  const g = check({ 'read:status': 'no status', 'read:cabin.fan': 'no fan' });
  assert.equal(g.denial('read', 'status.code'), 'no status');
  assert.equal(g.denial('read', 'status.detail.text'), 'no status');
  assert.equal(g.denial('read', 'cabin.fan.0'), 'no fan');
  assert.equal(g.denial('read', 'cabin.temperature.x'), undefined);
});

test('GrantCheck: a path that is no node of the definition is decided as the root', T, () => {
  const g = check({ 'read:': 'no data' });
  assert.equal(g.denial('read', 'nothing.here'), 'no data');
  assert.equal(g.denial('read', 'cabin'), undefined, 'the root denial has no entry for a node allowed under it');
});

test('GrantCheck.enforce throws POLICY_DENIED with the server wording and the action and name, and nothing when allowed', T, () => {
  const g = check({ 'call:setTemperature': 'hmi may not call Climate "setTemperature"' });
  assert.doesNotThrow(() => g.enforce('call', 'getTemperature'));
  assert.throws(
    () => g.enforce('call', 'setTemperature'),
    (e: unknown) =>
      e instanceof PeerwayError && e.code === 'POLICY_DENIED' && e.message === 'hmi may not call Climate "setTemperature"' && JSON.stringify(e.details) === JSON.stringify({ action: 'call', name: 'setTemperature' }),
  );
});

test('GrantCheck.deniedInside lists the denied read paths strictly inside a path: not the path itself, not other subtrees, not calls or events', T, () => {
  const g = check({ 'read:cabin': 'a', 'read:cabin.fan': 'b', 'read:status': 'c', 'call:setTemperature': 'd', 'subscribe:overheat': 'e', 'read:cabinet': 'f' });
  assert.deepEqual(g.deniedInside(''), ['cabin', 'cabin.fan', 'status', 'cabinet']);
  assert.deepEqual(g.deniedInside('cabin'), ['cabin.fan']);
  assert.deepEqual(g.deniedInside('cabin.0'), ['cabin.fan'], 'list indices ignored');
  assert.deepEqual(g.deniedInside('status'), []);
  assert.deepEqual(check({ 'read:': 'all', 'read:status': 'c' }).deniedInside(''), ['status'], 'a denied root is not inside the root');
});
