// A node:test reporter for `PEERWAY_TEST_BAIL=1` (see run-tests.mjs): it writes one marker line when a
// test fails, so the runner can stop the whole run at the first failure. Mutation testing runs the suite
// once per mutant, and a mutant is decided by its first failing test: waiting for the rest wastes minutes.
export const BAIL_MARKER = '::peerway-test-failed::';

export default async function* bailReporter(source) {
  for await (const event of source) {
    if (event.type === 'test:fail' && !event.data.todo) yield `${BAIL_MARKER} ${event.data.name}\n`;
  }
}
