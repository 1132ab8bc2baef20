import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { parseDefinition } from '../../src/definition/parse-definition.js';
import { formatDiagnostic, type RuntimeDataNode, type RuntimeDataObject, type ServiceDefinition } from '../../src/definition/model.js';
import { RuntimeDataTree } from '../../src/definition/runtime-data-tree.js';
import { definitionToJson } from '../../src/definition/definition-json.js';
import { runtimeDataFromJson } from '../../src/definition/runtime-data-json.js';
import { checkArguments } from '../../src/definition/values.js';
import { describeText } from '../../src/cli/describe.js';
import { availableBearerIds } from '../../src/bearer/registry.js';
import { fixture, ROOT } from '../helpers/harness.js';
import { errorsOf, service } from './helpers.js';

const KANZI = fixture('kanzi');
const parse = (lines: string[] | string, file = 'test.xml'): ServiceDefinition =>
  parseDefinition(Array.isArray(lines) ? lines.join('\n') : lines, file, { bearers: availableBearerIds() });
const warningsOf = (def: ServiceDefinition): string[] => def.warnings.map(formatDiagnostic);

/** The node at a definition path (no list indices), for looking at the model. */
function node(def: ServiceDefinition, at: string): RuntimeDataNode {
  let here: RuntimeDataNode = def.runtimeData;
  for (const segment of at.split('.')) {
    const next: RuntimeDataNode | undefined = (here as RuntimeDataObject).children.find((c) => c.name === segment);
    assert.ok(next, `no node ${at}`);
    here = next;
  }
  return here;
}

for (const file of readdirSync(KANZI).filter((f) => f.endsWith('.xml'))) {
  test(`the Kanzi Connect dialect fixture ${file} parses without errors`, () => {
    const def = parse(readFileSync(path.join(KANZI, file), 'utf8'), file);
    // Only the attributes Peerway keeps without acting on them may warn.
    for (const w of def.warnings) assert.match(w.message, /is kept but not honoured/);
  });
}

test('<service> keeps every Kanzi Connect attribute: description, namespace, package, type, version', () => {
  const def = parse(readFileSync(path.join(KANZI, 'Engine_interface.xml'), 'utf8'), 'Engine_interface.xml');
  assert.equal(def.name, 'Engine');
  assert.equal(def.fullname, 'Connect.Service.Engine');
  assert.equal(def.version, '0.1');
  assert.equal(def.description, 'Engine telemetry');
  assert.deepEqual(def.attributes, {
    fullname: 'Connect.Service.Engine',
    name: 'Engine',
    description: 'Engine telemetry',
    namespace: 'connect_demo',
    package: 'engine_service',
    type: 'simulated',
    version: '0.1',
  });
  const json = definitionToJson(def);
  assert.equal(json.description, 'Engine telemetry');
  assert.equal(json.attributes.namespace, 'connect_demo');
  const text = describeText(def);
  for (const line of ['  description: Engine telemetry', '  namespace: connect_demo', '  package: engine_service', '  type: simulated']) {
    assert.ok(text.split('\n').includes(line), `describe shows ${line}:\n${text}`);
  }
  assert.match(text, /speed: float = 0 \(controller Input\)/);
  assert.match(text, /odometer: float = 0 \(persistent\)/);
});

test('an attribute Peerway keeps but does not act on warns once per file, naming it and counting the other uses', () => {
  const def = parse(
    service(
      '<runtime-data>',
      '  <a datatype="int" controller="Input"/>',
      '  <b datatype="int" controller="Input"/>',
      '  <c datatype="int" controller="Other"/>',
      '</runtime-data>',
    ),
  );
  assert.deepEqual(warningsOf(def), [
    'test.xml:3:21: warning: controller="Input" on <a> is kept but not honoured: Peerway has no controllers; the service implementation alone writes runtime data (describe shows the value) (the same for 2 more uses in this file)',
  ]);
  assert.equal(node(def, 'c').controller, 'Other');
  const typed = parse(['<service name="S" type="simulated"/>']);
  assert.equal(typed.warnings.length, 1);
  assert.match(typed.warnings[0].message, /^type="simulated" on <service> is kept but not honoured/);
});

