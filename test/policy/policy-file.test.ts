import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { formatDiagnostic, type Diagnostic } from '../../src/definition/model.js';
import { PeerwayError } from '../../src/errors.js';
import { loadPolicy, parsePolicy } from '../../src/policy/policy-file.js';

const sha = (token: string) => createHash('sha256').update(token, 'utf8').digest('hex');
const HMI = sha('hmi-secret');
const RUNNER = sha('runner-secret');

/** The example, as written, with the full hashes. */
const EXAMPLE = `mode: enforced            # or notify: log and count denials, block nothing
identities:
  hmi:            { token_sha256: ${HMI} }
  climate-runner: { token_sha256: ${RUNNER} }
  diagnostics:    { certificate: "CN=diagnostics" }
statements:
  - allow: { who: "*", service: "*", actions: [describe] }
  - allow: { who: climate-runner, service: Climate, actions: [register] }
  - allow: { who: [hmi, diagnostics], service: Climate, actions: [call, subscribe, read] }
  - deny:  { who: hmi, service: Climate, call: [setTemperature], when: { "Vehicle:speed": { gt: 0 } } }
`;

/** The diagnostics of a rejected policy, formatted (lines joined with \n). */
function errorsOf(lines: string[] | string, file = 'policy.yaml'): string[] {
  try {
    parsePolicy(Array.isArray(lines) ? lines.join('\n') : lines, file);
  } catch (err) {
    assert.ok(err instanceof PeerwayError, String(err));
    assert.equal(err.code, 'CONFIG_INVALID');
    const diagnostics = err.details?.diagnostics as Diagnostic[];
    assert.equal(err.message, diagnostics.map(formatDiagnostic).join('\n'), 'the message lists every diagnostic');
    return diagnostics.map(formatDiagnostic);
  }
  throw new Error('expected the policy to be rejected');
}

/** A policy with the example's identities and the statements given (statement lines start at line 7). */
const withStatements = (...statements: string[]): string[] => [
  'mode: enforced',
  'identities:',
  `  hmi:            { token_sha256: ${HMI} }`,
  `  climate-runner: { token_sha256: ${RUNNER} }`,
  '  diagnostics:    { certificate: "CN=diagnostics" }',
  'statements:',
  ...statements,
];

test("the issue's example parses into statements that keep their index and position", () => {
  const model = parsePolicy(EXAMPLE, 'policy.yaml');
  assert.equal(model.mode, 'enforced');
  assert.deepEqual(model.warnings, []);
  assert.deepEqual(
    model.identities.map((i) => [i.name, i.tokenSha256.map((t) => t.value), i.certificate?.value.attributes]),
    [
      ['hmi', [HMI], undefined],
      ['climate-runner', [RUNNER], undefined],
      ['diagnostics', [], [['CN', 'diagnostics']]],
    ],
  );
  assert.deepEqual(
    model.statements.map((s) => [s.index, s.effect, s.label]),
    [
      [1, 'allow', 'statement 1 (policy.yaml:7:5)'],
      [2, 'allow', 'statement 2 (policy.yaml:8:5)'],
      [3, 'allow', 'statement 3 (policy.yaml:9:5)'],
      [4, 'deny', 'statement 4 (policy.yaml:10:5)'],
    ],
  );
  const deny = model.statements[3];
  assert.deepEqual(deny.who.map((w) => w.value), ['hmi']);
  assert.deepEqual(deny.services.map((s) => s.value), ['Climate']);
  assert.deepEqual(deny.actions, []);
  assert.deepEqual(deny.names.call?.map((c) => [c.value, c.pos.line, c.pos.column]), [['setTemperature', 10, 49]]);
  assert.deepEqual(
    deny.when.map((c) => ({ service: c.service, path: c.path, comparisons: c.comparisons.map(({ op, value }) => ({ op, value })), at: `${c.pos.line}:${c.pos.column}` })),
    [{ service: 'Vehicle', path: 'speed', comparisons: [{ op: 'gt', value: 0 }], at: '10:74' }],
  );
  assert.deepEqual(model.statements[2].actions.map((a) => a.value), ['call', 'subscribe', 'read']);
  assert.deepEqual(model.statements[2].who.map((w) => w.value), ['hmi', 'diagnostics']);
});

