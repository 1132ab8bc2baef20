import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { DefinitionError } from '../../src/definition/definition-error.js';
import { parseDefinition } from '../../src/definition/parse-definition.js';
import { PeerwayError } from '../../src/errors.js';
import { errorsOf, service } from './helpers.js';

test('collects every error of a file, sorted by position, into one DefinitionError', () => {
  const file = 'test/fixtures/definitions/invalid/many-errors.xml';
  let caught: unknown;
  try {
    parseDefinition(readFileSync(file, 'utf8'), file);
  } catch (err) {
    caught = err;
  }
  assert.ok(caught instanceof DefinitionError);
  assert.ok(caught instanceof PeerwayError);
  assert.equal(caught.code, 'DEFINITION_INVALID');
  const lines = caught.message.split('\n');
  assert.deepEqual(lines, [
    `${file}:3:40: unknown type "flot" for field "x" of type Point (did you mean "float"?); valid types: bool, int, int64, float, double, string, binary, Point`,
    `${file}:6:23: unknown type "Pointt" for the result of method "go" (did you mean "Point"?); valid types: bool, int, int64, float, double, string, binary, Point`,
    `${file}:6:63: void is only valid as a method return type; argument "speed" of method "go" needs a value type`,
    `${file}:7:5: method "go" is already declared at 6:5; rename or remove one of them`,
    `${file}:10:5: default of runtime data "fan" must be int (whole number from -2147483648 to 2147483647), got "2.5"`,
    `${file}:13:12: link "fast" is not declared; declare it in <p2p-endpoints>, add bearer="connect.bearer.tcp" to this route to declare it here, or use the built-in link "reliable" or "unreliable"`,
    `${file}:13:50: route selects method "stop", which the service does not declare; methods: go`,
  ]);
  assert.equal(caught.diagnostics.length, 7);
  assert.deepEqual(caught.diagnostics[0], {
    file,
    line: 3,
    column: 40,
    severity: 'error',
    message: 'unknown type "flot" for field "x" of type Point (did you mean "float"?); valid types: bool, int, int64, float, double, string, binary, Point',
  });
});

test('rejects a root element other than <service> and a service without a name', () => {
  assert.deepEqual(errorsOf(['<services name="S"/>']), [
    'test.xml:1:1: the root element must be <service>, found <services>; a definition starts with <service name="…">',
  ]);
  assert.deepEqual(errorsOf(['<service/>']), ['test.xml:1:1: <service> needs a name attribute, e.g. <service name="Climate">']);
});

test('rejects unknown elements and attributes, listing what is allowed there', () => {
  assert.deepEqual(errorsOf(service('  <method name="m"/>')), [
    'test.xml:2:3: unknown element <method> in <service> (did you mean "methods"?); allowed here: <description>, <types>, <methods>, <events>, <runtime-data>, <routing>',
  ]);
  assert.deepEqual(errorsOf(service('  <methods><method name="m" return="int"/></methods>')), [
    'test.xml:2:29: unknown attribute "return" on <method> (did you mean "returns"?); allowed attributes: name, returns, returns-repeated',
  ]);
  assert.deepEqual(errorsOf(service('  <routing><route link="reliable" linkType="direct"><runtime-data/></route></routing>')), [
    'test.xml:2:53: unknown element <runtime-data> in <route> (did you mean "runtimedata"?); allowed here: <method>, <event>, <runtimedata>',
  ]);
});

test('rejects names that are not identifiers', () => {
  assert.deepEqual(errorsOf(service('  <methods><method name="set-temp"/></methods>')), [
    'test.xml:2:20: method name "set-temp" is not an identifier; use letters, digits and _ and do not start with a digit',
  ]);
  assert.deepEqual(errorsOf(service('  <runtime-data><my-value type="int"/></runtime-data>')), [
    'test.xml:2:17: runtime data name "my-value" is not an identifier; element names in <runtime-data> become path segments, so use letters, digits and _ (not starting with a digit), or give the element a name="…" that is one',
  ]);
});

