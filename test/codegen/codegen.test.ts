import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { generateModule, sourceLabel } from '../../src/codegen/codegen.js';
import { MAX_DATA_PATHS } from '../../src/codegen/data-paths.js';
import { definitionHash, formatHeader, parseHeader } from '../../src/codegen/header.js';
import { clientMethodNames, kebabCase, moduleNames } from '../../src/codegen/naming.js';
import type { CodegenTarget } from '../../src/codegen/type-mapping.js';
import { loadDefinitionFile } from '../../src/definition/load-definition.js';
import { parseDefinition } from '../../src/definition/parse-definition.js';
import { PeerwayError } from '../../src/errors.js';
import { example, fixture, ROOT } from '../helpers/harness.js';

/** The generator itself: names, stable output, and the committed generated modules kept current. */

/** What `peerway codegen XML --out DIR` writes for `target`, generated in-process. */
async function generated(xml: string, dir: string, target: CodegenTarget): Promise<string> {
  const definition = await loadDefinitionFile(xml);
  return generateModule(definition, { target, source: sourceLabel(path.relative(dir, xml)) }).text;
}

const COMMITTED: Array<[xml: string, dir: string, file: string, target: CodegenTarget]> = [
  [example('climate.xml'), example('generated'), 'climate.ts', 'node'],
  [fixture('codegen', 'all-types.xml'), fixture('codegen', 'generated'), 'all-types.ts', 'node'],
  [fixture('codegen', 'all-types.xml'), fixture('codegen', 'generated'), 'all-types.browser.ts', 'browser'],
  [fixture('kanzi', 'UserDirectory.xml'), fixture('codegen', 'generated'), 'user-directory.ts', 'node'],
  [fixture('kanzi', 'Settings.xml'), fixture('codegen', 'generated'), 'settings.ts', 'node'],
];

for (const [xml, dir, file, target] of COMMITTED) {
  const shown = path.relative(ROOT, path.join(dir, file));
  test(`the committed ${shown} is what codegen writes today, byte for byte`, async () => {
    const fresh = await generated(xml, dir, target);
    const regenerate = `peerway codegen ${path.relative(ROOT, xml)} --out ${path.relative(ROOT, dir)}${target === 'browser' ? ' --target browser' : ''}`;
    assert.equal(readFileSync(path.join(dir, file), 'utf8'), fresh, `${shown} is stale: run ${regenerate}`);
  });
}

test('generating twice gives the same bytes, and nothing in them depends on the machine or the time', async () => {
  const xml = fixture('codegen', 'all-types.xml');
  for (const target of ['node', 'browser'] as const) {
    const a = await generated(xml, '/one/place/out', target);
    const b = await generated(xml, '/one/place/out', target);
    assert.equal(a, b);
    assert.doesNotMatch(a, /\/one\/place|\d{4}-\d{2}-\d{2}|\b(?:19|20)\d{2}\b/, 'no absolute path, no date');
  }
  // Another checkout, the same layout: the header names the definition relative to the module.
  const definition = await loadDefinitionFile(xml);
  const here = generateModule(definition, { target: 'node', source: sourceLabel(path.relative('/a/repo/gen', '/a/repo/defs/all-types.xml')) });
  const there = generateModule(definition, { target: 'node', source: sourceLabel(path.relative('/elsewhere/r/gen', '/elsewhere/r/defs/all-types.xml')) });
  assert.equal(here.text, there.text);
  assert.match(here.text, /^\/\/ peerway-codegen source="\.\.\/defs\/all-types\.xml" sha256=[0-9a-f]{64} target=node$/m);
  assert.equal(sourceLabel('..\\defs\\all-types.xml'), '../defs/all-types.xml', 'Windows separators become /');
});

test("the order of types, methods and events in the XML does not change the code; the order of fields and arguments does", () => {
  const xml = (methods: string[], fields: string[]) =>
    `<service name="Order"><types><type name="B"><field name="y" type="int"/></type><type name="A">${fields.join('')}</type></types>` +
    `<methods>${methods.join('')}</methods><events><event name="z"/><event name="a"/></events></service>`;
  const m = ['<method name="beta" returns="A"/>', '<method name="alpha"><argument name="one" type="int"/><argument name="two" type="B"/></method>'];
  const f = ['<field name="p" type="int"/>', '<field name="q" type="string"/>'];
  const code = (text: string) => generateModule(parseDefinition(text, 'order.xml'), { target: 'node', source: 'order.xml' }).text.replace(/sha256=\w+/, '');
  assert.equal(code(xml(m, f)), code(xml([...m].reverse(), f)));
  assert.notEqual(code(xml(m, f)), code(xml(m, [...f].reverse())));
  const text = code(xml(m, f));
  assert.ok(text.indexOf('export interface A ') < text.indexOf('export interface B '), 'types sorted by name');
  assert.ok(text.indexOf('alpha(args') < text.indexOf('beta(options'), 'methods sorted by name');
  assert.match(text, /alpha\(args: \{ one: number; two: B \}, options\?: RequestOptions\): Promise<void>;/, 'arguments in their order');
});

