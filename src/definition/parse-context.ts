import { closestMatch } from './did-you-mean.js';
import { SCALAR_TYPES, type Diagnostic, type Position, type StructType, type TypeRef } from './model.js';
import type { XmlAttribute, XmlElement } from './xml-tree.js';

/** `[A-Za-z_][A-Za-z0-9_]*`: names that map onto code identifiers (codegen, JS property access). */
export const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** Kanzi Connect's list spelling in a type attribute: `repeated string`. */
const REPEATED_PREFIX = /^repeated\s+(\S.*)$/;

/**
 * Errors (and, separately, warnings) one parse lists at most. A file with more is almost always not a
 * definition at all, or one systematic mistake; listing hundreds of thousands of lines (a 1 MiB file
 * of unknown elements) would only cost time and memory.
 */
export const MAX_LISTED_DIAGNOSTICS = 100;

/** Names longer than this get no "did you mean" (no identifier in a definition is that long by mistake). */
const MAX_SUGGESTED_NAME = 64;
/** Edit-distance cells all suggestions of one parse may cost: a hostile file can ask for many. */
const SUGGESTION_BUDGET = 2_000_000;
/** Names listed in one message before the rest are only counted. */
const MAX_LISTED_NAMES = 20;

/** `a, b, c` — or the first {@link MAX_LISTED_NAMES} and how many more. */
export function listNames(names: readonly string[]): string {
  if (names.length <= MAX_LISTED_NAMES) return names.join(', ');
  return `${names.slice(0, MAX_LISTED_NAMES).join(', ')} … (${names.length - MAX_LISTED_NAMES} more)`;
}

/** A name as shown in a message: shortened when it is absurdly long (a file may hold a megabyte-long one). */
export function shownName(name: string): string {
  return name.length > MAX_SUGGESTED_NAME ? `${name.slice(0, MAX_SUGGESTED_NAME)}…` : name;
}

/**
 * Thrown by {@link ParseContext.error} when one error more than {@link MAX_LISTED_DIAGNOSTICS} is
 * reported: the parse stops there, and the caller lists the errors so far and this one's position.
 */
export class TooManyErrors extends Error {
  constructor(readonly pos: Position) {
    super('too many errors');
  }
}

/**
 * Shared state of one definition parse: collects errors and warnings (rather than stopping at the
 * first, so a user fixes everything in one round) and offers the attribute/element checks every
 * section needs, with uniform messages.
 */
export class ParseContext {
  readonly errors: Diagnostic[] = [];
  readonly warnings: Diagnostic[] = [];
  /** Warnings found beyond the {@link MAX_LISTED_DIAGNOSTICS} listed, and where the first of them is. */
  unlistedWarnings = 0;
  firstUnlistedWarning: Position | undefined;
  /** Declared structs, filled by the types section before anything refers to them. */
  readonly types = new Map<string, StructType>();
  /**
   * How many values the zero value of each struct holds once nested structs are expanded (itself
   * included; a list counts as one value). Filled by the types section when it has no errors.
   */
  readonly structValueCounts = new Map<string, number>();
  private suggestionBudget = SUGGESTION_BUDGET;
  /** Attributes already reported by {@link notHonoured}: the warning's index and how many uses followed. */
  private readonly notHonouredSeen = new Map<string, { index: number; more: number }>();

  constructor(
    readonly file: string,
    /** Bearer ids routes may name; undefined accepts any (a server or client reading another side's definition). */
    readonly bearers?: readonly string[],
  ) {}

  /** Records an error. @throws TooManyErrors when {@link MAX_LISTED_DIAGNOSTICS} are already recorded. */
  error(pos: Position, message: string): void {
    if (this.errors.length >= MAX_LISTED_DIAGNOSTICS) throw new TooManyErrors(pos);
    this.errors.push({ file: pos.file, line: pos.line, column: pos.column, severity: 'error', message });
  }

