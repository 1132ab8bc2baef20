import { test } from 'node:test';
import { ANONYMOUS } from '../../src/policy/authorizer.js';
import assert from 'node:assert/strict';
import { parseDefinition } from '../../src/definition/parse-definition.js';
import { ServiceRuntime } from '../../src/service/service-runtime.js';
import type { ServiceImplementation } from '../../src/service/implementation.js';
import { createLogger } from '../../src/logger.js';
import { PeerwayError } from '../../src/errors.js';

const definition = parseDefinition(
  `<service name="Calc"><methods>
     <method name="add" returns="int"><argument name="a" type="int"/><argument name="b" type="int"/></method>
   </methods></service>`,
  'calc.xml',
);
const ctx = { session: 's1', route: 'direct' as const, identity: ANONYMOUS };

function runtime(add: (args: { a: number; b: number }) => unknown): ServiceRuntime {
  const impl: ServiceImplementation = { methods: { add: add as never } };
  return new ServiceRuntime(definition, impl, createLogger({ name: 'test', level: 'silent' }));
}

test('a method that returns a plain value is answered synchronously, without a promise', () => {
  assert.equal(runtime(({ a, b }) => a + b).invoke('add', { a: 2, b: 3 }, ctx), 5);
});

test('a method that returns a promise or another thenable is answered through a promise', async () => {
  const viaPromise = runtime(({ a, b }) => Promise.resolve(a + b)).invoke('add', { a: 2, b: 3 }, ctx);
  assert.ok(viaPromise instanceof Promise);
  assert.equal(await viaPromise, 5);
  // A thenable that is not a native promise (another realm, a library's) is adopted, not returned as the value.
  const thenable = { then: (resolve: (v: number) => void) => resolve(7) };
  const viaThenable = runtime(() => thenable).invoke('add', { a: 2, b: 3 }, ctx);
  assert.equal(await viaThenable, 7);
});

test('failures keep their codes whether the method answers synchronously or not', async () => {
  const code = (c: string) => (e: unknown) => e instanceof PeerwayError && e.code === c;
  assert.throws(() => runtime(() => 1).invoke('add', { a: 'x' }, ctx), code('BAD_ARGUMENT'));
  assert.throws(() => runtime(() => 1).invoke('sub', {}, ctx), code('METHOD_NOT_FOUND'));
  assert.throws(() => runtime(() => { throw new Error('boom'); }).invoke('add', { a: 1, b: 2 }, ctx), (e: unknown) => code('IMPLEMENTATION_ERROR')(e) && /Calc\.add threw: boom/.test((e as Error).message));
  assert.throws(() => runtime(() => 'three').invoke('add', { a: 1, b: 2 }, ctx), code('BAD_RESULT'));
  await assert.rejects(Promise.resolve(runtime(() => Promise.reject(new Error('late boom'))).invoke('add', { a: 1, b: 2 }, ctx)), code('IMPLEMENTATION_ERROR'));
  await assert.rejects(Promise.resolve(runtime(() => Promise.resolve('three')).invoke('add', { a: 1, b: 2 }, ctx)), code('BAD_RESULT'));
  await assert.rejects(Promise.resolve(runtime(() => Promise.reject(new PeerwayError('UNAUTHORIZED', 'no'))).invoke('add', { a: 1, b: 2 }, ctx)), code('UNAUTHORIZED'));
});
