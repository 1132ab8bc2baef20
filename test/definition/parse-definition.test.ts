import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { parseDefinition } from '../../src/definition/parse-definition.js';
import type { RuntimeDataLeaf, RuntimeDataObject } from '../../src/definition/model.js';

const typesFile = 'test/fixtures/definitions/types.xml';
const types = parseDefinition(readFileSync(typesFile, 'utf8'), typesFile);
const climateFile = 'examples/climate.xml';
const climate = parseDefinition(readFileSync(climateFile, 'utf8'), climateFile);

test('reads the service attributes and keeps the source and file', () => {
  assert.equal(climate.name, 'Climate');
  assert.equal(climate.fullname, 'Demo.Climate');
  assert.equal(climate.version, '1.0');
  assert.equal(climate.file, climateFile);
  assert.equal(climate.source, readFileSync(climateFile, 'utf8'));
  assert.deepEqual(climate.warnings, []);
});

test('reads struct types with their fields in order, including lists of structs', () => {
  assert.deepEqual([...types.types.keys()], ['Point', 'Shape']);
  const point = types.types.get('Point');
  assert.deepEqual(point?.fields.map((f) => [f.name, f.type]), [
    ['x', { name: 'float', repeated: false }],
    ['y', { name: 'float', repeated: false }],
    ['label', { name: 'string', repeated: false }],
  ]);
  assert.deepEqual(types.types.get('Shape')?.fields[1]?.type, { name: 'Point', repeated: true });
  assert.deepEqual(point?.pos, { file: typesFile, line: 5, column: 5 });
});

test('reads methods with arguments, return types and repeated returns; returns defaults to void', () => {
  const set = climate.methods.get('setTemperature');
  assert.deepEqual(set?.arguments.map((a) => `${a.name}:${a.type.name}`), ['zone:int', 'celsius:float']);
  assert.deepEqual(set?.returns, { name: 'bool', repeated: false });
  assert.deepEqual(climate.methods.get('reset')?.returns, { name: 'void', repeated: false });
  assert.deepEqual(types.methods.get('echoInts')?.returns, { name: 'int', repeated: true });
  assert.deepEqual(types.methods.get('echoInts')?.arguments[0]?.type, { name: 'int', repeated: true });
  assert.deepEqual(types.methods.get('echoShape')?.returns, { name: 'Shape', repeated: false });
  assert.equal(types.methods.size, 18);
  const implicitVoid = parseDefinition('<service name="S"><methods><method name="m"/></methods></service>', 'x.xml');
  assert.deepEqual(implicitVoid.methods.get('m')?.returns, { name: 'void', repeated: false });
});

test('reads events with their arguments', () => {
  assert.deepEqual([...climate.events.keys()], ['overheat', 'fanChanged']);
  assert.deepEqual(types.events.get('ping')?.arguments.map((a) => a.name), ['seq', 'note']);
  assert.deepEqual(climate.events.get('fanChanged')?.pos, { file: climateFile, line: 17, column: 5 });
});

test('builds the runtime data tree with paths, converted defaults and zero values', () => {
  const root = types.runtimeData;
  assert.equal(root.path, '');
  const leaf = (name: string): RuntimeDataLeaf => root.children.find((c) => c.name === name) as RuntimeDataLeaf;
  assert.equal(leaf('flag').default, true);
  assert.equal(leaf('count').default, 7);
  assert.equal(leaf('big').default, 9007199254740993n, 'int64 beyond the safe range is a bigint');
  assert.equal(leaf('ratio').default, 0.5);
  assert.equal(leaf('label').default, 'hello');
  assert.deepEqual(leaf('blob').default, new Uint8Array([0xca, 0xfe]));
  assert.deepEqual(leaf('history').default, []);
  assert.deepEqual(leaf('history').type, { name: 'int', repeated: true });
  assert.deepEqual(leaf('shape').default, { name: '', points: [] });
  const position = root.children.find((c) => c.name === 'position') as RuntimeDataObject;
  assert.equal(position.kind, 'object');
  assert.deepEqual(position.children.map((c) => [c.path, (c as RuntimeDataLeaf).default]), [
    ['position.x', 1.5],
    ['position.y', 0],
  ]);
});

test('gives every scalar leaf without a default its zero value', () => {
  const def = parseDefinition(
    [
      '<service name="Z"><runtime-data>',
      '<b type="bool"/><i type="int"/><l type="int64"/><f type="float"/><d type="double"/><s type="string"/><x type="binary"/>',
      '</runtime-data></service>',
    ].join('\n'),
    'z.xml',
  );
  const defaults = def.runtimeData.children.map((c) => (c as RuntimeDataLeaf).default);
  assert.deepEqual(defaults, [false, 0, 0, 0, 0, '', new Uint8Array(0)]);
});

test('reads repeated objects, nested objects and defaults of lists and structs written as JSON', () => {
  const def = parseDefinition(
    [
      '<service name="R">',
      '  <types><type name="P"><field name="x" type="int"/></type></types>',
      '  <runtime-data>',
      '    <zones repeated="true"><celsius type="float"/><name type="string"/></zones>',
      '    <a><b><c type="int" default="3"/></b></a>',
      '    <list type="int" repeated="true" default="[1, 2, 3]"/>',
      `    <p type="P" default='{"x": 4}'/>`,
      '  </runtime-data>',
      '</service>',
    ].join('\n'),
    'r.xml',
  );
  const [zones, a, list, p] = def.runtimeData.children;
  assert.equal(zones?.kind, 'object');
  assert.equal((zones).repeated, true);
  assert.deepEqual((zones).children.map((c) => c.path), ['zones.celsius', 'zones.name']);
  const c = ((a as RuntimeDataObject).children[0] as RuntimeDataObject).children[0] as RuntimeDataLeaf;
  assert.equal(c.path, 'a.b.c');
  assert.equal(c.default, 3);
  assert.deepEqual(c.pos, { file: 'r.xml', line: 5, column: 11 });
  assert.deepEqual((list as RuntimeDataLeaf).default, [1, 2, 3]);
  assert.deepEqual((p as RuntimeDataLeaf).default, { x: 4 });
});

