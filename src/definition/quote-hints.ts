import { LineIndex } from './line-index.js';
import type { Diagnostic } from './model.js';

/**
 * Specific hints for the two quoting mistakes that documents copied from web pages and word processors
 * carry (the seed's own `ForkedRuntimeData` example has both): typographic quotes used as attribute
 * delimiters, and an attribute value whose opening quote is never closed. A generic XML error
 * ("unquoted attribute value", "disallowed character") points at the symptom; these name the cause.
 */

/** Quote-like characters that are not XML delimiters, with their Unicode names. */
export const TYPOGRAPHIC_QUOTES: ReadonlyMap<string, string> = new Map([
  ['\u201C', 'LEFT DOUBLE QUOTATION MARK'],
  ['\u201D', 'RIGHT DOUBLE QUOTATION MARK'],
  ['\u201E', 'DOUBLE LOW-9 QUOTATION MARK'],
  ['\u201F', 'DOUBLE HIGH-REVERSED-9 QUOTATION MARK'],
  ['\u2018', 'LEFT SINGLE QUOTATION MARK'],
  ['\u2019', 'RIGHT SINGLE QUOTATION MARK'],
  ['\u201A', 'SINGLE LOW-9 QUOTATION MARK'],
  ['\u201B', 'SINGLE HIGH-REVERSED-9 QUOTATION MARK'],
  ['\u2032', 'PRIME'],
  ['\u2033', 'DOUBLE PRIME'],
  ['\u2035', 'REVERSED PRIME'],
  ['\u2036', 'REVERSED DOUBLE PRIME'],
  ['\u00AB', 'LEFT-POINTING DOUBLE ANGLE QUOTATION MARK'],
  ['\u00BB', 'RIGHT-POINTING DOUBLE ANGLE QUOTATION MARK'],
  ['\u2039', 'SINGLE LEFT-POINTING ANGLE QUOTATION MARK'],
  ['\u203A', 'SINGLE RIGHT-POINTING ANGLE QUOTATION MARK'],
  ['\u300C', 'LEFT CORNER BRACKET'],
  ['\u300D', 'RIGHT CORNER BRACKET'],
  ['\uFF02', 'FULLWIDTH QUOTATION MARK'],
  ['\uFF07', 'FULLWIDTH APOSTROPHE'],
]);

const isTypographic = (c: string | undefined): boolean => c !== undefined && TYPOGRAPHIC_QUOTES.has(c);
const isSpace = (c: string | undefined): boolean => c === ' ' || c === '\t' || c === '\n' || c === '\r';
const isAsciiQuote = (c: string | undefined): boolean => c === '"' || c === "'";
/** Typographic quotes standing in for `'` rather than `"`; an apostrophe inside a `”…”` value is text. */
const SINGLE_QUOTES = new Set(['\u2018', '\u2019', '\u201A', '\u201B', '\u2032', '\u2035', '\u2039', '\u203A', '\uFF07']);

/** `” (U+201D RIGHT DOUBLE QUOTATION MARK)` */
export function describeQuote(c: string): string {
  const code = (c.codePointAt(0) ?? 0).toString(16).toUpperCase().padStart(4, '0');
  const name = TYPOGRAPHIC_QUOTES.get(c);
  return `${c} (U+${code}${name ? ` ${name}` : ''})`;
}

/** One quoting problem found in a start tag; offsets index the scanned text. */
export interface QuoteProblem {
  kind: 'typographic' | 'unclosed' | 'stray';
  /** Attribute name, when the problem belongs to one. */
  attribute?: string;
  /** Offset of the attribute name (or of the stray quote). */
  offset: number;
  /** Offsets of typographic quotes acting as delimiters (what `--fix` rewrites). */
  typographic: number[];
  /** Offset of the opening delimiter. */
  openOffset: number;
  /** Offset of the closing delimiter, when there is one. */
  closeOffset?: number;
  /** The attribute value as the author meant it, delimiters excluded. */
  value: string;
}

/**
 * Scans markup the way an XML reader would, but forgivingly, and lists quoting problems inside start
 * tags. Text content, comments, CDATA, processing instructions and end tags are skipped: typographic
 * quotes there are legitimate content.
 */
