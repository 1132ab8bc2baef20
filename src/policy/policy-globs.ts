/**
 * The globs of a policy file (docs/policy.md, "Globs"):
 *
 * - service, method and event names: `*` matches any run of characters (`set*`, `*Temperature`, `*`);
 *   everything else matches itself.
 * - runtime-data paths: dot-separated segments; `*` inside a segment matches any characters but a dot
 *   (`cabin.*` = cabin's direct children, `cabin.t*`), a whole segment `**` matches any number of
 *   segments, none included. A pattern selects the nodes it matches **and their subtrees**: `cabin` and
 *   `cabin.**` both mean cabin and everything under it, `cabin.*` everything under cabin but not cabin
 *   itself. `*` or `**` alone selects every path, the root ('') included.
 * - paths are matched without list indices: `zones.0.celsius` is judged as `zones.celsius` (runtime-data
 *   element names cannot start with a digit, so an all-digit segment is always an index).
 */

/** A compiled list of globs. `all` when it matches every name (`*` among them), so callers can skip the test. */
export interface Matcher {
  readonly all: boolean;
  test(name: string): boolean;
}

export const MATCH_ALL: Matcher = Object.freeze({ all: true, test: () => true });
export const MATCH_NONE: Matcher = Object.freeze({ all: false, test: () => false });

const escape = (s: string): string => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** Matcher for service, method or event name globs. */
export function nameMatcher(globs: readonly string[]): Matcher {
  if (globs.length === 0) return MATCH_NONE;
  if (globs.includes('*')) return MATCH_ALL;
  if (globs.every((g) => !g.includes('*'))) {
    if (globs.length === 1) {
      const only = globs[0];
      return { all: false, test: (name) => name === only };
    }
    const set = new Set(globs);
    return { all: false, test: (name) => set.has(name) };
  }
  const re = new RegExp(`^(?:${globs.map((g) => g.split('*').map(escape).join('.*')).join('|')})$`, 's');
  return { all: false, test: (name) => re.test(name) };
}

/** Whether `glob` (service, method or event) matches `name`. */
export function nameGlobMatches(glob: string, name: string): boolean {
  return nameMatcher([glob]).test(name);
}

/** Regular expression source for one path glob, matched against `'.' + path` (the root is ''). */
function pathGlobSource(glob: string): string {
  return glob
    .split('.')
    .map((segment) => (segment === '**' ? '(?:\\.[^.]+)*' : `\\.${segment.split('*').map(escape).join('[^.]*')}`))
    .join('');
}

/**
 * Matcher for runtime-data path globs; give it paths already stripped of list indices
 * ({@link policyPath}). A pattern matches the nodes it names and their subtrees.
 */
export function pathMatcher(globs: readonly string[]): Matcher {
  if (globs.length === 0) return MATCH_NONE;
  if (globs.includes('*') || globs.includes('**')) return MATCH_ALL;
  const re = new RegExp(`^(?:${globs.map(pathGlobSource).join('|')})(?:\\..*)?$`, 's');
  return { all: false, test: (path) => re.test(path === '' ? '' : `.${path}`) };
}

/** Whether path glob `glob` selects `path` (a definition path, no list indices). */
export function pathGlobMatches(glob: string, path: string): boolean {
  return pathMatcher([glob]).test(path);
}

const INDEX_SEGMENT = /(?:^|\.)\d+(?:\.|$)/;

/**
 * `path` without its list indices (`zones.0.celsius` → `zones.celsius`): the form policy paths and the
 * keys of session grants use. Returns `path` itself when it has none (the common case, one regex test).
 */
export function policyPath(path: string): string {
  if (!INDEX_SEGMENT.test(path)) return path;
  return path
    .split('.')
    .filter((s) => !/^\d+$/.test(s))
    .join('.');
}

/** What is wrong with a path glob, as a message naming the fix; undefined when it is fine. */
export function pathGlobProblem(glob: string): string | undefined {
  if (glob === '') return 'an empty path; write a runtime-data path such as cabin.temperature, or "**" for all of it';
  for (const segment of glob.split('.')) {
    if (segment === '') return `"${glob}" has an empty segment; write paths like cabin.temperature`;
    if (segment.includes('**') && segment !== '**') return `"${glob}": ** must be a whole segment (cabin.**), not part of one`;
    if (/^\d+$/.test(segment)) return `"${glob}": policy paths name list elements without an index; write "${policyPath(glob)}"`;
    if (/\s/.test(segment)) return `"${glob}" contains white space; runtime-data names never do`;
  }
  return undefined;
}

/** What is wrong with a service, method or event glob; undefined when it is fine. */
export function nameGlobProblem(glob: string, what: string): string | undefined {
  if (glob.trim() === '') return `an empty ${what} name; write a name or a glob such as "*"`;
  if (/\s/.test(glob)) return `${what} "${glob}" contains white space; names never do`;
  return undefined;
}
