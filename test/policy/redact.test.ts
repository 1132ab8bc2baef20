import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { cloneValue } from '../../src/definition/runtime-data-tree.js';
import { isPlainObject } from '../../src/definition/values.js';
import { redactDenied } from '../../src/policy/redact.js';
import '../helpers/property-seed.js';

const data = () => ({ cabin: { temperature: 21, fan: 2, seat: { heat: 1, position: 3 } }, status: 'ok', zones: [{ celsius: 20, name: 'front' }, { celsius: 22, name: 'rear' }] });

test('redactDenied removes the denied subtrees inside the path, whatever else is denied', () => {
  assert.deepEqual(redactDenied(data(), '', ['cabin.fan', 'cabin.seat', 'other.x']), { cabin: { temperature: 21 }, status: 'ok', zones: data().zones });
  assert.deepEqual(redactDenied(data().cabin, 'cabin', ['cabin.seat.heat', 'status']), { temperature: 21, fan: 2, seat: { position: 3 } });
  assert.deepEqual(redactDenied(data().cabin, 'cabin', ['cabinet', 'cab']), data().cabin, 'only whole segments count');
});

test('redactDenied gives undefined when the path is denied or inside a denied path', () => {
  assert.equal(redactDenied(21, 'cabin.temperature', ['cabin']), undefined);
  assert.equal(redactDenied(21, 'cabin.temperature', ['cabin.temperature']), undefined);
  assert.equal(redactDenied(data(), '', ['']), undefined, 'the root denied denies everything');
  assert.deepEqual(redactDenied(21, 'cabin.temperature', ['cabin.fan']), 21);
});

test('redactDenied goes through lists: a denied path without indices is removed from every element', () => {
  assert.deepEqual(redactDenied(data().zones, 'zones', ['zones.celsius']), [{ name: 'front' }, { name: 'rear' }]);
  assert.deepEqual(redactDenied(data().zones[1], 'zones.1', ['zones.celsius']), { name: 'rear' }, 'a list element at an indexed path');
  assert.equal(redactDenied(20, 'zones.0.celsius', ['zones.celsius']), undefined);
  assert.deepEqual(redactDenied(data().zones, 'zones', ['zones.1.celsius']), [{ name: 'front' }, { name: 'rear' }], 'indices in denied paths are ignored too');
});

test('redactDenied never changes its input and returns it as is when nothing inside is denied', () => {
  const value = data();
  const before = cloneValue(value);
  const out = redactDenied(value, '', ['cabin.seat.heat']) as ReturnType<typeof data>;
  assert.deepEqual(value, before);
  assert.equal(out.zones, value.zones, 'untouched subtrees are shared');
  assert.notEqual(out.cabin, value.cabin);
  assert.equal(redactDenied(value, '', ['elsewhere']), value);
  assert.equal(redactDenied(value, 'cabin', []), value);
});

// Property tests over random trees: keys from a small alphabet so denied paths often hit.
const KEYS = ['a', 'b', 'c'];
const tree: fc.Arbitrary<unknown> = fc.letrec<{ node: unknown }>((tie) => ({
  node: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    fc.integer(),
    fc.dictionary(fc.constantFrom(...KEYS), tie('node'), { maxKeys: 3, noNullPrototype: true }),
    fc.array(fc.dictionary(fc.constantFrom(...KEYS), tie('node'), { maxKeys: 3, noNullPrototype: true }), { maxLength: 3 }),
  ),
})).node;
const pathArb = fc.array(fc.constantFrom(...KEYS), { maxLength: 3 }).map((s) => s.join('.'));

/** Every value found by following `steps` (through every element of a list). */
function reach(node: unknown, steps: string[]): unknown[] {
  if (Array.isArray(node)) return node.flatMap((e) => reach(e, steps));
  if (steps.length === 0) return [node];
  if (!isPlainObject(node) || !Object.hasOwn(node, steps[0])) return [];
  return reach(node[steps[0]], steps.slice(1));
}

/** Leaf paths (without list indices) and the values at them, lists entered. */
function leaves(node: unknown, prefix: string[] = []): [string[], unknown][] {
  if (Array.isArray(node)) return node.flatMap((e) => leaves(e, prefix));
  if (isPlainObject(node)) return Object.entries(node).flatMap(([k, v]) => leaves(v, [...prefix, k]));
  return [[prefix, node]];
}

const split = (p: string) => (p === '' ? [] : p.split('.'));
const isPrefix = (a: string[], b: string[]) => a.length <= b.length && a.every((s, i) => s === b[i]);

test('property: redactDenied never returns a denied subtree, keeps everything else, and leaves its input alone', () => {
  fc.assert(
    fc.property(tree, pathArb, fc.array(pathArb, { maxLength: 4 }), (value, path, denied) => {
      const before = cloneValue(value);
      const out = redactDenied(value, path, denied);
      assert.deepEqual(value, before, 'input unchanged');
      const at = split(path);
      if (denied.some((d) => isPrefix(split(d), at))) {
        assert.equal(out, undefined);
        return;
      }
      for (const d of denied) {
        const steps = split(d);
        if (isPrefix(at, steps)) assert.deepEqual(reach(out, steps.slice(at.length)), [], `${d} is gone from ${path || '(root)'}`);
      }
      const kept = leaves(value).filter(([steps]) => !denied.some((d) => isPrefix(split(d).slice(at.length), steps) && isPrefix(at, split(d))));
      const outLeaves = leaves(out).map(([s, v]) => JSON.stringify([s, v]));
      for (const [steps, v] of kept) assert.ok(outLeaves.includes(JSON.stringify([steps, v])), `${steps.join('.')} kept`);
    }),
    { numRuns: 500 },
  );
});
