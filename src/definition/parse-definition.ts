import { PeerwayError } from '../errors.js';
import { DefinitionError } from './definition-error.js';
import {
  SCALAR_TYPES,
  type Diagnostic,
  type EventDef,
  type Field,
  type MethodDef,
  type Position,
  type ServiceDefinition,
  type StructType,
  type TypeRef,
} from './model.js';
import { MAX_LISTED_DIAGNOSTICS, NameScope, ParseContext, TooManyErrors } from './parse-context.js';
import { parseRouting } from './parse-routing.js';
import { parseRuntimeData } from './parse-runtime-data.js';
import { findQuoteHints } from './quote-hints.js';
import { DEFAULT_MAX_XML_DEPTH, readXmlTree, type XmlElement, type XmlSyntaxError } from './xml-tree.js';

/**
 * Service definition XML → {@link ServiceDefinition} (grammar in DESIGN §3 and docs/definition.md).
 * Every problem becomes a diagnostic at the `<` of the element or the start of the attribute concerned;
 * all are collected and thrown together.
 */

const SERVICE_CHILDREN = ['description', 'types', 'methods', 'events', 'runtime-data', 'routing'] as const;
/**
 * Attributes of `<service>`: Peerway's `name`, `fullname`, `version`, and those Kanzi Connect descriptions
 * carry (`description`, `namespace`, `package`, `type`), kept in `ServiceDefinition.attributes`.
 */
const SERVICE_ATTRIBUTES = ['name', 'fullname', 'version', 'description', 'namespace', 'package', 'type'] as const;
/** Words runtime data gives a meaning in `type`/`datatype` (Kanzi Connect's), so no struct may take them. */
const RESERVED_TYPE_NAMES = ['void', 'list', 'object', 'repeated'];

/** Largest definition accepted unless {@link ParseOptions.maxBytes} says otherwise: 1 MiB of UTF-8. */
export const DEFAULT_MAX_DEFINITION_BYTES = 1024 * 1024;
/** Deepest element nesting accepted unless {@link ParseOptions.maxDepth} says otherwise (`<service>` is level 1). */
export const DEFAULT_MAX_DEFINITION_DEPTH = DEFAULT_MAX_XML_DEPTH;
/**
 * Highest {@link ParseOptions.maxDepth} accepted. Runtime data and struct values are as deep as their
 * definition, and the code that checks, copies and encodes values walks them recursively: beyond this
 * it could overflow the stack.
 */
export const MAX_DEFINITION_DEPTH_CEILING = 1000;

export interface ParseOptions {
  /**
   * The bearer ids routes may name (the bearer registry's, where the service will run). Without it any
   * bearer id is accepted: a server or client reads definitions whose bearers only the runner must know.
   */
  bearers?: readonly string[];
  /**
   * Largest definition accepted, in bytes of UTF-8 (default {@link DEFAULT_MAX_DEFINITION_BYTES}); a
   * larger one is refused before it is parsed. It also bounds the runtime data a definition may start
   * with: struct-typed runtime data may expand to at most `maxBytes / 8` values together.
   */
  maxBytes?: number;
  /**
   * Deepest element nesting accepted, `<service>` being level 1 (default
   * {@link DEFAULT_MAX_DEFINITION_DEPTH}, at most {@link MAX_DEFINITION_DEPTH_CEILING}); struct types may
   * nest as many levels. Parsing stops at the first element nested deeper.
   */
  maxDepth?: number;
}

/**
 * Parses a service definition.
 * @param xml the file's text (a leading byte-order mark is ignored).
 * @param file the path or label used in diagnostics and kept in `definition.file`.
 * @throws DefinitionError with every error found (at most {@link MAX_LISTED_DIAGNOSTICS}, then where it
 *   stopped); warnings are returned in `definition.warnings`. PeerwayError `CONFIG_INVALID` for limits
 *   out of range.
 */
