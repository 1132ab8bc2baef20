import type { Comparison, Condition, ConditionValue } from './policy-model.js';

/**
 * `when` conditions: comparisons on the server's copy of runtime data, read at every decision, so a
 * decision changes the moment the data does.
 */

/** Reads the server's copy of runtime data: the value at a dot path of a service, undefined when absent. */
export interface RuntimeDataReader {
  get(service: string, path: string): unknown;
}

/** Reads nothing: every condition reads missing data and is false. */
export const NO_RUNTIME_DATA: RuntimeDataReader = { get: () => undefined };

/** `true` all hold, `false` one does not, `undefined` one reads data that is not there (so the statement does not apply). */
export type ConditionOutcome = boolean | undefined;

const isNumeric = (v: unknown): v is number | bigint => typeof v === 'number' || typeof v === 'bigint';

/** Equality of runtime data with a file value; numbers and bigints (int64) compare by value. */
function equal(data: unknown, value: ConditionValue): boolean {
  // number == bigint compares the numeric values, which is what is wanted here.
  if (isNumeric(data) && typeof value === 'number') return data == value;
  return data === value;
}

function compare(data: unknown, c: Comparison): boolean {
  const v = c.value;
  switch (c.op) {
    case 'eq':
      return equal(data, v as ConditionValue);
    case 'ne':
      return !equal(data, v as ConditionValue);
    case 'in':
      return (v as ConditionValue[]).some((x) => equal(data, x));
    case 'lt':
      return isNumeric(data) && data < (v as number);
    case 'le':
      return isNumeric(data) && data <= (v as number);
    case 'gt':
      return isNumeric(data) && data > (v as number);
    case 'ge':
      return isNumeric(data) && data >= (v as number);
  }
}

/** Whether every condition holds; `undefined` as soon as one reads missing data (a false condition). */
export function evaluateConditions(conditions: readonly Condition[], reader: RuntimeDataReader): ConditionOutcome {
  for (const condition of conditions) {
    const data = reader.get(condition.service, condition.path);
    if (data === undefined) return undefined;
    for (const c of condition.comparisons) if (!compare(data, c)) return false;
  }
  return true;
}

/** A value for a message: strings quoted, bigints as numbers, structures by kind. */
export function showValue(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value);
  if (typeof value === 'number' || typeof value === 'bigint' || typeof value === 'boolean' || value === null) return String(value);
  if (value === undefined) return 'missing';
  if (Array.isArray(value)) return 'a list';
  return typeof value === 'object' ? 'an object' : typeof value;
}

const showComparison = (c: Comparison): string => `${c.op} ${Array.isArray(c.value) ? `[${c.value.map(showValue).join(', ')}]` : showValue(c.value)}`;

/** `Vehicle:speed gt 0` for messages. */
export function showCondition(condition: Condition): string {
  return `${condition.service}:${condition.path} ${condition.comparisons.map(showComparison).join(' and ')}`;
}

/** Why conditions that hold do: `while Vehicle:speed gt 0 (now 12)`, every condition listed. */
export function explainHolding(conditions: readonly Condition[], reader: RuntimeDataReader): string {
  return `while ${conditions.map((c) => `${showCondition(c)} (now ${showValue(reader.get(c.service, c.path))})`).join(' and ')}`;
}

/** Why conditions do not apply for missing data: names the first condition whose data is missing. */
export function explainMissing(conditions: readonly Condition[], reader: RuntimeDataReader): string {
  const missing = conditions.find((c) => reader.get(c.service, c.path) === undefined);
  if (!missing) return 'its condition no longer reads missing data';
  return `its condition reads ${missing.service}:${missing.path}, which is not available (no such service registered, or no such path), so the condition is false`;
}
