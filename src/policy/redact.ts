import { isPlainObject } from '../definition/values.js';
import { policyPath } from './policy-globs.js';

const segments = (path: string): string[] => (path === '' ? [] : path.split('.'));

/**
 * The runtime data `value` found at dot path `path`, without the subtrees at `deniedPaths` inside it;
 * `undefined` when `path` itself is a denied path or inside one. Paths may carry list indices
 * (`zones.0`) or not (`zones.celsius`, as policy paths and session grants name them): indices are
 * ignored, and a denied path that goes through a list is removed from every element.
 *
 * `value` is never modified. When nothing inside it is denied it is returned as is; otherwise the result
 * is new along the removed paths and shares every untouched subtree with `value` (treat both as
 * read-only, or clone before changing one).
 */
export function redactDenied(value: unknown, path: string, deniedPaths: readonly string[]): unknown {
  const at = segments(policyPath(path));
  const inside: string[][] = [];
  for (const denied of deniedPaths) {
    const d = segments(policyPath(denied));
    const common = Math.min(d.length, at.length);
    let i = 0;
    while (i < common && d[i] === at[i]) i++;
    if (i < common) continue; // unrelated branches
    if (d.length <= at.length) return undefined; // `path` is the denied path or inside it
    inside.push(d.slice(at.length));
  }
  let result = value;
  for (const steps of inside) result = without(result, steps, 0);
  return result;
}

/** `node` without the member at `steps[i..]`: a copy along the way when it is there, `node` itself when not. */
function without(node: unknown, steps: string[], i: number): unknown {
  if (Array.isArray(node)) {
    let changed = false;
    const out = node.map((element: unknown) => {
      const e = without(element, steps, i);
      if (e !== element) changed = true;
      return e;
    });
    return changed ? out : node;
  }
  const key = steps[i];
  if (!isPlainObject(node) || !Object.prototype.hasOwnProperty.call(node, key)) return node;
  if (i === steps.length - 1) {
    const copy = { ...node };
    delete copy[key];
    return copy;
  }
  const child = node[key];
  const stripped = without(child, steps, i + 1);
  return stripped === child ? node : { ...node, [key]: stripped };
}