export function scanQuoteProblems(text: string): QuoteProblem[] {
  const problems: QuoteProblem[] = [];
  const n = text.length;
  let i = 0;
  while (i < n) {
    const lt = text.indexOf('<', i);
    if (lt < 0) break;
    const skipTo = (terminator: string, from: number): number => {
      const end = text.indexOf(terminator, from);
      return end < 0 ? n : end + terminator.length;
    };
    if (text.startsWith('<!--', lt)) i = skipTo('-->', lt + 4);
    else if (text.startsWith('<![CDATA[', lt)) i = skipTo(']]>', lt + 9);
    else if (text.startsWith('<?', lt)) i = skipTo('?>', lt + 2);
    else if (text.startsWith('<!', lt)) i = skipDeclaration(text, lt);
    else if (text.startsWith('</', lt)) i = skipTo('>', lt + 2);
    else i = scanStartTag(text, lt, problems);
  }
  return problems;
}

/** `<!DOCTYPE …>` may hold an internal subset in brackets with `>` inside. */
function skipDeclaration(text: string, start: number): number {
  let depth = 0;
  for (let p = start + 2; p < text.length; p++) {
    const c = text[p];
    if (c === '[') depth++;
    else if (c === ']') depth--;
    else if (c === '>' && depth <= 0) return p + 1;
  }
  return text.length;
}

/** Scans one start tag from its `<`; returns the offset where scanning resumes. */
function scanStartTag(text: string, lt: number, problems: QuoteProblem[]): number {
  const n = text.length;
  let p = lt + 1;
  while (p < n && !isSpace(text[p]) && !'<>/'.includes(text[p]) && !isTypographic(text[p]) && !isAsciiQuote(text[p])) p++;
  if (p === lt + 1) return lt + 1; // a lone '<' in text; the XML reader reports it
  while (p < n) {
    const c = text[p];
    if (isSpace(c) || c === '/') {
      p++;
      continue;
    }
    if (c === '>') return p + 1;
    if (c === '<') return p; // the tag was never closed; let the outer loop read the next one
    if (isTypographic(c) || isAsciiQuote(c)) {
      // A quote with no attribute name before it.
      if (isTypographic(c)) problems.push({ kind: 'stray', offset: p, typographic: [], openOffset: p, value: '' });
      p++;
      continue;
    }
    const nameStart = p;
    while (p < n && !isSpace(text[p]) && !'=<>/'.includes(text[p]) && !isTypographic(text[p]) && !isAsciiQuote(text[p])) p++;
    const attribute = text.slice(nameStart, p);
    let q = p;
    while (q < n && isSpace(text[q])) q++;
    if (text[q] !== '=') continue; // attribute without value: the XML reader reports it
    q++;
    while (q < n && isSpace(text[q])) q++;
    const open = text[q];
    if (isAsciiQuote(open)) p = scanAsciiValue(text, attribute, nameStart, q, problems);
    else if (isTypographic(open)) p = scanTypographicValue(text, attribute, nameStart, q, problems);
    else {
      p = q; // unquoted value: the XML reader's own message says so
      while (p < n && !isSpace(text[p]) && text[p] !== '>' && text[p] !== '<') p++;
    }
  }
  return n;
}

const isLineEnd = (c: string | undefined): boolean => c === '\n' || c === '\r';

function scanAsciiValue(text: string, attribute: string, nameStart: number, open: number, problems: QuoteProblem[]): number {
  const quote = text[open];
  const close = text.indexOf(quote, open + 1);
  // XML attribute values may span lines but may not contain '<': a value reaching one is unclosed.
  // (Looking for '<' only inside the value keeps a tag with many attributes linear.)
  if (close >= 0 && !text.slice(open + 1, close).includes('<')) return close + 1;
  // Recover the value the author meant: up to the first typographic quote, '>' or '<' on the line. A '<'
  // ends it too: a typographic quote after one belongs to another tag, and pairing the two made a fix that a
  // second pass changed again.
  let p = open + 1;
  while (p < text.length && !isLineEnd(text[p]) && text[p] !== '>' && text[p] !== '<' && !isTypographic(text[p])) p++;
  if (isTypographic(text[p])) {
    problems.push({
      kind: 'typographic',
      attribute,
      offset: nameStart,
      typographic: [p],
      openOffset: open,
      closeOffset: p,
      value: text.slice(open + 1, p),
    });
    return p + 1;
  }
  let valueEnd = p;
  if (text[p] === '>' && text[p - 1] === '/') valueEnd = p - 1;
  problems.push({ kind: 'unclosed', attribute, offset: nameStart, typographic: [], openOffset: open, value: text.slice(open + 1, valueEnd).trimEnd() });
  return valueEnd;
}