test('reports duplicates at the later declaration, pointing at the first', () => {
  assert.deepEqual(errorsOf(service('  <methods>', '    <method name="m"/>', '    <method name="m"/>', '  </methods>')), [
    'test.xml:4:5: method "m" is already declared at 3:5; rename or remove one of them',
  ]);
  assert.deepEqual(
    errorsOf(service('  <methods><method name="m"><argument name="a" type="int"/><argument name="a" type="int"/></method></methods>')),
    ['test.xml:2:60: argument "a" of method "m" is already declared at 2:29; rename or remove one of them'],
  );
  assert.deepEqual(errorsOf(service('  <runtime-data><a type="int"/><a type="int"/></runtime-data>')), [
    'test.xml:2:32: runtime data "a" is already declared at 2:17; rename or remove one of them',
  ]);
  assert.deepEqual(errorsOf(service('  <methods/>', '  <methods/>')), ['test.xml:3:3: <methods> appears twice; the first is at 2:3; merge them into one']);
});

test('rejects unknown types with a suggestion and the list of valid types', () => {
  assert.deepEqual(errorsOf(service('  <methods><method name="m"><argument name="c" type="flaot"/></method></methods>')), [
    'test.xml:2:48: unknown type "flaot" for argument "c" of method "m" (did you mean "float"?); valid types: bool, int, int64, float, double, string, binary',
  ]);
  assert.deepEqual(errorsOf(service('  <events><event name="e"><argument name="c"/></event></events>')), [
    'test.xml:2:27: <argument> needs a type attribute, e.g. <argument name="c" type="int"/>',
  ]);
});

test('accepts void only as a return type, and not as a repeated one', () => {
  assert.deepEqual(errorsOf(service('  <events><event name="e"><argument name="c" type="void"/></event></events>')), [
    'test.xml:2:46: void is only valid as a method return type; argument "c" of event "e" needs a value type',
  ]);
  assert.deepEqual(errorsOf(service('  <methods><method name="m" returns="void" returns-repeated="true"/></methods>')), [
    'test.xml:2:44: returns-repeated="true" needs a value type in returns; a void method returns nothing',
  ]);
  assert.deepEqual(errorsOf(service('  <runtime-data><v type="void"/></runtime-data>')), [
    'test.xml:2:20: void is only valid as a method return type; runtime data "v" needs a value type',
  ]);
});

test('rejects struct cycles, direct or through other types and lists, and built-in type names', () => {
  const lines = service(
    '  <types>',
    '    <type name="A"><field name="b" type="B"/></type>',
    '    <type name="B"><field name="a" type="A" repeated="true"/></type>',
    '    <type name="C"><field name="c" type="C"/></type>',
    '  </types>',
  );
  assert.deepEqual(errorsOf(lines), [
    'test.xml:4:20: type A contains itself (A.b → B.a → A); a struct cannot contain itself, directly or through other types, not even in a list',
    'test.xml:5:20: type C contains itself (C.c → C); a struct cannot contain itself, directly or through other types, not even in a list',
  ]);
  assert.deepEqual(errorsOf(service('  <types><type name="int"/></types>')), ['test.xml:2:16: type name "int" is a built-in type; choose another name']);
});

test('rejects bad runtime data defaults, leaves with children and defaults on objects', () => {
  assert.deepEqual(errorsOf(service('  <runtime-data>', '    <fan type="int" default="high"/>', '  </runtime-data>')), [
    'test.xml:3:5: default of runtime data "fan" must be int (whole number from -2147483648 to 2147483647), got "high"',
  ]);
  assert.deepEqual(errorsOf(service('  <runtime-data><fan type="int"><x type="int"/></fan></runtime-data>')), [
    'test.xml:2:33: runtime data leaf "fan" has type="int" and cannot contain elements; remove type to make it an object (or write datatype="list" for a list), or move the elements out',
  ]);
  assert.deepEqual(errorsOf(service('  <runtime-data><cabin default="1"><x type="int"/></cabin></runtime-data>')), [
    'test.xml:2:24: default on <cabin> needs a type="…"; an element without a type is an object whose children are its fields',
  ]);
  assert.deepEqual(errorsOf(service('  <runtime-data><a type="int" repeated="yes"/></runtime-data>')), [
    'test.xml:2:31: repeated="yes" on <a> must be "true" or "false"',
  ]);
});

