import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { parseDefinition } from '../../src/definition/parse-definition.js';
import type { TypeRef } from '../../src/definition/model.js';
import { checkArguments, checkValue, describeType, zeroValue } from '../../src/definition/values.js';
import { PeerwayError } from '../../src/errors.js';

const file = 'test/fixtures/definitions/types.xml';
const def = parseDefinition(readFileSync(file, 'utf8'), file);
const t = (name: string, repeated = false): TypeRef => ({ name, repeated });

/** The BAD_ARGUMENT message checkValue throws for `value`. */
function rejection(type: TypeRef, value: unknown, where = 'x'): string {
  try {
    checkValue(def, type, value, where);
  } catch (err) {
    assert.ok(err instanceof PeerwayError);
    assert.equal(err.code, 'BAD_ARGUMENT');
    return err.message;
  }
  assert.fail(`expected ${String(value)} to be rejected as ${describeType(type)}`);
}

test('bool accepts only booleans', () => {
  assert.equal(checkValue(def, t('bool'), true, 'x'), true);
  assert.equal(checkValue(def, t('bool'), false, 'x'), false);
  assert.equal(rejection(t('bool'), 1, 'Types.echoBool argument "value"'), 'Types.echoBool argument "value" must be bool (true or false), got 1 (number)');
  assert.equal(rejection(t('bool'), 'true'), 'x must be bool (true or false), got "true" (string)');
});

test('int accepts whole numbers in the int32 range', () => {
  for (const v of [0, -1, 2147483647, -2147483648]) assert.equal(checkValue(def, t('int'), v, 'x'), v);
  const words = 'int (whole number from -2147483648 to 2147483647)';
  assert.equal(rejection(t('int'), 'abc', 'Climate.setTemperature argument "zone"'), `Climate.setTemperature argument "zone" must be ${words}, got "abc" (string)`);
  assert.equal(rejection(t('int'), 2147483648), `x must be ${words}, got 2147483648 (number)`);
  assert.equal(rejection(t('int'), 1.5), `x must be ${words}, got 1.5 (number)`);
  assert.equal(rejection(t('int'), NaN), `x must be ${words}, got NaN (number)`);
  assert.equal(rejection(t('int'), 3n), `x must be ${words}, got 3n (bigint)`);
  assert.equal(rejection(t('int'), undefined), `x must be ${words}, got undefined`);
  assert.equal(rejection(t('int'), null), `x must be ${words}, got null`);
});

test('int64 accepts safe integers and bigints in range, normalising exact bigints to numbers', () => {
  assert.equal(checkValue(def, t('int64'), 2 ** 53 - 1, 'x'), 2 ** 53 - 1);
  assert.equal(checkValue(def, t('int64'), 5n, 'x'), 5);
  assert.equal(checkValue(def, t('int64'), 2n ** 63n - 1n, 'x'), 2n ** 63n - 1n);
  assert.equal(checkValue(def, t('int64'), -(2n ** 63n), 'x'), -(2n ** 63n));
  const words = 'int64 (whole number from -9223372036854775808 to 9223372036854775807)';
  assert.equal(rejection(t('int64'), 2n ** 63n), `x must be ${words}, got 9223372036854775808n (bigint)`);
  assert.equal(
    rejection(t('int64'), 2 ** 60),
    `x must be ${words}, got 1152921504606847000 (number) (beyond the safe integer range of a number; pass a bigint)`,
  );
  assert.equal(rejection(t('int64'), 0.5), `x must be ${words}, got 0.5 (number)`);
});

test('float and double accept finite numbers, whole ones included', () => {
  for (const name of ['float', 'double']) {
    assert.equal(checkValue(def, t(name), 3, 'x'), 3);
    assert.equal(checkValue(def, t(name), -0.25, 'x'), -0.25);
    assert.equal(rejection(t(name), Infinity), `x must be ${name} (finite number), got Infinity (number)`);
    assert.equal(rejection(t(name), '1.5'), `x must be ${name} (finite number), got "1.5" (string)`);
  }
});

test('string accepts strings; binary accepts Uint8Array and Buffer', () => {
  assert.equal(checkValue(def, t('string'), '', 'x'), '');
  assert.equal(rejection(t('string'), 42), 'x must be string, got 42 (number)');
  const bytes = new Uint8Array([1, 2]);
  assert.equal(checkValue(def, t('binary'), bytes, 'x'), bytes);
  const buffer = Buffer.from([3]);
  assert.equal(checkValue(def, t('binary'), buffer, 'x'), buffer);
  assert.equal(rejection(t('binary'), [1, 2]), 'x must be binary (Uint8Array or Buffer), got an array of 2 elements');
  assert.equal(rejection(t('binary'), 'AQI='), 'x must be binary (Uint8Array or Buffer), got "AQI=" (string)');
});

test('void accepts undefined and null and returns undefined', () => {
  assert.equal(checkValue(def, t('void'), undefined, 'x'), undefined);
  assert.equal(checkValue(def, t('void'), null, 'x'), undefined);
  assert.equal(rejection(t('void'), 0, 'Types.nothing result'), 'Types.nothing result must be void (no value), got 0 (number)');
});

