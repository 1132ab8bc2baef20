import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { test } from 'node:test';
import { loadDefinitionFile } from '../../src/definition/load-definition.js';
import type { ServiceDefinition } from '../../src/definition/model.js';
import { parseDefinition } from '../../src/definition/parse-definition.js';
import { ANONYMOUS, enforce, type Action, type Identity } from '../../src/policy/authorizer.js';
import { parsePolicy } from '../../src/policy/policy-file.js';
import { Policy, type PolicyOptions } from '../../src/policy/policy.js';
import { formatCoverage } from '../../src/policy/policy-report.js';
import { example } from '../helpers/harness.js';

const sha = (token: string) => createHash('sha256').update(token, 'utf8').digest('hex');

/** The example's identities; statement N is on line N + 6. */
const HEADER = [
  'mode: MODE',
  'identities:',
  `  hmi:            { token_sha256: ${sha('hmi-secret')} }`,
  `  climate-runner: { token_sha256: [${sha('runner-old')}, ${sha('runner-new')}] }`,
  '  diagnostics:    { certificate: "CN=diagnostics" }',
  'statements:',
];

/** Runtime data the tests change: service → path → value. */
class Data {
  readonly values = new Map<string, unknown>();
  set(key: string, value: unknown): this {
    if (value === undefined) this.values.delete(key);
    else this.values.set(key, value);
    return this;
  }
  get = (service: string, path: string): unknown => this.values.get(`${service}:${path}`);
}

function policyOf(statements: string[], mode: 'enforced' | 'notify' = 'enforced', options: PolicyOptions = {}): Policy {
  const text = [...HEADER, ...statements].join('\n').replace('MODE', mode);
  return new Policy(parsePolicy(text, 'policy.yaml'), options);
}

const id = (name: string): Identity => ({ name });
const HMI = id('hmi');
const DIAG = id('diagnostics');
const RUNNER = id('climate-runner');
const allowed = (p: Policy, who: Identity, action: Action, service: string, name?: string) => p.authorize(who, action, { service, ...(name !== undefined ? { name } : {}) }).allowed;

const climate = await loadDefinitionFile(example('climate.xml'));
const vehicle = await loadDefinitionFile(example('vehicle.xml'));

const ISSUE_EXAMPLE = [
  '  - allow: { who: "*", service: "*", actions: [describe] }',
  '  - allow: { who: climate-runner, service: Climate, actions: [register] }',
  '  - allow: { who: [hmi, diagnostics], service: Climate, actions: [call, subscribe, read] }',
  '  - deny:  { who: hmi, service: Climate, call: [setTemperature], when: { "Vehicle:speed": { gt: 0 } } }',
];

test("the issue's example: describe for everyone, register for the runner, hmi may not set the temperature while the car moves", () => {
  const data = new Data().set('Vehicle:speed', 0);
  const p = policyOf(ISSUE_EXAMPLE, 'enforced', { runtimeData: data });
  assert.ok(allowed(p, ANONYMOUS, 'describe', 'Anything'));
  assert.ok(allowed(p, RUNNER, 'register', 'Climate'));
  assert.ok(!allowed(p, HMI, 'register', 'Climate'));
  assert.ok(!allowed(p, RUNNER, 'register', 'Vehicle'));
  assert.ok(allowed(p, HMI, 'call', 'Climate', 'setTemperature'));
  data.set('Vehicle:speed', 12.5);
  assert.deepEqual(p.authorize(HMI, 'call', { service: 'Climate', name: 'setTemperature' }), {
    allowed: false,
    reason: 'denied by statement 4 (policy.yaml:10:5) while Vehicle:speed gt 0 (now 12.5)',
    statement: 'statement 4 (policy.yaml:10:5)',
    mode: 'enforced',
  });
  assert.ok(allowed(p, DIAG, 'call', 'Climate', 'setTemperature'), 'the deny names hmi only');
  assert.ok(allowed(p, HMI, 'call', 'Climate', 'reset'), 'and setTemperature only');
  data.set('Vehicle:speed', 0);
  assert.ok(allowed(p, HMI, 'call', 'Climate', 'setTemperature'), 'the decision flips back with the data');
});

