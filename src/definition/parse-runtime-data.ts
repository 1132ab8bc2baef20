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
 *
 * The tree is walked without recursion, so its depth is bounded only by the XML reader's limit.
 * `maxStructValues` bounds the values the zero values of struct-typed leaves hold together: a few
 * nested types can describe billions of them.
 */
export function parseRuntimeData(
  el: XmlElement | undefined,
  ctx: ParseContext,
  servicePos: Position,
  typesUsable: boolean,
  maxStructValues = Infinity,
): RuntimeDataObject {
  const root: RuntimeDataObject = { kind: 'object', name: '', path: '', repeated: false, children: [], pos: el?.pos ?? servicePos };
  if (!el) return root;
  ctx.checkAttributes(el, []);
  const budget: ValueBudget = { left: maxStructValues, limit: maxStructValues, exceeded: false };
  // Objects whose children are still to be read, each with the element it came from.
  const pending: Array<{ el: XmlElement; node: RuntimeDataObject }> = [{ el, node: root }];
  for (let next = pending.pop(); next; next = pending.pop()) {
    const { el: parentEl, node: parent } = next;
    ctx.checkNoText(parentEl);
    const scope = new NameScope<RuntimeDataNode>(ctx, (path) => `runtime data "${path}"`);
    for (const child of parentEl.children) {
      const node = parseNode(child, parent.path, ctx, typesUsable, budget);
      if (!node) continue;
      scope.add(node.path, node, child.pos);
      // A duplicate's children are read too, so their problems are reported in the same round. An
      // empty object has nothing to read (its warning is already given).
      if (node.kind === 'object' && (child.children.length > 0 || child.text !== '')) pending.push({ el: child, node });
    }
    parent.children = [...scope.items.values()];
  }
  return root;
}

/** What is left of `maxStructValues`; once exceeded (and reported), no more zero values are built. */
interface ValueBudget {
  left: number;
  readonly limit: number;
  exceeded: boolean;
}

/** One runtime-data element; an object's children are left to the caller. */
function parseNode(el: XmlElement, parentPath: string, ctx: ParseContext, typesUsable: boolean, budget: ValueBudget): RuntimeDataNode | undefined {
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
    return { kind: 'object', name, path, repeated, children: [], pos: el.pos };
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
  if (type && (typesUsable || !ctx.types.has(type.name)) && withinBudget(el, path, type.name, repeated, ctx, budget)) {
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

/** Takes a struct leaf's values from the budget; false (after one error for the whole tree) when they do not fit. */
function withinBudget(el: XmlElement, path: string, typeName: string, repeated: boolean, ctx: ParseContext, budget: ValueBudget): boolean {
  if (budget.exceeded) return false;
  const values = repeated ? 0 : (ctx.structValueCounts.get(typeName) ?? 0);
  budget.left -= values;
  if (budget.left >= 0) return true;
  budget.exceeded = true;
  const count = Number.isFinite(values) && values < 1e15 ? String(values) : 'more than 10^15';
  ctx.error(
    el.pos,
    `runtime data "${path}" of type ${typeName} starts with ${count} values (its nested structs expanded), which brings the struct-typed runtime data above ${budget.limit} values; ` +
      `make it repeated="true" (a list starts empty) or use smaller types (the limit is an eighth of the definition size limit, --max-definition-bytes)`,
  );
  return false;
}
