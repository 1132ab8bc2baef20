import { PeerwayError } from '../errors.js';
import type { Position, RuntimeDataNode, RuntimeDataObject, ServiceDefinition, TypeRef } from '../definition/model.js';
import { definitionTypeText, tsType, type CodegenTarget } from './type-mapping.js';

/**
 * The runtime-data tree as TypeScript: the whole tree as one object type, and every dot path a client or
 * the service may name, each mapped to the type of the value there. Paths follow `RuntimeDataTree`: object
 * children by name, list elements by index (`zones.1`, typed as `` `zones.${number}` ``), fields of
 * struct-typed values by name (`shape.name`), '' for the whole tree.
 */

/** More paths than this is a definition no compiler wants as one type; codegen refuses it, saying why. */
export const MAX_DATA_PATHS = 20_000;

const INDEX = Symbol('list index');
type Segment = string | typeof INDEX;

/** One addressable path: its segments (an index segment stands for any element) and the value's type. */
export interface DataPathEntry {
  segments: Segment[];
  type: string;
}

/** `'cabin.temperature'`, or a template-literal index signature key for paths through a list. */
export function pathKey(segments: readonly Segment[]): string {
  if (!segments.includes(INDEX)) return `'${segments.join('.')}'`;
  const pattern = segments.map((s) => (s === INDEX ? '${number}' : s)).join('.');
  return `[path: \`${pattern}\`]`;
}

/**
 * What a node's comment adds to its type: `persistent` (kept across restarts of the service), the element
 * it was written as when a `name` attribute renamed it, and Kanzi Connect's `controller`.
 */
function nodeNotes(node: RuntimeDataNode): string[] {
  const notes: string[] = [];
  if (node.persistent) notes.push('persistent');
  if (node.element !== undefined && node.element !== node.name) notes.push(`element <${node.element}>`);
  if (node.controller !== undefined) notes.push(`controller ${JSON.stringify(node.controller)}`);
  return notes;
}

/**
 * The members of the whole-tree type, as indented lines (`temperature: number; // float`); an object
 * without children is `Record<string, never>`, a list of objects (`repeated="true"` or Kanzi Connect's
 * `datatype="list"`, whose children are the item schema) an array of its item type.
 */
export function runtimeDataMembers(node: RuntimeDataObject, target: CodegenTarget, indent: string): string[] {
  const lines: string[] = [];
  for (const child of node.children) {
    const notes = nodeNotes(child);
    if (child.kind === 'leaf') {
      lines.push(`${indent}${child.name}: ${tsType(child.type, target)}; // ${[definitionTypeText(child.type), ...notes].join(', ')}`);
      continue;
    }
    const suffix = child.repeated ? '[]' : '';
    const comment = [...(child.repeated ? ['list'] : []), ...notes].join(', ');
    if (child.children.length === 0) {
      lines.push(`${indent}${child.name}: Record<string, never>${suffix};${comment === '' ? '' : ` // ${comment}`}`);
      continue;
    }
    lines.push(`${indent}${child.name}: {${comment === '' ? '' : ` // ${comment}`}`);
    lines.push(...runtimeDataMembers(child, target, `${indent}  `));
    lines.push(`${indent}}${suffix};`);
  }
  return lines;
}

/**
 * Every path with its value type, in tree order. Objects of the tree refer into the whole-tree type
 * (`ClimateRuntimeData['cabin']`) so the two can never disagree; values (scalars, structs, their lists)
 * are written out.
 * @throws PeerwayError `DEFINITION_INVALID` above {@link MAX_DATA_PATHS} paths.
 */
export function dataPathEntries(definition: ServiceDefinition, rootTypeName: string, target: CodegenTarget): DataPathEntry[] {
  const entries: DataPathEntry[] = [];
  // The element being expanded, for the message when the paths run over.
  let at: { pos: Position; path: string } = { pos: definition.runtimeData.pos, path: '' };
  const add = (segments: Segment[], type: string): void => {
    if (entries.length >= MAX_DATA_PATHS) {
      const { file, line, column } = at.pos;
      throw new PeerwayError(
        'DEFINITION_INVALID',
        `${file}:${line}:${column}: runtime data "${at.path}" takes the runtime data of ${definition.name} above ${MAX_DATA_PATHS} typed paths (each field inside a struct value counts); ` +
          'a type that large does not compile in reasonable time: use fewer nested struct fields in <runtime-data>, e.g. a list (repeated="true") instead of many struct-typed leaves',
        { details: { file, line, column, path: at.path } },
      );
    }
    entries.push({ segments, type });
  };

  const addValue = (segments: Segment[], type: TypeRef): void => {
    add(segments, tsType(type, target));
    if (type.repeated) {
      addValue([...segments, INDEX], { name: type.name, repeated: false });
      return;
    }
    const struct = definition.types.get(type.name);
    if (struct) for (const field of struct.fields) addValue([...segments, field.name], field.type);
  };

  const addObject = (node: RuntimeDataObject, segments: Segment[], access: string): void => {
    for (const child of node.children) {
      at = { pos: child.pos, path: child.path };
      const here = [...segments, child.name];
      const childAccess = `${access}['${child.name}']`;
      if (child.kind === 'leaf') {
        addValue(here, child.type);
      } else if (child.repeated) {
        add(here, childAccess);
        add([...here, INDEX], `${childAccess}[number]`);
        addObject(child, [...here, INDEX], `${childAccess}[number]`);
      } else {
        add(here, childAccess);
        addObject(child, here, childAccess);
      }
    }
  };

  add([], rootTypeName);
  addObject(definition.runtimeData, [], rootTypeName);
  return entries;
}
