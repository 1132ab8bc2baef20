// npm run mutate (scripts/mutate.mjs): mutation testing of the security- and routing-critical modules,
// one group at a time (docs/testing.md, "Mutation testing"). The tests spawn the built dist/, so Stryker
// builds once per sandbox (buildCommand) and activates each mutant through the environment that the test
// processes and the servers and runners they spawn inherit; per-test coverage analysis does not apply.
//
// Each group mutates a few modules and runs only the test files that exercise them, quick in-process tests
// first, stopping at the first failure (PEERWAY_TEST_BAIL), to keep a whole run under an hour on 2 cores
// (48 min on 2026-12-01: docs/testing.md).
export const GROUPS = {
  // How a runner serves direct links: the link token and hello, the routes a session may use, grants.
  'runner-links': {
    mutate: ['src/runner/link-handler.ts', 'src/runner/runner-session.ts:48-123', 'src/runner/service-host.ts:262-334', 'src/policy/secret.ts'],
    tests: ['test/runner/runner-session', 'test/runner/service-host', 'integration/link-serving', 'integration/guards', 'integration/hardening-sends-routes', 'integration/p2p-routing'],
  },
  // How a runner opens and ends sessions and which link or the server each event and update goes to.
  'runner-pushes': {
    mutate: ['src/runner/service-host.ts:123-260'],
    // The policy tests too: the runner decides every push and request on its links by the session's grants.
    tests: ['test/runner/service-host', 'integration/guards', 'integration/p2p-routing', 'integration/runtime-data-and-events', 'integration/policy-routes', 'integration/call-context'],
  },
  // How a client opens links and which route it takes for each resource.
  'client-routing': {
    mutate: ['src/client/link-opener.ts', 'src/routing/route-chooser.ts:26-80'],
    tests: ['routing/route-choice', 'client/session', 'integration/guards', 'integration/p2p-routing'],
  },
  // The server's sessions: start, attach, routes, relaying, and its copy of runtime data.
  'server-sessions': {
    mutate: ['src/server/broker-client.ts:57-222', 'src/server/broker-session.ts:76-198', 'src/server/service-entry.ts:63-85'],
    tests: ['server/broker', 'integration/server-loss', 'integration/runtime-data-and-events', 'integration/guards'],
  },
  // The policy's decisions, and the grants a runner enforces on direct links.
  policy: {
    mutate: ['src/policy/policy-statements.ts', 'src/policy/grants.ts', 'src/policy/authorizer.ts:66-77'],
    // GrantCheck is what runners enforce on links: the policy unit tests never reach it (0 of 57 detected on
    // 2026-12-01), the runner's push tests and the policy tests on real processes do.
    tests: ['test/policy/', 'test/runner/service-host-pushes', 'test/runner/runner-session', 'integration/policy'],
  },
};

const name = process.env.PEERWAY_MUTATE_GROUP ?? Object.keys(GROUPS)[0];
const group = GROUPS[name];
if (!group) throw new Error(`PEERWAY_MUTATE_GROUP=${name} is not a group; the groups are ${Object.keys(GROUPS).join(', ')}`);

export default {
  packageManager: 'npm',
  testRunner: 'command',
  buildCommand: 'npx tsc -p tsconfig.build.json',
  commandRunner: { command: `node scripts/run-tests.mjs ${group.tests.join(' ')}` },
  coverageAnalysis: 'off',
  // Two mutants at a time: the tests mostly wait on sockets and child processes, so two runs share 2 cores well.
  concurrency: 2,
  timeoutMS: 60000,
  timeoutFactor: 2,
  mutate: group.mutate,
  // Mutations that mostly change messages, literals or syntax shapes the type checker would refuse are left
  // out: the ones kept flip conditions, comparisons, logic, booleans and arithmetic, which is where a
  // security or routing bug hides.
  mutator: {
    excludedMutations: ['StringLiteral', 'ObjectLiteral', 'ArrayDeclaration', 'Regex', 'UpdateOperator', 'BlockStatement', 'OptionalChaining', 'ArrowFunction', 'MethodExpression', 'AssignmentOperator', 'ArithmeticOperator', 'UnaryOperator'],
  },
  reporters: ['clear-text', 'progress', 'json'],
  jsonReporter: { fileName: `reports/mutation/${name}.json` },
  // A run stopped half-way resumes where it was, and a re-run tests again only the mutants in changed code.
  incremental: true,
  incrementalFile: `reports/mutation/${name}.incremental.json`,
  tempDirName: '.stryker-tmp',
  cleanTempDir: 'always',
};