test('without a matching statement, enforced mode denies and says so; notify mode allows and flags the would-be denial', () => {
  const statements = ['  - allow: { who: hmi, service: Climate, call: [reset] }', '  - deny: { who: hmi, service: Climate, call: [getTemperature] }'];
  const enforced = policyOf(statements, 'enforced');
  assert.deepEqual(enforced.authorize(HMI, 'call', { service: 'Climate', name: 'setTemperature' }), { allowed: false, reason: 'no statement allows it', mode: 'enforced' });
  assert.deepEqual(enforced.authorize(HMI, 'call', { service: 'Climate', name: 'reset' }), {
    allowed: true,
    reason: 'allowed by statement 1 (policy.yaml:7:5)',
    statement: 'statement 1 (policy.yaml:7:5)',
    mode: 'enforced',
  });
  const notify = policyOf(statements, 'notify');
  assert.equal(notify.mode, 'notify');
  assert.deepEqual(notify.authorize(HMI, 'call', { service: 'Climate', name: 'setTemperature' }), { allowed: true, wouldDeny: true, reason: 'no statement allows it', mode: 'notify' });
  assert.deepEqual(notify.authorize(HMI, 'call', { service: 'Climate', name: 'getTemperature' }), {
    allowed: true,
    wouldDeny: true,
    reason: 'denied by statement 2 (policy.yaml:8:5)',
    statement: 'statement 2 (policy.yaml:8:5)',
    mode: 'notify',
  });
  assert.doesNotThrow(() => enforce(notify, HMI, 'call', { service: 'Climate', name: 'getTemperature' }), 'notify mode blocks nothing');
  assert.throws(() => enforce(enforced, HMI, 'call', { service: 'Climate', name: 'getTemperature' }), {
    code: 'POLICY_DENIED',
    message: 'hmi may not call Climate "getTemperature": denied by statement 2 (policy.yaml:8:5)',
  });
});

test('statements apply in order and the later match wins', () => {
  const p = policyOf([
    '  - deny: { who: "*", service: "*", actions: [call] }',
    '  - allow: { who: hmi, service: Climate, actions: [call] }',
    '  - deny: { who: hmi, service: Climate, call: ["set*"] }',
    '  - allow: { who: hmi, service: Climate, call: [setTemperature] }',
  ]);
  assert.equal(p.authorize(HMI, 'call', { service: 'Climate', name: 'setTemperature' }).statement, 'statement 4 (policy.yaml:10:5)');
  assert.equal(p.authorize(HMI, 'call', { service: 'Climate', name: 'setFan' }).statement, 'statement 3 (policy.yaml:9:5)');
  assert.equal(p.authorize(HMI, 'call', { service: 'Climate', name: 'reset' }).statement, 'statement 2 (policy.yaml:8:5)');
  assert.equal(p.authorize(DIAG, 'call', { service: 'Climate', name: 'reset' }).statement, 'statement 1 (policy.yaml:7:5)');
  assert.ok(!allowed(p, HMI, 'call', 'Climate', 'setFan'));
});

test('who: a name, a list, "*" (everyone, anonymous included) and anonymous by name', () => {
  const p = policyOf([
    '  - allow: { who: hmi, service: A, actions: [call] }',
    '  - allow: { who: [hmi, diagnostics], service: B, actions: [call] }',
    '  - allow: { who: "*", service: C, actions: [call] }',
    '  - allow: { who: anonymous, service: D, actions: [call] }',
  ]);
  const table: [Identity, string, boolean][] = [
    [HMI, 'A', true], [DIAG, 'A', false], [ANONYMOUS, 'A', false],
    [HMI, 'B', true], [DIAG, 'B', true], [RUNNER, 'B', false],
    [HMI, 'C', true], [RUNNER, 'C', true], [ANONYMOUS, 'C', true],
    [ANONYMOUS, 'D', true], [HMI, 'D', false], [id('anonymous'), 'D', true],
  ];
  for (const [who, service, expected] of table) assert.equal(allowed(p, who, 'call', service, 'm'), expected, `${who.name} on ${service}`);
});

