import { open } from 'node:fs/promises';
import { PeerwayError } from '../errors.js';
import { DefinitionError } from './definition-error.js';
import { LineIndex } from './line-index.js';
import type { Diagnostic, ServiceDefinition } from './model.js';
import { definitionLimits, definitionTooLarge, parseDefinition, type ParseOptions } from './parse-definition.js';

/** `ENOENT: no such file or directory` from a Node fs error, without the path Node repeats. */
function readProblem(err: unknown): string {
  const e = err as NodeJS.ErrnoException;
  const detail = typeof e?.message === 'string' ? e.message.replace(/, \w+ '.*'$/, '') : String(err);
  return e?.code && !detail.startsWith(e.code) ? `${e.code}: ${detail}` : detail;
}

/**
 * The file's bytes, at most `maxBytes` of them: a larger regular file is refused from its size without
 * being read, anything else (a pipe, a device) as soon as it has given more.
 */
async function readDefinitionBytes(path: string, maxBytes: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let total = 0;
  try {
    const handle = await open(path, 'r');
    try {
      const stat = await handle.stat();
      if (stat.isFile() && stat.size > maxBytes) throw definitionTooLarge(path, stat.size, maxBytes);
      for (;;) {
        const chunk = Buffer.allocUnsafe(Math.min(maxBytes + 1 - total, 64 * 1024));
        const { bytesRead } = await handle.read(chunk, 0, chunk.length, null);
        if (bytesRead === 0) break;
        chunks.push(chunk.subarray(0, bytesRead));
        total += bytesRead;
        if (total > maxBytes) throw definitionTooLarge(path, stat.isFile() ? total : undefined, maxBytes);
      }
    } finally {
      await handle.close();
    }
  } catch (err) {
    if (err instanceof DefinitionError) throw err;
    throw new PeerwayError('DEFINITION_INVALID', `${path}: cannot read file (${readProblem(err)})`, { cause: err, details: { path } });
  }
  return Buffer.concat(chunks, total);
}

/**
 * Offset of the first byte that does not belong to a well-formed UTF-8 sequence (the lead byte of a
 * broken or truncated sequence), or -1. Follows the Unicode table of well-formed sequences, as the
 * fatal TextDecoder does: no overlong forms, no surrogates, nothing above U+10FFFF.
 */
function firstInvalidUtf8(bytes: Uint8Array): number {
  const n = bytes.length;
  let i = 0;
  while (i < n) {
    const lead = bytes[i];
    if (lead < 0x80) {
      i++;
      continue;
    }
    let more: number;
    let low = 0x80;
    let high = 0xbf;
    if (lead >= 0xc2 && lead <= 0xdf) more = 1;
    else if (lead >= 0xe0 && lead <= 0xef) {
      more = 2;
      if (lead === 0xe0) low = 0xa0;
      else if (lead === 0xed) high = 0x9f;
    } else if (lead >= 0xf0 && lead <= 0xf4) {
      more = 3;
      if (lead === 0xf0) low = 0x90;
      else if (lead === 0xf4) high = 0x8f;
    } else return i;
    if (i + more >= n || bytes[i + 1] < low || bytes[i + 1] > high) return i;
    for (let k = 2; k <= more; k++) if (bytes[i + k] < 0x80 || bytes[i + k] > 0xbf) return i;
    i += more + 1;
  }
  return -1;
}

/**
 * Decodes a definition file strictly as UTF-8 (a leading byte-order mark is dropped). A Latin-1 or
 * Windows-1252 file would otherwise be read with U+FFFD in place of its accented letters.
 * @throws DefinitionError at the line and column of the first byte that is not UTF-8.
 */
function decodeUtf8(bytes: Buffer, path: string): string {
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    // Only the failure path pays for locating the byte.
  }
  const utf16 = bytes.length >= 2 && ((bytes[0] === 0xff && bytes[1] === 0xfe) || (bytes[0] === 0xfe && bytes[1] === 0xff));
  const bad = utf16 ? 0 : Math.max(0, firstInvalidUtf8(bytes));
  const before = new TextDecoder('utf-8').decode(bytes.subarray(0, bad));
  const { line, column } = new LineIndex(before).locate(before.length);
  const byte = `0x${bytes[bad].toString(16).toUpperCase().padStart(2, '0')}`;
  const message = utf16
    ? 'the file is not UTF-8: it starts with a UTF-16 byte-order mark (saved as UTF-16/"Unicode"?); save it as UTF-8'
    : `the file is not UTF-8: byte ${byte} (file offset ${bad}) is not valid UTF-8 here (saved as Latin-1/Windows-1252?); save it as UTF-8`;
  throw new DefinitionError([{ file: path, line, column, severity: 'error', message }]);
}

/**
 * Reads and parses a service definition file, which must be UTF-8 and at most `options.maxBytes` long.
 * @throws DefinitionError for definition problems (including a file too large or not UTF-8);
 *   PeerwayError `DEFINITION_INVALID` with `path: cannot read file (ENOENT: …)` when the file cannot be read.
 */
export async function loadDefinitionFile(path: string, options: ParseOptions = {}): Promise<ServiceDefinition> {
  const bytes = await readDefinitionBytes(path, definitionLimits(options).maxBytes);
  return parseDefinition(decodeUtf8(bytes, path), path, options);
}

/**
 * Checks a definition file for `peerway check`: never throws for definition problems. Returns the
 * errors (and no definition) when the file is invalid or unreadable, else the definition and its
 * warnings.
 */
export async function checkDefinitionFile(path: string, options: ParseOptions = {}): Promise<{ diagnostics: Diagnostic[]; definition?: ServiceDefinition }> {
  try {
    const definition = await loadDefinitionFile(path, options);
    return { diagnostics: definition.warnings, definition };
  } catch (err) {
    if (err instanceof DefinitionError) return { diagnostics: err.diagnostics };
    if (err instanceof PeerwayError && err.code === 'DEFINITION_INVALID') {
      return { diagnostics: [{ file: path, line: 1, column: 1, severity: 'error', message: err.message.slice(path.length + 2) }] };
    }
    throw err;
  }
}