test('datatype= and type= give the same leaves, in one file too', () => {
  const def = parse(
    service(
      '<runtime-data>',
      '  <a type="int" default="3"/>',
      '  <b datatype="int" default="3"/>',
      '  <c datatype="float" default="0.000000"/>',
      '  <d datatype="bool" default="1"/>',
      '  <e datatype="string"/>',
      '</runtime-data>',
    ),
  );
  const a = node(def, 'a');
  const b = node(def, 'b');
  assert.deepEqual({ ...b, name: 'a', path: 'a', pos: a.pos }, a);
  assert.equal((node(def, 'c') as { default: unknown }).default, 0);
  assert.equal((node(def, 'd') as { default: unknown }).default, true);
  assert.deepEqual(new RuntimeDataTree(def).snapshot(), { a: 3, b: 3, c: 0, d: true, e: '' });
});

test('an element with both type and datatype is an error at the second one', () => {
  assert.deepEqual(errorsOf(service('<runtime-data>', '  <a type="int" datatype="float"/>', '</runtime-data>')), [
    'test.xml:3:17: <a> has both type="int" and datatype="float"; they mean the same (datatype is Kanzi Connect\'s spelling): keep one',
  ]);
});

test('name= overrides the element name as the key, and must be an identifier', () => {
  const def = parse(readFileSync(path.join(KANZI, 'DataExample.xml'), 'utf8'), 'DataExample.xml');
  const renamed = node(def, 'data.name_override');
  assert.equal(renamed.path, 'data.name_override');
  assert.equal(renamed.element, 'somebool');
  assert.equal((new RuntimeDataTree(def).get('data') as Record<string, unknown>).name_override, false);
  assert.deepEqual(errorsOf(service('<runtime-data>', '  <a datatype="int" name="not-this"/>', '</runtime-data>')), [
    'test.xml:3:21: runtime data name "not-this" (the name attribute of <a>) is not an identifier; it becomes a path segment, so use letters, digits and _ (not starting with a digit)',
  ]);
  // A name clash through an override is a duplicate like any other.
  assert.match(errorsOf(service('<runtime-data>', '  <a datatype="int"/>', '  <b datatype="int" name="a"/>', '</runtime-data>'))[0], /^test\.xml:4:3: runtime data "a" is already declared at 3:3/);
});

test('persistent takes 0, 1, true or false; anything else is an error naming the attribute', () => {
  const def = parse(
    service('<runtime-data>', '  <a datatype="int" persistent="1"/>', '  <b datatype="int" persistent="0"/>', '  <c datatype="int" persistent="true"/>', '  <o persistent="1"><x datatype="int"/></o>', '</runtime-data>'),
  );
  assert.deepEqual(['a', 'b', 'c', 'o', 'o.x'].map((p) => node(def, p).persistent === true), [true, false, true, true, false]);
  assert.deepEqual(errorsOf(service('<runtime-data>', '  <a datatype="int" persistent="yes"/>', '</runtime-data>')), [
    'test.xml:3:21: persistent="yes" on <a> must be "1" or "0" (or "true" or "false")',
  ]);
});

test('datatype="list" is a list whose children describe one element, set whole or by index', () => {
  const def = parse(readFileSync(path.join(KANZI, 'UserDirectory.xml'), 'utf8'), 'UserDirectory.xml');
  const list = node(def, 'current_user.subordinates');
  assert.equal(list.kind, 'object');
  assert.equal((list).repeated, true);
  assert.deepEqual((list).children.map((c) => c.name), ['useridentifier', 'username']);
  const tree = new RuntimeDataTree(def);
  assert.deepEqual(tree.get('current_user.subordinates'), []);
  tree.set('current_user.subordinates', [{ useridentifier: 1, username: 'ann' }, { useridentifier: 2, username: 'bo' }]);
  tree.set('current_user.subordinates.1.username', 'bob'); // Peerway's indexed paths: an extension of Kanzi's
  assert.deepEqual(tree.get('current_user.subordinates'), [
    { useridentifier: 1, username: 'ann' },
    { useridentifier: 2, username: 'bob' },
  ]);
  assert.throws(() => tree.set('current_user.subordinates', [{ useridentifier: 'x', username: 'c' }]), {
    code: 'BAD_ARGUMENT',
    message: /UserDirectory runtime data "current_user\.subordinates\.0\.useridentifier" must be int/,
  });
  assert.throws(() => tree.set('current_user.subordinates', [{ useridentifier: 3 }]), { code: 'BAD_ARGUMENT', message: /is missing "username"/ });
  assert.throws(() => tree.set('current_user.subordinates.5.username', 'x'), { code: 'PATH_NOT_FOUND', message: /index 5 is out of range/ });
});

