import { isScalar, isSeq } from 'yaml';
import { closestMatch, didYouMean } from '../definition/did-you-mean.js';
import type { Position } from '../definition/model.js';
import type { Action } from './authorizer.js';
import { nameGlobProblem, pathGlobProblem } from './policy-globs.js';
import {
  ACTIONS,
  COMPARISON_OPS,
  NAMED_ACTIONS,
  type Comparison,
  type ComparisonOp,
  type Condition,
  type ConditionValue,
  type Located,
  type PolicyStatement,
} from './policy-model.js';
import type { YamlReader } from './policy-yaml.js';

/** The statements of a policy file: `- allow: { who, service, actions, call, subscribe, read, when }`. */

const EFFECTS = ['allow', 'deny'] as const;
const BODY_KEYS = ['who', 'service', 'actions', 'call', 'subscribe', 'read', 'when'];
/** Keys people write for one of BODY_KEYS (each reported with its own hint). */
const MISPLACED: Record<string, string> = { register: 'actions', describe: 'actions', method: 'call', methods: 'call', event: 'subscribe', events: 'subscribe' };
const EXAMPLE = '- allow: { who: "*", service: "*", actions: [describe] }';
/** Operators people write out of habit, and the policy's name for them. */
const OPERATOR_ALIASES: Record<string, ComparisonOp> = { '==': 'eq', '=': 'eq', '!=': 'ne', '<': 'lt', '<=': 'le', '>': 'gt', '>=': 'ge', equals: 'eq', gte: 'ge', lte: 'le' };

