import assert from 'node:assert/strict';
import { test } from 'node:test';
import { PeerwayError } from '../../src/errors.js';
import { parsePolicy } from '../../src/policy/policy-file.js';

/** A policy with identity hmi and the one statement given (on line 5, column 5). */
const policy = (statement: string) => ['mode: enforced', 'identities:', '  hmi: { certificate: "CN=hmi" }', 'statements:', `  - ${statement}`].join('\n');

/** The problems reported for a policy with `statement`, one formatted line each (fails when it is accepted). */
function problems(statement: string): string[] {
  try {
    parsePolicy(policy(statement), 'p.yaml');
  } catch (err) {
    assert.ok(err instanceof PeerwayError && err.code === 'CONFIG_INVALID', String(err));
    return err.message.split('\n');
  }
  assert.fail(`expected the policy with ${statement} to be rejected`);
}

/** A condition `when` on an otherwise complete statement; its problems. */
const whenProblems = (when: string) => problems(`allow: { who: hmi, service: Climate, actions: [call], when: ${when} }`);

test('an empty statement is rejected, asking for allow or deny', () => {
  assert.deepEqual(problems('{}'), ['p.yaml:5:5: statement 1 must be a mapping with allow or deny, e.g. - allow: { who: "*", service: "*", actions: [describe] }']);
});

test('register, method(s) and event(s) written as statement keys are rejected, each with its own fix', () => {
  const at = 'p.yaml:5:42: ';
  assert.deepEqual(problems('allow: { who: hmi, service: Climate, register: true }'), [`${at}register applies to a whole service and takes no names; list it in actions, e.g. actions: [register]`]);
  assert.deepEqual(problems('allow: { who: hmi, service: Climate, describe: true }'), [`${at}describe applies to a whole service and takes no names; list it in actions, e.g. actions: [describe]`]);
  assert.deepEqual(problems('allow: { who: hmi, service: Climate, method: [a] }'), [`${at}methods are limited with call: [names] (did you mean "call"?)`]);
  assert.deepEqual(problems('allow: { who: hmi, service: Climate, methods: [a] }'), [`${at}methods are limited with call: [names] (did you mean "call"?)`]);
  assert.deepEqual(problems('allow: { who: hmi, service: Climate, event: [a] }'), [`${at}events are limited with subscribe: [names] (did you mean "subscribe"?)`]);
  assert.deepEqual(problems('allow: { who: hmi, service: Climate, events: [a] }'), [`${at}events are limited with subscribe: [names] (did you mean "subscribe"?)`]);
});

test('an empty read list is rejected with an example of runtime-data paths, an empty call list with method names', () => {
  assert.deepEqual(problems('allow: { who: hmi, service: Climate, read: [] }'), ['p.yaml:5:48: read is an empty list; write a list of runtime-data paths, e.g. [cabin.temperature, "cabin.*"]']);
  assert.deepEqual(problems('allow: { who: hmi, service: Climate, call: [] }'), ['p.yaml:5:48: call is an empty list; write a list of method names or globs, e.g. ["set*"]']);
});

test('a statement without service asks for the services, one without who for the identities', () => {
  assert.deepEqual(problems('allow: { who: hmi, actions: [call] }'), ['p.yaml:5:5: statement 1 (p.yaml:5:5) needs service: the services it applies to (a name, a glob, a list, or "*")']);
  assert.deepEqual(problems('allow: { service: Climate, actions: [call] }'), ['p.yaml:5:5: statement 1 (p.yaml:5:5) needs who: the identities it applies to (a name, a list, or "*")']);
});

test('a deny statement that names nothing is told what it denies, an allow statement what it allows', () => {
  const fix = 'add actions: [register, describe, call, subscribe, read] (any of them), or call:, subscribe:, read: lists of names';
  assert.deepEqual(problems('deny: { who: hmi, service: Climate }'), [`p.yaml:5:5: statement 1 (p.yaml:5:5) says nothing about what it denies: ${fix}`]);
  assert.deepEqual(problems('allow: { who: hmi, service: Climate }'), [`p.yaml:5:5: statement 1 (p.yaml:5:5) says nothing about what it allows: ${fix}`]);
});

