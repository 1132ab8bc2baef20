import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { DefinitionError } from '../../src/definition/definition-error.js';
import { checkDefinitionFile, loadDefinitionFile } from '../../src/definition/load-definition.js';
import { formatDiagnostic } from '../../src/definition/model.js';
import {
  DEFAULT_MAX_DEFINITION_BYTES,
  DEFAULT_MAX_DEFINITION_DEPTH,
  MAX_DEFINITION_DEPTH_CEILING,
  parseDefinition,
  type ParseOptions,
} from '../../src/definition/parse-definition.js';
import { PeerwayError } from '../../src/errors.js';
import { runPeerway } from '../helpers/harness.js';

/** The formatted diagnostics of a definition that must be rejected. */
function errorsOf(xml: string, options: ParseOptions = {}, file = 'test.xml'): string[] {
  try {
    parseDefinition(xml, file, options);
  } catch (err) {
    if (err instanceof DefinitionError) return err.diagnostics.map(formatDiagnostic);
    throw err;
  }
  throw new Error('expected the definition to be rejected');
}

/** The formatted diagnostics of a file that must be rejected. */
async function fileErrors(file: string, options: ParseOptions = {}): Promise<string[]> {
  try {
    await loadDefinitionFile(file, options);
  } catch (err) {
    if (err instanceof DefinitionError) return err.diagnostics.map(formatDiagnostic);
    throw err;
  }
  throw new Error('expected the file to be rejected');
}

/** `depth` nested `<a>` elements around `inner`, all on one line. */
const nested = (depth: number, inner = '') => `${'<a>'.repeat(depth)}${inner}${'</a>'.repeat(depth)}`;

/** A valid definition padded with a description to exactly `bytes` bytes of UTF-8. */
function definitionOfSize(bytes: number): string {
  const start = '<service name="Big"><description>';
  const end = '</description></service>';
  return start + 'x'.repeat(bytes - start.length - end.length) + end;
}

const TOO_DEEP = (line: number, column: number, depth = 257, max = 256) =>
  `test.xml:${line}:${column}: <a> is nested ${depth} levels deep; at most ${max} are allowed: flatten the structure`;

