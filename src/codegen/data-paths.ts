import { PeerwayError } from '../errors.js';
import type { RuntimeDataObject, ServiceDefinition, TypeRef } from '../definition/model.js';
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
 * The members of the whole-tree type, as indented lines (`temperature: number; // float`); an object
 * without children is `Record<string, never>`.
 */
export function runtimeDataMembers(node: RuntimeDataObject, target: CodegenTarget, indent: string): string[] {
  const lines: string[] = [];
  for (const child of node.children) {
    if (child.kind === 'leaf') {
      lines.push(`${indent}${child.name}: ${tsType(child.type, target)}; // ${definitionTypeText(child.type)}`);
      continue;
    }
    const suffix = child.repeated ? '[]' : '';
    if (child.children.length === 0) {
      lines.push(`${indent}${child.name}: Record<string, never>${suffix};`);
      continue;
    }
    lines.push(`${indent}${child.name}: {`);
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
  const add = (segments: Segment[], type: string): void => {
    if (entries.length >= MAX_DATA_PATHS) {
      throw new PeerwayError(
        'DEFINITION_INVALID',
        `${definition.file}: the runtime data of ${definition.name} has more than ${MAX_DATA_PATHS} paths (counting each field inside struct values); ` +
          'typed paths would make a type too large to compile: use fewer nested struct fields in <runtime-data>',
        { details: { file: definition.file } },
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
      const at = [...segments, child.name];
      const childAccess = `${access}['${child.name}']`;
      if (child.kind === 'leaf') {
        addValue(at, child.type);
      } else if (child.repeated) {
        add(at, childAccess);
        add([...at, INDEX], `${childAccess}[number]`);
        addObject(child, [...at, INDEX], `${childAccess}[number]`);
      } else {
        add(at, childAccess);
        addObject(child, at, childAccess);
      }
    }
  };

  add([], rootTypeName);
  addObject(definition.runtimeData, [], rootTypeName);
  return entries;
}
