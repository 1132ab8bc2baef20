import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { formatDiagnostic } from '../../src/definition/model.js';
import { parseDefinition } from '../../src/definition/parse-definition.js';
import { findQuoteHints, fixTypographicQuotes } from '../../src/definition/quote-hints.js';
import { errorsOf } from './helpers.js';

const seedFile = 'test/fixtures/definitions/seed-forked-runtime-data.xml';
const seed = readFileSync(seedFile, 'utf8');

const typographic = (pos: string, attr: string, also: string, fixed: string): string =>
  `${seedFile}:${pos}: typographic quote ” (U+201D RIGHT DOUBLE QUOTATION MARK) used as the delimiter of attribute ${attr} (also at ${also}); ` +
  `use ASCII " instead: ${fixed}, or run 'peerway check --fix ${seedFile}' to rewrite typographic quotes`;
const unclosed = (pos: string): string =>
  `${seedFile}:${pos}: attribute bearer opened with " at ${pos} is not closed; add the closing ": bearer="connect.bearer.tcp"`;

test('the seed example is kept verbatim in the fixture', () => {
  const source = readFileSync('/work/shared/seed/peer-to-peer.txt', 'utf8');
  assert.ok(source.includes(seed.trimEnd()), 'fixture must be a verbatim copy of the seed example');
});

test("the seed's ForkedRuntimeData example gets both quote hints at exact positions instead of a generic XML error", () => {
  const expected = [
    typographic('1:15', 'name', '1:33', 'name="ForkedRuntimeData"'),
    unclosed('3:45'),
    unclosed('6:45'),
    typographic('11:17', 'type', '11:21', 'type="int"'),
  ];
  assert.deepEqual(findQuoteHints(seed, seedFile).map(formatDiagnostic), expected);
  assert.deepEqual(errorsOf(seed, seedFile), expected);
});

test('after fixing typographic quotes only the unclosed-quote diagnostics remain', () => {
  const fixed = fixTypographicQuotes(seed);
  assert.equal(fixed.replaced, 4);
  assert.ok(fixed.text.includes('<service name="ForkedRuntimeData">'));
  assert.ok(fixed.text.includes('<value type="int"/>'));
  assert.deepEqual(errorsOf(fixed.text, seedFile), [unclosed('3:45'), unclosed('6:45')]);
});

test('the seed example with its quotes fixed parses like examples/forked-runtime-data.xml', () => {
  const repaired = fixTypographicQuotes(seed).text.replaceAll('bearer="connect.bearer.tcp>', 'bearer="connect.bearer.tcp">');
  const a = parseDefinition(repaired, 'x.xml');
  const b = parseDefinition(readFileSync('examples/forked-runtime-data.xml', 'utf8'), 'x.xml');
  assert.deepEqual({ ...a, source: '' }, { ...b, source: '' });
});

test('leaves typographic quotes in text, comments and properly quoted values alone', () => {
  const xml = [
    '<service name="S">',
    '  <!-- a “quoted” comment -->',
    '  <description>the “best” service’s text</description>',
    '  <runtime-data><label type="string" default="say “hi”"/></runtime-data>',
    '</service>',
  ].join('\n');
  assert.deepEqual(findQuoteHints(xml, 'q.xml'), []);
  assert.deepEqual(fixTypographicQuotes(xml), { text: xml, replaced: 0 });
  const def = parseDefinition(xml, 'q.xml');
  assert.equal((def.runtimeData.children[0] as { default: unknown }).default, 'say “hi”');
});