  /**
   * Warns that an attribute Peerway reads but does not act on (Kanzi Connect's `controller`, a service
   * `type`, …) is ignored: once per attribute name per file, at its first use, with the count of the others
   * added by {@link finishWarnings}. `why` says what Peerway does instead.
   */
  notHonoured(attr: XmlAttribute, element: string, why: string): void {
    const seen = this.notHonouredSeen.get(attr.name);
    if (seen) {
      seen.more++;
      return;
    }
    const index = this.warnings.length;
    this.warning(attr.pos, `${attr.name}="${shownName(attr.value)}" on <${shownName(element)}> is kept but not honoured: ${why}`);
    // A warning past the listing limit was only counted: nothing to add to later.
    this.notHonouredSeen.set(attr.name, { index: this.warnings.length > index ? index : -1, more: 0 });
  }

  /** Completes the warnings of {@link notHonoured} with how often each attribute occurs further on. */
  finishWarnings(): void {
    for (const { index, more } of this.notHonouredSeen.values()) {
      const w = this.warnings[index];
      if (index >= 0 && w && more > 0) w.message += ` (the same for ${more} more use${more === 1 ? '' : 's'} in this file)`;
    }
  }

  /** Records a warning; beyond {@link MAX_LISTED_DIAGNOSTICS} they are only counted. */
  warning(pos: Position, message: string): void {
    if (this.warnings.length >= MAX_LISTED_DIAGNOSTICS) {
      this.unlistedWarnings++;
      this.firstUnlistedWarning ??= pos;
      return;
    }
    this.warnings.push({ file: pos.file, line: pos.line, column: pos.column, severity: 'warning', message });
  }

  /**
   * ` (did you mean "x"?)` or ''. Like `didYouMean`, but bounded: only candidates whose length is
   * close enough to be within the typo distance are compared, and once the parse has spent its budget
   * no more suggestions are made.
   */
  suggest(name: string, candidates: readonly string[]): string {
    if (name.length > MAX_SUGGESTED_NAME) return '';
    const limit = Math.max(1, Math.floor(name.length / 3));
    const near = candidates.filter((c) => Math.abs(c.length - name.length) <= limit);
    const cost = near.length * (name.length + 1) * (name.length + limit + 1);
    if (cost > this.suggestionBudget) return '';
    this.suggestionBudget -= cost;
    let match = closestMatch(name, near);
    const lower = name.toLowerCase();
    if (match === undefined && lower.length >= 3) {
      // closestMatch's other rule: one name is the start or end of the other ("tcp" for "connect.bearer.tcp").
      match = candidates.find((c) => {
        const l = c.toLowerCase();
        return l !== lower && (l.startsWith(lower) || l.endsWith(lower));
      });
    }
    return match === undefined ? '' : ` (did you mean "${match}"?)`;
  }

  /** Reports attributes of `el` not in `allowed` (namespace declarations are always tolerated). */
  checkAttributes(el: XmlElement, allowed: readonly string[]): void {
    for (const attr of el.attributes.values()) {
      if (allowed.includes(attr.name) || attr.name.startsWith('xmlns') || attr.name.startsWith('xml:')) continue;
      const list = allowed.length === 0 ? 'it takes no attributes' : `allowed attributes: ${allowed.join(', ')}`;
      this.error(attr.pos, `unknown attribute "${shownName(attr.name)}" on <${shownName(el.name)}>${this.suggest(attr.name, allowed)}; ${list}`);
    }
  }

  /**
   * Reports child elements of `el` not in `allowed`, and direct text (which no element but
   * `<description>` may hold). Returns the allowed children.
   */
  checkChildren(el: XmlElement, allowed: readonly string[]): XmlElement[] {
    const kept: XmlElement[] = [];
    for (const child of el.children) {
      if (allowed.includes(child.name)) {
        kept.push(child);
        continue;
      }
      const list = allowed.length === 0 ? 'it takes no child elements' : `allowed here: ${allowed.map((a) => `<${a}>`).join(', ')}`;
      this.error(child.pos, `unknown element <${shownName(child.name)}> in <${shownName(el.name)}>${this.suggest(child.name, allowed)}; ${list}`);
    }
    this.checkNoText(el);
    return kept;
  }

  /** Text inside structural elements is almost always a paste accident; it is ignored with a warning. */
  checkNoText(el: XmlElement): void {
    if (el.text !== '' && el.textPos) {
      const shown = el.text.length > 30 ? `${el.text.slice(0, 30)}…` : el.text;
      this.warning(el.textPos, `text "${shown}" inside <${el.name}> is ignored; put descriptions in <description>`);
    }
  }

