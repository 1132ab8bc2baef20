import type { Field, MethodDef, EventDef, ServiceDefinition } from '../definition/model.js';
import { dataPathEntries, pathKey, runtimeDataMembers } from './data-paths.js';
import type { ModuleNames } from './naming.js';
import { definitionTypeText, tsType, type CodegenTarget } from './type-mapping.js';

/**
 * The declarations every generated module starts with: the definition's struct types, the arguments of
 * its events, its runtime data as one type and the type at each runtime-data path. The client and the
 * service parts refer to these by name.
 */

/** Items sorted by name: the order of types, methods and events in the XML means nothing to the code. */
export function byName<T extends { name: string }>(items: Iterable<T>): T[] {
  return [...items].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

/** Inline lines wider than this are written one member per line. */
const MAX_INLINE = 100;

/**
 * `{ zone: number; celsius: number }` for named arguments or fields, one per line when long;
 * `Record<string, never>` for none (exactly no properties). `indent` is the indentation of the line the
 * type starts on.
 */
export function fieldsType(fields: readonly Field[], target: CodegenTarget, indent: string): string {
  if (fields.length === 0) return 'Record<string, never>';
  const members = fields.map((f) => `${f.name}: ${tsType(f.type, target)}`);
  const inline = `{ ${members.join('; ')} }`;
  if (inline.length + indent.length <= MAX_INLINE) return inline;
  return `{\n${fields.map((f, i) => `${indent}  ${members[i]}; // ${definitionTypeText(f.type)}`).join('\n')}\n${indent}}`;
}

/** `setTemperature(zone: int, celsius: float): bool`, the definition's signature for doc comments. */
export function signature(item: MethodDef | EventDef): string {
  const args = item.arguments.map((a) => `${a.name}: ${definitionTypeText(a.type)}`).join(', ');
  return 'returns' in item ? `${item.name}(${args}): ${definitionTypeText(item.returns)}` : `${item.name}(${args})`;
}

export function emitStructs(definition: ServiceDefinition, target: CodegenTarget): string[] {
  const out: string[] = [];
  for (const struct of byName(definition.types.values())) {
    out.push(`/** The definition's type \`${struct.name}\`. */`);
    if (struct.fields.length === 0) {
      out.push(`export type ${struct.name} = Record<string, never>;`, '');
      continue;
    }
    out.push(`export interface ${struct.name} {`);
    for (const f of struct.fields) out.push(`  ${f.name}: ${tsType(f.type, target)}; // ${definitionTypeText(f.type)}`);
    out.push('}', '');
  }
  return out;
}

export function emitEvents(definition: ServiceDefinition, names: ModuleNames, target: CodegenTarget): string[] {
  const out = [`/** The arguments of each event of ${definition.name}, by event name. */`];
  const events = byName(definition.events.values());
  if (events.length === 0) {
    out.push(`export type ${names.events} = Record<never, never>;`);
  } else {
    out.push(`export interface ${names.events} {`);
    for (const event of events) {
      out.push(`  /** \`${signature(event)}\` */`);
      out.push(`  ${event.name}: ${fieldsType(event.arguments, target, '  ')};`);
    }
    out.push('}');
  }
  out.push(`export type ${names.eventName} = keyof ${names.events};`, '');
  return out;
}

export function emitRuntimeData(definition: ServiceDefinition, names: ModuleNames, target: CodegenTarget): string[] {
  const out = [`/** ${definition.name}'s runtime data as one value: what the path '' holds. */`];
  if (definition.runtimeData.children.length === 0) {
    out.push(`export type ${names.runtimeData} = Record<string, never>;`);
  } else {
    out.push(`export interface ${names.runtimeData} {`, ...runtimeDataMembers(definition.runtimeData, target, '  '), '}');
  }
  out.push(
    '',
    `/**`,
    ` * The value at each runtime-data path of ${definition.name}: what \`get\`, \`watch\` and the service's \`set\``,
    ` * take. '' is the whole tree; a list element is addressed by its index (\`list.0\`).`,
    ` */`,
    `export interface ${names.dataPaths} {`,
  );
  for (const entry of dataPathEntries(definition, names.runtimeData, target)) out.push(`  ${pathKey(entry.segments)}: ${entry.type};`);
  out.push('}', `export type ${names.dataPath} = keyof ${names.dataPaths};`, '');
  return out;
}