test('service, method and event globs: * matches any run of characters', () => {
  const p = policyOf([
    '  - allow: { who: hmi, service: "Clim*", call: ["set*", "*Temperature"], subscribe: ["over*"] }',
    '  - allow: { who: hmi, service: ["Vehicle", "*.Debug"], actions: [describe] }',
  ]);
  assert.ok(allowed(p, HMI, 'call', 'Climate', 'setFan'));
  assert.ok(allowed(p, HMI, 'call', 'Climate2', 'getTemperature'));
  assert.ok(allowed(p, HMI, 'call', 'Clim', 'set'), '* matches nothing too');
  assert.ok(!allowed(p, HMI, 'call', 'Climate', 'reset'));
  assert.ok(!allowed(p, HMI, 'call', 'TheClimate', 'setFan'), 'globs are anchored');
  assert.ok(allowed(p, HMI, 'subscribe', 'Climate', 'overheat'));
  assert.ok(!allowed(p, HMI, 'subscribe', 'Climate', 'fanChanged'));
  assert.ok(!allowed(p, HMI, 'call', 'Climate', 'overheat'), 'subscribe globs do not allow calls');
  assert.ok(allowed(p, HMI, 'describe', 'Vehicle'));
  assert.ok(allowed(p, HMI, 'describe', 'Engine.Debug'));
  assert.ok(!allowed(p, HMI, 'describe', 'Vehicles'));
  assert.ok(!allowed(p, HMI, 'describe', 'Climate'), 'call and subscribe lists do not allow describe');
});

test('a request without a name (every event) is decided only by statements covering all of the action', () => {
  const p = policyOf(['  - allow: { who: hmi, service: A, subscribe: [overheat] }', '  - allow: { who: hmi, service: B, subscribe: ["*"] }', '  - allow: { who: hmi, service: C, actions: [subscribe] }']);
  assert.ok(!allowed(p, HMI, 'subscribe', 'A'));
  assert.ok(allowed(p, HMI, 'subscribe', 'B'));
  assert.ok(allowed(p, HMI, 'subscribe', 'C'));
});

test('path globs: a plain path and ** select a subtree, * one segment, list indices are ignored', () => {
  const p = policyOf([
    '  - allow: { who: hmi, service: S, read: [cabin] }',
    '  - allow: { who: diagnostics, service: S, read: ["cabin.*", "zones.celsius", "**.status"] }',
    '  - allow: { who: climate-runner, service: S, read: ["cabin.t*", "a.**.z"] }',
    '  - allow: { who: anonymous, service: S, read: ["*"] }',
  ]);
  const table: [Identity, string, boolean][] = [
    [HMI, 'cabin', true], [HMI, 'cabin.temperature', true], [HMI, 'cabin.seat.heat', true], [HMI, 'cabinet', false], [HMI, '', false], [HMI, 'status', false],
    [DIAG, 'cabin', false], [DIAG, 'cabin.fan', true], [DIAG, 'cabin.seat.heat', true],
    [DIAG, 'zones.3.celsius', true], [DIAG, 'zones.celsius', true], [DIAG, 'zones.3', false], [DIAG, 'zones', false],
    [DIAG, 'status', true], [DIAG, 'engine.status', true], [DIAG, 'engine.statuses', false],
    [RUNNER, 'cabin.temperature', true], [RUNNER, 'cabin.fan', false], [RUNNER, 'a.z', true], [RUNNER, 'a.b.c.z', true], [RUNNER, 'a.b', false],
    [ANONYMOUS, '', true], [ANONYMOUS, 'x.y', true],
  ];
  for (const [who, path, expected] of table) assert.equal(allowed(p, who, 'read', 'S', path), expected, `${who.name} reading "${path}"`);
});

