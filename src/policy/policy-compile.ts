import type { Action } from './authorizer.js';
import { MATCH_ALL, nameMatcher, pathMatcher, type Matcher } from './policy-globs.js';
import type { Condition, NamedAction, PolicyStatement } from './policy-model.js';

/**
 * A statement ready for fast matching: its identities as a set, its globs compiled. Shared by the
 * decision engine and the reports (coverage, unknown names), so both read the statements the same way.
 */
export interface CompiledStatement {
  readonly source: PolicyStatement;
  readonly allow: boolean;
  /** `who: "*"`. */
  readonly everyone: boolean;
  readonly who: ReadonlySet<string>;
  readonly services: Matcher;
  /** Per action: what of the service it covers (`MATCH_ALL` from `actions`), absent when it says nothing about it. */
  readonly scope: Readonly<Partial<Record<Action, Matcher>>>;
  readonly when: readonly Condition[];
}

export function compileStatement(source: PolicyStatement): CompiledStatement {
  const scope: Partial<Record<Action, Matcher>> = {};
  for (const action of source.actions) scope[action.value] = MATCH_ALL;
  for (const [action, globs] of Object.entries(source.names) as [NamedAction, { value: string }[]][]) {
    scope[action] ??= action === 'read' ? pathMatcher(globs.map((g) => g.value)) : nameMatcher(globs.map((g) => g.value));
  }
  const who = new Set(source.who.map((w) => w.value));
  return {
    source,
    allow: source.effect === 'allow',
    everyone: who.has('*'),
    who,
    services: nameMatcher(source.services.map((s) => s.value)),
    scope,
    when: source.when,
  };
}

/** Whether the statement applies to `identity` on `service` for `action` at all (names aside). */
export function appliesTo(s: CompiledStatement, identity: string, action: Action, service: string): boolean {
  return s.scope[action] !== undefined && (s.everyone || s.who.has(identity)) && s.services.test(service);
}

/**
 * Whether the statement covers `name` for `action` (a policy path for `read`). A request without a name
 * (subscribing to every event) is covered only by a statement covering all of the action.
 */
export function coversName(s: CompiledStatement, action: Action, name: string | undefined): boolean {
  const scope = s.scope[action];
  if (!scope) return false;
  if (scope.all) return true;
  return name !== undefined && scope.test(name);
}