export function parseDefinition(xml: string, file: string, options: ParseOptions = {}): ServiceDefinition {
  const { maxBytes, maxDepth } = definitionLimits(options);
  // Every UTF-16 unit is at least one byte of UTF-8, so only a text that might be too large is measured.
  if (xml.length * 3 > maxBytes) {
    const size = Buffer.byteLength(xml, 'utf8');
    if (size > maxBytes) throw definitionTooLarge(file, size, maxBytes);
  }
  const text = xml.charCodeAt(0) === 0xfeff ? xml.slice(1) : xml;
  const { root, syntaxError, declaredEncoding } = readXmlTree(text, file, { maxDepth });
  if (declaredEncoding && !/^utf-?8$/i.test(declaredEncoding.name)) {
    throw new DefinitionError([
      diagnostic(
        declaredEncoding.pos,
        `the XML declaration names encoding "${declaredEncoding.name}", but only UTF-8 is supported: save the file as UTF-8 and declare encoding="UTF-8" (or leave encoding out)`,
      ),
    ]);
  }
  if (syntaxError?.kind === 'depth') throw new DefinitionError([diagnostic(syntaxError.pos, syntaxError.message)]);
  if (syntaxError || !root) {
    throw new DefinitionError(syntaxDiagnostics(text, file, syntaxError));
  }
  const ctx = new ParseContext(file, options.bearers);
  let definition: ServiceDefinition;
  try {
    definition = buildService(root, ctx, xml, { maxDepth, maxStructValues: Math.floor(maxBytes / 8) });
  } catch (err) {
    if (!(err instanceof TooManyErrors)) throw err;
    const stop = `more than ${MAX_LISTED_DIAGNOSTICS} errors; stopped here: fix the ones above and check again`;
    throw new DefinitionError([...sortDiagnostics(ctx.errors), diagnostic(err.pos, stop)]);
  }
  if (ctx.errors.length > 0) throw new DefinitionError(sortDiagnostics(ctx.errors));
  ctx.finishWarnings();
  definition.warnings = sortDiagnostics(ctx.warnings);
  if (ctx.firstUnlistedWarning) {
    const more = `${ctx.unlistedWarnings} more warning${ctx.unlistedWarnings === 1 ? '' : 's'} from here on are not listed (at most ${MAX_LISTED_DIAGNOSTICS} are)`;
    definition.warnings.push({ ...diagnostic(ctx.firstUnlistedWarning, more), severity: 'warning' });
  }
  return definition;
}

function diagnostic(pos: Position, message: string): Diagnostic {
  return { file: pos.file, line: pos.line, column: pos.column, severity: 'error', message };
}

/** The limits of `options` with their defaults. @throws PeerwayError `CONFIG_INVALID` for a value out of range. */
export function definitionLimits(options: ParseOptions): { maxBytes: number; maxDepth: number } {
  const maxBytes = options.maxBytes ?? DEFAULT_MAX_DEFINITION_BYTES;
  const maxDepth = options.maxDepth ?? DEFAULT_MAX_DEFINITION_DEPTH;
  if (!Number.isSafeInteger(maxBytes) || maxBytes < 1) {
    throw new PeerwayError('CONFIG_INVALID', `the definition size limit (maxBytes, --max-definition-bytes) must be a whole number of bytes above 0, got ${maxBytes}`);
  }
  if (!Number.isSafeInteger(maxDepth) || maxDepth < 1 || maxDepth > MAX_DEFINITION_DEPTH_CEILING) {
    throw new PeerwayError('CONFIG_INVALID', `the definition nesting limit (maxDepth) must be a whole number from 1 to ${MAX_DEFINITION_DEPTH_CEILING}, got ${maxDepth}`);
  }
  return { maxBytes, maxDepth };
}

/** `1048576 bytes (1 MiB)` */
function describeSize(bytes: number): string {
  const [unit, size] = bytes >= 1024 * 1024 ? ['MiB', bytes / (1024 * 1024)] : bytes >= 1024 ? ['KiB', bytes / 1024] : ['', 0];
  return unit === '' ? `${bytes} bytes` : `${bytes} bytes (${Number(size.toFixed(1))} ${unit})`;
}

/**
 * The error for a definition above the size limit, reported at 1:1 of `file`.
 * @param size the size in bytes, or undefined when only "more than `maxBytes`" is known (a stream).
 */
export function definitionTooLarge(file: string, size: number | undefined, maxBytes: number): DefinitionError {
  const is = size === undefined ? 'is larger than the limit' : `is ${describeSize(size)}, more than the limit`;
  return new DefinitionError([
    diagnostic(
      { file, line: 1, column: 1 },
      `the definition ${is} of ${describeSize(maxBytes)}: split the service, or raise the limit with --max-definition-bytes N (option maxBytes)`,
    ),
  ]);
}

/** Orders diagnostics by position so a reader walks the file top to bottom. */
export function sortDiagnostics(diagnostics: Diagnostic[]): Diagnostic[] {
  return [...diagnostics].sort((a, b) => a.line - b.line || a.column - b.column);
}

/**
 * A syntax error becomes the quote hints when they explain it. saxes's own error is kept too when it
 * comes before every hint: then it is a separate problem, not an echo of a quoting mistake.
 */