function scanTypographicValue(text: string, attribute: string, nameStart: number, open: number, problems: QuoteProblem[]): number {
  // Each scan stops at the end of the line without looking for it first: on a long line, finding the
  // line end for every value would make the scan quadratic.
  const asciiCloser = SINGLE_QUOTES.has(text[open]) ? "'" : '"';
  let p = open + 1;
  while (p < text.length && !isLineEnd(text[p]) && !isTypographic(text[p]) && text[p] !== asciiCloser && text[p] !== '<' && text[p] !== '>') p++;
  const closed = isTypographic(text[p]) || text[p] === asciiCloser;
  if (!closed) {
    // No closing quote on the line: the value most likely ends at the first blank or '/>'.
    p = open + 1;
    while (p < text.length && !isSpace(text[p]) && text[p] !== '>' && text[p] !== '<' && !(text[p] === '/' && text[p + 1] === '>')) p++;
  }
  const typographic = [open];
  if (closed && isTypographic(text[p])) typographic.push(p);
  problems.push({
    kind: 'typographic',
    attribute,
    offset: nameStart,
    typographic,
    openOffset: open,
    ...(closed ? { closeOffset: p } : {}),
    value: text.slice(open + 1, p),
  });
  return closed ? p + 1 : p;
}

/**
 * Diagnostics for every quoting problem in `text` (empty when there is none). Each names the character
 * and its exact position and says how to fix it; `file` is used in positions and in the suggested
 * `peerway check --fix` command.
 */
export function findQuoteHints(text: string, file: string): Diagnostic[] {
  const problems = scanQuoteProblems(text);
  if (problems.length === 0) return [];
  const lines = new LineIndex(text);
  const at = (offset: number): string => {
    const { line, column } = lines.locate(offset);
    return `${line}:${column}`;
  };
  const fix = `run 'peerway check --fix ${file}' to rewrite typographic quotes`;
  return problems.map((problem): Diagnostic => {
    const first = problem.typographic[0] ?? problem.offset;
    let offset = problem.offset;
    let message: string;
    if (problem.kind === 'stray') {
      message = `typographic quote ${describeQuote(text[first])} inside a tag; XML only accepts ASCII quotes around attribute values: remove it, or ${fix}`;
    } else if (problem.kind === 'typographic') {
      offset = first;
      const chars = [...new Set(problem.typographic.map((o) => describeQuote(text[o])))].join(' and ');
      const others = problem.typographic.slice(1).map((o) => ` (also at ${at(o)})`).join('');
      const quote = problem.value.includes('"') ? "'" : '"';
      message =
        `typographic quote ${chars} used as the delimiter of attribute ${problem.attribute}${others}; ` +
        `use ASCII " instead: ${problem.attribute}=${quote}${problem.value}${quote}, or ${fix}`;
    } else {
      const quote = text[problem.openOffset];
      message =
        `attribute ${problem.attribute} opened with ${quote} at ${at(problem.offset)} is not closed; ` +
        `add the closing ${quote}: ${problem.attribute}=${quote}${problem.value}${quote}`;
    }
    const { line, column } = lines.locate(offset);
    return { file, line, column, severity: 'error', message };
  });
}

/**
 * Rewrites typographic quotes that act as attribute delimiters inside start tags to ASCII `"` (or `'`
 * when the value itself contains `"`). Text content, comments and quotes inside properly quoted
 * values are left alone, and so are values that are never closed (typographic or ASCII): where such a
 * value ends is a guess, so their hints stay for the author to act on.
 */
export function fixTypographicQuotes(text: string): { text: string; replaced: number } {
  const replacements = new Map<number, string>();
  for (const problem of scanQuoteProblems(text)) {
    // Without a closing delimiter, where the value ends is a guess; the hint tells the author instead.
    if (problem.kind !== 'typographic' || problem.closeOffset === undefined) continue;
    // A delimiter that is already ASCII fixes the kind of the other one so the two keep matching.
    const open = text[problem.openOffset];
    const close = problem.closeOffset === undefined ? undefined : text[problem.closeOffset];
    const delimiter = isAsciiQuote(open) ? (open) : isAsciiQuote(close) ? (close as string) : problem.value.includes('"') ? "'" : '"';
    for (const offset of problem.typographic) replacements.set(offset, delimiter);
  }
  if (replacements.size === 0) return { text, replaced: 0 };
  let out = '';
  let last = 0;
  for (const offset of [...replacements.keys()].sort((a, b) => a - b)) {
    out += text.slice(last, offset) + replacements.get(offset);
    last = offset + 1;
  }
  return { text: out + text.slice(last), replaced: replacements.size };
}
