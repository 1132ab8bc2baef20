import { PeerwayError } from '../errors.js';
import type { Message, PushType, RequestType } from './messages.js';

/**
 * The fields of every request and push, checked where a message enters (the Channel, before any handler
 * sees it), on every side: server, runner, links, client. A field of the wrong type is refused with
 * PROTOCOL naming it, so no handler ever formats, splits or walks a peer's value of a type it did not
 * expect (`${session}` on a map whose toString is not a function, `path.split` on a number). What a field
 * means (a session that exists, a method the definition has) is still the handler's to check.
 *
 * Optional fields may be absent or nil: a sender's `undefined` travels as nil.
 */

/** What is wrong with a value ("must be a string, got 12"); undefined when it is fine. */
type Check = (value: unknown) => string | undefined;

const isMap = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof Uint8Array);

/** `inner` below `prefix`: a nested problem starts with its own path (`[2] …`, `.host …`). */
function below(prefix: string, inner: string): string {
  return inner.startsWith('[') || inner.startsWith('.') ? `${prefix}${inner}` : `${prefix} ${inner}`;
}

function expect(test: (v: unknown) => boolean, wording: string): Check {
  return (v) => (test(v) ? undefined : `must be ${wording}, got ${peerValue(v)}`);
}

const string = expect((v) => typeof v === 'string', 'a string');
const number = expect((v) => typeof v === 'number', 'a number');
const map = expect(isMap, 'a map');
const anything: Check = () => undefined;

function optional(check: Check): Check {
  return (v) => (v === undefined || v === null ? undefined : check(v));
}

function oneOf(...values: string[]): Check {
  return expect((v) => typeof v === 'string' && values.includes(v), values.map((x) => `"${x}"`).join(' or '));
}

/** A list whose items pass `check`; the first bad item is named. */
function listOf(check: Check, what: string): Check {
  const notList = expect(Array.isArray, `a list of ${what}`);
  return (v) => {
    if (!Array.isArray(v)) return notList(v);
    for (let i = 0; i < v.length; i++) {
      const problem = check(v[i]);
      if (problem) return below(`[${i}]`, problem);
    }
    return undefined;
  };
}

/** A map of name → value whose values pass `check`; the first bad entry is named. */
function mapOf(check: Check, what: string): Check {
  const notMap = expect(isMap, `a map of name → ${what}`);
  return (v) => {
    if (!isMap(v)) return notMap(v);
    for (const [key, value] of Object.entries(v)) {
      const problem = check(value);
      if (problem) return below(`[${peerValue(key)}]`, problem);
    }
    return undefined;
  };
}

/** A map with these fields (others are ignored, as in messages); the first bad field is named. */
function shape(fields: Record<string, Check>): Check {
  return (v) => {
    if (!isMap(v)) return map(v);
    for (const [name, check] of Object.entries(fields)) {
      const problem = check(v[name]);
      if (problem) return below(`.${name}`, problem);
    }
    return undefined;
  };
}

const profile = shape({ bearers: listOf(string, 'bearer ids'), host: string, process: optional(string), version: number });
const route = shape({ linkType: oneOf('direct', 'server'), link: optional(string) });
const grants = shape({ denied: mapOf(string, 'reason') });
const kind = oneOf('event', 'data');

/**
 * Per request and push kind, its fields. `session` is optional on call, subscribe and unsubscribe because
 * links carry none (the link is the session's); the server answers a missing one SESSION_NOT_FOUND.
 */
const FIELDS: Record<RequestType | PushType, Record<string, Check>> = {
  list: {},
  stats: {},
  ping: {},
  start: { service: string, client: optional(profile) },
  attach: { session: string, resume: string },
  stop: { session: string },
  ready: { session: string, routes: optional(mapOf(route, 'route')), warnings: anything },
  call: { session: optional(string), service: optional(string), method: string, args: optional(map) },
  subscribe: { session: optional(string), kind, name: optional(string) },
  unsubscribe: { session: optional(string), kind, name: optional(string) },
  register: { services: listOf(shape({ name: optional(string), xml: string, file: optional(string), data: anything }), 'services') },
  open: { session: string, service: string, client: profile, identity: optional(string), grants: optional(grants) },
  event: { service: optional(string), session: optional(string), name: string, args: optional(map) },
  data: { service: optional(string), session: optional(string), path: string, value: anything },
  close: { session: string },
  grants: { session: string, grants },
  ended: { session: string, error: anything },
};

/**
 * PROTOCOL naming the first field of a request or push that has the wrong type
 * (`call.session must be a string, got a map`); undefined when every field is fine or the kind has no
 * field list (hello, welcome, reply and error are checked where they are read).
 */
export function fieldProblem(message: Message): PeerwayError | undefined {
  const fields = FIELD_LISTS.get(message.type);
  if (!fields) return undefined;
  const values = message as unknown as Record<string, unknown>;
  // Every request and push of every connection passes here: a plain loop over a list made once.
  for (let i = 0; i < fields.length; i++) {
    const [name, check] = fields[i];
    const problem = check(values[name]);
    if (problem) return new PeerwayError('PROTOCOL', below(`${message.type}.${name}`, problem), { details: { field: name } });
  }
  return undefined;
}

const FIELD_LISTS: ReadonlyMap<string, readonly (readonly [string, Check])[]> = new Map(Object.entries(FIELDS).map(([type, fields]) => [type, Object.entries(fields)]));

/**
 * A peer's value for a message: a number or a short string as itself, anything else by its kind (never a
 * toString of the peer's making, never a walk of a deep value).
 */
export function peerValue(value: unknown): string {
  if (typeof value === 'number' || typeof value === 'boolean' || typeof value === 'bigint') return String(value);
  if (typeof value === 'string') return JSON.stringify(value.length > 64 ? `${value.slice(0, 64)}…` : value);
  if (value === null || value === undefined) return 'nothing';
  if (value instanceof Uint8Array) return `binary of ${value.length} bytes`;
  return Array.isArray(value) ? `a list of ${value.length}` : typeof value === 'object' ? 'a map' : typeof value;
}
