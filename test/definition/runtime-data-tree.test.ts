import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { parseDefinition } from '../../src/definition/parse-definition.js';
import { RuntimeDataTree } from '../../src/definition/runtime-data-tree.js';

const climate = parseDefinition(readFileSync('examples/climate.xml', 'utf8'), 'examples/climate.xml');
const types = parseDefinition(readFileSync('test/fixtures/definitions/types.xml', 'utf8'), 'types.xml');
const zonesDef = parseDefinition(
  [
    '<service name="Z">',
    '  <types><type name="P"><field name="x" type="int"/></type></types>',
    '  <runtime-data>',
    '    <zones repeated="true"><temp type="float"/><name type="string" default="?"/></zones>',
    '    <list type="int" repeated="true" default="[1, 2, 3]"/>',
    '    <p type="P"/>',
    '  </runtime-data>',
    '</service>',
  ].join('\n'),
  'z.xml',
);

test('starts from the definition defaults', () => {
  const tree = new RuntimeDataTree(climate);
  assert.deepEqual(tree.get(''), { cabin: { temperature: 21, fan: 2 }, status: 'ok' });
  assert.deepEqual(tree.get('cabin'), { temperature: 21, fan: 2 });
  assert.equal(tree.get('cabin.fan'), 2);
  const typesTree = new RuntimeDataTree(types);
  assert.equal(typesTree.get('big'), 9007199254740993n);
  assert.deepEqual(typesTree.get('position'), { x: 1.5, y: 0 });
  assert.deepEqual(typesTree.get('shape'), { name: '', points: [] });
  assert.deepEqual(new RuntimeDataTree(zonesDef).get(''), { zones: [], list: [1, 2, 3], p: { x: 0 } });
});

test('sets leaves, whole objects, lists, list elements and fields inside list elements', () => {
  const tree = new RuntimeDataTree(zonesDef);
  assert.deepEqual(tree.set('zones', [{ temp: 20, name: 'front' }, { temp: 18, name: 'rear' }]), [
    { temp: 20, name: 'front' },
    { temp: 18, name: 'rear' },
  ]);
  assert.equal(tree.set('zones.1.temp', 19.5), 19.5);
  assert.deepEqual(tree.set('zones.0', { temp: 22, name: 'driver' }), { temp: 22, name: 'driver' });
  assert.equal(tree.set('list.2', 30), 30);
  assert.equal(tree.set('p.x', 5), 5);
  assert.deepEqual(tree.get(''), {
    zones: [
      { temp: 22, name: 'driver' },
      { temp: 19.5, name: 'rear' },
    ],
    list: [1, 2, 30],
    p: { x: 5 },
  });
  assert.equal(tree.get('zones.1.name'), 'rear');
  assert.deepEqual(tree.get('zones.1'), { temp: 19.5, name: 'rear' });
});

test('returns and stores copies, so callers cannot change the tree behind its back', () => {
  const tree = new RuntimeDataTree(climate);
  const cabin = { temperature: 25, fan: 1 };
  tree.set('cabin', cabin);
  cabin.fan = 99;
  const read = tree.get('cabin') as { fan: number };
  read.fan = 42;
  const snapshot = tree.snapshot() as { cabin: { fan: number } };
  snapshot.cabin.fan = 7;
  assert.equal(tree.get('cabin.fan'), 1);
});

test('normalises values on set', () => {
  const tree = new RuntimeDataTree(types);
  assert.equal(tree.set('big', 12n), 12);
  assert.equal(tree.get('big'), 12);
  assert.deepEqual(tree.set('history', [1, 2]), [1, 2]);
});

test('rejects values that do not fit and leaves the tree unchanged', () => {
  const tree = new RuntimeDataTree(climate);
  assert.throws(() => tree.set('cabin.fan', 'high'), {
    code: 'BAD_ARGUMENT',
    message: 'Climate runtime data "cabin.fan" must be int (whole number from -2147483648 to 2147483647), got "high" (string)',
  });
  assert.throws(() => tree.set('cabin', { temperature: 20 }), {
    message: 'Climate runtime data "cabin" is missing "fan" (int (whole number from -2147483648 to 2147483647)); an object value must give every child: temperature, fan',
  });
  assert.throws(() => tree.set('cabin', { temperature: 20, fan: 1, fam: 2 }), {
    message: 'Climate runtime data "cabin" has no child "fam" (did you mean "fan"?); its children are: temperature, fan',
  });
  assert.throws(() => tree.set('cabin', { temperature: 20, fan: 1.5 }), {
    message: 'Climate runtime data "cabin.fan" must be int (whole number from -2147483648 to 2147483647), got 1.5 (number)',
  });
  assert.throws(() => tree.set('', 5), { message: 'Climate runtime data must be an object with cabin, status, got 5 (number)' });
  const zones = new RuntimeDataTree(zonesDef);
  assert.throws(() => zones.set('zones', [{ temp: 1, name: 'a' }, { temp: 'x', name: 'b' }]), {
    message: 'Z runtime data "zones.1.temp" must be float (finite number), got "x" (string)',
  });
  assert.throws(() => zones.set('zones', {}), { message: 'Z runtime data "zones" must be a list, got an empty object' });
  assert.deepEqual(tree.get(''), { cabin: { temperature: 21, fan: 2 }, status: 'ok' });
  assert.deepEqual(zones.get('zones'), []);
});

