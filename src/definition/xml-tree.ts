import { SaxesParser } from 'saxes';
import { LineIndex } from './line-index.js';
import type { Position } from './model.js';

/** One attribute with the position of its name. */
export interface XmlAttribute {
  name: string;
  value: string;
  pos: Position;
}

/**
 * A lightweight element tree with positions: the definition builder walks this instead of raw SAX
 * events so that sections may appear in any order and cross references can be checked afterwards.
 */
export interface XmlElement {
  name: string;
  /** Position of the element's `<`. */
  pos: Position;
  /** Source offset of the element's `<`. */
  offset: number;
  /** In document order. Read-only (elements without attributes share one empty map). */
  attributes: Map<string, XmlAttribute>;
  children: XmlElement[];
  /** Direct non-whitespace text, trimmed and joined; '' when there is none. */
  text: string;
  /** Position of the first non-whitespace direct text, when there is any. */
  textPos?: Position;
}

/**
 * Element levels {@link readXmlTree} accepts unless told otherwise (the root element is level 1). Deep
 * enough for any real document, shallow enough that code walking the tree recursively cannot overflow the
 * stack.
 */
export const DEFAULT_MAX_XML_DEPTH = 256;

/**
 * Why reading stopped: the first well-formedness error saxes reported (`syntax`), or an element nested
 * deeper than `maxDepth` (`depth`); with its source offset.
 */
export interface XmlSyntaxError {
  message: string;
  offset: number;
  pos: Position;
  kind: 'syntax' | 'depth';
}

export interface XmlReadOptions {
  /** Deepest element level accepted (root = 1); default {@link DEFAULT_MAX_XML_DEPTH}. */
  maxDepth?: number;
}

export interface XmlReadResult {
  root?: XmlElement;
  syntaxError?: XmlSyntaxError;
  /** The `encoding` of the XML declaration, when there is one, with the position of the word `encoding`. */
  declaredEncoding?: { name: string; pos: Position };
  lines: LineIndex;
}

/**
 * The attributes of every element that has none: most elements of a large file, and an empty Map per
 * element would be most of the tree's memory. Trees are read-only; this one refuses changes outright.
 */
class NoAttributes extends Map<string, XmlAttribute> {
  override set(): this {
    throw new TypeError('XmlElement.attributes is read-only');
  }
  override delete(): boolean {
    throw new TypeError('XmlElement.attributes is read-only');
  }
  override clear(): void {
    throw new TypeError('XmlElement.attributes is read-only');
  }
}
const NO_ATTRIBUTES: Map<string, XmlAttribute> = new NoAttributes();

/** Thrown from inside a saxes handler to stop reading: nothing after the first error is trusted or needed. */
class StopReading extends Error {}

/**
 * Parses `text` with saxes into an {@link XmlElement} tree, without recursion (so any nesting is safe to
 * read). Stops at the first syntax error (saxes would keep going, but its later events are unreliable
 * and its later errors are mostly echoes) and at the first element deeper than `options.maxDepth`.
 * Linear in the length of `text`.
 */