test('reads are decided per path: a later allow of a child stands under a denied parent', () => {
  const p = policyOf(['  - allow: { who: hmi, service: S, actions: [read] }', '  - deny: { who: hmi, service: S, read: [cabin] }', '  - allow: { who: hmi, service: S, read: [cabin.temperature] }']);
  assert.ok(allowed(p, HMI, 'read', 'S', ''));
  assert.ok(!allowed(p, HMI, 'read', 'S', 'cabin'));
  assert.ok(!allowed(p, HMI, 'read', 'S', 'cabin.fan'));
  assert.ok(allowed(p, HMI, 'read', 'S', 'cabin.temperature'));
});

test('when: every comparison, on numbers, bigints, strings and booleans', () => {
  const data = new Data();
  const cases: [string, unknown, boolean][] = [
    ['{ eq: 3 }', 3, true], ['{ eq: 3 }', 3n, true], ['{ eq: 3 }', 4, false], ['{ eq: 3 }', '3', false],
    ['{ ne: P }', 'R', true], ['{ ne: P }', 'P', false],
    ['{ lt: 10 }', 9.5, true], ['{ lt: 10 }', 10, false], ['{ lt: 10 }', '1', false],
    ['{ le: 10 }', 10, true], ['{ le: 10 }', 11n, false],
    ['{ gt: 0 }', 1n, true], ['{ gt: 0 }', 0, false], ['{ gt: 0 }', true, false],
    ['{ ge: 0 }', 0, true], ['{ ge: 0 }', -1, false],
    ['{ in: [P, N] }', 'N', true], ['{ in: [P, N] }', 'D', false], ['{ in: [1, 2] }', 2n, true],
    ['true', true, true], ['true', false, false], ['R', 'R', true],
    ['{ ge: 1, lt: 100 }', 50, true], ['{ ge: 1, lt: 100 }', 100, false],
    ['{ eq: 1 }', { x: 1 }, false],
  ];
  for (const [condition, value, holds] of cases) {
    const p = policyOf([`  - allow: { who: hmi, service: S, actions: [call], when: { "Other:x.y": ${condition} } }`], 'enforced', { runtimeData: data });
    data.set('Other:x.y', value);
    assert.equal(allowed(p, HMI, 'call', 'S', 'm'), holds, `${condition} on ${String(value)}`);
  }
});

test('several conditions must all hold, and read another service at a nested path', () => {
  const data = new Data().set('Vehicle:gear', 'D').set('Climate:cabin.temperature', 30);
  const p = policyOf(['  - allow: { who: hmi, service: Climate, actions: [call], when: { "Vehicle:gear": D, "Climate:cabin.temperature": { gt: 25 } } }'], 'enforced', { runtimeData: data });
  assert.equal(p.authorize(HMI, 'call', { service: 'Climate', name: 'reset' }).reason, 'allowed by statement 1 (policy.yaml:7:5) while Vehicle:gear eq "D" (now "D") and Climate:cabin.temperature gt 25 (now 30)');
  data.set('Climate:cabin.temperature', 20);
  assert.ok(!allowed(p, HMI, 'call', 'Climate', 'reset'));
  data.set('Climate:cabin.temperature', 26).set('Vehicle:gear', 'P');
  assert.ok(!allowed(p, HMI, 'call', 'Climate', 'reset'));
});

test('a condition on missing data is false, and the decision says so', () => {
  const data = new Data();
  const p = policyOf(ISSUE_EXAMPLE, 'enforced', { runtimeData: data });
  const missing = 'statement 4 (policy.yaml:10:5) did not apply: its condition reads Vehicle:speed, which is not available (no such service registered, or no such path), so the condition is false';
  assert.deepEqual(p.authorize(HMI, 'call', { service: 'Climate', name: 'setTemperature' }), {
    allowed: true,
    reason: `allowed by statement 3 (policy.yaml:9:5); ${missing}`,
    statement: 'statement 3 (policy.yaml:9:5)',
    mode: 'enforced',
  });
  const only = policyOf(['  - allow: { who: hmi, service: Climate, actions: [call], when: { "Vehicle:speed": { eq: 0 } } }'], 'enforced', { runtimeData: data });
  assert.equal(only.authorize(HMI, 'call', { service: 'Climate', name: 'reset' }).reason, `no statement allows it; statement 1 (policy.yaml:7:5) did not apply: its condition reads Vehicle:speed, which is not available (no such service registered, or no such path), so the condition is false`);
  const noReader = policyOf(ISSUE_EXAMPLE);
  assert.ok(allowed(noReader, HMI, 'call', 'Climate', 'setTemperature'), 'without a reader every condition is false');
});

