import { isAlias, isMap, isScalar, isSeq, type Document, type LineCounter } from 'yaml';
import { didYouMean } from '../definition/did-you-mean.js';
import type { Diagnostic, Position } from '../definition/model.js';
import type { Located } from './policy-model.js';

/** What a dangling alias resolves to: already reported, so readers of values stay silent about it. */
const DANGLING = Object.freeze({ dangling: true });

/** One key of a YAML mapping: its text, where it is, and its value (aliases resolved; null when empty). */
export interface Entry {
  key: string;
  pos: Position;
  value: unknown;
}

/**
 * Reads a parsed YAML document for the policy parser: positions as `file:line:col`, mappings as entries,
 * strings and string lists, and every problem collected (never thrown) so all are reported at once.
 */
export class YamlReader {
  readonly diagnostics: Diagnostic[] = [];

  constructor(
    readonly file: string,
    private readonly lines: LineCounter,
    private readonly doc: Document,
  ) {}

  /** The position of `offset` in the source. */
  at(offset: number): Position {
    const { line, col } = this.lines.linePos(offset);
    return { file: this.file, line: Math.max(1, line), column: Math.max(1, col) };
  }

  /** Where `node` starts; `fallback` for nodes without a range (an empty value). */
  pos(node: unknown, fallback: Position): Position {
    const range = (node as { range?: [number, number, number] | null } | null)?.range;
    return range ? this.at(range[0]) : fallback;
  }

  error(pos: Position, message: string): void {
    this.diagnostics.push({ file: pos.file, line: pos.line, column: pos.column, severity: 'error', message });
  }

  warning(pos: Position, message: string): void {
    this.diagnostics.push({ file: pos.file, line: pos.line, column: pos.column, severity: 'warning', message });
  }

  get failed(): boolean {
    return this.diagnostics.some((d) => d.severity === 'error');
  }

  /** `node` with an alias resolved to what its anchor names ({@link DANGLING} for a dangling alias, reported). */
  resolve(node: unknown, fallback: Position): unknown {
    if (!isAlias(node)) return node;
    const target = node.resolve(this.doc);
    if (target !== undefined) return target;
    this.error(this.pos(node, fallback), `*${node.source} names no anchor; define &${node.source} before it`);
    return DANGLING;
  }

  /** Whether `node` is empty (`key:` with nothing after it, or `~`/`null`). */
  isEmpty(node: unknown): boolean {
    return node === null || node === undefined || (isScalar(node) && node.value === null);
  }

  /** The entries of a mapping, or undefined (nothing reported) when `node` is not one. */
  entries(node: unknown, fallback: Position): Entry[] | undefined {
    if (!isMap(node)) return undefined;
    const out: Entry[] = [];
    for (const pair of node.items) {
      const keyPos = this.pos(pair.key, fallback);
      const key = this.scalarText(pair.key);
      if (key === undefined) {
        this.error(keyPos, 'a key must be a plain name, not a list or mapping');
        continue;
      }
      out.push({ key, pos: keyPos, value: this.resolve(pair.value, keyPos) });
    }
    return out;
  }

  /**
   * Reports keys not in `allowed`, with a suggestion; `hint` may give a better message for a known
   * mistake (return undefined to fall back to the generic one).
   */
  checkKeys(entries: Entry[], allowed: readonly string[], where: string, hint?: (key: string) => string | undefined): Entry[] {
    return entries.filter((e) => {
      if (allowed.includes(e.key)) return true;
      this.error(e.pos, hint?.(e.key) ?? `unknown key "${e.key}" ${where}${didYouMean(e.key, allowed)}; allowed here: ${allowed.join(', ')}`);
      return false;
    });
  }

  /**
   * A scalar's text: strings as they are, other plain scalars as written (`123456` stays "123456", so a
   * hash or name that happens to look like a number is not mangled); undefined for anything else.
   */
  scalarText(node: unknown): string | undefined {
    if (!isScalar(node) || node.value === null) return undefined;
    if (typeof node.value === 'string') return node.value;
    if (typeof node.source === 'string') return node.source;
    return typeof node.value === 'number' || typeof node.value === 'boolean' ? String(node.value) : undefined;
  }

  /** A single string, or reports `what` is needed. */
  text(node: unknown, pos: Position, what: string): Located<string> | undefined {
    if (node === DANGLING) return undefined;
    const value = this.scalarText(node);
    if (value === undefined) {
      this.error(this.pos(node, pos), `${what} must be a single value here`);
      return undefined;
    }
    return { value, pos: this.pos(node, pos) };
  }

  /**
   * One string or a list of them (`who: hmi`, `who: [hmi, diagnostics]`); reports an empty value or list,
   * and entries that are not strings. `what` names the key for messages.
   */
  texts(node: unknown, pos: Position, what: string, example: string): Located<string>[] | undefined {
    if (node === DANGLING) return undefined;
    if (this.isEmpty(node)) {
      this.error(pos, `${what} is empty; write ${example}`);
      return undefined;
    }
    if (!isSeq(node)) {
      const one = this.scalarText(node);
      if (one === undefined) {
        this.error(this.pos(node, pos), `${what} must be a name or a list of names, e.g. ${example}`);
        return undefined;
      }
      return [{ value: one, pos: this.pos(node, pos) }];
    }
    if (node.items.length === 0) {
      this.error(this.pos(node, pos), `${what} is an empty list; write ${example}`);
      return undefined;
    }
    const out: Located<string>[] = [];
    for (const raw of node.items) {
      const item = this.resolve(raw, pos);
      const value = this.scalarText(item);
      if (item === DANGLING) continue;
      if (value === undefined) this.error(this.pos(item, pos), `each entry of ${what} must be a name, not a list or mapping`);
      else out.push({ value, pos: this.pos(item, pos) });
    }
    return out.length === node.items.length ? out : undefined;
  }
}