export function readXmlTree(text: string, file: string, options: XmlReadOptions = {}): XmlReadResult {
  const maxDepth = options.maxDepth ?? DEFAULT_MAX_XML_DEPTH;
  const lines = new LineIndex(text);
  const at = (offset: number): Position => {
    const { line, column } = lines.locate(offset);
    return { file, line, column };
  };
  const parser = new SaxesParser({ position: true });
  const stack: XmlElement[] = [];
  let root: XmlElement | undefined;
  let syntaxError: XmlSyntaxError | undefined;
  let declaredEncoding: XmlReadResult['declaredEncoding'];
  // Offset just after the last markup seen, where any following text starts.
  let markupEnd = 0;
  let tagStart = 0;

  // The element most recently closed: saxes closes (and reports) open elements one by one while it
  // looks for the element a mismatched end tag names.
  let lastClosed: XmlElement | undefined;

  parser.on('error', (err) => {
    if (syntaxError) throw new StopReading();
    const raw = err.message.replace(/^\d+:\d+: /, '').replace(/\.$/, '');
    // saxes has consumed the offending character when it fails, so it sits just before `position`.
    let offset = Math.min(Math.max(0, parser.position - 1), Math.max(0, text.length - 1));
    let message = `not well-formed XML: ${raw}; correct the markup at this position`;
    const open = stack[stack.length - 1];
    if (raw.startsWith('unclosed tag: ') && open) {
      // At end of input saxes reports the innermost open element first, which is our stack top.
      syntaxError = {
        message: `<${open.name}> is never closed; add </${open.name}> or write it as <${open.name} … />`,
        offset: open.offset,
        pos: open.pos,
        kind: 'syntax',
      };
      throw new StopReading();
    }
    if (raw === 'unexpected close tag' && lastClosed) {
      offset = text.lastIndexOf('</', parser.position - 1);
      const name = /^<\/([^\s>]*)/.exec(text.slice(offset))?.[1] ?? '';
      const where = `${lastClosed.pos.line}:${lastClosed.pos.column}`;
      message = stack.some((e) => e.name === name)
        ? `</${name}> comes while <${lastClosed.name}> (opened at ${where}) is still open; add </${lastClosed.name}> before it`
        : `</${name}> matches no open element; the innermost open element is <${lastClosed.name}> (opened at ${where}): fix the name or remove the end tag`;
    } else if (raw === 'attribute without value') {
      // saxes stops at the character after the name (and any blanks); point at the name itself.
      let end = offset;
      while (end > 0 && /\s/.test(text[end - 1])) end--;
      let start = end;
      while (start > 0 && !/[\s<"']/.test(text[start - 1])) start--;
      const name = text.slice(start, end);
      offset = start;
      message = `attribute ${name} has no value; write ${name}="…" or remove it`;
    } else if (raw === 'unquoted attribute value') {
      message = 'attribute value is not quoted; write it in ASCII quotes, e.g. name="value"';
    } else if (raw === 'text data outside of root node') {
      offset = markupEnd;
      while (offset < text.length - 1 && /\s/.test(text[offset])) offset++;
      message = `text outside the <service> element; remove it, or move it into <description>`;
    } else if (raw === 'malformed comment') {
      offset = Math.max(0, text.lastIndexOf('--', offset - 1));
      message = 'XML comments may not contain "--"; rewrite it (e.g. as "- -") or end the comment with -->';
    } else if (raw === 'document must contain a root element') {
      message = 'the file holds no XML element; a definition starts with <service name="…">';
    }
    syntaxError = { message, offset, pos: at(offset), kind: 'syntax' };
    throw new StopReading();
  });
  parser.on('opentagstart', (tag) => {
    // saxes fires this after reading `<name` and one terminating character (two for \r\n), so the
    // element starts at the last `<name` that leaves room for them. (Not simply the last one before the
    // current position: in `<a><a>` that is the next element.)
    tagStart = text.lastIndexOf(`<${tag.name}`, parser.position - tag.name.length - 2);
    if (stack.length >= maxDepth) {
      // Checked before the element's attributes are read: reading stops here.
      const name = tag.name.length > 40 ? `${tag.name.slice(0, 40)}…` : tag.name;
      syntaxError = {
        message: `<${name}> is nested ${stack.length + 1} levels deep; at most ${maxDepth} are allowed: flatten the structure`,
        offset: tagStart,
        pos: at(tagStart),
        kind: 'depth',
      };
      throw new StopReading();
    }
  });
  parser.on('opentag', (tag) => {
    markupEnd = parser.position;
    if (syntaxError) return;
    let attributes = NO_ATTRIBUTES;
    // Without the xmlns option, saxes gives attribute values as plain strings.
    const values = tag.attributes as Record<string, string>;
    let offsets: Map<string, number> | undefined;
    for (const name in values) {
      if (!offsets) {
        offsets = attributeOffsets(text, tagStart, markupEnd);
        attributes = new Map();
      }
      attributes.set(name, { name, value: values[name], pos: at(offsets.get(name) ?? tagStart) });
    }
    const element: XmlElement = { name: tag.name, pos: at(tagStart), offset: tagStart, attributes, children: [], text: '' };
    const parent = stack[stack.length - 1];
    if (parent) parent.children.push(element);
    else root ??= element;
    stack.push(element);
  });
  parser.on('closetag', () => {
    markupEnd = parser.position;
    if (!syntaxError) lastClosed = stack.pop();
  });
  const addText = (content: string): void => {
    const parent = stack[stack.length - 1];
    const trimmed = content.trim();
    if (syntaxError || !parent || trimmed === '') return;
    if (parent.textPos === undefined) {
      let offset = markupEnd;
      while (offset < text.length && /\s/.test(text[offset])) offset++;
      parent.textPos = at(offset);
    }
    parent.text = parent.text === '' ? trimmed : `${parent.text} ${trimmed}`;
  };
  parser.on('text', (content) => {
    addText(content);
    markupEnd = parser.position;
  });
  parser.on('cdata', (content) => {
    addText(content);
    markupEnd = parser.position;
  });
  parser.on('xmldecl', (decl) => {
    if (decl.encoding !== undefined) {
      const word = text.indexOf('encoding', markupEnd);
      declaredEncoding = { name: decl.encoding, pos: at(word < 0 || word > parser.position ? markupEnd : word) };
    }
    markupEnd = parser.position;
  });
  for (const event of ['comment', 'processinginstruction', 'doctype'] as const) {
    parser.on(event, () => {
      markupEnd = parser.position;
    });
  }

  try {
    parser.write(text).close();
  } catch (err) {
    // StopReading is ours; anything else is a guard so nothing but a diagnostic escapes.
    if (!syntaxError) {
      const offset = Math.max(0, text.length - 1);
      syntaxError = { message: err instanceof Error ? err.message : String(err), offset, pos: at(offset), kind: 'syntax' };
    }
  }
  const result: XmlReadResult = { lines };
  if (declaredEncoding) result.declaredEncoding = declaredEncoding;
  if (syntaxError) result.syntaxError = syntaxError;
  else if (root) result.root = root;
  return result;
}

const isSpace = (c: string | undefined): boolean => c === ' ' || c === '\t' || c === '\n' || c === '\r';

/**
 * Offsets of the attribute names inside one start tag `text[start, end)`. saxes has already checked the
 * tag, so a plain scan is enough; saxes does not report attribute positions itself.
 */
function attributeOffsets(text: string, start: number, end: number): Map<string, number> {
  const offsets = new Map<string, number>();
  let p = start + 1;
  while (p < end && !isSpace(text[p]) && text[p] !== '>' && text[p] !== '/') p++; // element name
  while (p < end) {
    const c = text[p];
    if (isSpace(c) || c === '/' || c === '>') {
      p++;
      continue;
    }
    const nameStart = p;
    while (p < end && !isSpace(text[p]) && text[p] !== '=') p++;
    const name = text.slice(nameStart, p);
    while (p < end && text[p] !== '"' && text[p] !== "'") p++;
    const quote = text[p];
    const close = quote === undefined ? -1 : text.indexOf(quote, p + 1);
    if (!offsets.has(name)) offsets.set(name, nameStart);
    if (close < 0) break;
    p = close + 1;
  }
  return offsets;
}