test('a list inside a list is an error at the inner list, naming the outer one, whatever the spelling', () => {
  const inside = (outer: string, inner: string) => errorsOf(service('<runtime-data>', `  <outer ${outer}>`, `    <inner ${inner}><x datatype="int"/></inner>`, '  </outer>', '</runtime-data>'));
  const message = 'test.xml:4:5: runtime data "outer.inner" is a list inside the list "outer" (at 3:3); a datatype="list" cannot contain a list nor be inside one: make "outer.inner" a single value or object, or move it out of the list';
  assert.deepEqual(inside('datatype="list"', 'datatype="list"'), [message]);
  assert.deepEqual(inside('repeated="true"', 'datatype="list"'), [message]);
  assert.deepEqual(inside('datatype="list"', 'repeated="true"'), [message]);
  // Deeper down, through an object, and for a list of values.
  assert.deepEqual(
    errorsOf(service('<runtime-data>', '  <outer datatype="list">', '    <o><tags type="repeated string"/></o>', '  </outer>', '</runtime-data>')),
    ['test.xml:4:8: runtime data "outer.o.tags" is a list inside the list "outer" (at 3:3); a datatype="list" cannot contain a list nor be inside one: make "outer.o.tags" a single value or object, or move it out of the list'],
  );
  // Peerway's own lists may still nest.
  parse(service('<runtime-data>', '  <outer repeated="true">', '    <inner repeated="true"><x type="int"/></inner>', '  </outer>', '</runtime-data>'));
});

test('a list takes no default and no repeated; an empty one warns', () => {
  assert.deepEqual(errorsOf(service('<runtime-data>', '  <l datatype="list" repeated="true" default="[]"><x datatype="int"/></l>', '</runtime-data>')), [
    'test.xml:3:22: repeated on <l> is not needed: datatype="list" is already a list; remove it',
    'test.xml:3:38: default on <l> is not allowed: datatype="list" starts empty and its elements are written whole at run time; remove it',
  ]);
  const def = parse(service('<runtime-data>', '  <l datatype="list"/>', '</runtime-data>'));
  assert.deepEqual(warningsOf(def), ['test.xml:3:3: warning: runtime data list "l" has no children; add child elements describing one element of the list']);
});

test('persistent and default inside a list are kept out with a warning: a list is kept whole or not at all', () => {
  const def = parse(
    service('<runtime-data>', '  <l datatype="list">', '    <x datatype="int" persistent="1" default="4"/>', '  </l>', '</runtime-data>'),
  );
  assert.equal(node(def, 'l.x').persistent, undefined);
  assert.deepEqual(warningsOf(def), [
    'test.xml:4:23: warning: persistent="1" on <x> is kept but not honoured: it is inside the list "l", whose elements are kept only as a whole: put persistent="1" on <l> instead',
    'test.xml:4:38: warning: default="4" on <x> is kept but not honoured: inside a list it gives no value: every element of the list is written whole at run time',
  ]);
});

test('type="repeated T" is a list argument, result or leaf, as repeated="true" is', () => {
  const def = parse(readFileSync(path.join(KANZI, 'Input_interface.xml'), 'utf8'), 'Input_interface.xml');
  const inject = def.methods.get('inject');
  assert.deepEqual(inject?.arguments.map((a) => a.type), [
    { name: 'Touch', repeated: true },
    { name: 'string', repeated: true },
  ]);
  const touch = { id: 1, position: { x: 1, y: 2 }, pressed: true };
  assert.deepEqual(checkArguments(def, inject?.arguments ?? [], { touches: [touch], tags: ['a', 'b'] }, 'Input.inject'), { touches: [touch], tags: ['a', 'b'] });
  assert.throws(() => checkArguments(def, inject?.arguments ?? [], { touches: [touch], tags: 'a' }, 'Input.inject'), { message: /argument "tags" must be list of string/ });
  const returns = parse(service('<methods><method name="m" returns="repeated int"/></methods>'));
  assert.deepEqual(returns.methods.get('m')?.returns, { name: 'int', repeated: true });
  assert.deepEqual(errorsOf(service('<methods><method name="m"><argument name="a" type="repeated repeated int"/></method></methods>')), [
    'test.xml:2:46: "repeated repeated int" for argument "a" of method "m" is not a type: "repeated" goes before a value type, once (e.g. "repeated string")',
  ]);
  assert.match(errorsOf(service('<methods><method name="m"><argument name="a" type="repeated strin"/></method></methods>'))[0], /unknown type "strin" .*did you mean "string"/);
});