function syntaxDiagnostics(text: string, file: string, error: XmlSyntaxError | undefined): Diagnostic[] {
  const syntax: Diagnostic = error
    ? { file, line: error.pos.line, column: error.pos.column, severity: 'error', message: error.message }
    : { file, line: 1, column: 1, severity: 'error', message: 'the file holds no XML element; a definition starts with <service name="…">' };
  const found = findQuoteHints(text, file);
  const first = found[0];
  if (!first) return [syntax];
  const hints = found.slice(0, MAX_LISTED_DIAGNOSTICS);
  const cut = found[MAX_LISTED_DIAGNOSTICS];
  if (cut) hints.push({ ...cut, message: `${found.length - MAX_LISTED_DIAGNOSTICS} more quoting problems from here on are not listed; fix the ones above and check again` });
  const before = syntax.line < first.line || (syntax.line === first.line && syntax.column < first.column);
  return before ? [syntax, ...hints] : hints;
}

/** The limits the model checks once the XML is read. */
interface ModelLimits {
  /** Levels struct types may nest. */
  maxDepth: number;
  /** Values the zero values of struct-typed runtime data may hold together. */
  maxStructValues: number;
}

function buildService(root: XmlElement, ctx: ParseContext, source: string, limits: ModelLimits): ServiceDefinition {
  const definition: ServiceDefinition = {
    name: '',
    file: ctx.file,
    source,
    types: ctx.types,
    methods: new Map(),
    events: new Map(),
    runtimeData: { kind: 'object', name: '', path: '', repeated: false, children: [], pos: root.pos },
    attributes: {},
    warnings: [],
  };
  if (root.name !== 'service') {
    ctx.error(root.pos, `the root element must be <service>, found <${root.name}>; a definition starts with <service name="…">`);
    return definition;
  }
  ctx.checkAttributes(root, SERVICE_ATTRIBUTES);
  definition.name = ctx.identifier(root, 'name', 'service') ?? '';
  for (const attr of root.attributes.values()) {
    if ((SERVICE_ATTRIBUTES as readonly string[]).includes(attr.name)) definition.attributes[attr.name] = attr.value;
  }
  const fullname = root.attributes.get('fullname')?.value;
  const version = root.attributes.get('version')?.value;
  if (fullname !== undefined) definition.fullname = fullname;
  if (version !== undefined) definition.version = version;
  const serviceType = root.attributes.get('type');
  if (serviceType) {
    ctx.notHonoured(serviceType, 'service', 'Peerway runs the implementation module next to the XML whatever the service type; the value is shown by describe');
  }

  const sections = new Map<string, XmlElement>();
  for (const child of ctx.checkChildren(root, SERVICE_CHILDREN)) {
    const first = sections.get(child.name);
    if (first) {
      ctx.error(child.pos, `<${child.name}> appears twice; the first is at ${first.pos.line}:${first.pos.column}; merge them into one`);
    } else sections.set(child.name, child);
  }
  // Sections may come in any order; they are read in dependency order (types before their users,
  // everything before the routes that select it).
  const typesUsable = parseTypes(sections.get('types'), ctx, limits.maxDepth);
  definition.methods = parseMethods(sections.get('methods'), ctx);
  definition.events = parseEvents(sections.get('events'), ctx);
  definition.runtimeData = parseRuntimeData(sections.get('runtime-data'), ctx, root.pos, typesUsable, limits.maxStructValues);
  const routing = sections.get('routing');
  if (routing) definition.routing = parseRouting(routing, ctx, definition);
  const description = serviceDescription(root, sections.get('description'), ctx);
  if (description !== undefined) definition.description = description;
  return definition;
}

/**
 * The service's description: Kanzi Connect writes it as an attribute of `<service>`, Peerway as a
 * `<description>` element; either works. When both are there the attribute is shown, with a warning.
 */
function serviceDescription(root: XmlElement, element: XmlElement | undefined, ctx: ParseContext): string | undefined {
  const attr = root.attributes.get('description');
  const text = element?.text.trim();
  if (attr && element && text !== '' && text !== attr.value.trim()) {
    ctx.warning(element.pos, `<description> and the description attribute of <service> (${attr.pos.line}:${attr.pos.column}) say different things; the attribute is the one shown: keep one of them`);
  }
  if (attr) return attr.value;
  return text === undefined || text === '' ? undefined : text;
}

/** `<field>` and `<argument>`: name, type, repeated. */
function parseField(el: XmlElement, ctx: ParseContext, owner: string): Field | undefined {
  ctx.checkAttributes(el, ['name', 'type', 'repeated']);
  ctx.checkChildren(el, []);
  const name = ctx.identifier(el, 'name', el.name);
  const typeAttr = ctx.required(el, 'type', `<${el.name} name="${name ?? 'x'}" type="int"/>`);
  const repeated = ctx.flag(el, 'repeated');
  const type = typeAttr && ctx.resolveType(typeAttr, repeated, `${el.name} "${name ?? '?'}" of ${owner}`, false);
  return name && type ? { name, type, pos: el.pos } : undefined;
}