/** Parses the statement at 1-based `index`; undefined (with errors reported) when it is unusable. */
export function parseStatement(reader: YamlReader, node: unknown, index: number, identities: ReadonlySet<string>, listPos: Position): PolicyStatement | undefined {
  const itemPos = reader.pos(node, listPos);
  const entries = reader.entries(node, itemPos);
  if (!entries || entries.length === 0) {
    reader.error(itemPos, `statement ${index} must be a mapping with allow or deny, e.g. ${EXAMPLE}`);
    return undefined;
  }
  const known = reader.checkKeys(entries, EFFECTS, `in statement ${index}`, (key) =>
    BODY_KEYS.includes(key) ? `${key} belongs inside allow: or deny:; indent it under the statement's allow or deny` : undefined,
  );
  if (known.length === 0) return undefined; // every key is already reported
  if (known.length > 1) {
    reader.error(known[1].pos, `statement ${index} has both allow and deny; split it into two statements (a later one wins)`);
    return undefined;
  }
  const { key, pos, value } = known[0];
  const effect = key as PolicyStatement['effect'];
  const label = `statement ${index} (${pos.file}:${pos.line}:${pos.column})`;
  const statement: PolicyStatement = { index, effect, label, pos, who: [], services: [], actions: [], names: {}, when: [] };
  const body = reader.entries(value, pos);
  if (!body) {
    reader.error(reader.isEmpty(value) ? pos : reader.pos(value, pos), `${effect} needs a mapping: who, service and what, e.g. ${effect}: { who: hmi, service: Climate, actions: [call] }`);
    return undefined;
  }
  let ok = true;
  const fieldHint = (k: string) =>
    k === 'register' || k === 'describe'
      ? `${k} applies to a whole service and takes no names; list it in actions, e.g. actions: [${k}]`
      : k === 'method' || k === 'methods'
        ? `methods are limited with call: [names] (did you mean "call"?)`
        : k === 'event' || k === 'events'
          ? `events are limited with subscribe: [names] (did you mean "subscribe"?)`
          : undefined;
  for (const field of reader.checkKeys(body, BODY_KEYS, `in ${effect}`, fieldHint)) {
    const v = field.value;
    switch (field.key) {
      case 'who': {
        const who = reader.texts(v, field.pos, 'who', 'an identity name, a list of them, or "*" (everyone)');
        if (!who) ok = false;
        for (const name of who ?? []) {
          if (name.value === '*' || name.value === 'anonymous' || identities.has(name.value)) statement.who.push(name);
          else {
            const declared = identities.size === 0 ? 'no identities are declared' : `declared identities: ${[...identities].join(', ')}`;
            reader.error(name.pos, `unknown identity "${name.value}"${didYouMean(name.value, [...identities, 'anonymous'])}; ${declared} (also anonymous, and "*" for everyone)`);
            ok = false;
          }
        }
        break;
      }
      case 'service':
        statement.services = checked(reader, reader.texts(v, field.pos, 'service', 'a service name, a glob such as "Clim*", a list, or "*"'), (g) => nameGlobProblem(g, 'service'));
        if (statement.services.length === 0) ok = false;
        break;
      case 'actions': {
        for (const action of reader.texts(v, field.pos, 'actions', `a list of actions: ${ACTIONS.join(', ')}`) ?? []) {
          if ((ACTIONS as readonly string[]).includes(action.value)) statement.actions.push(action as Located<Action>);
          else reader.error(action.pos, `unknown action "${action.value}"${didYouMean(action.value, ACTIONS)}; actions: ${ACTIONS.join(', ')}`);
        }
        if (statement.actions.length === 0) ok = false;
        break;
      }
      case 'call':
      case 'subscribe':
      case 'read': {
        const what = field.key === 'call' ? 'method' : field.key === 'subscribe' ? 'event' : 'path';
        const example = field.key === 'read' ? 'a list of runtime-data paths, e.g. [cabin.temperature, "cabin.*"]' : `a list of ${what} names or globs, e.g. ["set*"]`;
        const globs = checked(reader, reader.texts(v, field.pos, field.key, example), (g) => (field.key === 'read' ? pathGlobProblem(g) : nameGlobProblem(g, what)));
        if (globs.length === 0) ok = false;
        else statement.names[field.key] = globs;
        break;
      }
      case 'when': {
        const conditions = parseConditions(reader, v, field.pos);
        if (conditions) statement.when = conditions;
        else ok = false;
        break;
      }
    }
  }
  // A misspelt key (already reported with its suggestion) counts as given: one message per mistake.
  const given = new Set(body.map((e) => (BODY_KEYS.includes(e.key) ? e.key : (MISPLACED[e.key] ?? closestMatch(e.key, BODY_KEYS) ?? e.key))));
  for (const required of ['who', 'service'] as const) {
    if (!given.has(required)) {
      const what = required === 'who' ? 'the identities it applies to (a name, a list, or "*")' : 'the services it applies to (a name, a glob, a list, or "*")';
      reader.error(pos, `${label} needs ${required}: ${what}`);
      ok = false;
    }
  }
  if (!given.has('actions') && !NAMED_ACTIONS.some((a) => given.has(a))) {
    reader.error(pos, `${label} says nothing about what it ${effect === 'allow' ? 'allows' : 'denies'}: add actions: [${ACTIONS.join(', ')}] (any of them), or call:, subscribe:, read: lists of names`);
    ok = false;
  }
  for (const action of NAMED_ACTIONS) {
    const list = statement.names[action];
    if (list && statement.actions.some((a) => a.value === action)) {
      reader.warning(list[0].pos, `${action} is already in actions (all of the service); this list changes nothing: remove one`);
    }
  }
  return ok ? statement : undefined;
}

/** Keeps the globs without a problem, reporting the others. */
function checked(reader: YamlReader, globs: Located<string>[] | undefined, problem: (glob: string) => string | undefined): Located<string>[] {
  return (globs ?? []).filter((g) => {
    const p = problem(g.value);
    if (p) reader.error(g.pos, p);
    return p === undefined;
  });
}

/** `when: { "Vehicle:speed": { gt: 0 }, "Climate:status": ok }`; undefined when any condition is unusable. */
function parseConditions(reader: YamlReader, node: unknown, pos: Position): Condition[] | undefined {
  const entries = reader.entries(node, pos);
  if (!entries || entries.length === 0) {
    reader.error(reader.pos(node, pos), 'when needs conditions, e.g. when: { "Vehicle:speed": { gt: 0 } }');
    return undefined;
  }
  const out: Condition[] = [];
  let ok = true;
  for (const entry of entries) {
    const condition = parseCondition(reader, entry.key, entry.value, entry.pos);
    if (condition) out.push(condition);
    else ok = false;
  }
  return ok ? out : undefined;
}

