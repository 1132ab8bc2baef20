import type { TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { connectClient, fixture } from './harness.js';

/** The service of the hardening tests (test/fixtures/p2p/hard.xml): big replies, a slow direct method, a publisher. */
export const HARD = fixture('p2p', 'hard.xml');

/** A well-behaved client is still served: a new session with Hard answers a call. */
export async function goodClientWorks(url: string, t: TestContext): Promise<void> {
  const s = await (await connectClient(t, url)).startSession('Hard');
  assert.equal(await s.call('hello'), 'hello');
}
