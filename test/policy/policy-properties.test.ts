import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import type { Action } from '../../src/policy/authorizer.js';
import { parsePolicy } from '../../src/policy/policy-file.js';
import { pathGlobMatches } from '../../src/policy/policy-globs.js';
import { Policy } from '../../src/policy/policy.js';
import '../helpers/property-seed.js';

const IDENTITIES = ['hmi', 'diagnostics', 'runner'];
const HEADER = ['identities:', ...IDENTITIES.map((n, i) => `  ${n}: { token_sha256: ${String(i).repeat(64)} }`), 'statements:'];
const ACTIONS: Action[] = ['register', 'describe', 'call', 'subscribe', 'read'];

/** One random statement as a YAML flow mapping line. */
const statement = fc
  .record({
    effect: fc.constantFrom('allow', 'deny'),
    who: fc.subarray([...IDENTITIES, 'anonymous', '"*"'], { minLength: 1 }),
    service: fc.constantFrom('A', 'B', '"*"', '"A*"'),
    scope: fc.oneof(
      fc.subarray(ACTIONS, { minLength: 1 }).map((a) => `actions: [${a.join(', ')}]`),
      fc.subarray(['m1', '"m*"', 'x'], { minLength: 1 }).map((c) => `call: [${c.join(', ')}]`),
      fc.subarray(['e1', '"*"'], { minLength: 1 }).map((c) => `subscribe: [${c.join(', ')}]`),
      fc.subarray(['p', '"p.*"', '"q.**"', 'q.r'], { minLength: 1 }).map((c) => `read: [${c.join(', ')}]`),
    ),
  })
  .map((s) => `  - ${s.effect}: { who: [${s.who.join(', ')}], service: ${s.service}, ${s.scope} }`);

const request: fc.Arbitrary<Request> = fc.record({
  identity: fc.constantFrom(...IDENTITIES, 'anonymous'),
  action: fc.constantFrom(...ACTIONS),
  service: fc.constantFrom('A', 'B', 'AB', 'C'),
  name: fc.constantFrom(undefined, 'm1', 'm2', 'x', 'e1', '', 'p', 'p.s', 'q', 'q.r.t', 'q.0.r'),
});

const policyOf = (statements: string[], mode = 'enforced') => new Policy(parsePolicy([`mode: ${mode}`, ...HEADER, ...statements].join('\n'), 'p.yaml'));
type Request = { identity: string; action: Action; service: string; name: string | undefined };
const ask = (p: Policy, r: Request) => p.authorize({ name: r.identity }, r.action, { service: r.service, ...(r.name !== undefined ? { name: r.name } : {}) });

test('property: a statement appended that matches everything decides everything', () => {
  fc.assert(
    fc.property(fc.array(statement, { maxLength: 8 }), fc.array(request, { minLength: 1, maxLength: 10 }), fc.constantFrom('allow', 'deny'), (statements, requests, effect) => {
      const last = `  - ${effect}: { who: "*", service: "*", actions: [${ACTIONS.join(', ')}] }`;
      const p = policyOf([...statements, last]);
      for (const r of requests) {
        const d = ask(p, r);
        assert.equal(d.allowed, effect === 'allow');
        assert.equal(d.statement, `statement ${statements.length + 1} (p.yaml:${statements.length + 7}:5)`);
      }
    }),
    { numRuns: 200 },
  );
});

test('property: notify mode allows everything and flags exactly what enforced mode denies, with the same reason', () => {
  fc.assert(
    fc.property(fc.array(statement, { maxLength: 8 }), fc.array(request, { minLength: 1, maxLength: 10 }), (statements, requests) => {
      const enforced = policyOf(statements, 'enforced');
      const notify = policyOf(statements, 'notify');
      for (const r of requests) {
        const e = ask(enforced, r);
        const n = ask(notify, r);
        assert.equal(n.allowed, true);
        assert.equal(n.wouldDeny === true, !e.allowed);
        assert.equal(n.reason, e.reason);
        assert.equal(n.statement, e.statement);
        assert.deepEqual(ask(enforced, r), e, 'asking again (from the cache) gives the same decision');
      }
    }),
    { numRuns: 200 },
  );
});

test('property: the decision is the last statement in file order that matches (checked against a plain scan)', () => {
  fc.assert(
    fc.property(fc.array(statement, { maxLength: 8 }), fc.array(request, { minLength: 1, maxLength: 10 }), (statements, requests) => {
      const p = policyOf(statements);
      for (const r of requests) {
        // The reference: every single-statement policy says whether that statement matches; the last match decides.
        let expected: string | undefined;
        statements.forEach((s, i) => {
          if (ask(policyOf([s]), r).statement !== undefined) expected = `statement ${i + 1} (p.yaml:${i + 7}:5)`;
        });
        assert.equal(ask(p, r).statement, expected);
      }
    }),
    { numRuns: 100 },
  );
});

/** The path glob rule, written the slow and obvious way: a glob selects matching nodes and their subtrees. */
function reference(glob: string, path: string): boolean {
  if (glob === '*' || glob === '**') return true;
  const g = glob.split('.');
  const p = path === '' ? [] : path.split('.');
  const segment = (pattern: string, s: string) => new RegExp(`^${pattern.split('*').map((x) => x.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')).join('[^.]*')}$`).test(s);
  const match = (i: number, j: number): boolean => {
    if (i === g.length) return true; // the rest of the path is the subtree
    if (g[i] === '**') return match(i + 1, j) || (j < p.length && match(i, j + 1));
    return j < p.length && segment(g[i], p[j]) && match(i + 1, j + 1);
  };
  return match(0, 0);
}

test('property: path globs agree with the rule as documented', () => {
  const seg = fc.constantFrom('a', 'b', 'ab', '*', 'a*', '**');
  const glob = fc.array(seg, { minLength: 1, maxLength: 4 }).map((s) => s.join('.'));
  const path = fc.array(fc.constantFrom('a', 'b', 'ab', 'ba'), { maxLength: 5 }).map((s) => s.join('.'));
  fc.assert(
    fc.property(glob, path, (g, p) => {
      assert.equal(pathGlobMatches(g, p), reference(g, p), `${g} on "${p}"`);
    }),
    { numRuns: 2000 },
  );
});
