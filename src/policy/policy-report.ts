import { didYouMean } from '../definition/did-you-mean.js';
import type { Diagnostic, Position, RuntimeDataNode, ServiceDefinition } from '../definition/model.js';
import { findRuntimeDataNode } from '../definition/runtime-data-tree.js';
import type { Action } from './authorizer.js';
import { appliesTo, coversName, type CompiledStatement } from './policy-compile.js';
import { nameGlobMatches, pathGlobMatches } from './policy-globs.js';
import { ACTIONS, type Located, type NamedAction } from './policy-model.js';

/**
 * What the server reports about a policy once services are registered: names that match nothing
 * (warnings with positions) and the operations no statement decides (the coverage report).
 */

/** Every object and leaf path of a runtime-data tree, root ('') first, in document order. */
export function runtimeDataPaths(root: RuntimeDataNode): string[] {
  const out: string[] = [];
  const pending: RuntimeDataNode[] = [root];
  for (let node = pending.pop(); node; node = pending.pop()) {
    out.push(node.path);
    if (node.kind === 'object') for (let i = node.children.length - 1; i >= 0; i--) pending.push(node.children[i]);
  }
  return out;
}

const MEMBERS: Record<NamedAction, { what: string; of: (d: ServiceDefinition) => string[]; matches: (glob: string, name: string) => boolean }> = {
  call: { what: 'method', of: (d) => [...d.methods.keys()], matches: nameGlobMatches },
  subscribe: { what: 'event', of: (d) => [...d.events.keys()], matches: nameGlobMatches },
  read: { what: 'runtime-data path', of: (d) => runtimeDataPaths(d.runtimeData).filter((p) => p !== ''), matches: pathGlobMatches },
};

const list = (names: string[]): string => (names.length === 0 ? 'none' : names.join(', '));

/**
 * Warnings for names in `statements` that nothing registered matches: services, methods, events, paths,
 * and the services and paths `when` conditions read (a condition on missing data is always false).
 * Each warning is at the name's position, once.
 */
export function unknownNames(statements: readonly CompiledStatement[], definitions: Iterable<ServiceDefinition>): Diagnostic[] {
  const defs = [...definitions];
  const serviceNames = defs.map((d) => d.name);
  const out = new Map<string, Diagnostic>();
  const warn = (pos: Position, message: string) => {
    const key = `${pos.line}:${pos.column}`;
    if (!out.has(key)) out.set(key, { file: pos.file, line: pos.line, column: pos.column, severity: 'warning', message });
  };
  for (const s of statements) {
    const { source } = s;
    for (const glob of source.services) {
      if (serviceNames.some((n) => nameGlobMatches(glob.value, n))) continue;
      const what = glob.value.includes('*') ? `"${glob.value}" matches no registered service` : `no service "${glob.value}" is registered${didYouMean(glob.value, serviceNames)}`;
      warn(glob.pos, `${what}; registered: ${list(serviceNames)}`);
    }
    const matched = defs.filter((d) => s.services.test(d.name));
    if (matched.length > 0) {
      const services = matched.map((d) => d.name).join(', ');
      for (const [action, globs] of Object.entries(source.names) as [NamedAction, Located<string>[]][]) {
        const { what, of, matches } = MEMBERS[action];
        const known = [...new Set(matched.flatMap(of))];
        for (const glob of globs) {
          if (known.some((n) => matches(glob.value, n))) continue;
          const shown = known.length > 20 ? `${known.slice(0, 20).join(', ')}, …` : list(known);
          warn(glob.pos, `"${glob.value}" matches no ${what} of ${services}${didYouMean(glob.value, known)}; ${what}s: ${shown}`);
        }
      }
    }
    for (const condition of source.when) {
      const definition = defs.find((d) => d.name === condition.service);
      if (!definition) {
        warn(condition.pos, `the condition reads service ${condition.service}, which is not registered${didYouMean(condition.service, serviceNames)}; until it is, the condition is false`);
        continue;
      }
      const found = findRuntimeDataNode(definition.runtimeData, condition.path, { indices: true, scope: definition });
      if ('problem' in found) warn(condition.pos, `${condition.service}:${condition.path}: ${found.problem}; the condition is false while the path does not exist`);
    }
  }
  return [...out.values()].sort((a, b) => a.line - b.line || a.column - b.column);
}

/**
 * Operations no unconditional statement decides, for some identities: in enforced mode they are denied
 * by default, which may or may not be what the author meant. `names` is empty for `register` and
 * `describe`; `*` stands for every method or event, `**` for all runtime data, `cabin.**` for a whole
 * subtree, `cabin (itself)` for an object without its children.
 */
export interface CoverageGap {
  service: string;
  action: Action;
  names: string[];
  identities: string[];
}

/**
 * The coverage report: per service (by name), per action, the identities (grouped when their gaps are
 * the same) and names that no statement without `when` decides. A statement with `when` decides only
 * while its condition holds, so it does not count.
 */
export function coverage(statements: readonly CompiledStatement[], identities: readonly string[], definitions: Iterable<ServiceDefinition>): CoverageGap[] {
  const unconditional = statements.filter((s) => s.when.length === 0);
  const out: CoverageGap[] = [];
  for (const definition of [...definitions].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))) {
    for (const action of ACTIONS) {
      const names: (string | undefined)[] =
        action === 'call' ? [...definition.methods.keys()] : action === 'subscribe' ? [...definition.events.keys()] : action === 'read' ? runtimeDataPaths(definition.runtimeData) : [undefined];
      if (names.length === 0) continue;
      const groups = new Map<string, CoverageGap>();
      for (const identity of identities) {
        const relevant = unconditional.filter((s) => appliesTo(s, identity, action, definition.name));
        const open = new Set(names.filter((n) => !relevant.some((s) => coversName(s, action, n))));
        if (open.size === 0) continue;
        const shown = action === 'read' ? collapsePaths(definition.runtimeData, open) : action === 'register' || action === 'describe' ? [] : open.size === names.length ? ['*'] : [...open] as string[];
        const key = shown.join('\n');
        const group = groups.get(key);
        if (group) group.identities.push(identity);
        else groups.set(key, { service: definition.name, action, names: shown, identities: [identity] });
      }
      out.push(...groups.values());
    }
  }
  return out;
}

/** Undecided paths as few entries: `cabin.**` for a whole subtree, `**` for all, `cabin (itself)` for the object alone. */
function collapsePaths(root: RuntimeDataNode, open: ReadonlySet<string | undefined>): string[] {
  const whole = new Map<string, boolean>();
  const isWhole = (node: RuntimeDataNode): boolean => {
    let result = open.has(node.path);
    if (node.kind === 'object') for (const child of node.children) result = isWhole(child) && result;
    whole.set(node.path, result);
    return result;
  };
  isWhole(root);
  const out: string[] = [];
  const visit = (node: RuntimeDataNode) => {
    if (whole.get(node.path)) {
      out.push(node.path === '' ? '**' : node.kind === 'object' ? `${node.path}.**` : node.path);
      return;
    }
    if (open.has(node.path)) out.push(node.path === '' ? '(root itself)' : `${node.path} (itself)`);
    if (node.kind === 'object') for (const child of node.children) visit(child);
  };
  visit(root);
  return out;
}

/** The coverage report as lines: `Climate: no statement decides call reset, getTemperature for anonymous, hmi`. */
export function formatCoverage(gaps: readonly CoverageGap[]): string[] {
  return gaps.map((g) => `${g.service}: no statement decides ${g.action}${g.names.length > 0 ? ` ${g.names.join(', ')}` : ''} for ${g.identities.join(', ')}`);
}