test('rejects an invalid linkType and required="true" on a server route', () => {
  assert.deepEqual(errorsOf(service('  <routing><route link="reliable" linkType="p2p"><method/></route></routing>')), [
    'test.xml:2:35: linkType "p2p" is not valid; use direct (peer-to-peer), server (relayed by the server) or direct_and_server (both)',
  ]);
  assert.deepEqual(errorsOf(service('  <routing><route link="x" linkType="server" required="true"><method/></route></routing>')), [
    'test.xml:2:46: required="true" applies only to direct routes (a server route is always usable); remove it, or use linkType="direct" or "direct_and_server"',
  ]);
});

test('rejects unknown bearers with a suggestion and the list of known bearers', () => {
  assert.deepEqual(errorsOf(service('  <routing><route link="x" linkType="direct" bearer="connect.bearer.tpc"><method/></route></routing>')), [
    'test.xml:2:46: unknown bearer "connect.bearer.tpc" (did you mean "connect.bearer.tcp"?); known bearers: connect.bearer.tcp, connect.bearer.ssl, connect.bearer.udp, connect.bearer.local, connect.bearer.ws, connect.bearer.memory',
  ]);
  assert.deepEqual(errorsOf(service('  <routing><p2p-endpoints><link name="l"/></p2p-endpoints></routing>')), [
    'test.xml:2:27: <link> needs a bearer attribute, e.g. <link name="l" bearer="connect.bearer.tcp" port="0"/>',
  ]);
});

test('rejects a direct route on a link that is neither declared, built in nor given a bearer', () => {
  assert.deepEqual(errorsOf(service('  <routing><route link="rt_lnk" linkType="direct"><method/></route></routing>')), [
    'test.xml:2:19: link "rt_lnk" is not declared; declare it in <p2p-endpoints>, add bearer="connect.bearer.tcp" to this route to declare it here, or use the built-in link "reliable" or "unreliable"',
  ]);
  // A server route's link is only a label.
  assert.doesNotThrow(() => parseDefinition(service('  <routing><route link="rt_lnk" linkType="server"><method/></route></routing>').join('\n'), 't.xml'));
});

test('rejects bearers that disagree with the link a route names', () => {
  const explicit = service(
    '  <routing>',
    '    <p2p-endpoints><link name="l" bearer="connect.bearer.tcp"/></p2p-endpoints>',
    '    <route link="l" linkType="direct" bearer="connect.bearer.ssl"><method/></route>',
    '  </routing>',
  );
  assert.deepEqual(errorsOf(explicit), [
    'test.xml:4:39: route bearer "connect.bearer.ssl" differs from link "l" declared with bearer "connect.bearer.tcp" at 3:20; remove bearer from the route or make the two the same',
  ]);
  const implicit = service(
    '  <routing>',
    '    <route link="l" linkType="direct" bearer="connect.bearer.tcp"><method/></route>',
    '    <route link="l" linkType="server" bearer="connect.bearer.ws"><method/></route>',
    '  </routing>',
  );
  assert.deepEqual(errorsOf(implicit), [
    'test.xml:4:39: link "l" is declared by the route at 3:5 with bearer "connect.bearer.tcp"; routes naming the same link share it, so use the same bearer',
  ]);
  assert.deepEqual(errorsOf(service('  <routing><route link="unreliable" linkType="direct" bearer="connect.bearer.udp"><event/></route></routing>')), [
    'test.xml:2:55: a route on the built-in link "unreliable" cannot set a bearer (that link always uses connect.bearer.udp); remove bearer, or name another link to declare one with this bearer',
  ]);
});

