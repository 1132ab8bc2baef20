import { PeerwayError } from '../errors.js';
import { IDENTIFIER, NameScope, shownName, type ParseContext } from './parse-context.js';
import type { Position, RuntimeDataNode, RuntimeDataNodeOptions, RuntimeDataObject } from './model.js';
import { parseTextValue } from './value-text.js';
import { zeroValue } from './values.js';
import type { XmlAttribute, XmlElement } from './xml-tree.js';

/**
 * `<runtime-data>` → the runtime data tree model, in both dialects:
 *
 * - Peerway's: element names are node names (so the seed's `<value type="int"/>` is simply a leaf called
 *   `value`); an element with `type` is a leaf, one without is an object; `repeated="true"` makes either a
 *   list.
 * - Kanzi Connect's: leaves carry `datatype` instead of `type`; `datatype="list"` is a list whose children
 *   describe one element (so a list of objects); `name` overrides the element name as the key;
 *   `persistent="0|1"` and `controller` may be on any node. Kanzi lists do not nest.
 *
 * Both may be mixed in one file, element by element. The tree is walked without recursion, so its depth is
 * bounded only by the XML reader's limit. `maxStructValues` bounds the values the zero values of
 * struct-typed leaves hold together: a few nested types can describe billions of them.
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
  // Objects whose children are still to be read, each with the element it came from and the list it is in.
  const pending: Pending[] = [{ el, node: root }];
  for (let next = pending.pop(); next; next = pending.pop()) {
    const { el: parentEl, node: parent } = next;
    ctx.checkNoText(parentEl);
    const scope = new NameScope<RuntimeDataNode>(ctx, (path) => `runtime data "${path}"`);
    for (const child of parentEl.children) {
      const parsed = parseNode(child, parent.path, next.list, ctx, typesUsable, budget);
      if (!parsed) continue;
      const { node } = parsed;
      scope.add(node.path, node, child.pos);
      // A duplicate's children are read too, so their problems are reported in the same round. An
      // empty object has nothing to read (its warning is already given).
      if (node.kind === 'object' && (child.children.length > 0 || child.text !== '')) {
        const list = next.list ?? (node.repeated ? { node, kanzi: parsed.kanziList } : undefined);
        pending.push({ el: child, node, ...(list ? { list } : {}) });
      }
    }
    parent.children = [...scope.items.values()];
  }
  return root;
}

/** The innermost list an object is part of (itself included), and whether it was spelled `datatype="list"`. */
interface EnclosingList {
  node: RuntimeDataObject;
  kanzi: boolean;
}

interface Pending {
  el: XmlElement;
  node: RuntimeDataObject;
  list?: EnclosingList;
}

/** What is left of `maxStructValues`; once exceeded (and reported), no more zero values are built. */
interface ValueBudget {
  left: number;
  readonly limit: number;
  exceeded: boolean;
}

const LEAF_ATTRIBUTES = ['type', 'datatype', 'default', 'repeated', 'name', 'persistent', 'controller'];
const OBJECT_ATTRIBUTES = ['type', 'datatype', 'repeated', 'name', 'persistent', 'controller', 'default'];

/** The `type` or `datatype` attribute (they mean the same); an error when an element has both. */
function typeAttribute(el: XmlElement, ctx: ParseContext): XmlAttribute | undefined {
  const type = el.attributes.get('type');
  const datatype = el.attributes.get('datatype');
  if (type && datatype) {
    ctx.error(
      datatype.pos,
      `<${shownName(el.name)}> has both type="${shownName(type.value)}" and datatype="${shownName(datatype.value)}"; they mean the same (datatype is Kanzi Connect's spelling): keep one`,
    );
  }
  return type ?? datatype;
}

