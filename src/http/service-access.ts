import { didYouMean } from '../definition/did-you-mean.js';
import type { EventDef, MethodDef, ServiceDefinition } from '../definition/model.js';
import { fromJsonValue, parseTextValue } from '../definition/value-text.js';
import { checkArguments } from '../definition/values.js';
import { PeerwayError } from '../errors.js';
import type { Identity } from '../policy/authorizer.js';
import type { GatewayContext } from './gateway.js';

/**
 * What the Kanzi endpoints and the JSON API share: finding a service, a method or an event by name (404
 * with a did-you-mean), turning HTTP arguments into typed ones, and the stateless call and read through
 * the broker (so the policy holds: nothing here decides access).
 */

/**
 * The definition of `name` as `identity` may see it: SERVICE_NOT_FOUND (with a did-you-mean among the
 * services it may describe, never the others) or POLICY_DENIED when it may not describe it.
 */
export function describeService(context: GatewayContext, identity: Identity, name: string): ServiceDefinition {
  const broker = context.broker;
  if (!broker.services.has(name)) {
    // Asked without the audit: suggesting a name is not a request for it, so it logs and counts no denial.
    const visible = [...broker.services.keys()].filter((s) => broker.authorizer.current.authorize(identity, 'describe', { service: s }).allowed);
    const hint = didYouMean(name, visible);
    throw new PeerwayError('SERVICE_NOT_FOUND', `no service named "${name}" is registered${hint}; services: ${visible.join(', ') || 'none'} (GET /api/services lists them)`, {
      details: { service: name },
    });
  }
  return broker.definitionFor(identity, name);
}

export function findMethod(definition: ServiceDefinition, name: string): MethodDef {
  const method = definition.methods.get(name);
  if (method) return method;
  const names = [...definition.methods.keys()];
  throw new PeerwayError('METHOD_NOT_FOUND', `service ${definition.name} has no method "${name}"${didYouMean(name, names)} (methods: ${names.join(', ') || 'none'})`, {
    details: { service: definition.name, method: name },
  });
}

export function findEvent(definition: ServiceDefinition, name: string): EventDef {
  const event = definition.events.get(name);
  if (event) return event;
  const names = [...definition.events.keys()];
  throw new PeerwayError('EVENT_NOT_FOUND', `service ${definition.name} has no event "${name}"${didYouMean(name, names)} (events: ${names.join(', ') || 'none'})`, {
    details: { service: definition.name, event: name },
  });
}

const label = (definition: ServiceDefinition, method: MethodDef) => `${definition.name}.${method.name}`;

/**
 * Named arguments from a JSON body (int64 as a number or a decimal string, binary as base64 or `hex:…`);
 * no body means no arguments. BAD_ARGUMENT names the argument and the type it expects.
 */
export function argumentsFromJson(definition: ServiceDefinition, method: MethodDef, body: unknown): Record<string, unknown> {
  const where = label(definition, method);
  if (body === undefined || body === null) return checkArguments(definition, method.arguments, {}, where);
  if (typeof body !== 'object' || Array.isArray(body)) return checkArguments(definition, method.arguments, body as Record<string, unknown>, where);
  try {
    // Object.fromEntries defines own properties, so a "__proto__" argument is an unknown argument, not a prototype.
    const converted = Object.entries(body as Record<string, unknown>).map(([name, value]): [string, unknown] => {
      const field = method.arguments.find((f) => f.name === name);
      return [name, field ? fromJsonValue(definition, field.type, value, `${where} argument "${name}"`) : value];
    });
    return checkArguments(definition, method.arguments, Object.fromEntries(converted), where);
  } catch (err) {
    throw inJsonTerms(err);
  }
}

/** The value checker's hint for an int64 past 2^53 speaks of bigints; in JSON the way is a decimal string. */
function inJsonTerms(err: unknown): unknown {
  if (!(err instanceof PeerwayError) || !err.message.endsWith('; pass a bigint)')) return err;
  const message = err.message.replace(/; pass a bigint\)$/, '; send it as a decimal string, as JSON numbers past 2^53 lose their exact value)');
  return new PeerwayError(err.code, message, { ...(err.details ? { details: err.details } : {}), cause: err });
}

/**
 * Named arguments written as text (a query string, a form body), each parsed with its argument's type:
 * bool true/false/1/0, numbers in decimal, binary as base64 or `hex:…`, structs and lists as JSON text.
 * Values that are not text (a JSON body sent to a Kanzi endpoint) are taken as JSON. A name given twice is
 * refused rather than guessed at.
 */
export function argumentsFromText(definition: ServiceDefinition, method: MethodDef, ...sources: unknown[]): Record<string, unknown> {
  const where = label(definition, method);
  const out = new Map<string, unknown>();
  for (const source of sources) {
    if (source === undefined || source === null) continue;
    for (const [name, value] of Object.entries(source as Record<string, unknown>)) {
      if (out.has(name) || Array.isArray(value)) {
        throw new PeerwayError('BAD_ARGUMENT', `${where} argument "${name}" is given more than once; give each argument once`, { details: { where, argument: name } });
      }
      const field = method.arguments.find((f) => f.name === name);
      const where1 = `${where} argument "${name}"`;
      out.set(name, !field ? value : typeof value === 'string' ? parseTextValue(definition, field.type, value, where1) : fromJsonValue(definition, field.type, value, where1));
    }
  }
  return checkArguments(definition, method.arguments, Object.fromEntries(out), where);
}

/** Calls a method on the caller's kept session with the service (started on first use); the typed result. */
export async function invokeMethod(context: GatewayContext, identity: Identity, definition: ServiceDefinition, method: MethodDef, args: Record<string, unknown>): Promise<unknown> {
  const { client, session } = await context.callers.session(identity, definition.name);
  return await client.call(session, method.name, args);
}

/** The server's copy of the runtime data at `path` ('' for all), as the caller may read it (denied parts left out). */
export async function readRuntimeData(context: GatewayContext, identity: Identity, definition: ServiceDefinition, path: string): Promise<unknown> {
  const { client, session } = await context.callers.session(identity, definition.name);
  return client.read(session, path);
}