function parseArguments(el: XmlElement, ctx: ParseContext, owner: string): Field[] {
  const scope = new NameScope<Field>(ctx, (n) => `argument "${n}" of ${owner}`);
  for (const child of ctx.checkChildren(el, ['argument'])) {
    const field = parseField(child, ctx, owner);
    if (field) scope.add(field.name, field, child.pos);
  }
  return [...scope.items.values()];
}

/** Reads `<types>`; true when it has no errors, so zero values and defaults of structs can be built. */
function parseTypes(el: XmlElement | undefined, ctx: ParseContext, maxDepth: number): boolean {
  if (!el) return true;
  const errorsBefore = ctx.errors.length;
  ctx.checkAttributes(el, []);
  const scope = new NameScope<StructType>(ctx, 'type');
  const declared: Array<[StructType, XmlElement]> = [];
  // All names first, so fields may refer to types declared further down.
  for (const child of ctx.checkChildren(el, ['type'])) {
    ctx.checkAttributes(child, ['name']);
    const name = ctx.identifier(child, 'name', 'type');
    if (!name) continue;
    if (RESERVED_TYPE_NAMES.includes(name) || (SCALAR_TYPES as readonly string[]).includes(name)) {
      const what = name === 'void' || (SCALAR_TYPES as readonly string[]).includes(name) ? 'a built-in type' : 'a reserved word (runtime data uses it for lists and objects)';
      ctx.error(child.attributes.get('name')?.pos ?? child.pos, `type name "${name}" is ${what}; choose another name`);
      continue;
    }
    const struct: StructType = { name, fields: [], pos: child.pos };
    if (scope.add(name, struct, child.pos)) {
      ctx.types.set(name, struct);
      declared.push([struct, child]);
    }
  }
  for (const [struct, child] of declared) {
    const fields = new NameScope<Field>(ctx, (n) => `field "${n}" of type ${struct.name}`);
    for (const fieldEl of ctx.checkChildren(child, ['field'])) {
      const field = parseField(fieldEl, ctx, `type ${struct.name}`);
      if (field) fields.add(field.name, field, fieldEl.pos);
    }
    struct.fields = [...fields.items.values()];
  }
  checkTypeCycles(ctx);
  // Depth and size are only defined once every reference resolves and nothing is circular.
  if (ctx.errors.length === errorsBefore) measureStructs(ctx, maxDepth);
  return ctx.errors.length === errorsBefore;
}

/** `A.b → B.c → C`, shortened in the middle when long (a cycle may run through thousands of types). */
function describeChain(steps: string[]): string {
  if (steps.length <= 8) return steps.join(' → ');
  return [...steps.slice(0, 4), `… ${steps.length - 6} more …`, ...steps.slice(-2)].join(' → ');
}

/**
 * A struct that contains itself (directly or through other structs, even through a list) has no finite
 * zero value and cannot be generated as code, so every cycle is an error at the field closing it.
 * Depth-first without recursion: a chain of types is as long as the file allows.
 */
function checkTypeCycles(ctx: ParseContext): void {
  const state = new Map<string, 'visiting' | 'done'>();
  // `Type.field` steps from the walk's start to the struct on top of `frames`.
  const trail: string[] = [];
  const entered = new Map<string, number>();
  for (const start of ctx.types.values()) {
    if (state.has(start.name)) continue;
    state.set(start.name, 'visiting');
    entered.set(start.name, 0);
    const frames: Array<{ struct: StructType; next: number }> = [{ struct: start, next: 0 }];
    while (frames.length > 0) {
      const frame = frames[frames.length - 1];
      const field = frame.struct.fields[frame.next++];
      if (!field) {
        state.set(frame.struct.name, 'done');
        frames.pop();
        trail.pop();
        continue;
      }
      const target = ctx.types.get(field.type.name);
      if (!target) continue;
      const step = `${frame.struct.name}.${field.name}`;
      const seen = state.get(target.name);
      if (seen === 'visiting') {
        const cycle = describeChain([...trail.slice(entered.get(target.name)), step, target.name]);
        ctx.error(field.pos, `type ${target.name} contains itself (${cycle}); a struct cannot contain itself, directly or through other types, not even in a list`);
      } else if (seen === undefined) {
        trail.push(step);
        state.set(target.name, 'visiting');
        entered.set(target.name, trail.length);
        frames.push({ struct: target, next: 0 });
      }
    }
  }
}