function parseCondition(reader: YamlReader, key: string, node: unknown, pos: Position): Condition | undefined {
  const colon = key.indexOf(':');
  const service = colon < 0 ? '' : key.slice(0, colon).trim();
  const path = key.slice(colon + 1).trim();
  if (colon < 0 || service === '') {
    reader.error(pos, `"${key}" needs the service whose runtime data it reads: write "Service:${path || 'path'}", e.g. "Vehicle:speed" (quoted)`);
    return undefined;
  }
  if (service.includes('*') || path.includes('*')) {
    reader.error(pos, `"${key}": a condition reads one value; globs are not allowed in it`);
    return undefined;
  }
  if (path === '' || path.split('.').some((s) => s === '' || /\s/.test(s))) {
    reader.error(pos, `"${key}": write a runtime-data path after the colon, e.g. "${service}:cabin.temperature"`);
    return undefined;
  }
  const comparisons: Comparison[] = [];
  if (isScalar(node) && node.value !== null) {
    const value = conditionValue(node.value);
    if (value === undefined) {
      reader.error(reader.pos(node, pos), `"${key}": compare with a string, number or boolean`);
      return undefined;
    }
    comparisons.push({ op: 'eq', value, pos: reader.pos(node, pos) });
    return { service, path, comparisons, pos };
  }
  const ops = reader.entries(node, pos);
  if (!ops || ops.length === 0) {
    reader.error(reader.pos(node, pos), `"${key}" needs a comparison, e.g. { gt: 0 }, { eq: "P" }, { in: [P, N] }; operators: ${COMPARISON_OPS.join(', ')}`);
    return undefined;
  }
  let ok = true;
  for (const op of ops) {
    const valuePos = reader.pos(op.value, op.pos);
    if (!(COMPARISON_OPS as readonly string[]).includes(op.key)) {
      const alias = OPERATOR_ALIASES[op.key];
      const hint = alias ? ` (write ${alias})` : didYouMean(op.key, COMPARISON_OPS);
      reader.error(op.pos, `unknown comparison "${op.key}"${hint}; operators: ${COMPARISON_OPS.join(', ')}`);
      ok = false;
      continue;
    }
    const name = op.key as ComparisonOp;
    if (name === 'in') {
      const items = isSeq(op.value) ? op.value.items.map((i) => reader.resolve(i, valuePos)) : undefined;
      const values = items?.map((i) => (isScalar(i) ? conditionValue(i.value) : undefined));
      if (!values || values.length === 0 || values.some((v) => v === undefined)) {
        reader.error(valuePos, `in needs a non-empty list of strings, numbers or booleans, e.g. in: [P, N]`);
        ok = false;
      } else comparisons.push({ op: name, value: values as ConditionValue[], pos: op.pos });
      continue;
    }
    const value = isScalar(op.value) ? conditionValue(op.value.value) : undefined;
    if (name !== 'eq' && name !== 'ne' && typeof value !== 'number') {
      const written = reader.scalarText(op.value);
      const fix = written !== undefined && written.trim() !== '' && !Number.isNaN(Number(written)) ? `; write ${written.trim()} without quotes` : '';
      reader.error(valuePos, `${name} compares numbers${fix}, e.g. ${name}: 0`);
      ok = false;
    } else if (value === undefined) {
      reader.error(valuePos, `${name} needs a string, number or boolean, e.g. ${name}: "P"${isSeq(op.value) ? '; to compare with several values write in: [...]' : ''}`);
      ok = false;
    } else comparisons.push({ op: name, value, pos: op.pos });
  }
  return ok ? { service, path, comparisons, pos } : undefined;
}

function conditionValue(value: unknown): ConditionValue | undefined {
  if (typeof value === 'string' || typeof value === 'boolean') return value;
  return typeof value === 'number' && Number.isFinite(value) ? value : undefined;
}