test('structs need exactly their fields, and errors name the inner path', () => {
  const point = { x: 1, y: 2, label: 'a' };
  assert.equal(checkValue(def, t('Point'), point, 'x'), point, 'an already normal value is returned as is');
  assert.equal(
    rejection(t('Point'), { x: 1, y: 2 }),
    'x is missing field "label" of Point (object with fields x, y, label)',
  );
  assert.equal(
    rejection(t('Point'), { x: 1, y: 2, label: 'a', lable: 'b' }),
    'x has unknown field "lable" (did you mean "label"?); Point has fields x, y, label',
  );
  assert.equal(rejection(t('Point'), [1, 2]), 'x must be Point (object with fields x, y, label), got an array of 2 elements');
  assert.equal(rejection(t('Point'), new Date(0)), 'x must be Point (object with fields x, y, label), got a Date');
  const shape = { name: 's', points: [point, point, { x: 'abc', y: 0, label: '' }] };
  assert.equal(
    rejection(t('Shape'), shape, 'Types.echoShape argument "value"'),
    'Types.echoShape argument "value" at .points[2].x must be float (finite number), got "abc" (string)',
  );
  assert.equal(rejection(t('Shape'), { name: 's', points: [{ x: 1, y: 2 }] }), 'x at .points[0] is missing field "label" of Point (object with fields x, y, label)');
});

test('a field called like an Object.prototype member is not taken from the prototype', () => {
  const d = parseDefinition('<service name="P"><types><type name="T"><field name="constructor" type="int"/></type></types></service>', 'p.xml');
  assert.throws(() => checkValue(d, t('T'), {}, 'x'), /x is missing field "constructor" of T/);
  assert.deepEqual(checkValue(d, t('T'), { constructor: 1 }, 'x'), { constructor: 1 });
});

test('lists need arrays of the element type and report the failing index', () => {
  const list = [1, 2, 3];
  assert.equal(checkValue(def, t('int', true), list, 'x'), list);
  assert.deepEqual(checkValue(def, t('int', true), [], 'x'), []);
  assert.equal(
    rejection(t('int', true), 7),
    'x must be list of int (whole number from -2147483648 to 2147483647), got 7 (number)',
  );
  assert.equal(rejection(t('int', true), [1, 'b']), 'x at [1] must be int (whole number from -2147483648 to 2147483647), got "b" (string)');
});

test('normalising copies only the containers on the way to a changed value', () => {
  const d = parseDefinition(
    '<service name="N"><types><type name="T"><field name="big" type="int64" repeated="true"/><field name="s" type="string"/></type></types></service>',
    'n.xml',
  );
  const input = { big: [1, 2n], s: 'x' };
  const out = checkValue(d, t('T'), input, 'x') as { big: unknown[]; s: string };
  assert.deepEqual(out, { big: [1, 2], s: 'x' });
  assert.notEqual(out, input);
  assert.deepEqual(input.big, [1, 2n], 'the caller’s value is not modified');
});

test('checkArguments reports missing and unknown arguments with the valid names', () => {
  const set = { name: 'zone', type: t('int'), pos: { file: '', line: 1, column: 1 } };
  const celsius = { name: 'celsius', type: t('float'), pos: { file: '', line: 1, column: 1 } };
  const args = { zone: 1, celsius: 20.5 };
  assert.equal(checkArguments(def, [set, celsius], args, 'Climate.setTemperature'), args);
  assert.throws(() => checkArguments(def, [set, celsius], { zone: 1 }, 'Climate.setTemperature'), {
    code: 'BAD_ARGUMENT',
    message: 'Climate.setTemperature argument "celsius" is missing; expected float (finite number)',
  });
  assert.throws(() => checkArguments(def, [set, celsius], { zone: 1, celsius: 2, zonee: 3 }, 'Climate.setTemperature'), {
    message: 'Climate.setTemperature has no argument "zonee" (did you mean "zone"?); valid arguments: zone, celsius',
  });
  assert.throws(() => checkArguments(def, [set, celsius], { zone: 'abc', celsius: 2 }, 'Climate.setTemperature'), {
    message: 'Climate.setTemperature argument "zone" must be int (whole number from -2147483648 to 2147483647), got "abc" (string)',
  });
  assert.deepEqual(checkArguments(def, [], undefined, 'Climate.reset'), {});
  assert.throws(() => checkArguments(def, [], { a: 1 }, 'Climate.reset'), { message: 'Climate.reset has no argument "a"; Climate.reset takes no arguments' });
  assert.throws(() => checkArguments(def, [set], [1] as unknown as Record<string, unknown>, 'C.m'), {
    message: 'C.m arguments must be an object of name → value, got an array of 1 elements',
  });
  assert.deepEqual(checkArguments(def, [{ ...set, name: 'v', type: t('int64') }], { v: 10n }, 'C.m'), { v: 10 });
});

test('zeroValue gives fresh zero values of every type', () => {
  assert.equal(zeroValue(def, t('bool')), false);
  assert.equal(zeroValue(def, t('int64')), 0);
  assert.equal(zeroValue(def, t('string')), '');
  assert.deepEqual(zeroValue(def, t('binary')), new Uint8Array(0));
  assert.deepEqual(zeroValue(def, t('Shape')), { name: '', points: [] });
  assert.deepEqual(zeroValue(def, t('Point', true)), []);
  assert.notEqual(zeroValue(def, t('Point')), zeroValue(def, t('Point')));
});

test('describeType words every type', () => {
  assert.equal(describeType(t('Point'), def), 'Point (object with fields x, y, label)');
  assert.equal(describeType(t('Point')), 'Point (object)');
  assert.equal(describeType(t('float', true)), 'list of float (finite number)');
  assert.equal(describeType(t('void')), 'void (no value)');
});
