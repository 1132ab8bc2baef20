import type { Diagnostic, Position } from '../definition/model.js';
import type { Action } from './authorizer.js';

/**
 * The typed model of an access policy file (docs/policy.md), as `parsePolicy` builds it: every name keeps
 * the position it came from, so later checks (unknown services, coverage) can report `file:line:col`.
 */

/** `enforced` denies what no statement allows; `notify` blocks nothing and reports would-be denials. */
export type PolicyMode = 'enforced' | 'notify';
export const POLICY_MODES: readonly PolicyMode[] = ['enforced', 'notify'];

export const ACTIONS: readonly Action[] = ['register', 'describe', 'call', 'subscribe', 'read'];

/** The actions that apply to names inside a service: methods, events, runtime-data paths. */
export type NamedAction = 'call' | 'subscribe' | 'read';
export const NAMED_ACTIONS: readonly NamedAction[] = ['call', 'subscribe', 'read'];

export const COMPARISON_OPS = ['eq', 'ne', 'lt', 'le', 'gt', 'ge', 'in'] as const;
export type ComparisonOp = (typeof COMPARISON_OPS)[number];

/** A value a condition compares runtime data with. */
export type ConditionValue = string | number | boolean;

/** A value from the file with the position of its first character. */
export interface Located<T> {
  value: T;
  pos: Position;
}

/** A certificate subject as the policy names it: its text and its `KEY=value` attributes (keys upper-case). */
export interface CertificateSubject {
  text: string;
  attributes: [string, string][];
}

export interface PolicyIdentity {
  name: string;
  /** Lowercase hex SHA-256 digests of the tokens that authenticate as this identity (several for rotation). */
  tokenSha256: Located<string>[];
  certificate?: Located<CertificateSubject>;
  pos: Position;
}

export interface Comparison {
  op: ComparisonOp;
  /** A list for `in`, a number for `lt`/`le`/`gt`/`ge`, any scalar for `eq`/`ne`. */
  value: ConditionValue | ConditionValue[];
  pos: Position;
}

/** One key of a `when` mapping: `"Service:path"` and the comparisons that must all hold. */
export interface Condition {
  service: string;
  /** A runtime-data value path (list indices allowed), as the reader is asked for it. */
  path: string;
  comparisons: Comparison[];
  pos: Position;
}

export interface PolicyStatement {
  /** 1-based, in file order: statement N is the Nth entry of `statements`. */
  index: number;
  effect: 'allow' | 'deny';
  /** `statement 4 (policy.yaml:12:5)`: how messages name it. */
  label: string;
  /** Position of the `allow` or `deny` key. */
  pos: Position;
  /** Identity names, `anonymous`, or `*` (everyone). */
  who: Located<string>[];
  /** Service name globs. */
  services: Located<string>[];
  /** Actions on everything of the service. */
  actions: Located<Action>[];
  /** Actions limited to some names: method globs, event globs, runtime-data path globs. */
  names: Partial<Record<NamedAction, Located<string>[]>>;
  /** All must hold for the statement to apply; empty = always applies. */
  when: Condition[];
}

export interface PolicyModel {
  file: string;
  mode: PolicyMode;
  identities: PolicyIdentity[];
  statements: PolicyStatement[];
  /** Non-fatal findings of parsing (redundant lists, an empty statement list …). */
  warnings: Diagnostic[];
}

/** `file:line:col` of a position. */
export function where(pos: Position): string {
  return `${pos.file}:${pos.line}:${pos.column}`;
}
