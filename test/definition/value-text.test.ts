import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import type { TypeRef } from '../../src/definition/model.js';
import { parseDefinition } from '../../src/definition/parse-definition.js';
import { fromJsonValue, parseTextValue, toJsonValue } from '../../src/definition/value-text.js';

const file = 'test/fixtures/definitions/types.xml';
const def = parseDefinition(readFileSync(file, 'utf8'), file);
const t = (name: string, repeated = false): TypeRef => ({ name, repeated });
const parse = (type: TypeRef, text: string): unknown => parseTextValue(def, type, text, 'arg');

test('parses bool text as true/false/1/0 in any case', () => {
  assert.equal(parse(t('bool'), 'true'), true);
  assert.equal(parse(t('bool'), 'FALSE'), false);
  assert.equal(parse(t('bool'), '1'), true);
  assert.equal(parse(t('bool'), '0'), false);
  assert.throws(() => parse(t('bool'), 'yes'), { code: 'BAD_ARGUMENT', message: 'arg must be bool (true, false, 1 or 0), got "yes"' });
});

test('parses decimal integers, int64 beyond the safe range as bigint', () => {
  assert.equal(parse(t('int'), '-42'), -42);
  assert.equal(parse(t('int'), ' 7 '), 7);
  assert.throws(() => parse(t('int'), '2147483648'), { message: 'arg must be int (whole number from -2147483648 to 2147483647), got "2147483648"' });
  assert.throws(() => parse(t('int'), '1.5'), /arg must be int/);
  assert.throws(() => parse(t('int'), '0x10'), /arg must be int/);
  assert.equal(parse(t('int64'), '9007199254740991'), 9007199254740991);
  assert.equal(parse(t('int64'), '9223372036854775807'), 9223372036854775807n);
  assert.throws(() => parse(t('int64'), '9223372036854775808'), /arg must be int64 \(whole number from -9223372036854775808 to 9223372036854775807\), got "9223372036854775808"/);
});

test('parses floats in decimal and exponent notation and rejects non-finite ones', () => {
  assert.equal(parse(t('float'), '21.0'), 21);
  assert.equal(parse(t('double'), '-1.5e3'), -1500);
  assert.equal(parse(t('double'), '.5'), 0.5);
  assert.throws(() => parse(t('float'), 'Infinity'), { message: 'arg must be float (finite number), got "Infinity"' });
  assert.throws(() => parse(t('float'), '1e999'), /must be float/);
  assert.throws(() => parse(t('float'), ''), /must be float/);
});

test('takes strings as they are and binary as base64 or hex:', () => {
  assert.equal(parse(t('string'), ' as is '), ' as is ');
  assert.deepEqual(parse(t('binary'), 'AQID'), new Uint8Array([1, 2, 3]));
  assert.deepEqual(parse(t('binary'), 'hex:0aff'), new Uint8Array([10, 255]));
  assert.deepEqual(parse(t('binary'), ''), new Uint8Array(0));
  assert.throws(() => parse(t('binary'), 'hex:0g'), { message: 'arg must be binary (base64 text, or hex: followed by hex digits), got "hex:0g"' });
  assert.throws(() => parse(t('binary'), 'not base64!'), /must be binary/);
});

test('parses structs and lists from JSON, then checks them', () => {
  assert.deepEqual(parse(t('int', true), '[1, 2]'), [1, 2]);
  assert.deepEqual(parse(t('Point'), '{"x": 1, "y": 2.5, "label": "p"}'), { x: 1, y: 2.5, label: 'p' });
  assert.throws(() => parse(t('Point'), '{"x": 1}'), { message: 'arg is missing field "y" of Point (object with fields x, y, label)' });
  assert.throws(() => parse(t('int', true), '[1,'), (err: Error) => {
    assert.match(err.message, /^arg must be list of int \(whole number from -2147483648 to 2147483647\), got "\[1," \(not valid JSON: /);
    return true;
  });
});

test('fromJsonValue turns base64 strings into bytes and decimal strings into int64', () => {
  const d = parseDefinition(
    '<service name="J"><types><type name="T"><field name="data" type="binary"/><field name="id" type="int64"/></type></types></service>',
    'j.xml',
  );
  assert.deepEqual(fromJsonValue(d, t('T', true), [{ data: 'AQ==', id: '9223372036854775807' }], 'arg'), [
    { data: new Uint8Array([1]), id: 9223372036854775807n },
  ]);
  assert.deepEqual(fromJsonValue(d, t('T'), { data: 'hex:ff', id: 12 }, 'arg'), { data: new Uint8Array([255]), id: 12 });
  assert.throws(() => fromJsonValue(d, t('T'), { data: '%%', id: 1 }, 'arg'), {
    message: 'arg at .data must be binary (base64 text, or hex: followed by hex digits), got "%%" (string)',
  });
});

test('toJsonValue writes bigints as decimal strings and bytes as base64, recursively', () => {
  const value = { id: 2n ** 64n, data: new Uint8Array([1, 2, 3]), list: [Buffer.from([255]), 1.5, 'x', null, true] };
  assert.deepEqual(toJsonValue(value), { id: '18446744073709551616', data: 'AQID', list: ['/w==', 1.5, 'x', null, true] });
  const d = parseDefinition('<service name="J"><types><type name="T"><field name="b" type="binary"/></type></types></service>', 'j.xml');
  const round = { b: new Uint8Array([9, 8]) };
  assert.deepEqual(fromJsonValue(d, t('T'), JSON.parse(JSON.stringify(toJsonValue(round))), 'x'), round);
});