test('lets a route use an implicit link declared by a later route', () => {
  const def = parseDefinition(
    service(
      '  <routing>',
      '    <route link="l" linkType="direct"><method/></route>',
      '    <route link="l" linkType="direct" bearer="connect.bearer.local"><event/></route>',
      '  </routing>',
    ).join('\n'),
    't.xml',
  );
  assert.deepEqual(def.routing?.endpoints.map((l) => [l.name, l.bearer, l.implicit, l.pos.line]), [['l', 'connect.bearer.local', true, 4]]);
});

test('rejects ports out of range and redeclared built-in links', () => {
  assert.deepEqual(errorsOf(service('  <routing><p2p-endpoints><link name="l" bearer="connect.bearer.tcp" port="70000"/></p2p-endpoints></routing>')), [
    'test.xml:2:70: port "70000" of link "l" must be a whole number from 0 to 65535 (0 picks a free port)',
  ]);
  assert.deepEqual(errorsOf(service('  <routing><p2p-endpoints><link name="reliable" bearer="connect.bearer.tcp"/></p2p-endpoints></routing>')), [
    'test.xml:2:33: link "reliable" is built in and cannot be redeclared; give this link another name',
  ]);
});

test('rejects selectors naming methods, events or runtime data that do not exist', () => {
  const lines = service(
    '  <methods><method name="setTemperature"/></methods>',
    '  <runtime-data><cabin><fan type="int"/></cabin></runtime-data>',
    '  <routing><route link="reliable" linkType="direct">',
    '    <method name="setTemp"/><event name="e"/><runtimedata path="cabin.fna"/>',
    '  </route></routing>',
  );
  assert.deepEqual(errorsOf(lines), [
    'test.xml:5:13: route selects method "setTemp", which the service does not declare (did you mean "setTemperature"?); methods: setTemperature',
    'test.xml:5:36: route selects event "e", which the service does not declare; the service declares no events',
    'test.xml:5:59: route selects runtime data "cabin.fna", which does not exist: "cabin" has no child "fna" (did you mean "fan"?); its children are: fan',
  ]);
});

test('reports XML syntax errors at the element or character concerned, with a fix', () => {
  assert.deepEqual(errorsOf(['<service name="S">', '  <methods>', '</service>']), [
    'test.xml:3:1: </service> comes while <methods> (opened at 2:3) is still open; add </methods> before it',
  ]);
  assert.deepEqual(errorsOf(['<service name="S">', '  <methods></method>', '</service>']), [
    'test.xml:2:12: </method> matches no open element; the innermost open element is <methods> (opened at 2:3): fix the name or remove the end tag',
  ]);
  assert.deepEqual(errorsOf(['<service name="S">', '  <methods>']), [
    'test.xml:2:3: <methods> is never closed; add </methods> or write it as <methods … />',
  ]);
  assert.deepEqual(errorsOf(['<service name="S"/>', '', 'junk']), [
    'test.xml:3:1: text outside the <service> element; remove it, or move it into <description>',
  ]);
  assert.deepEqual(errorsOf(['<service name="S">', '  <methods><method name="m" returns></methods>', '</service>']), [
    'test.xml:2:29: attribute returns has no value; write returns="…" or remove it',
  ]);
  assert.deepEqual(errorsOf(['<service name="S" a="1"b="2"/>']), [
    'test.xml:1:24: not well-formed XML: no whitespace between attributes; correct the markup at this position',
  ]);
  assert.deepEqual(errorsOf(''), ['test.xml:1:1: the file holds no XML element; a definition starts with <service name="…">']);
  const file = 'test/fixtures/definitions/invalid/malformed-comment.xml';
  assert.deepEqual(errorsOf(readFileSync(file, 'utf8'), file), [
    `${file}:1:34: XML comments may not contain "--"; rewrite it (e.g. as "- -") or end the comment with -->`,
  ]);
});