/**
 * For struct types without cycles: reports types nesting structs deeper than `maxDepth` levels (values
 * that deep would overflow the stack of the code walking them), and records in
 * `ctx.structValueCounts` how many values each struct's zero value holds (it can grow exponentially
 * with the nesting: checked against the runtime data that would build it). Iterative, children first.
 */
function measureStructs(ctx: ParseContext, maxDepth: number): void {
  const depth = new Map<string, number>();
  const counts = ctx.structValueCounts;
  for (const start of ctx.types.values()) {
    const stack = [start];
    while (stack.length > 0) {
      const struct = stack[stack.length - 1];
      if (depth.has(struct.name)) {
        stack.pop();
        continue;
      }
      let waiting = false;
      for (const field of struct.fields) {
        const inner = ctx.types.get(field.type.name);
        if (inner && !depth.has(inner.name)) {
          stack.push(inner);
          waiting = true;
        }
      }
      if (waiting) continue;
      let levels = 1;
      let values = 1;
      for (const field of struct.fields) {
        const inner = ctx.types.get(field.type.name);
        if (inner) levels = Math.max(levels, (depth.get(inner.name) ?? 0) + 1);
        values += inner && !field.type.repeated ? (counts.get(inner.name) ?? 1) : 1;
      }
      depth.set(struct.name, levels);
      counts.set(struct.name, values);
      stack.pop();
    }
  }
  const tooDeep = [...ctx.types.values()].filter((t) => (depth.get(t.name) ?? 0) > maxDepth);
  // One error per outermost offender, not one per type of a long chain.
  const inner = new Set(tooDeep.flatMap((t) => t.fields.map((f) => f.type.name)));
  for (const struct of tooDeep) {
    if (inner.has(struct.name)) continue;
    const levels = depth.get(struct.name) ?? 0;
    const steps: string[] = [];
    let at: StructType | undefined = struct;
    while (at && steps.length < 8) {
      const here: StructType = at;
      const field = here.fields.find((f) => depth.get(f.type.name) === (depth.get(here.name) ?? 0) - 1);
      steps.push(field ? `${here.name}.${field.name}` : here.name);
      at = field && ctx.types.get(field.type.name);
    }
    if (at) steps.push('…');
    ctx.error(struct.pos, `type ${struct.name} nests structs ${levels} levels deep (${steps.join(' → ')}); at most ${maxDepth} are allowed: flatten the types`);
  }
}

function parseMethods(el: XmlElement | undefined, ctx: ParseContext): Map<string, MethodDef> {
  const scope = new NameScope<MethodDef>(ctx, 'method');
  if (!el) return scope.items;
  ctx.checkAttributes(el, []);
  for (const child of ctx.checkChildren(el, ['method'])) {
    ctx.checkAttributes(child, ['name', 'returns', 'returns-repeated']);
    const name = ctx.identifier(child, 'name', 'method');
    const returnsAttr = child.attributes.get('returns');
    const returnsRepeated = ctx.flag(child, 'returns-repeated');
    let returns: TypeRef = { name: 'void', repeated: false };
    if (returnsAttr) {
      returns = ctx.resolveType(returnsAttr, returnsRepeated, `the result of method "${name ?? '?'}"`, true) ?? returns;
      if (returnsAttr.value === 'void' && returnsRepeated) {
        const pos = child.attributes.get('returns-repeated')?.pos ?? child.pos;
        ctx.error(pos, `returns-repeated="true" needs a value type in returns; a void method returns nothing`);
      }
    } else if (returnsRepeated) {
      const pos = child.attributes.get('returns-repeated')?.pos ?? child.pos;
      ctx.error(pos, `returns-repeated="true" needs a returns="TYPE" attribute; without it the method returns void`);
    }
    const args = parseArguments(child, ctx, `method "${name ?? '?'}"`);
    if (name) scope.add(name, { name, arguments: args, returns, pos: child.pos }, child.pos);
  }
  return scope.items;
}

function parseEvents(el: XmlElement | undefined, ctx: ParseContext): Map<string, EventDef> {
  const scope = new NameScope<EventDef>(ctx, 'event');
  if (!el) return scope.items;
  ctx.checkAttributes(el, []);
  for (const child of ctx.checkChildren(el, ['event'])) {
    ctx.checkAttributes(child, ['name']);
    const name = ctx.identifier(child, 'name', 'event');
    const args = parseArguments(child, ctx, `event "${name ?? '?'}"`);
    if (name) scope.add(name, { name, arguments: args, pos: child.pos }, child.pos);
  }
  return scope.items;
}