test('module names are the service name in kebab-case', () => {
  const cases: Array<[string, string]> = [
    ['Climate', 'climate'],
    ['ForkedRuntimeData', 'forked-runtime-data'],
    ['HTTPGateway', 'http-gateway'],
    ['my_service', 'my-service'],
    ['Climate2Control', 'climate2-control'],
    ['_x', 'x'],
    ['_', 'service'],
  ];
  for (const [name, kebab] of cases) assert.equal(kebabCase(name), kebab, name);
});

test('a method whose name the typed client uses itself gets a trailing underscore, without clashing with another method', () => {
  const names = clientMethodNames(['stop', 'stop_', 'then', 'on', 'play']);
  assert.deepEqual(Object.fromEntries(names), { stop: 'stop__', stop_: 'stop_', then: 'then_', on: 'on_', play: 'play' });
});

test('a struct named like something the module declares or uses is refused, naming the type and where it is', () => {
  for (const clash of ['ClimateClient', 'Session', 'Promise', 'Uint8Array']) {
    const text = `<service name="Climate">\n<types>\n  <type name="${clash}"><field name="x" type="int"/></type>\n</types></service>`;
    assert.throws(
      () => generateModule(parseDefinition(text, 'clash.xml'), { target: 'node', source: 'clash.xml' }),
      (err: unknown) => err instanceof PeerwayError && err.code === 'DEFINITION_INVALID' && err.message.startsWith(`clash.xml:3:3: type name "${clash}" is `) && /rename the type/.test(err.message),
      clash,
    );
  }
});

test('runtime-data paths: objects, list elements as `${number}`, fields inside struct values, and the whole tree', async () => {
  const text = await generated(fixture('codegen', 'all-types.xml'), fixture('codegen', 'generated'), 'node');
  const paths = text.slice(text.indexOf('export interface AllTypesDataPaths {'), text.indexOf('export type AllTypesDataPath '));
  for (const line of [
    "  '': AllTypesRuntimeData;",
    "  'position': AllTypesRuntimeData['position'];",
    "  'big': number | bigint;",
    '  [path: `history.${number}`]: number;',
    "  'last.at.label': string;",
    '  [path: `last.trail.${number}.x`]: number;',
    '  [path: `last.bigs.${number}`]: number | bigint;',
    "  [path: `zones.${number}`]: AllTypesRuntimeData['zones'][number];",
    '  [path: `zones.${number}.sensors.${number}`]: number;',
    "  'deep.inner.value': number | bigint;",
  ]) {
    assert.ok(paths.includes(`${line}\n`), `missing: ${line}`);
  }
});

test('the header names the source and its hash, and a file is recognised by it; line endings do not change the hash', () => {
  const header = { source: '../defs/my "odd" name.xml', sha256: definitionHash('<service name="A"/>\n'), target: 'browser' as const };
  const text = `${formatHeader(header).join('\n')}\n\nimport type {} from 'x';\n`;
  assert.deepEqual(parseHeader(text), { ...header, line: 3 });
  assert.equal(parseHeader('// just a file\nexport {};\n'), undefined);
  assert.equal(definitionHash('<a>\r\n</a>\r\n'), definitionHash('<a>\n</a>\n'));
  assert.equal(definitionHash('\uFEFF<a/>'), definitionHash('<a/>'));
  assert.notEqual(definitionHash('<a/>'), definitionHash('<b/>'));
});

test('runtime data with more typed paths than a type should hold is refused at the element that runs over, with file:line:col and the fix', () => {
  // 150 struct-typed leaves of a 150-field struct: 150 × 151 paths, more than the limit.
  const fields = Array.from({ length: 150 }, (_, i) => `<field name="f${i}" type="int"/>`).join('');
  const leaves = Array.from({ length: 150 }, (_, i) => `  <v${i} type="Wide"/>`).join('\n');
  const text = `<service name="Wide">\n<types><type name="Wide">${fields}</type></types>\n<runtime-data>\n${leaves}\n</runtime-data>\n</service>\n`;
  const definition = parseDefinition(text, 'wide.xml');
  const over = Math.floor(MAX_DATA_PATHS / 151); // the leaf (0-based) during which the count passes the limit
  assert.throws(
    () => generateModule(definition, { target: 'node', source: 'wide.xml' }),
    (err: unknown) =>
      err instanceof PeerwayError &&
      err.code === 'DEFINITION_INVALID' &&
      err.message.startsWith(`wide.xml:${4 + over}:3: runtime data "v${over}" takes the runtime data of Wide above ${MAX_DATA_PATHS} typed paths`) &&
      /use fewer nested struct fields in <runtime-data>, e.g. a list \(repeated="true"\)/.test(err.message),
  );
});

test('a service whose names would be names the module imports gets them with a trailing underscore', () => {
  const names = moduleNames('Peerway');
  assert.equal(names.client, 'PeerwayClient_', "'peerway' exports PeerwayClient, which the module imports");
  assert.equal(names.open, 'openPeerway');
  assert.equal(moduleNames('Climate').client, 'ClimateClient');
  const text = generateModule(parseDefinition('<service name="Peerway"><methods><method name="x" returns="int"/></methods></service>', 'peerway.xml'), { target: 'node', source: 'peerway.xml' }).text;
  assert.match(text, /^export interface PeerwayClient_ \{$/m);
  assert.match(text, /^export async function openPeerway\(client: PeerwayClient, options\?: StartSessionOptions\): Promise<PeerwayClient_> \{$/m);
});