  /** The attribute, or an error at the element saying it is needed. */
  required(el: XmlElement, name: string, example: string): XmlAttribute | undefined {
    const attr = el.attributes.get(name);
    if (!attr) this.error(el.pos, `<${el.name}> needs a ${name} attribute, e.g. ${example}`);
    return attr;
  }

  /** A required attribute whose value must be an identifier; undefined (after an error) otherwise. */
  identifier(el: XmlElement, name: string, what: string): string | undefined {
    const attr = this.required(el, name, `<${el.name} ${name}="${what === 'service' ? 'Climate' : 'myName'}">`);
    if (!attr) return undefined;
    if (!IDENTIFIER.test(attr.value)) {
      this.error(attr.pos, `${what} name "${attr.value}" is not an identifier; use letters, digits and _ and do not start with a digit`);
      return undefined;
    }
    return attr.value;
  }

  /**
   * Resolves a `type`/`returns` attribute against the scalar types and the declared structs.
   * @param subject what the type is for, e.g. `argument "zone" of method "setTemperature"`.
   */
  resolveType(attr: XmlAttribute, repeated: boolean, subject: string, allowVoid: boolean): TypeRef | undefined {
    let name = attr.value;
    // Kanzi Connect writes a list argument as type="repeated string"; it means repeated="true".
    const kanziList = REPEATED_PREFIX.exec(name);
    if (kanziList) {
      name = kanziList[1];
      repeated = true;
      if (name === 'void' || REPEATED_PREFIX.test(name)) {
        this.error(attr.pos, `"${shownName(attr.value)}" for ${subject} is not a type: "repeated" goes before a value type, once (e.g. "repeated string")`);
        return undefined;
      }
    }
    if (name === 'void') {
      if (allowVoid) return { name, repeated: false };
      this.error(attr.pos, `void is only valid as a method return type; ${subject} needs a value type`);
      return undefined;
    }
    if ((SCALAR_TYPES as readonly string[]).includes(name) || this.types.has(name)) return { name, repeated };
    const valid = [...SCALAR_TYPES, ...this.types.keys()];
    this.error(attr.pos, `unknown type "${shownName(name)}" for ${subject}${this.suggest(name, valid)}; valid types: ${listNames(valid)}`);
    return undefined;
  }

  /**
   * Kanzi Connect's `persistent="0|1"` style of flag (`true`/`false` are accepted too); absent means false.
   */
  binaryFlag(el: XmlElement, name: string): boolean {
    const attr = el.attributes.get(name);
    if (!attr) return false;
    if (attr.value === '1' || attr.value === 'true') return true;
    if (attr.value !== '0' && attr.value !== 'false') this.error(attr.pos, `${name}="${shownName(attr.value)}" on <${shownName(el.name)}> must be "1" or "0" (or "true" or "false")`);
    return false;
  }

  /** `true`/`false` attribute; absent means false. */
  flag(el: XmlElement, name: string): boolean {
    const attr = el.attributes.get(name);
    if (!attr) return false;
    if (attr.value === 'true') return true;
    if (attr.value !== 'false') this.error(attr.pos, `${name}="${attr.value}" on <${el.name}> must be "true" or "false"`);
    return false;
  }
}

/**
 * Tracks names declared in one scope and reports duplicates at the later declaration, pointing at the
 * first one (which is the one kept).
 */
export class NameScope<T extends { pos: Position }> {
  readonly items = new Map<string, T>();

  /** @param what `'method'`, or a function naming the item, e.g. `(n) => \`argument "${n}" of …\``. */
  constructor(
    private readonly ctx: ParseContext,
    private readonly what: string | ((name: string) => string),
  ) {}

  /** Adds `item`; false (after an error) when the name is taken. */
  add(name: string, item: T, pos: Position): boolean {
    const first = this.items.get(name);
    if (first) {
      const subject = typeof this.what === 'string' ? `${this.what} "${name}"` : this.what(name);
      this.ctx.error(pos, `${subject} is already declared at ${first.pos.line}:${first.pos.column}; rename or remove one of them`);
      return false;
    }
    this.items.set(name, item);
    return true;
  }
}