test('loadPolicy reads a file and names it in positions; a missing file is CONFIG_INVALID saying so', async (t) => {
  const dir = mkdtempSync(path.join(tmpdir(), 'peerway-policy-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const file = path.join(dir, 'policy.yaml');
  writeFileSync(file, EXAMPLE);
  const model = await loadPolicy(file);
  assert.equal(model.statements[3].label, `statement 4 (${file}:10:5)`);
  await assert.rejects(loadPolicy(path.join(dir, 'nope.yaml')), (err: unknown) => {
    assert.ok(err instanceof PeerwayError);
    assert.equal(err.code, 'CONFIG_INVALID');
    assert.equal(err.message, `${path.join(dir, 'nope.yaml')}: cannot read the policy file (no such file)`);
    return true;
  });
});

test('mode defaults to enforced; notify is accepted; anything else is an error with a suggestion', () => {
  assert.equal(parsePolicy('statements: []', 'p.yaml').mode, 'enforced');
  assert.equal(parsePolicy('mode: notify\nstatements: []', 'p.yaml').mode, 'notify');
  assert.deepEqual(errorsOf(['mode: notfy', 'statements: []']), [
    'policy.yaml:1:7: unknown mode "notfy" (did you mean "notify"?); write enforced (deny what no statement allows) or notify (block nothing, report would-be denials)',
    'policy.yaml:2:1: warning: statements is empty: everything is denied',
  ]);
});

test('YAML syntax errors are reported at their position, and nothing else', () => {
  assert.deepEqual(errorsOf(['statements: []', 'mode: enforced', 'mode: notify']), ['policy.yaml:3:1: key mode is already given in the same mapping; keep one']);
  assert.deepEqual(errorsOf(['statements:', '\t- allow: { who: "*" }']), ['policy.yaml:2:1: YAML cannot indent with tabs; indent with spaces']);
  assert.deepEqual(errorsOf(['statements: []', '---', 'mode: notify']), ['policy.yaml:2:1: the file holds several YAML documents (separated by ---); a policy is one document']);
  assert.deepEqual(errorsOf(['statements:', '  - allow: { who: *, service: "*", actions: [describe] }']), ['policy.yaml:2:19: a bare * starts a YAML alias; write "*" in quotes']);
  assert.deepEqual(errorsOf(['statements:', '  - allow: { who: *staff, service: "*", actions: [describe] }']), ['policy.yaml:2:19: *staff names no anchor; define &staff before it']);
});

test('the file must be a mapping with statements; unknown top-level keys get a suggestion', () => {
  assert.deepEqual(errorsOf(''), ['policy.yaml:1:1: the policy file is empty; it needs at least statements: (see docs/policy.md)']);
  assert.deepEqual(errorsOf('- allow: {}'), ['policy.yaml:1:1: a policy file is a mapping with mode, identities and statements (see docs/policy.md)']);
  assert.deepEqual(errorsOf(['mode: enforced', 'statments: []']), [
    'policy.yaml:1:1: the policy has no statements: add statements: with a list of allow/deny entries (see docs/policy.md)',
    'policy.yaml:2:1: unknown key "statments" at the top of the policy (did you mean "statements"?); allowed here: mode, identities, statements',
  ]);
  assert.deepEqual(errorsOf(['statements:', '  allow: { who: "*" }']), ['policy.yaml:2:3: statements must be a list: start each statement with "- allow:" or "- deny:"']);
});

test('an empty statement list is valid but warned about', () => {
  const model = parsePolicy('statements: []\n', 'p.yaml');
  assert.deepEqual(model.warnings.map(formatDiagnostic), ['p.yaml:1:1: warning: statements is empty: everything is denied']);
});

test('token hashes must be 64 lowercase hex digits; each message names the fix', () => {
  const upper = HMI.toUpperCase();
  assert.deepEqual(
    errorsOf([
      'identities:',
      '  a: { token_sha256: 9f86d0… }',
      `  b: { token_sha256: ${upper} }`,
      '  c: { token_sha256: 9f86d081884c7d65 }',
      '  d: { token_sha256: my-secret-token }',
      `  e: { token_sha256: "${HMI}  -" }`,
      '  f: { token: my-secret-token }',
      '  g: { tokn: abc }',
      'statements: [{ allow: { who: [a, b, c, d, e, f, g], service: "*", actions: [describe] } }]',
    ]),
    [
      "policy.yaml:2:22: \"9f86d0…\" is shortened; write the full 64-hex-digit SHA-256 of the token (printf %s 'TOKEN' | sha256sum)",
      `policy.yaml:3:22: write the hash in lowercase: ${HMI}`,
      "policy.yaml:4:22: the hash has 16 hex digits, a SHA-256 has 64; make it with printf %s 'TOKEN' | sha256sum",
      "policy.yaml:5:22: \"my-secret-token\" is not a SHA-256 in hex (64 digits 0-9 a-f); the token itself never goes in the file: write its hash (printf %s 'TOKEN' | sha256sum)",
      `policy.yaml:6:22: remove the "  -" that sha256sum prints after the hash: ${HMI}`,
      "policy.yaml:7:8: the token itself never goes in the file: write token_sha256: <its SHA-256> (printf %s 'TOKEN' | sha256sum)",
      'policy.yaml:8:8: unknown key "tokn" in identity g (did you mean "token_sha256"?); allowed here: token_sha256, certificate',
    ],
  );
});

test('a hash that looks like a number is kept as written, and an identity may hold several tokens (rotation)', () => {
  const digits = '1234567890'.repeat(6) + '1234';
  const model = parsePolicy(['identities:', `  a: { token_sha256: ${digits} }`, `  b: { token_sha256: [${HMI}, ${RUNNER}] }`, 'statements: []'].join('\n'), 'p.yaml');
  assert.deepEqual(model.identities.map((i) => i.tokenSha256.map((t) => t.value)), [[digits], [HMI, RUNNER]]);
});

test('identity names, duplicate tokens and subjects, certificates and empty identities are checked', () => {
  assert.deepEqual(
    errorsOf([
      'identities:',
      `  anonymous: { token_sha256: ${HMI} }`,
      `  "bad name": { token_sha256: ${HMI} }`,
      `  a: { token_sha256: ${HMI} }`,
      `  b: { token_sha256: [${RUNNER}, ${HMI}] }`,
      '  c: { certificate: "CN=diag" }',
      '  d: { certificate: "O=x,CN=diag" }',
      '  e: { certificate: "CN=diag,O=x" }',
      '  f: { certificate: "diagnostics" }',
      '  g: { certificate: "CN=" }',
      '  h: {}',
      '  i: hmi-secret',
      'statements: []',
    ]),
    [
      'policy.yaml:2:3: anonymous is the identity of callers without credentials; it needs no entry (name it in who: directly)',
      'policy.yaml:3:3: identity name "bad name" may hold only letters, digits and _ . @ - (and not start with . @ -)',
      `policy.yaml:5:${23 + RUNNER.length + 2}: the same token hash as identity a (at 4:22); each token hash names one identity: remove one`,
      'policy.yaml:8:21: the same certificate subject as identity d (at 7:21); each certificate subject names one identity: remove one',
      'policy.yaml:9:21: "diagnostics" in "diagnostics" is not an attribute; write KEY=value pairs separated by commas, e.g. "CN=diagnostics,O=Acme"',
      'policy.yaml:10:21: attribute CN in "CN=" has no value; write CN=… or leave the attribute out',
      'policy.yaml:11:3: identity h needs token_sha256 or certificate',
      'policy.yaml:12:6: identity i needs its credentials, e.g. i: { token_sha256: <64 hex digits> } or i: { certificate: "CN=i" }',
      'policy.yaml:13:1: warning: statements is empty: everything is denied',
    ],
  );
});

test('a statement is allow or deny with a mapping; keys in the wrong place say where they belong', () => {
  assert.deepEqual(
    errorsOf(
      withStatements(
        '  - allow: { who: "*", service: "*", actions: [describe] }',
        '    deny: { who: "*", service: "*", actions: [call] }',
        '  - alow: { who: "*", service: "*", actions: [describe] }',
        '  - allow:',
        '    who: hmi',
        '  - allow: [describe]',
        '  - just text',
      ),
    ),
    [
      'policy.yaml:8:5: statement 1 has both allow and deny; split it into two statements (a later one wins)',
      'policy.yaml:9:5: unknown key "alow" in statement 2 (did you mean "allow"?); allowed here: allow, deny',
      'policy.yaml:10:5: allow needs a mapping: who, service and what, e.g. allow: { who: hmi, service: Climate, actions: [call] }',
      "policy.yaml:11:5: who belongs inside allow: or deny:; indent it under the statement's allow or deny",
      'policy.yaml:12:12: allow needs a mapping: who, service and what, e.g. allow: { who: hmi, service: Climate, actions: [call] }',
      'policy.yaml:13:5: statement 5 must be a mapping with allow or deny, e.g. - allow: { who: "*", service: "*", actions: [describe] }',
    ],
  );
});

test('who names declared identities, anonymous or "*"; an unknown one is an error with a suggestion', () => {
  assert.deepEqual(errorsOf(withStatements('  - allow: { who: [hmi, diagnostic, anonymous, "*"], service: "*", actions: [describe] }')), [
    'policy.yaml:7:25: unknown identity "diagnostic" (did you mean "diagnostics"?); declared identities: hmi, climate-runner, diagnostics (also anonymous, and "*" for everyone)',
  ]);
  assert.deepEqual(errorsOf(['statements:', '  - allow: { who: hmi, service: "*", actions: [describe] }']), [
    'policy.yaml:2:19: unknown identity "hmi"; no identities are declared (also anonymous, and "*" for everyone)',
  ]);
});

test('actions, names and missing parts of a statement are checked, with suggestions', () => {
  assert.deepEqual(
    errorsOf(
      withStatements(
        '  - allow: { who: hmi, service: Climate, actions: [cal, describe] }',
        '  - allow: { who: hmi, service: Climate, describe: [x] }',
        '  - allow: { who: hmi, service: Climate, methods: [x] }',
        '  - allow: { who: hmi, servce: Climate, call: [x] }',
        '  - allow: { service: Climate, call: [x] }',
        '  - allow: { who: hmi, service: Climate }',
        '  - allow: { who: [], service: "", call: [" "], subscribe: [] }',
      ),
    ),
    [
      'policy.yaml:7:52: unknown action "cal" (did you mean "call"?); actions: register, describe, call, subscribe, read',
      'policy.yaml:8:42: describe applies to a whole service and takes no names; list it in actions, e.g. actions: [describe]',
      'policy.yaml:9:42: methods are limited with call: [names] (did you mean "call"?)',
      'policy.yaml:10:24: unknown key "servce" in allow (did you mean "service"?); allowed here: who, service, actions, call, subscribe, read, when',
      'policy.yaml:11:5: statement 5 (policy.yaml:11:5) needs who: the identities it applies to (a name, a list, or "*")',
      'policy.yaml:12:5: statement 6 (policy.yaml:12:5) says nothing about what it allows: add actions: [register, describe, call, subscribe, read] (any of them), or call:, subscribe:, read: lists of names',
      'policy.yaml:13:19: who is an empty list; write an identity name, a list of them, or "*" (everyone)',
      'policy.yaml:13:32: an empty service name; write a name or a glob such as "*"',
      'policy.yaml:13:43: an empty method name; write a name or a glob such as "*"',
      'policy.yaml:13:60: subscribe is an empty list; write a list of event names or globs, e.g. ["set*"]',
    ],
  );
});

test('read paths are checked: no empty segments, ** whole, no list indices', () => {
  assert.deepEqual(errorsOf(withStatements('  - allow: { who: hmi, service: Climate, read: [cabin..fan, "cab**", zones.0.celsius, cabin.*, "**"] }')), [
    'policy.yaml:7:49: "cabin..fan" has an empty segment; write paths like cabin.temperature',
    'policy.yaml:7:61: "cab**": ** must be a whole segment (cabin.**), not part of one',
    'policy.yaml:7:70: "zones.0.celsius": policy paths name list elements without an index; write "zones.celsius"',
  ]);
});

test('when conditions are checked: the service:path key, the operators, the value types', () => {
  assert.deepEqual(
    errorsOf(
      withStatements(
        '  - deny:',
        '      who: hmi',
        '      service: Climate',
        '      call: [setTemperature]',
        '      when:',
        '        speed: { gt: 0 }',
        '        "Vehicle:*": { gt: 0 }',
        '        "Vehicle:": { gt: 0 }',
        '        "Vehicle:speed": { ">": 0, gte: 1, grt: 2, lt: "3", le: fast, in: P, eq: [P, N] }',
        '        "Vehicle:gear": {}',
      ),
    ),
    [
      'policy.yaml:12:9: "speed" needs the service whose runtime data it reads: write "Service:speed", e.g. "Vehicle:speed" (quoted)',
      'policy.yaml:13:9: "Vehicle:*": a condition reads one value; globs are not allowed in it',
      'policy.yaml:14:9: "Vehicle:": write a runtime-data path after the colon, e.g. "Vehicle:cabin.temperature"',
      'policy.yaml:15:28: unknown comparison ">" (write gt); operators: eq, ne, lt, le, gt, ge, in',
      'policy.yaml:15:36: unknown comparison "gte" (write ge); operators: eq, ne, lt, le, gt, ge, in',
      'policy.yaml:15:44: unknown comparison "grt" (did you mean "gt"?); operators: eq, ne, lt, le, gt, ge, in',
      'policy.yaml:15:56: lt compares numbers; write 3 without quotes, e.g. lt: 0',
      'policy.yaml:15:65: le compares numbers, e.g. le: 0',
      'policy.yaml:15:75: in needs a non-empty list of strings, numbers or booleans, e.g. in: [P, N]',
      'policy.yaml:15:82: eq needs a string, number or boolean, e.g. eq: "P"; to compare with several values write in: [...]',
      'policy.yaml:16:25: "Vehicle:gear" needs a comparison, e.g. { gt: 0 }, { eq: "P" }, { in: [P, N] }; operators: eq, ne, lt, le, gt, ge, in',
    ],
  );
});

test('every problem of a file is reported at once, in file order', () => {
  const errors = errorsOf([
    'mode: enforcd',
    'identities:',
    '  hmi: { token_sha256: abc }',
    'statements:',
    '  - allow: { who: hmj, service: Climate, actions: [cal] }',
  ]);
  assert.deepEqual(
    errors.map((e) => e.split(': ')[0]),
    ['policy.yaml:1:7', 'policy.yaml:3:24', 'policy.yaml:5:19', 'policy.yaml:5:52'],
  );
});

test('a list already covered by actions is warned about, not refused', () => {
  const model = parsePolicy(withStatements('  - allow: { who: hmi, service: Climate, actions: [call], call: [reset] }').join('\n'), 'policy.yaml');
  assert.deepEqual(model.warnings.map(formatDiagnostic), ['policy.yaml:7:66: warning: call is already in actions (all of the service); this list changes nothing: remove one']);
});

test('grammar extensions: single names for lists, service lists, a scalar condition meaning eq, anchors and aliases', () => {
  const model = parsePolicy(
    withStatements(
      '  - allow: { who: &staff [hmi, diagnostics], service: [Climate, "Vehicle*"], call: "set*", read: cabin }',
      '  - deny: { who: *staff, service: Climate, call: reset, when: { "Vehicle:gear": R, "Vehicle:speed": { ge: 1, lt: 100 } } }',
    ).join('\n'),
    'policy.yaml',
  );
  const [first, second] = model.statements;
  assert.deepEqual(first.services.map((s) => s.value), ['Climate', 'Vehicle*']);
  assert.deepEqual(first.names.call?.map((c) => c.value), ['set*']);
  assert.deepEqual(first.names.read?.map((c) => c.value), ['cabin']);
  assert.deepEqual(second.who.map((w) => w.value), ['hmi', 'diagnostics']);
  assert.deepEqual(
    second.when.map((c) => [c.service, c.path, c.comparisons.map((x) => [x.op, x.value])]),
    [
      ['Vehicle', 'gear', [['eq', 'R']]],
      ['Vehicle', 'speed', [['ge', 1], ['lt', 100]]],
    ],
  );
});