test('a call list next to actions without call is accepted without a warning; next to actions with call it is warned about', () => {
  assert.deepEqual(parsePolicy(policy('allow: { who: hmi, service: Climate, actions: [describe], call: [a] }'), 'p.yaml').warnings, []);
  const warned = parsePolicy(policy('allow: { who: hmi, service: Climate, actions: [call], call: [a] }'), 'p.yaml').warnings;
  assert.equal(warned.length, 1);
  assert.match(warned[0].message, /^call is already in actions/);
});

test('when that is not a mapping, or an empty one, is rejected asking for conditions', () => {
  const want = ['p.yaml:5:65: when needs conditions, e.g. when: { "Vehicle:speed": { gt: 0 } }'];
  assert.deepEqual(whenProblems('5'), want);
  assert.deepEqual(whenProblems('{}'), want);
});

test('a condition without a service before the colon is rejected', () => {
  assert.deepEqual(whenProblems('{ ":speed": 1 }'), ['p.yaml:5:67: ":speed" needs the service whose runtime data it reads: write "Service:speed", e.g. "Vehicle:speed" (quoted)']);
  assert.deepEqual(whenProblems('{ "speed": 1 }'), ['p.yaml:5:67: "speed" needs the service whose runtime data it reads: write "Service:speed", e.g. "Vehicle:speed" (quoted)']);
});

test('a condition path that is empty or has an empty segment is rejected', () => {
  assert.deepEqual(whenProblems('{ "Vehicle:a..b": 1 }'), ['p.yaml:5:67: "Vehicle:a..b": write a runtime-data path after the colon, e.g. "Vehicle:cabin.temperature"']);
  assert.deepEqual(whenProblems('{ "Vehicle: ": 1 }'), ['p.yaml:5:67: "Vehicle: ": write a runtime-data path after the colon, e.g. "Vehicle:cabin.temperature"']);
});

test('a condition with no value asks for a comparison; one with an infinite value asks for a string, number or boolean', () => {
  assert.deepEqual(whenProblems('{ "Vehicle:speed": ~ }'), ['p.yaml:5:84: "Vehicle:speed" needs a comparison, e.g. { gt: 0 }, { eq: "P" }, { in: [P, N] }; operators: eq, ne, lt, le, gt, ge, in']);
  assert.deepEqual(whenProblems('{ "Vehicle:speed": .inf }'), ['p.yaml:5:84: "Vehicle:speed": compare with a string, number or boolean']);
  assert.deepEqual(whenProblems('{ "Vehicle:speed": { eq: .inf } }'), ['p.yaml:5:90: eq needs a string, number or boolean, e.g. eq: "P"']);
});

test('in needs a non-empty list of scalars: a scalar, an empty list, or a list holding a list, is rejected', () => {
  const want = ['p.yaml:5:90: in needs a non-empty list of strings, numbers or booleans, e.g. in: [P, N]'];
  assert.deepEqual(whenProblems('{ "Vehicle:speed": { in: 5 } }'), want);
  assert.deepEqual(whenProblems('{ "Vehicle:speed": { in: [] } }'), want);
  assert.deepEqual(whenProblems('{ "Vehicle:speed": { in: [1, [2]] } }'), want);
});

test('an order comparison with a non-number is rejected, suggesting to unquote only a quoted number', () => {
  assert.deepEqual(whenProblems('{ "Vehicle:speed": { lt: "5" } }'), ['p.yaml:5:90: lt compares numbers; write 5 without quotes, e.g. lt: 0']);
  for (const v of ['[1]', '""', '" "']) assert.deepEqual(whenProblems(`{ "Vehicle:speed": { lt: ${v} } }`), ['p.yaml:5:90: lt compares numbers, e.g. lt: 0'], v);
});
