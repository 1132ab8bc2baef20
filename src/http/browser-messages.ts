import { PeerwayError, type WireError } from '../errors.js';

/**
 * The JSON messages of the browser WebSocket `/ws` (docs/browser.md): requests `{id, type, ...}` answered
 * by `{id, ok: true, result}` or `{id, ok: false, error}`, and pushes `{type, ...}` without an id. The shape
 * mirrors the binary protocol's requests (docs/protocol.md), minus what a browser never does (attach,
 * ready: a browser takes the server route for everything).
 */

/** A request id: what the browser chose, echoed in the reply. */
export type RequestId = string | number;

export type BrowserRequest =
  | { id: RequestId; type: 'hello'; token?: string }
  | { id: RequestId; type: 'services' }
  | { id: RequestId; type: 'describe'; service: string }
  | { id: RequestId; type: 'start'; service: string }
  | { id: RequestId; type: 'stop'; session: string }
  | { id: RequestId; type: 'call'; session: string; method: string; args: Record<string, unknown> }
  | { id: RequestId; type: 'subscribe' | 'unsubscribe'; session: string; kind: 'event'; name?: string }
  | { id: RequestId; type: 'subscribe' | 'unsubscribe'; session: string; kind: 'data'; path: string }
  | { id: RequestId; type: 'sessions' | 'stats'; watch?: boolean }
  | { id: RequestId; type: 'ping' };

export type BrowserRequestType = BrowserRequest['type'];

export type BrowserReply = { id: RequestId | null; ok: true; result: unknown } | { id: RequestId | null; ok: false; error: WireError };

export type BrowserPush =
  | { type: 'event'; session: string; name: string; args: unknown }
  | { type: 'data'; session: string; path: string; value: unknown }
  | { type: 'ended'; session: string; error: WireError }
  | { type: 'sessions'; sessions: unknown }
  | { type: 'stats'; stats: unknown };

/** Every request type, with the fields each needs (for the error that lists them). */
const FIELDS: Record<BrowserRequestType, string> = {
  hello: 'token? (string)',
  services: 'nothing',
  describe: 'service (string)',
  start: 'service (string)',
  stop: 'session (string)',
  call: 'session (string), method (string), args? (object)',
  subscribe: 'session (string), kind ("event" with name?, or "data" with path?)',
  unsubscribe: 'session (string), kind ("event" with name?, or "data" with path?)',
  sessions: 'watch? (boolean)',
  stats: 'watch? (boolean)',
  ping: 'nothing',
};

export const BROWSER_REQUEST_TYPES = Object.keys(FIELDS) as BrowserRequestType[];

/** A request that could not be read: the error to answer with, and the id to answer to when there was one. */
export class BadRequest extends Error {
  constructor(
    readonly id: RequestId | null,
    readonly error: PeerwayError,
  ) {
    super(error.message);
  }
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * Reads one text message into a request, checking every field it uses.
 * @throws BadRequest with PROTOCOL (not JSON, not an object, unknown type) or BAD_ARGUMENT naming the field.
 */
export function parseBrowserRequest(text: string): BrowserRequest {
  let message: unknown;
  try {
    message = JSON.parse(text);
  } catch (err) {
    throw new BadRequest(null, new PeerwayError('PROTOCOL', `the message is not valid JSON (${(err as Error).message}); send one JSON object per text message`));
  }
  if (!isObject(message)) {
    throw new BadRequest(null, new PeerwayError('PROTOCOL', 'a message must be a JSON object {"id", "type", ...}'));
  }
  const id = message.id;
  if (!((typeof id === 'string' && id.length <= 128) || (typeof id === 'number' && Number.isFinite(id)))) {
    throw new BadRequest(null, fieldError('id', id === undefined ? 'is missing' : 'must be a number or a string of at most 128 characters', 'every request needs an id, echoed in its reply'));
  }
  const type = message.type;
  if (typeof type !== 'string' || !Object.prototype.hasOwnProperty.call(FIELDS, type)) {
    const known = BROWSER_REQUEST_TYPES.join(', ');
    throw new BadRequest(id, new PeerwayError('PROTOCOL', type === undefined ? `the field "type" is missing (one of ${known})` : `unknown message type ${JSON.stringify(type)} (one of ${known})`, { details: { field: 'type' } }));
  }
  const t = type as BrowserRequestType;
  const need = (field: string): string => {
    const value = message[field];
    if (typeof value === 'string') return value;
    throw new BadRequest(id, fieldError(field, value === undefined ? 'is missing' : `must be a string, got ${describe(value)}`, `${t} takes ${FIELDS[t]}`));
  };
  const optional = (field: string): string | undefined => (message[field] === undefined ? undefined : need(field));
  switch (t) {
    case 'hello': {
      const token = optional('token');
      return token === undefined ? { id, type: t } : { id, type: t, token };
    }
    case 'services':
    case 'ping':
      return { id, type: t };
    case 'describe':
    case 'start':
      return { id, type: t, service: need('service') };
    case 'stop':
      return { id, type: t, session: need('session') };
    case 'call': {
      const args = message.args ?? {};
      if (!isObject(args)) throw new BadRequest(id, fieldError('args', `must be an object of name → value, got ${describe(args)}`, `call takes ${FIELDS.call}`));
      return { id, type: t, session: need('session'), method: need('method'), args };
    }
    case 'subscribe':
    case 'unsubscribe': {
      const session = need('session');
      const kind = message.kind;
      if (kind === 'event') {
        const name = optional('name');
        return name === undefined ? { id, type: t, session, kind } : { id, type: t, session, kind, name };
      }
      if (kind === 'data') return { id, type: t, session, kind, path: optional('path') ?? '' };
      throw new BadRequest(id, fieldError('kind', kind === undefined ? 'is missing' : `must be "event" or "data", got ${describe(kind)}`, `${t} takes ${FIELDS[t]}`));
    }
    case 'sessions':
    case 'stats': {
      const watch = message.watch;
      if (watch !== undefined && typeof watch !== 'boolean') throw new BadRequest(id, fieldError('watch', `must be true or false, got ${describe(watch)}`, `${t} takes ${FIELDS[t]}`));
      return watch === undefined ? { id, type: t } : { id, type: t, watch };
    }
  }
}

function fieldError(field: string, problem: string, hint: string): PeerwayError {
  return new PeerwayError('BAD_ARGUMENT', `the field "${field}" ${problem}; ${hint}`, { details: { field } });
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  return typeof value === 'string' ? `the string ${JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value)}` : `${typeof value} ${JSON.stringify(value)?.slice(0, 40) ?? ''}`.trim();
}
