import { DefinitionError } from './definition-error.js';
import {
  SCALAR_TYPES,
  type Diagnostic,
  type EventDef,
  type Field,
  type MethodDef,
  type ServiceDefinition,
  type StructType,
  type TypeRef,
} from './model.js';
import { NameScope, ParseContext } from './parse-context.js';
import { parseRouting } from './parse-routing.js';
import { parseRuntimeData } from './parse-runtime-data.js';
import { findQuoteHints } from './quote-hints.js';
import { readXmlTree, type XmlElement, type XmlSyntaxError } from './xml-tree.js';

/**
 * Service definition XML → {@link ServiceDefinition} (grammar in DESIGN §3 and docs/definition.md).
 * Every problem becomes a diagnostic at the `<` of the element or the start of the attribute concerned;
 * all are collected and thrown together.
 */

const SERVICE_CHILDREN = ['description', 'types', 'methods', 'events', 'runtime-data', 'routing'] as const;

export interface ParseOptions {
  /**
   * The bearer ids routes may name (the bearer registry's, where the service will run). Without it any
   * bearer id is accepted: a server or client reads definitions whose bearers only the runner must know.
   */
  bearers?: readonly string[];
}

/**
 * Parses a service definition.
 * @param xml the file's text (a leading byte-order mark is ignored).
 * @param file the path or label used in diagnostics and kept in `definition.file`.
 * @throws DefinitionError with every error found; warnings are returned in `definition.warnings`.
 */
export function parseDefinition(xml: string, file: string, options: ParseOptions = {}): ServiceDefinition {
  const text = xml.charCodeAt(0) === 0xfeff ? xml.slice(1) : xml;
  const { root, syntaxError } = readXmlTree(text, file);
  if (syntaxError || !root) {
    throw new DefinitionError(syntaxDiagnostics(text, file, syntaxError));
  }
  const ctx = new ParseContext(file, options.bearers);
  const definition = buildService(root, ctx, xml);
  if (ctx.errors.length > 0) throw new DefinitionError(sortDiagnostics(ctx.errors));
  definition.warnings = sortDiagnostics(ctx.warnings);
  return definition;
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
  const hints = findQuoteHints(text, file);
  const first = hints[0];
  if (!first) return [syntax];
  const before = syntax.line < first.line || (syntax.line === first.line && syntax.column < first.column);
  return before ? [syntax, ...hints] : hints;
}

function buildService(root: XmlElement, ctx: ParseContext, source: string): ServiceDefinition {
  const definition: ServiceDefinition = {
    name: '',
    file: ctx.file,
    source,
    types: ctx.types,
    methods: new Map(),
    events: new Map(),
    runtimeData: { kind: 'object', name: '', path: '', repeated: false, children: [], pos: root.pos },
    warnings: [],
  };
  if (root.name !== 'service') {
    ctx.error(root.pos, `the root element must be <service>, found <${root.name}>; a definition starts with <service name="…">`);
    return definition;
  }
  ctx.checkAttributes(root, ['name', 'fullname', 'version']);
  definition.name = ctx.identifier(root, 'name', 'service') ?? '';
  const fullname = root.attributes.get('fullname')?.value;
  const version = root.attributes.get('version')?.value;
  if (fullname !== undefined) definition.fullname = fullname;
  if (version !== undefined) definition.version = version;

  const sections = new Map<string, XmlElement>();
  for (const child of ctx.checkChildren(root, SERVICE_CHILDREN)) {
    const first = sections.get(child.name);
    if (first) {
      ctx.error(child.pos, `<${child.name}> appears twice; the first is at ${first.pos.line}:${first.pos.column}; merge them into one`);
    } else sections.set(child.name, child);
  }
  // Sections may come in any order; they are read in dependency order (types before their users,
  // everything before the routes that select it).
  const typesUsable = parseTypes(sections.get('types'), ctx);
  definition.methods = parseMethods(sections.get('methods'), ctx);
  definition.events = parseEvents(sections.get('events'), ctx);
  definition.runtimeData = parseRuntimeData(sections.get('runtime-data'), ctx, root.pos, typesUsable);
  const routing = sections.get('routing');
  if (routing) definition.routing = parseRouting(routing, ctx, definition);
  return definition;
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
function parseTypes(el: XmlElement | undefined, ctx: ParseContext): boolean {
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
    if (name === 'void' || (SCALAR_TYPES as readonly string[]).includes(name)) {
      ctx.error(child.attributes.get('name')?.pos ?? child.pos, `type name "${name}" is a built-in type; choose another name`);
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
  return ctx.errors.length === errorsBefore;
}

/**
 * A struct that contains itself (directly or through other structs, even through a list) has no finite
 * zero value and cannot be generated as code, so every cycle is an error at the field closing it.
 */
function checkTypeCycles(ctx: ParseContext): void {
  const state = new Map<string, 'visiting' | 'done'>();
  const trail: string[] = [];
  const entered = new Map<string, number>();
  const visit = (struct: StructType): void => {
    state.set(struct.name, 'visiting');
    entered.set(struct.name, trail.length);
    for (const field of struct.fields) {
      const target = ctx.types.get(field.type.name);
      if (!target) continue;
      trail.push(`${struct.name}.${field.name}`);
      const seen = state.get(target.name);
      if (seen === 'visiting') {
        const cycle = [...trail.slice(entered.get(target.name)), target.name].join(' → ');
        ctx.error(field.pos, `type ${target.name} contains itself (${cycle}); a struct cannot contain itself, directly or through other types, not even in a list`);
      } else if (seen === undefined) visit(target);
      trail.pop();
    }
    state.set(struct.name, 'done');
  };
  for (const struct of ctx.types.values()) if (!state.has(struct.name)) visit(struct);
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