test("accepts the seed's <value type=\"int\"/> shorthand as a leaf named value", () => {
  const def = parseDefinition('<service name="S"><runtime-data><value type="int"/></runtime-data></service>', 's.xml');
  assert.deepEqual(def.runtimeData.children.map((c) => [c.kind, c.path]), [['leaf', 'value']]);
});

test('reads explicit links, routes, selectors and the implicit link a route declares', () => {
  const routing = climate.routing;
  assert.ok(routing);
  assert.deepEqual(
    routing.endpoints.map((l) => ({ name: l.name, bearer: l.bearer, port: l.port, implicit: l.implicit })),
    [{ name: 'rt_link', bearer: 'connect.bearer.tcp', port: 0, implicit: false }],
  );
  assert.deepEqual(
    routing.routes.map((r) => [r.link, r.linkType, r.bearer, r.required, r.selectors.map((s) => `${s.kind}:${s.name ?? '*'}`)]),
    [
      ['rt_link', 'direct', 'connect.bearer.tcp', false, ['runtimedata:*']],
      ['rt_link', 'server', 'connect.bearer.tcp', false, ['runtimedata:*']],
      ['reliable', 'direct', undefined, false, ['method:setTemperature']],
      ['unreliable', 'direct', undefined, false, ['event:overheat']],
    ],
  );

  const forked = parseDefinition(readFileSync('examples/forked-runtime-data.xml', 'utf8'), 'f.xml');
  assert.deepEqual(forked.routing?.endpoints, [
    { name: 'rt_link', bearer: 'connect.bearer.tcp', attributes: {}, implicit: true, pos: { file: 'f.xml', line: 3, column: 5 } },
  ]);
});

test('keeps link attributes other than name, bearer, host and port', () => {
  const def = parseDefinition(
    [
      '<service name="S"><routing><p2p-endpoints>',
      '<link name="secure" bearer="connect.bearer.ssl" host="0.0.0.0" port="8443" certificate="cert.pem" verify="true"/>',
      '</p2p-endpoints>',
      '<route link="secure" linkType="direct_and_server" required="true"><method/><event/></route>',
      '<route link="anything" linkType="server"><runtimedata path=""/></route>',
      '</routing></service>',
    ].join('\n'),
    's.xml',
  );
  const [link] = def.routing?.endpoints ?? [];
  assert.equal(link?.host, '0.0.0.0');
  assert.equal(link?.port, 8443);
  assert.deepEqual(link?.attributes, { certificate: 'cert.pem', verify: 'true' });
  assert.equal(def.routing?.routes[0]?.required, true);
  assert.equal(def.routing?.routes[1]?.selectors[0]?.name, undefined, 'an empty path selects all runtime data');
});

test('selectors may name runtime data objects and leaves by path, inside lists without an index', () => {
  const def = parseDefinition(
    [
      '<service name="S"><runtime-data><cabin><fan type="int"/></cabin><zones repeated="true"><c type="int"/></zones></runtime-data>',
      '<routing><route link="reliable" linkType="direct">',
      '<runtimedata path="cabin"/><runtimedata path="cabin.fan"/><runtimedata path="zones"/><runtimedata path="zones.c"/>',
      '</route></routing>',
      '</service>',
    ].join('\n'),
    's.xml',
  );
  assert.deepEqual(def.routing?.routes[0]?.selectors.map((s) => s.name), ['cabin', 'cabin.fan', 'zones', 'zones.c']);
});

test('accepts sections in any order, comments, CDATA in descriptions, a BOM and CRLF line ends', () => {
  const xml = [
    '\uFEFF<?xml version="1.0"?>',
    '<service name="S">',
    '  <routing><route link="reliable" linkType="direct"><method name="m"/></route></routing>',
    '  <!-- methods come after the routes that select them -->',
    '  <methods><method name="m" returns="P"/></methods>',
    '  <description><![CDATA[ <b>free</b> text ]]> and more</description>',
    '  <types><type name="P"><field name="x" type="int"/></type></types>',
    '</service>',
  ].join('\r\n');
  const def = parseDefinition(xml, 's.xml');
  assert.deepEqual(def.methods.get('m')?.pos, { file: 's.xml', line: 5, column: 12 });
  assert.deepEqual(def.methods.get('m')?.returns, { name: 'P', repeated: false });
});

test('reports non-fatal findings as warnings', () => {
  const def = parseDefinition(
    ['<service name="S">', '  <methods>stray text<method name="m"/></methods>', '  <routing><route link="reliable" linkType="direct"/></routing>', '</service>'].join('\n'),
    'w.xml',
  );
  assert.deepEqual(
    def.warnings.map((w) => `${w.line}:${w.column} ${w.severity}: ${w.message}`),
    [
      '2:12 warning: text "stray text" inside <methods> is ignored; put descriptions in <description>',
      '3:12 warning: this route selects nothing; add <method/>, <event/> or <runtimedata/> (without a name they select all of that kind)',
    ],
  );
});