test('fixes mixed delimiters so the quotes still match', () => {
  const xml = `<service name="S”><runtime-data><a type=‘int’ default=”it's”/></runtime-data></service>`;
  assert.deepEqual(
    findQuoteHints(xml, 'm.xml').map((d) => `${d.line}:${d.column} ${d.message.split(';')[0]}`),
    [
      '1:17 typographic quote ” (U+201D RIGHT DOUBLE QUOTATION MARK) used as the delimiter of attribute name',
      '1:41 typographic quote ‘ (U+2018 LEFT SINGLE QUOTATION MARK) and ’ (U+2019 RIGHT SINGLE QUOTATION MARK) used as the delimiter of attribute type (also at 1:45)',
      '1:55 typographic quote ” (U+201D RIGHT DOUBLE QUOTATION MARK) used as the delimiter of attribute default (also at 1:60)',
    ],
  );
  const fixed = fixTypographicQuotes(xml);
  assert.equal(fixed.text, `<service name="S"><runtime-data><a type="int" default="it's"/></runtime-data></service>`);
  assert.equal(fixed.replaced, 5);
});

test('treats double primes and other quote look-alikes as typographic quotes', () => {
  const hints = findQuoteHints('<service name=″S″/>', 'p.xml');
  assert.equal(hints.length, 1);
  assert.match(hints[0]?.message ?? '', /″ \(U\+2033 DOUBLE PRIME\)/);
  assert.equal(fixTypographicQuotes('<service name=″S″/>').text, '<service name="S"/>');
});

test('does not flag attribute values that legitimately span lines', () => {
  const xml = '<service name="S"\n  fullname="A long\n  name"/>';
  assert.deepEqual(findQuoteHints(xml, 'l.xml'), []);
  assert.equal(parseDefinition(xml, 'l.xml').fullname, 'A long   name');
});

test('keeps an unrelated syntax error that comes before the quote problems', () => {
  const xml = ['<service name="S">', '  <methods></method>', '  <events><event name=“e”/></events>', '</service>'].join('\n');
  const errors = errorsOf(xml, 'u.xml');
  assert.equal(errors.length, 2);
  assert.match(errors[0] ?? '', /^u\.xml:2:12: <\/method> matches no open element/);
  assert.match(errors[1] ?? '', /^u\.xml:3:23: typographic quote “ \(U\+201C LEFT DOUBLE QUOTATION MARK\) and ” \(U\+201D/);
});

test('reports a stray typographic quote inside a tag', () => {
  const hints = findQuoteHints('<service ”name="S"/>', 's.xml');
  assert.deepEqual(hints.map(formatDiagnostic), [
    "s.xml:1:10: typographic quote ” (U+201D RIGHT DOUBLE QUOTATION MARK) inside a tag; XML only accepts ASCII quotes around attribute values: remove it, or run 'peerway check --fix s.xml' to rewrite typographic quotes",
  ]);
});

test('names the missing closing quote of a self-closing tag', () => {
  assert.deepEqual(errorsOf('<service name="S/>', 'c.xml'), [
    'c.xml:1:10: attribute name opened with " at 1:10 is not closed; add the closing ": name="S"',
  ]);
});

test('leaves a typographic opening quote without a closing one for the author to fix', () => {
  const xml = '<service name=”S>\n</service>';
  assert.deepEqual(errorsOf(xml, 'o.xml'), [
    "o.xml:1:15: typographic quote ” (U+201D RIGHT DOUBLE QUOTATION MARK) used as the delimiter of attribute name; use ASCII \" instead: name=\"S\", or run 'peerway check --fix o.xml' to rewrite typographic quotes",
  ]);
  assert.deepEqual(fixTypographicQuotes(xml), { text: xml, replaced: 0 });
});

test('an unclosed ASCII value ends at the next tag: a typographic quote there is paired in its own tag, and a second fix changes nothing', () => {
  // Found by the definition properties (seed -1104391158): the value ran on into the next tag and took its
  // typographic quote as its closer, so the first fix rewrote half a pair and a second fix the other half.
  const xml = '<service name="S">\n  <route bearer="co <value type=”int”/>\n</service>\n';
  const once = fixTypographicQuotes(xml);
  assert.equal(once.text, '<service name="S">\n  <route bearer="co <value type="int"/>\n</service>\n');
  assert.equal(once.replaced, 2);
  assert.deepEqual(fixTypographicQuotes(once.text), { text: once.text, replaced: 0 });
});