test('dependencies list what the conditions read, each once', () => {
  const p = policyOf([
    ...ISSUE_EXAMPLE,
    '  - deny: { who: diagnostics, service: Climate, actions: [call], when: { "Vehicle:speed": { gt: 100 }, "Climate:cabin.temperature": { gt: 60 } } }',
  ]);
  assert.deepEqual(p.dependencies(), [
    { service: 'Vehicle', path: 'speed' },
    { service: 'Climate', path: 'cabin.temperature' },
  ]);
  assert.deepEqual(policyOf(['  - allow: { who: hmi, service: Climate, actions: [call] }']).dependencies(), []);
});

test('identify: a known token (any of an identity’s), a wrong one, none', () => {
  const p = policyOf(ISSUE_EXAMPLE);
  assert.deepEqual(p.identify({ token: 'hmi-secret' }), { name: 'hmi', via: 'token' });
  assert.deepEqual(p.identify({ token: 'runner-old' }), { name: 'climate-runner', via: 'token' });
  assert.deepEqual(p.identify({ token: 'runner-new' }), { name: 'climate-runner', via: 'token' });
  assert.equal(p.identify({ token: 'hmi-secreT' }), undefined);
  assert.equal(p.identify({ token: '' }), undefined, 'an empty token is still a token');
  assert.equal(p.identify({ token: sha('hmi-secret') }), undefined, 'the hash itself is not the token');
  assert.equal(p.identify({}), ANONYMOUS);
  assert.equal(p.identify({ token: 'wrong', certificateSubject: { CN: 'diagnostics' } }), undefined, 'a token, when given, decides alone');
  assert.deepEqual(p.identify({ token: 'hmi-secret', certificateSubject: { CN: 'diagnostics' } }), { name: 'hmi', via: 'token' });
});

test('identify: certificate subjects as strings or Node objects; every attribute the policy names must match', () => {
  const text = [
    'identities:',
    '  diagnostics: { certificate: "CN=diagnostics" }',
    '  acme-diag: { certificate: "cn=diagnostics, O=Acme" }',
    '  ops: { certificate: "/CN=ops/OU=Fleet, North" }',
    'statements: []',
  ].join('\n');
  const p = new Policy(parsePolicy(text, 'p.yaml'));
  const who = (subject: Parameters<Policy['identify']>[0]['certificateSubject']) => p.identify({ certificateSubject: subject })?.name;
  assert.equal(who('CN=diagnostics'), 'diagnostics');
  assert.equal(who({ CN: 'diagnostics', O: 'Other' }), 'diagnostics', 'attributes the policy does not name are ignored');
  assert.equal(who({ CN: 'diagnostics', O: 'Acme' }), 'acme-diag', 'the most specific identity wins');
  assert.equal(who('O=Acme,CN=diagnostics'), 'acme-diag', 'order does not matter');
  assert.equal(who('CN=diagnostics\nO=Acme'), 'acme-diag', "X509Certificate.subject's one attribute per line");
  assert.equal(who({ CN: ['x', 'diagnostics'] }), 'diagnostics', 'a repeated attribute matches if any value does');
  assert.equal(who({ CN: 'Diagnostics' }), undefined, 'values compare exactly');
  assert.equal(who({ cn: 'diagnostics' }), 'diagnostics', 'keys compare case-insensitively');
  assert.equal(who({ CN: 'ops', OU: 'Fleet, North' }), 'ops');
  assert.equal(who('CN=ops,OU=Fleet\\, North'), 'ops', 'escaped separators');
  assert.equal(who({ O: 'Acme' }), undefined, 'given but unknown');
  assert.equal(who({}), ANONYMOUS.name, 'a subject without attributes is no certificate');
  assert.equal(who(''), ANONYMOUS.name);
  assert.equal(who('not a subject'), undefined, 'an unparsable subject is given but unknown');
  assert.equal(p.identify({ certificateSubject: 'CN=diagnostics' })?.via, 'certificate');
});

