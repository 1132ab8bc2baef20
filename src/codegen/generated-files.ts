import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { PeerwayError } from '../errors.js';
import { definitionHash, parseHeader, type GeneratedHeader } from './header.js';

/**
 * Finding the modules codegen wrote in a directory and telling whether each is older than its definition,
 * for `peerway check --generated DIR`. A generated module names its definition relative to itself, so
 * this works wherever the repository is checked out.
 */

export interface GeneratedFileState {
  /** The generated module, as `dir` joined with its name. */
  file: string;
  /** The line of its header's marker. */
  line: number;
  header: GeneratedHeader;
  /** The definition file, as `dir` joined with the header's relative path. */
  source: string;
  /** `fresh`: same hash; `stale`: the definition changed since; `missing`: the definition cannot be read. */
  state: 'fresh' | 'stale' | 'missing';
  /** Why the definition could not be read, for `missing`. */
  problem?: string;
}

/**
 * Every module codegen wrote directly in `dir` (files without its header are not looked at), sorted by
 * name, with its state.
 * @throws PeerwayError `USAGE` when `dir` cannot be read.
 */
export async function inspectGeneratedFiles(dir: string): Promise<GeneratedFileState[]> {
  let names: string[];
  try {
    names = (await readdir(dir, { withFileTypes: true })).filter((e) => e.isFile() && /\.[mc]?ts$/.test(e.name)).map((e) => e.name);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? 'error';
    throw new PeerwayError('USAGE', `--generated ${dir}: cannot read the directory (${code}); give the directory peerway codegen --out wrote to`, { cause: err });
  }
  const out: GeneratedFileState[] = [];
  for (const name of names.sort()) {
    const file = path.join(dir, name);
    const header = parseHeader(await readFile(file, 'utf8'));
    if (!header) continue;
    const source = path.join(dir, ...header.source.split('/'));
    let text: string;
    try {
      text = await readFile(source, 'utf8');
    } catch (err) {
      out.push({ file, line: header.line, header, source, state: 'missing', problem: (err as NodeJS.ErrnoException).code ?? 'unreadable' });
      continue;
    }
    out.push({ file, line: header.line, header, source, state: definitionHash(text) === header.sha256 ? 'fresh' : 'stale' });
  }
  return out;
}
