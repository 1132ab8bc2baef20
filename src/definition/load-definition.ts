import { readFile } from 'node:fs/promises';
import { PeerwayError } from '../errors.js';
import { DefinitionError } from './definition-error.js';
import type { Diagnostic, ServiceDefinition } from './model.js';
import { parseDefinition, type ParseOptions } from './parse-definition.js';

/** `ENOENT: no such file or directory` from a Node fs error, without the path Node repeats. */
function readProblem(err: unknown): string {
  const e = err as NodeJS.ErrnoException;
  const detail = typeof e?.message === 'string' ? e.message.replace(/, \w+ '.*'$/, '') : String(err);
  return e?.code && !detail.startsWith(e.code) ? `${e.code}: ${detail}` : detail;
}

async function readDefinitionText(path: string): Promise<string> {
  try {
    return await readFile(path, 'utf8');
  } catch (err) {
    throw new PeerwayError('DEFINITION_INVALID', `${path}: cannot read file (${readProblem(err)})`, { cause: err, details: { path } });
  }
}

/**
 * Reads and parses a service definition file (UTF-8).
 * @throws DefinitionError for definition problems; PeerwayError `DEFINITION_INVALID` with
 *   `path: cannot read file (ENOENT: …)` when the file cannot be read.
 */
export async function loadDefinitionFile(path: string, options: ParseOptions = {}): Promise<ServiceDefinition> {
  return parseDefinition(await readDefinitionText(path), path, options);
}

/**
 * Checks a definition file for `peerway check`: never throws for definition problems. Returns the
 * errors (and no definition) when the file is invalid or unreadable, else the definition and its
 * warnings.
 */
export async function checkDefinitionFile(path: string, options: ParseOptions = {}): Promise<{ diagnostics: Diagnostic[]; definition?: ServiceDefinition }> {
  let text: string;
  try {
    text = await readDefinitionText(path);
  } catch (err) {
    const message = err instanceof PeerwayError ? err.message.slice(path.length + 2) : String(err);
    return { diagnostics: [{ file: path, line: 1, column: 1, severity: 'error', message }] };
  }
  try {
    const definition = parseDefinition(text, path, options);
    return { diagnostics: definition.warnings, definition };
  } catch (err) {
    if (err instanceof DefinitionError) return { diagnostics: err.diagnostics };
    throw err;
  }
}