/** One runtime-data element; an object's children are left to the caller. */
function parseNode(
  el: XmlElement,
  parentPath: string,
  list: EnclosingList | undefined,
  ctx: ParseContext,
  typesUsable: boolean,
  budget: ValueBudget,
): { node: RuntimeDataNode; kanziList: boolean } | undefined {
  const typeAttr = typeAttribute(el, ctx);
  const kind = typeAttr?.value === 'list' ? 'list' : typeAttr === undefined || typeAttr.value === 'object' ? 'object' : 'leaf';
  ctx.checkAttributes(el, kind === 'leaf' ? LEAF_ATTRIBUTES : OBJECT_ATTRIBUTES);
  const name = nodeName(el, ctx);
  if (name === undefined) return undefined;
  const path = parentPath === '' ? name : `${parentPath}.${name}`;
  const options = nodeOptions(el, name, list, ctx);
  if (kind !== 'leaf') {
    let repeated = ctx.flag(el, 'repeated');
    if (kind === 'list') {
      const repeatedAttr = el.attributes.get('repeated');
      if (repeatedAttr) ctx.error(repeatedAttr.pos, `repeated on <${shownName(el.name)}> is not needed: datatype="list" is already a list; remove it`);
      repeated = true;
    }
    const defaultAttr = el.attributes.get('default');
    if (defaultAttr) {
      ctx.error(
        defaultAttr.pos,
        kind === 'list'
          ? `default on <${shownName(el.name)}> is not allowed: datatype="list" starts empty and its elements are written whole at run time; remove it`
          : `default on <${shownName(el.name)}> needs a type="…"; an element without a type is an object whose children are its fields`,
      );
    }
    if (repeated && list) nestedListError(el, path, kind === 'list', list, ctx);
    if (el.children.length === 0) {
      const hint = kind === 'list' ? 'add child elements describing one element of the list' : 'add type="…" to make it a leaf, or add child elements';
      ctx.warning(el.pos, `runtime data ${kind === 'list' ? 'list' : 'object'} "${path}" has no children; ${hint}`);
    }
    return { node: { kind: 'object', name, path, repeated, children: [], pos: el.pos, ...options }, kanziList: kind === 'list' };
  }
  const attr = typeAttr as XmlAttribute;
  const firstChild = el.children[0];
  if (firstChild) {
    ctx.error(
      firstChild.pos,
      `runtime data leaf "${path}" has ${attr.name}="${shownName(attr.value)}" and cannot contain elements; remove ${attr.name} to make it an object (or write datatype="list" for a list), or move the elements out`,
    );
  }
  ctx.checkNoText(el);
  const type = ctx.resolveType(attr, ctx.flag(el, 'repeated'), `runtime data "${path}"`, false);
  if (type?.repeated && list) nestedListError(el, path, false, list, ctx);
  if (list && el.attributes.get('default')) {
    ctx.notHonoured(el.attributes.get('default') as XmlAttribute, el.name, 'inside a list it gives no value: every element of the list is written whole at run time');
  }
  let value: unknown;
  // Struct zero values and defaults need a sound <types> section (a cycle would never end).
  if (type && (typesUsable || !ctx.types.has(type.name)) && withinBudget(el, path, type.name, type.repeated, ctx, budget)) {
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
  return { node: { kind: 'leaf', name, path, type: type ?? { name: attr.value, repeated: false }, default: value, pos: el.pos, ...options }, kanziList: false };
}

/**
 * The node's key: the `name` attribute when there is one (Kanzi Connect lets it override the element
 * name), else the element name. Either must be an identifier, since it becomes a path segment.
 */
function nodeName(el: XmlElement, ctx: ParseContext): string | undefined {
  const override = el.attributes.get('name');
  const name = override?.value ?? el.name;
  if (IDENTIFIER.test(name)) return name;
  ctx.error(
    override?.pos ?? el.pos,
    override
      ? `runtime data name "${shownName(name)}" (the name attribute of <${shownName(el.name)}>) is not an identifier; it becomes a path segment, so use letters, digits and _ (not starting with a digit)`
      : `runtime data name "${shownName(name)}" is not an identifier; element names in <runtime-data> become path segments, so use letters, digits and _ (not starting with a digit), or give the element a name="…" that is one`,
  );
  return undefined;
}

/** `persistent`, `controller` and the element name kept when `name` overrides it. */
function nodeOptions(el: XmlElement, name: string, list: EnclosingList | undefined, ctx: ParseContext): RuntimeDataNodeOptions {
  const options: RuntimeDataNodeOptions = {};
  if (name !== el.name) options.element = el.name;
  const persistent = ctx.binaryFlag(el, 'persistent');
  if (persistent && list) {
    // One value inside a list has no path of its own to keep it under: the list is kept whole or not at all.
    ctx.notHonoured(
      el.attributes.get('persistent') as XmlAttribute,
      el.name,
      `it is inside the list "${list.node.path}", whose elements are kept only as a whole: put persistent="1" on <${list.node.element ?? list.node.name}> instead`,
    );
  } else if (persistent) options.persistent = true;
  const controller = el.attributes.get('controller');
  if (controller) {
    options.controller = controller.value;
    ctx.notHonoured(controller, el.name, 'Peerway has no controllers; the service implementation alone writes runtime data (describe shows the value)');
  }
  return options;
}

/**
 * Kanzi Connect lists cannot contain lists. Peerway's own `repeated="true"` lists may nest; the rule
 * applies as soon as either list is spelled `datatype="list"`.
 */
function nestedListError(el: XmlElement, path: string, kanzi: boolean, outer: EnclosingList, ctx: ParseContext): void {
  if (!kanzi && !outer.kanzi) return;
  const at = `${outer.node.pos.line}:${outer.node.pos.column}`;
  ctx.error(
    el.pos,
    `runtime data "${path}" is a list inside the list "${outer.node.path}" (at ${at}); a datatype="list" cannot contain a list nor be inside one: make "${path}" a single value or object, or move it out of the list`,
  );
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