test('decisionsFor on examples/climate.xml lists only the denials, with the message the server would give', () => {
  const data = new Data().set('Vehicle:speed', 30);
  const p = policyOf(
    [
      '  - allow: { who: hmi, service: Climate, actions: [call, subscribe, read] }',
      '  - deny: { who: hmi, service: Climate, call: [setTemperature], subscribe: [fanChanged], read: ["cabin.fan", status], when: { "Vehicle:speed": { gt: 0 } } }',
    ],
    'enforced',
    { runtimeData: data },
  );
  const grants = p.decisionsFor(HMI, climate);
  const because = 'denied by statement 2 (policy.yaml:8:5) while Vehicle:speed gt 0 (now 30)';
  assert.deepEqual(grants, {
    mode: 'enforced',
    denied: {
      'call:setTemperature': `hmi may not call Climate "setTemperature": ${because}`,
      'subscribe:fanChanged': `hmi may not subscribe Climate "fanChanged": ${because}`,
      'read:cabin.fan': `hmi may not read Climate "cabin.fan": ${because}`,
      'read:status': `hmi may not read Climate "status": ${because}`,
    },
  });
  assert.throws(() => enforce(p, HMI, 'call', { service: 'Climate', name: 'setTemperature' }), { message: grants.denied['call:setTemperature'] });
  assert.deepEqual(JSON.parse(JSON.stringify(grants)), grants, 'plain JSON');
  data.set('Vehicle:speed', 0);
  assert.deepEqual(p.decisionsFor(HMI, climate), { mode: 'enforced', denied: {} }, 'nothing denied: an empty map');
  const keys = Object.keys(policyOf([]).decisionsFor(HMI, climate).denied);
  assert.deepEqual(keys, [
    'call:setTemperature', 'call:getTemperature', 'call:reset',
    'subscribe:overheat', 'subscribe:fanChanged',
    'read:', 'read:cabin', 'read:cabin.temperature', 'read:cabin.fan', 'read:status',
  ], 'every method, event, and object and leaf path (the root is read:)');
});

test('decisionsFor in notify mode lists would-be denials apart, so nothing is blocked', () => {
  const grants = policyOf(['  - allow: { who: hmi, service: Climate, actions: [call, subscribe, read] }', '  - deny: { who: hmi, service: Climate, call: [reset] }'], 'notify').decisionsFor(HMI, climate);
  assert.deepEqual(grants, { mode: 'notify', denied: {}, wouldDeny: { 'call:reset': 'hmi may not call Climate "reset": denied by statement 2 (policy.yaml:8:5)' } });
});

test('authorizeSession needs call, subscribe or read on something of the service', () => {
  const p = policyOf([
    '  - allow: { who: "*", service: "*", actions: [describe] }',
    '  - allow: { who: hmi, service: Climate, read: [status] }',
    '  - allow: { who: climate-runner, service: Climate, actions: [register] }',
  ]);
  const session = p.authorizeSession(HMI, climate);
  assert.equal(session.allowed, true);
  assert.equal(session.statement, 'statement 2 (policy.yaml:8:5)');
  assert.deepEqual(p.authorizeSession(RUNNER, climate), { allowed: false, reason: 'no statement allows call, subscribe or read on any of its methods, events or runtime data', mode: 'enforced' });
  const notify = policyOf([], 'notify').authorizeSession(RUNNER, climate);
  assert.equal(notify.allowed, true);
  assert.equal(notify.wouldDeny, true);
});