test('the service description may be an attribute or an element; the attribute wins, with a warning when they differ', () => {
  assert.equal(parse(['<service name="S"><description>From the element.</description></service>']).description, 'From the element.');
  const both = parse(['<service name="S" description="From the attribute.">', '<description>Another text.</description>', '</service>']);
  assert.equal(both.description, 'From the attribute.');
  assert.deepEqual(warningsOf(both), [
    'test.xml:2:1: warning: <description> and the description attribute of <service> (1:19) say different things; the attribute is the one shown: keep one of them',
  ]);
  assert.equal(parse(['<service name="S"/>']).description, undefined);
});

test('list, object and repeated cannot name a struct: runtime data gives them a meaning', () => {
  assert.deepEqual(errorsOf(service('<types><type name="list"/></types>')), [
    'test.xml:2:14: type name "list" is a reserved word (runtime data uses it for lists and objects); choose another name',
  ]);
});

test('datatype="object" is an object, as an element without a datatype is', () => {
  const def = parse(service('<runtime-data>', '  <o datatype="object"><x datatype="int"/></o>', '</runtime-data>'));
  assert.equal(node(def, 'o').kind, 'object');
  assert.deepEqual(new RuntimeDataTree(def).snapshot(), { o: { x: 0 } });
});

test('runtimeDataFromJson turns the JSON form of objects and lists back into typed values', () => {
  const def = parse(
    service('<runtime-data>', '  <o><blob type="binary"/><big type="int64"/></o>', '  <l datatype="list"><b type="binary"/></l>', '</runtime-data>'),
  );
  assert.deepEqual(runtimeDataFromJson(def, node(def, 'o'), { blob: 'AQI=', big: '9007199254740993' }, 'o'), { blob: Uint8Array.from([1, 2]), big: 9007199254740993n });
  assert.deepEqual(runtimeDataFromJson(def, node(def, 'l'), [{ b: 'hex:0a' }], 'l'), [{ b: Uint8Array.from([10]) }]);
  assert.throws(() => runtimeDataFromJson(def, node(def, 'o'), { blob: 'not base64!', big: 1 }, 'o'), { code: 'BAD_ARGUMENT' });
});

test('persistent, controller and the service attributes reach the JSON form', () => {
  const def = parse(readFileSync(path.join(KANZI, 'Engine_interface.xml'), 'utf8'), 'Engine_interface.xml');
  const engine = definitionToJson(def).runtimeData.children?.[0];
  assert.deepEqual(
    engine?.children?.map((c) => [c.name, c.persistent ?? false, c.controller ?? null]),
    [
      ['speed', false, 'Input'],
      ['rpm', false, 'Input'],
      ['odometer', true, null],
    ],
  );
});

test('the side-by-side example of docs/definition.md is one service in two spellings', () => {
  const doc = readFileSync(path.join(ROOT, 'docs', 'definition.md'), 'utf8');
  const section = doc.slice(doc.indexOf('## Coming from Kanzi Connect'));
  const [kanziXml, peerwayXml] = [...section.matchAll(/```xml\n([\s\S]*?)```/g)].map((m) => m[1]);
  const kanziDef = parse(kanziXml, 'Engine_interface.xml');
  const peerwayDef = parse(peerwayXml, 'Engine.xml');
  assert.deepEqual(warningsOf(peerwayDef), []);
  assert.deepEqual(kanziDef.warnings.map((w) => w.message.split(' is kept')[0]), ['type="simulated" on <service>', 'controller="Input" on <speed>']);
  // Positions and Kanzi-only attributes aside, the models agree.
  const shape = (def: ServiceDefinition) =>
    JSON.stringify(definitionToJson(def), (key, value: unknown) => (key === 'attributes' || key === 'controller' || key === 'routing' ? undefined : value));
  assert.equal(shape(kanziDef), shape(peerwayDef));
  assert.equal(kanziDef.description, peerwayDef.description);
});
