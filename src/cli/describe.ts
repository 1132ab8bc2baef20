import { Command } from 'commander';
import type { Field, MethodDef, EventDef, RuntimeDataNode, ServiceDefinition, TypeRef } from '../definition/model.js';
import { toJsonValue } from '../definition/value-text.js';
import { addServerOption, printLine, reportError, EXIT_OK } from './common.js';
import { addClientBearerOptions, startSessionWithHint, withClient, type ClientCliOptions } from './with-client.js';

interface DescribeCliOptions extends ClientCliOptions {
  json?: boolean;
}

export function describeCommand(setExit: (code: number) => void): Command {
  const cmd = new Command('describe')
    .description("print a service's definition: methods with their arguments and result, events, types and the runtime-data tree with defaults")
    .argument('<service>', 'service name')
    .option('--json', 'print it as one JSON object instead of indented text')
    .addHelpText('after', '\nExample: peerway describe Climate\nMethods are shown as name(argument: type, …): result; a list type ends in [].');
  addServerOption(cmd);
  addClientBearerOptions(cmd);
  cmd.action(async (service: string, opts: DescribeCliOptions) => {
    try {
      await withClient('describe', opts, async (client) => {
        const session = await startSessionWithHint(client, service);
        try {
          const text = opts.json ? JSON.stringify(describeJson(session.definition, session.location)) : describeText(session.definition, session.location);
          await printLine(text);
        } finally {
          await session.stop().catch(() => undefined);
        }
      });
      setExit(EXIT_OK);
    } catch (err) {
      setExit(reportError('describe', err));
    }
  });
  return cmd;
}

/** `int`, `Point`, `float[]` (a list). */
export function typeText(type: TypeRef): string {
  return `${type.name}${type.repeated ? '[]' : ''}`;
}

function fieldsText(fields: Field[]): string {
  return fields.map((f) => `${f.name}: ${typeText(f.type)}`).join(', ');
}

/** `add(a: int, b: int): int`, the line `describe` and `call` without a method print for each method. */
export function methodSignature(m: MethodDef): string {
  return `${m.name}(${fieldsText(m.arguments)}): ${typeText(m.returns)}`;
}

function eventSignature(e: EventDef): string {
  return `${e.name}(${fieldsText(e.arguments)})`;
}

/** The methods section: one indented signature per line, in document order, or `(none)`. */
export function methodLines(definition: ServiceDefinition, indent = '  '): string[] {
  const methods = [...definition.methods.values()];
  return methods.length === 0 ? [`${indent}(none)`] : methods.map((m) => indent + methodSignature(m));
}

/** A default as a person writes it: int64 without quotes, binary as `hex:…`, the rest as JSON. */
function defaultText(value: unknown): string {
  if (typeof value === 'bigint') return value.toString();
  if (value instanceof Uint8Array) return `hex:${Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString('hex')}`;
  return JSON.stringify(toJsonValue(value));
}

/** ` (persistent, controller Input)` for a node that has either, else ''. */
function nodeNotes(node: RuntimeDataNode): string {
  const notes = [...(node.persistent ? ['persistent'] : []), ...(node.controller !== undefined ? [`controller ${node.controller}`] : [])];
  return notes.length === 0 ? '' : ` (${notes.join(', ')})`;
}

function runtimeDataLines(node: RuntimeDataNode, indent: string): string[] {
  if (node.kind === 'leaf') return [`${indent}${node.name}: ${typeText(node.type)} = ${defaultText(node.default)}${nodeNotes(node)}`];
  return [`${indent}${node.name}${node.repeated ? '[]' : ''}:${nodeNotes(node)}`, ...node.children.flatMap((c) => runtimeDataLines(c, indent + '  '))];
}

/** Attributes of `<service>` shown in the header besides name, fullname and version (Kanzi Connect's). */
const HEADER_ATTRIBUTES = ['namespace', 'package', 'type'];

/** The readable form: a header, then types, methods, events and runtime data, each indented under its title. */
export function describeText(definition: ServiceDefinition, location?: string): string {
  const lines = [`service ${definition.name}`];
  if (definition.fullname) lines.push(`  fullname: ${definition.fullname}`);
  if (definition.version) lines.push(`  version: ${definition.version}`);
  if (definition.description !== undefined) lines.push(`  description: ${definition.description.replace(/\s+/g, ' ')}`);
  for (const name of HEADER_ATTRIBUTES) {
    const value = definition.attributes?.[name];
    if (value !== undefined) lines.push(`  ${name}: ${value}`);
  }
  if (location) lines.push(`  location: ${location}`);
  if (definition.types.size > 0) {
    lines.push('', 'types:');
    for (const t of definition.types.values()) lines.push(`  ${t.name} { ${fieldsText(t.fields)} }`);
  }
  lines.push('', 'methods:', ...methodLines(definition));
  const events = [...definition.events.values()];
  lines.push('', 'events:', ...(events.length === 0 ? ['  (none)'] : events.map((e) => `  ${eventSignature(e)}`)));
  const data = definition.runtimeData.children;
  lines.push('', 'runtime data:', ...(data.length === 0 ? ['  (none)'] : data.flatMap((c) => runtimeDataLines(c, '  '))));
  return lines.join('\n');
}

const fieldsJson = (fields: Field[]) => fields.map((f) => ({ name: f.name, type: typeText(f.type) }));

function runtimeDataJson(node: RuntimeDataNode): Record<string, unknown> {
  const extra = { ...(node.persistent ? { persistent: true } : {}), ...(node.controller !== undefined ? { controller: node.controller } : {}) };
  if (node.kind === 'leaf') return { name: node.name, path: node.path, type: typeText(node.type), default: toJsonValue(node.default) ?? null, ...extra };
  return { name: node.name, path: node.path, ...(node.repeated ? { repeated: true } : {}), children: node.children.map(runtimeDataJson), ...extra };
}

/**
 * The JSON form (what `--json` prints): types as strings (`int`, `Point[]`), defaults in their JSON form
 * (int64 beyond 2^53 as a decimal string, binary as base64), the runtime data as a tree of
 * `{name, path, type, default}` leaves and `{name, path, repeated?, children}` objects (either with
 * `persistent` and `controller` when the definition gives them), and every `<service>` attribute as written.
 */
export function describeJson(definition: ServiceDefinition, location?: string): Record<string, unknown> {
  return {
    name: definition.name,
    ...(definition.fullname ? { fullname: definition.fullname } : {}),
    ...(definition.version ? { version: definition.version } : {}),
    ...(definition.description !== undefined ? { description: definition.description } : {}),
    attributes: { ...definition.attributes },
    ...(location ? { location } : {}),
    types: [...definition.types.values()].map((t) => ({ name: t.name, fields: fieldsJson(t.fields) })),
    methods: [...definition.methods.values()].map((m) => ({ name: m.name, arguments: fieldsJson(m.arguments), returns: typeText(m.returns) })),
    events: [...definition.events.values()].map((e) => ({ name: e.name, arguments: fieldsJson(e.arguments) })),
    runtimeData: definition.runtimeData.children.map(runtimeDataJson),
  };
}