test('the coverage report lists, per service, who has no statement deciding what', () => {
  const p = policyOf([
    '  - allow: { who: "*", service: "*", actions: [describe] }',
    '  - allow: { who: climate-runner, service: Climate, actions: [register] }',
    '  - allow: { who: [hmi, diagnostics], service: Climate, actions: [call, subscribe] }',
    '  - allow: { who: hmi, service: Climate, read: ["cabin.*"] }',
    '  - deny: { who: diagnostics, service: Climate, read: [cabin, status] }',
    '  - allow: { who: "*", service: Vehicle, actions: [call, read], subscribe: [gearChanged], when: { "Vehicle:speed": { eq: 0 } } }',
  ]);
  assert.deepEqual(formatCoverage(p.coverage([vehicle, climate])), [
    'Climate: no statement decides register for anonymous, hmi, diagnostics',
    'Climate: no statement decides call * for anonymous, climate-runner',
    'Climate: no statement decides subscribe * for anonymous, climate-runner',
    'Climate: no statement decides read ** for anonymous, climate-runner',
    'Climate: no statement decides read (root itself), cabin (itself), status for hmi',
    'Climate: no statement decides read (root itself) for diagnostics',
    'Vehicle: no statement decides register for anonymous, hmi, climate-runner, diagnostics',
    'Vehicle: no statement decides call * for anonymous, hmi, climate-runner, diagnostics',
    'Vehicle: no statement decides subscribe * for anonymous, hmi, climate-runner, diagnostics',
    'Vehicle: no statement decides read ** for anonymous, hmi, climate-runner, diagnostics',
  ]);
  const gap = p.coverage([climate]).find((g) => g.action === 'read' && g.identities.includes('hmi'));
  assert.deepEqual(gap, { service: 'Climate', action: 'read', names: ['(root itself)', 'cabin (itself)', 'status'], identities: ['hmi'] });
  assert.deepEqual(policyOf(['  - allow: { who: "*", service: "*", actions: [register, describe, call, subscribe, read] }']).coverage([climate, vehicle]), []);
});

test('names no registered service, method, event or path matches are warned about at their position', () => {
  const p = policyOf([
    '  - allow: { who: hmi, service: [Climat, "Engine*"], actions: [describe] }',
    '  - allow: { who: hmi, service: Climate, call: [setTemprature, "get*"], subscribe: [overheating], read: [cabin.fans, "cabin.*"] }',
    '  - deny: { who: hmi, service: "*", actions: [call], when: { "Vehicle:speed": { gt: 0 }, "Vehicel:speed": { gt: 0 }, "Climate:cabin.tempo": 1 } }',
  ]);
  assert.deepEqual(
    p.unknownNames([climate, vehicle]).map((d) => `${d.line}:${d.column}: ${d.message}`),
    [
      '7:34: no service "Climat" is registered (did you mean "Climate"?); registered: Climate, Vehicle',
      '7:42: "Engine*" matches no registered service; registered: Climate, Vehicle',
      '8:49: "setTemprature" matches no method of Climate (did you mean "setTemperature"?); methods: setTemperature, getTemperature, reset',
      '8:85: "overheating" matches no event of Climate (did you mean "overheat"?); events: overheat, fanChanged',
      '8:106: "cabin.fans" matches no runtime-data path of Climate (did you mean "cabin.fan"?); runtime-data paths: cabin, cabin.temperature, cabin.fan, status',
      '9:90: the condition reads service Vehicel, which is not registered (did you mean "Vehicle"?); until it is, the condition is false',
      '9:118: Climate:cabin.tempo: "cabin" has no child "tempo"; its children are: temperature, fan; the condition is false while the path does not exist',
    ],
  );
});

test('decisions read the statements the policy file has: a definition parsed inline works the same as a file', () => {
  const definition: ServiceDefinition = parseDefinition('<service name="Tiny"><methods><method name="ping"/></methods></service>', 'tiny.xml');
  const p = policyOf(['  - allow: { who: hmi, service: Tiny, call: [ping] }']);
  assert.deepEqual(p.decisionsFor(HMI, definition), { mode: 'enforced', denied: { 'read:': 'hmi may not read all runtime data of Tiny: no statement allows it' } });
});
