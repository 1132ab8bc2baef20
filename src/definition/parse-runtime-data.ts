import { PeerwayError } from '../errors.js';
import { IDENTIFIER, NameScope, type ParseContext } from './parse-context.js';
import type { Position, RuntimeDataNode, RuntimeDataObject } from './model.js';
import { parseTextValue } from './value-text.js';
import { zeroValue } from './values.js';
import type { XmlElement } from './xml-tree.js';

/**
 * `<runtime-data>` → the runtime data tree model. Element names are node names (so the seed's
 * `<value type="int"/>` is simply a leaf called `value`); an element with `type` is a leaf, one
 * without is an object; `repeated="true"` makes either a list.
 */
export function parseRuntimeData(
  el: XmlElement | undefined,
  ctx: ParseContext,
  servicePos: Position,
  typesUsable: boolean,
): RuntimeDataObject {
  const root: RuntimeDataObject = { kind: 'object', name: '', path: '', repeated: false, children: [], pos: el?.pos ?? servicePos };
  if (el) {
    ctx.checkAttributes(el, []);
    root.children = parseChildren(el, '', ctx, typesUsable);
  }
  return root;
}

function parseChildren(el: XmlElement, parentPath: string, ctx: ParseContext, typesUsable: boolean): RuntimeDataNode[] {
  ctx.checkNoText(el);
  const scope = new NameScope<RuntimeDataNode>(ctx, (path) => `runtime data "${path}"`);
  for (const child of el.children) {
    const node = parseNode(child, parentPath, ctx, typesUsable);
    if (node) scope.add(node.path, node, child.pos);
  }
  return [...scope.items.values()];
}

function parseNode(el: XmlElement, parentPath: string, ctx: ParseContext, typesUsable: boolean): RuntimeDataNode | undefined {
  const name = el.name;
  const path = parentPath === '' ? name : `${parentPath}.${name}`;
  if (!IDENTIFIER.test(name)) {
    ctx.error(
      el.pos,
      `runtime data name "${name}" is not an identifier; element names in <runtime-data> become path segments, so use letters, digits and _ (not starting with a digit)`,
    );
    return undefined;
  }
  const repeated = ctx.flag(el, 'repeated');
  const typeAttr = el.attributes.get('type');
  if (!typeAttr) {
    ctx.checkAttributes(el, ['repeated', 'default']);
    const defaultAttr = el.attributes.get('default');
    if (defaultAttr) {
      ctx.error(defaultAttr.pos, `default on <${name}> needs a type="…"; an element without a type is an object whose children are its fields`);
    }
    if (el.children.length === 0) {
      ctx.warning(el.pos, `runtime data object "${path}" has no children; add type="…" to make it a leaf, or add child elements`);
    }
    return { kind: 'object', name, path, repeated, children: parseChildren(el, path, ctx, typesUsable), pos: el.pos };
  }
  ctx.checkAttributes(el, ['type', 'default', 'repeated']);
  const firstChild = el.children[0];
  if (firstChild) {
    ctx.error(
      firstChild.pos,
      `runtime data leaf "${path}" has type="${typeAttr.value}" and cannot contain elements; remove type to make it an object, or move the elements out`,
    );
  }
  ctx.checkNoText(el);
  const type = ctx.resolveType(typeAttr, repeated, `runtime data "${path}"`, false);
  let value: unknown;
  // Struct zero values and defaults need a sound <types> section (a cycle would never end).
  if (type && (typesUsable || !ctx.types.has(type.name))) {
    const defaultAttr = el.attributes.get('default');
    if (defaultAttr) {
      try {
        value = parseTextValue(ctx, type, defaultAttr.value, `default of runtime data "${path}"`);
      } catch (err) {
        if (!(err instanceof PeerwayError)) throw err;
        ctx.error(el.pos, err.message);
      }
    } else value = zeroValue(ctx, type);
  }
  return { kind: 'leaf', name, path, type: type ?? { name: typeAttr.value, repeated }, default: value, pos: el.pos };
}