describe('definition limits', () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'peerway-limits-'));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('exports its defaults: 1 MiB and 256 element levels', () => {
    assert.equal(DEFAULT_MAX_DEFINITION_BYTES, 1024 * 1024);
    assert.equal(DEFAULT_MAX_DEFINITION_DEPTH, 256);
  });

  it('stops at the first element nested deeper than 256 levels in <runtime-data>, at its position, without overflowing the stack', () => {
    // <service> is level 1, <runtime-data> level 2, so the 255th <a> is level 257: column 254 × 3 + 1.
    const xml = ['<service name="S">', '<runtime-data>', nested(3000, '<x type="int"/>'), '</runtime-data>', '</service>'].join('\n');
    assert.deepEqual(errorsOf(xml), [TOO_DEEP(3, 763)]);
  });

  it('stops at the first element nested too deep in <types> and in <methods> too', () => {
    const types = ['<service name="S">', '  <types>', nested(3000), '  </types>', '</service>'].join('\n');
    assert.deepEqual(errorsOf(types), [TOO_DEEP(3, 763)]);
    const methods = ['<service name="S">', '<methods><method name="m">', nested(3000), '</method></methods>', '</service>'].join('\n');
    // <methods> is level 2 and <method> level 3: the 254th <a> is level 257.
    assert.deepEqual(errorsOf(methods), [TOO_DEEP(3, 760)]);
  });

  it('accepts runtime data nested exactly to the limit', () => {
    // service (1), runtime-data (2), 253 objects (3 … 255), the leaf (256).
    const xml = `<service name="S"><runtime-data>${nested(253, '<x type="int"/>')}</runtime-data></service>`;
    const definition = parseDefinition(xml, 'test.xml');
    let node = definition.runtimeData.children[0];
    let depth = 3;
    while (node?.kind === 'object') {
      node = node.children[0];
      depth++;
    }
    assert.equal(node?.path.split('.').length, 254);
    assert.equal(depth, 256);
    assert.deepEqual(errorsOf(`<service name="S"><runtime-data>${nested(254, '<x type="int"/>')}</runtime-data></service>`), [
      'test.xml:1:795: <x> is nested 257 levels deep; at most 256 are allowed: flatten the structure',
    ]);
  });

  it('takes a custom depth limit, up to a ceiling', () => {
    const xml = `<service name="S"><runtime-data>${nested(3, '<x type="int"/>')}</runtime-data></service>`;
    assert.equal(parseDefinition(xml, 'test.xml', { maxDepth: 6 }).name, 'S');
    assert.deepEqual(errorsOf(xml, { maxDepth: 5 }), ['test.xml:1:42: <x> is nested 6 levels deep; at most 5 are allowed: flatten the structure']);
    const deep = `<service name="S"><runtime-data>${nested(900, '<x type="int"/>')}</runtime-data></service>`;
    assert.equal(parseDefinition(deep, 'test.xml', { maxDepth: MAX_DEFINITION_DEPTH_CEILING }).name, 'S');
    for (const maxDepth of [0, 1.5, MAX_DEFINITION_DEPTH_CEILING + 1]) {
      assert.throws(() => parseDefinition(xml, 'test.xml', { maxDepth }), (err: unknown) => {
        assert.ok(err instanceof PeerwayError);
        assert.equal(err.code, 'CONFIG_INVALID');
        assert.equal(err.message, `the definition nesting limit (maxDepth) must be a whole number from 1 to ${MAX_DEFINITION_DEPTH_CEILING}, got ${maxDepth}`);
        return true;
      });
    }
  });

  it('refuses struct types nested deeper than the limit, and long cycles, without overflowing the stack', () => {
    const chain = (n: number, last: string) =>
      Array.from({ length: n }, (_, i) => `<type name="T${i}"><field name="f" type="${i === n - 1 ? last : `T${i + 1}`}"/></type>`).join('\n');
    assert.deepEqual(errorsOf(`<service name="S"><types>\n${chain(3000, 'int')}\n</types></service>`), [
      'test.xml:2:1: type T0 nests structs 3000 levels deep (T0.f → T1.f → T2.f → T3.f → T4.f → T5.f → T6.f → T7.f → …); at most 256 are allowed: flatten the types',
    ]);
    assert.deepEqual(errorsOf(`<service name="S"><types>\n${chain(3000, 'T0')}\n</types></service>`), [
      'test.xml:3001:20: type T0 contains itself (T0.f → T1.f → T2.f → T3.f → … 2995 more … → T2999.f → T0); a struct cannot contain itself, directly or through other types, not even in a list',
    ]);
    assert.equal(parseDefinition(`<service name="S"><types>\n${chain(256, 'int')}\n</types></service>`, 'test.xml').types.size, 256);
  });

  it('refuses runtime data whose struct zero values would hold more values than a definition of the size limit could', () => {
    const types = Array.from({ length: 41 }, (_, d) =>
      d === 0 ? '<type name="B0"><field name="x" type="int"/></type>' : `<type name="B${d}"><field name="l" type="B${d - 1}"/><field name="r" type="B${d - 1}"/></type>`,
    ).join('');
    const xml = `<service name="S"><types>${types}</types>\n<runtime-data><small type="B10"/><huge type="B40"/><list type="B40" repeated="true"/></runtime-data></service>`;
    assert.deepEqual(errorsOf(xml), [
      'test.xml:2:34: runtime data "huge" of type B40 starts with 3298534883327 values (its nested structs expanded), which brings the struct-typed runtime data above 131072 values; ' +
        'make it repeated="true" (a list starts empty) or use smaller types (the limit is an eighth of the definition size limit, --max-definition-bytes)',
    ]);
    const fine = parseDefinition(xml.replace('<huge type="B40"/>', ''), 'test.xml');
    assert.deepEqual(fine.runtimeData.children.map((c) => c.name), ['small', 'list']);
  });

  it('accepts a definition of exactly maxBytes and refuses one byte more before parsing it', () => {
    assert.equal(parseDefinition(definitionOfSize(DEFAULT_MAX_DEFINITION_BYTES), 'big.xml').name, 'Big');
    assert.deepEqual(errorsOf(definitionOfSize(DEFAULT_MAX_DEFINITION_BYTES + 1), {}, 'big.xml'), [
      'big.xml:1:1: the definition is 1048577 bytes (1 MiB), more than the limit of 1048576 bytes (1 MiB): split the service, or raise the limit with --max-definition-bytes N (option maxBytes)',
    ]);
    // Not even well-formed: the size is checked first.
    assert.match(errorsOf(`<${'x'.repeat(DEFAULT_MAX_DEFINITION_BYTES)}`, {}, 'big.xml')[0], /^big\.xml:1:1: the definition is 1048577 bytes/);
  });

  it('counts bytes of UTF-8, not characters', () => {
    const xml = `<service name="S"><description>${'é'.repeat(60)}</description></service>`; // é: 1 character, 2 bytes
    assert.equal(xml.length, 115);
    assert.equal(parseDefinition(xml, 'test.xml', { maxBytes: 175 }).name, 'S');
    assert.deepEqual(errorsOf(xml, { maxBytes: 174 }), [
      'test.xml:1:1: the definition is 175 bytes, more than the limit of 174 bytes: split the service, or raise the limit with --max-definition-bytes N (option maxBytes)',
    ]);
  });

  it('takes a custom size limit, and refuses a nonsensical one', () => {
    const xml = definitionOfSize(3000);
    assert.equal(parseDefinition(xml, 'test.xml', { maxBytes: 3000 }).name, 'Big');
    assert.deepEqual(errorsOf(xml, { maxBytes: 2048 }), [
      'test.xml:1:1: the definition is 3000 bytes (2.9 KiB), more than the limit of 2048 bytes (2 KiB): split the service, or raise the limit with --max-definition-bytes N (option maxBytes)',
    ]);
    assert.equal(parseDefinition(definitionOfSize(2 * DEFAULT_MAX_DEFINITION_BYTES), 'test.xml', { maxBytes: 2 * DEFAULT_MAX_DEFINITION_BYTES }).name, 'Big');
    assert.throws(() => parseDefinition(xml, 'test.xml', { maxBytes: 0 }), (err: unknown) => {
      assert.ok(err instanceof PeerwayError);
      assert.equal(err.code, 'CONFIG_INVALID');
      assert.equal(err.message, 'the definition size limit (maxBytes, --max-definition-bytes) must be a whole number of bytes above 0, got 0');
      return true;
    });
  });

  it('refuses a file above maxBytes from its size, naming the file', async () => {
    const file = join(dir, 'big.xml');
    await writeFile(file, definitionOfSize(10 * 1024 * 1024));
    assert.deepEqual(await fileErrors(file), [
      `${file}:1:1: the definition is 10485760 bytes (10 MiB), more than the limit of 1048576 bytes (1 MiB): split the service, or raise the limit with --max-definition-bytes N (option maxBytes)`,
    ]);
    assert.equal((await loadDefinitionFile(file, { maxBytes: 10 * 1024 * 1024 })).name, 'Big');
    const checked = await checkDefinitionFile(file, { maxBytes: 4096 });
    assert.equal(checked.definition, undefined);
    assert.match(checked.diagnostics[0].message, /^the definition is 10485760 bytes \(10 MiB\), more than the limit of 4096 bytes \(4 KiB\)/);
  });

  it('refuses a file that is not UTF-8 at the line and column of the first bad byte', async () => {
    const file = join(dir, 'latin1.xml');
    // "café" in Latin-1 (é = 0xE9) on line 2, after 26 characters.
    const head = Buffer.from('<service name="S">\n  <description>caf');
    await writeFile(file, Buffer.concat([head, Buffer.from([0xe9]), Buffer.from('</description>\n</service>\n')]));
    const expected = `${file}:2:19: the file is not UTF-8: byte 0xE9 (file offset 37) is not valid UTF-8 here (saved as Latin-1/Windows-1252?); save it as UTF-8`;
    assert.deepEqual(await fileErrors(file), [expected]);
    assert.deepEqual((await checkDefinitionFile(file)).diagnostics.map(formatDiagnostic), [expected]);
  });

  it('counts columns in characters before the bad byte, and says so for UTF-16 files', async () => {
    const file = join(dir, 'mixed.xml');
    // Valid UTF-8 "é" (2 bytes, 1 column) then a lone continuation byte.
    await writeFile(file, Buffer.concat([Buffer.from('<service name="S"><description>é'), Buffer.from([0x80]), Buffer.from('</description></service>')]));
    assert.deepEqual(await fileErrors(file), [
      `${file}:1:33: the file is not UTF-8: byte 0x80 (file offset 33) is not valid UTF-8 here (saved as Latin-1/Windows-1252?); save it as UTF-8`,
    ]);
    const utf16 = join(dir, 'utf16.xml');
    await writeFile(utf16, Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from('<service name="S"/>', 'utf16le')]));
    assert.deepEqual(await fileErrors(utf16), [
      `${utf16}:1:1: the file is not UTF-8: it starts with a UTF-16 byte-order mark (saved as UTF-16/"Unicode"?); save it as UTF-8`,
    ]);
  });

  it('accepts a UTF-8 file with a byte-order mark, with columns that do not count it', async () => {
    const file = join(dir, 'bom.xml');
    await writeFile(file, Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from('<service name="Bom"><description>café</description></service>')]));
    assert.equal((await loadDefinitionFile(file)).name, 'Bom');
    await writeFile(file, Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from('<service name="Bom" colour="red"/>')]));
    assert.deepEqual(await fileErrors(file), [
      `${file}:1:21: unknown attribute "colour" on <service>; allowed attributes: name, fullname, version, description, namespace, package, type`,
    ]);
  });

  it('refuses an XML declaration naming another encoding than UTF-8', async () => {
    const xml = '<?xml version="1.0" encoding="ISO-8859-1"?>\n<service name="S"/>';
    assert.deepEqual(errorsOf(xml), [
      'test.xml:1:21: the XML declaration names encoding "ISO-8859-1", but only UTF-8 is supported: save the file as UTF-8 and declare encoding="UTF-8" (or leave encoding out)',
    ]);
    assert.equal(parseDefinition('<?xml version="1.0" encoding="utf-8"?>\n<service name="S"/>', 'test.xml').name, 'S');
    assert.equal(parseDefinition('<?xml version="1.0"?>\n<service name="S"/>', 'test.xml').name, 'S');
    // A Latin-1 file that says so fails on its bytes first.
    const file = join(dir, 'declared-latin1.xml');
    await writeFile(file, Buffer.concat([Buffer.from(`${xml.slice(0, -2)}><description>caf`), Buffer.from([0xe9]), Buffer.from('</description></service>')]));
    assert.match((await fileErrors(file))[0], /^.*:2:35: the file is not UTF-8: byte 0xE9 \(file offset 78\)/);
  });

  it('lists at most 100 errors, then says where it stopped', () => {
    const xml = ['<service name="S">', ...Array.from({ length: 150 }, (_, i) => `<x${i}/>`), '</service>'].join('\n');
    const errors = errorsOf(xml);
    assert.equal(errors.length, 101);
    assert.equal(errors[0], 'test.xml:2:1: unknown element <x0> in <service>; allowed here: <description>, <types>, <methods>, <events>, <runtime-data>, <routing>');
    assert.equal(errors[100], 'test.xml:102:1: more than 100 errors; stopped here: fix the ones above and check again');
  });

  it('lists at most 100 warnings, then counts the rest', () => {
    const xml = ['<service name="S"><runtime-data>', ...Array.from({ length: 130 }, (_, i) => `<o${i}/>`), '</runtime-data></service>'].join('\n');
    const warnings = parseDefinition(xml, 'test.xml').warnings.map(formatDiagnostic);
    assert.equal(warnings.length, 101);
    assert.equal(warnings[100], 'test.xml:102:1: warning: 30 more warnings from here on are not listed (at most 100 are)');
  });

  it('peerway check reports a 3000-deep file at file:line:col with exit 2, not INTERNAL', async () => {
    const file = join(dir, 'deep.xml');
    await writeFile(file, ['<service name="Deep">', '<runtime-data>', nested(3000, '<x type="int"/>'), '</runtime-data>', '</service>', ''].join('\n'));
    const r = await runPeerway(['check', file]);
    assert.equal(r.code, 2, r.stdout + r.stderr);
    assert.equal(r.stdout, `${file}:3:763: <a> is nested 257 levels deep; at most 256 are allowed: flatten the structure\n`);
    assert.doesNotMatch(r.stdout + r.stderr, /INTERNAL|call stack/);
  });

  it('peerway runner and peerway server --service refuse a 3000-deep file at file:line:col with exit 2, not INTERNAL', async () => {
    const file = join(dir, 'deep-service.xml');
    await writeFile(file, ['<service name="Deep">', '<runtime-data>', nested(3000, '<x type="int"/>'), '</runtime-data>', '</service>', ''].join('\n'));
    await writeFile(join(dir, 'deep-service.mjs'), 'export default {};\n');
    // Refused while loading, before any connection: the runner's server address need not answer.
    for (const [role, args] of [['runner', ['runner', '--server', 'tcp://127.0.0.1:9', file]], ['server', ['server', '--listen', 'tcp://127.0.0.1:0', '--service', file]]] as const) {
      const r = await runPeerway([...args]);
      assert.equal(r.code, 2, `${role}: ${r.stdout}${r.stderr}`);
      assert.match(r.stderr, new RegExp(`^peerway ${role}: error \\[DEFINITION_INVALID\\]: ${file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:3:763: <a> is nested 257 levels deep; at most 256 are allowed`, 'm'));
      assert.doesNotMatch(r.stdout + r.stderr, /INTERNAL|call stack/);
    }
  });
});