test('reports unknown paths with the valid children where the path went wrong', () => {
  const tree = new RuntimeDataTree(climate);
  assert.throws(() => tree.get('cabin.temp'), {
    code: 'PATH_NOT_FOUND',
    message: 'no runtime data at "cabin.temp" of service Climate: "cabin" has no child "temp" (did you mean "temperature"?); its children are: temperature, fan',
  });
  assert.throws(() => tree.set('sttus', 'x'), {
    message: 'no runtime data at "sttus" of service Climate: the root has no child "sttus" (did you mean "status"?); its children are: cabin, status',
  });
  assert.throws(() => tree.get('cabin.fan.speed'), {
    message: 'no runtime data at "cabin.fan.speed" of service Climate: "cabin.fan" is a leaf of type int and has no child "speed"',
  });
  assert.throws(() => tree.get('cabin..fan'), { code: 'PATH_NOT_FOUND' });
  const zones = new RuntimeDataTree(zonesDef);
  assert.throws(() => zones.get('zones.0'), { message: 'no runtime data at "zones.0" of service Z: index 0 is out of range for "zones": it is empty' });
  assert.throws(() => zones.set('list.3', 1), {
    message: 'no runtime data at "list.3" of service Z: index 3 is out of range for "list": it has 3 elements (0 to 2)',
  });
  assert.throws(() => zones.get('list.first'), {
    message: 'no runtime data at "list.first" of service Z: "list" is a list, so "first" must be an element index (0 to 2)',
  });
  assert.throws(() => zones.get('p.y'), { message: 'no runtime data at "p.y" of service Z: "p" is a leaf of type P and has no child "y"; its fields are: x' });
});

test('apply takes remote updates without copying but still guards paths and values', () => {
  const tree = new RuntimeDataTree(climate);
  const cabin = { temperature: 30, fan: 3 };
  assert.equal(tree.apply('cabin', cabin), cabin);
  assert.equal(tree.get('cabin.temperature'), 30);
  tree.apply('', { cabin: { temperature: 1, fan: 0 }, status: 'remote' });
  assert.equal(tree.get('status'), 'remote');
  assert.throws(() => tree.apply('cabin.nope', 1), { code: 'PATH_NOT_FOUND' });
  assert.throws(() => tree.apply('cabin', 'broken'), { code: 'BAD_ARGUMENT' });
  assert.deepEqual(tree.get(''), { cabin: { temperature: 1, fan: 0 }, status: 'remote' });
});

test('nodeAt finds definition nodes, accepting list indices, and throws PATH_NOT_FOUND otherwise', () => {
  assert.equal(RuntimeDataTree.nodeAt(climate.runtimeData, ''), climate.runtimeData);
  assert.equal(RuntimeDataTree.nodeAt(climate.runtimeData, 'cabin.fan').path, 'cabin.fan');
  assert.equal(RuntimeDataTree.nodeAt(zonesDef.runtimeData, 'zones.3.temp').path, 'zones.temp');
  assert.equal(RuntimeDataTree.nodeAt(zonesDef.runtimeData, 'p.x', zonesDef).path, 'p');
  assert.throws(() => RuntimeDataTree.nodeAt(climate.runtimeData, 'cabin.fn'), {
    code: 'PATH_NOT_FOUND',
    message: 'no runtime data at "cabin.fn": "cabin" has no child "fn" (did you mean "fan"?); its children are: temperature, fan',
  });
  assert.throws(() => RuntimeDataTree.nodeAt(zonesDef.runtimeData, 'zones.temp'), {
    message: 'no runtime data at "zones.temp": "zones" is a list; the next segment must be an element index',
  });
});
