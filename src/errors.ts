/**
 * One error class for everything Peerway reports, with a closed set of stable codes.
 * Codes travel on the wire (so a client sees the same code the service raised) and map to HTTP statuses.
 * The full list with explanations lives in docs/errors.md; keep the two in step.
 */

export const ERROR_CODES = {
  SERVICE_NOT_FOUND: { http: 404, summary: 'no service with that name is registered' },
  METHOD_NOT_FOUND: { http: 404, summary: 'the service has no method with that name' },
  EVENT_NOT_FOUND: { http: 404, summary: 'the service has no event with that name' },
  PATH_NOT_FOUND: { http: 404, summary: 'the runtime data has no node at that path' },
  SESSION_NOT_FOUND: { http: 404, summary: 'the session is unknown or already stopped' },
  BAD_ARGUMENT: { http: 400, summary: 'an argument is missing, unknown or of the wrong type' },
  BAD_RESULT: { http: 502, summary: 'the implementation returned a value that does not match the definition' },
  IMPLEMENTATION_ERROR: { http: 500, summary: 'the service implementation threw' },
  NOT_IMPLEMENTED: { http: 501, summary: 'the definition declares a method the implementation does not provide' },
  TIMEOUT: { http: 504, summary: 'no answer within the time allowed' },
  ABORTED: { http: 499, summary: 'the caller aborted the operation' },
  SERVICE_GONE: { http: 503, summary: 'the process hosting the service went away' },
  CONNECTION_CLOSED: { http: 503, summary: 'the connection closed before the answer arrived' },
  CONNECT_FAILED: { http: 503, summary: 'could not connect to the address given' },
  DUPLICATE_SERVICE: { http: 409, summary: 'a service with that name is already registered' },
  PROTOCOL: { http: 400, summary: 'a peer broke the wire protocol' },
  VERSION_MISMATCH: { http: 400, summary: 'the peers speak different protocol versions' },
  FRAME_TOO_LARGE: { http: 413, summary: 'a frame is above the configured size limit' },
  DEFINITION_INVALID: { http: 400, summary: 'a service definition XML file has errors' },
  CONFIG_INVALID: { http: 400, summary: 'a configuration file or option is invalid' },
  USAGE: { http: 400, summary: 'the command line is invalid' },
  BEARER_UNKNOWN: { http: 400, summary: 'no bearer with that id or URL scheme exists' },
  BEARER_MISSING: { http: 400, summary: 'a route needs a bearer the client does not have' },
  LINK_FAILED: { http: 502, summary: 'a peer-to-peer link could not be opened' },
  UNAUTHORIZED: { http: 401, summary: 'a link presented a missing, forged or stale session token' },
  POLICY_DENIED: { http: 403, summary: 'the server policy denies the operation' },
  LIMIT_EXCEEDED: { http: 429, summary: 'a peer went past a configured limit (queued bytes, requests in flight, sessions, partial frames)' },
  INTERNAL: { http: 500, summary: 'a bug in Peerway' },
} as const;

export type ErrorCode = keyof typeof ERROR_CODES;

export interface PeerwayErrorOptions {
  details?: Record<string, unknown>;
  cause?: unknown;
}

export class PeerwayError extends Error {
  override readonly name = 'PeerwayError';
  readonly code: ErrorCode;
  readonly details?: Record<string, unknown>;

  constructor(code: ErrorCode, message: string, options: PeerwayErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    if (options.details) this.details = options.details;
  }

  /** HTTP status the HTTP layer answers with for this error. */
  get httpStatus(): number {
    return ERROR_CODES[this.code].http;
  }

  /** Normalises anything thrown into a PeerwayError; unknown throwables become INTERNAL. */
  static from(err: unknown, fallback: ErrorCode = 'INTERNAL'): PeerwayError {
    if (err instanceof PeerwayError) return err;
    if (err instanceof Error) return new PeerwayError(fallback, err.message, { cause: err });
    return new PeerwayError(fallback, String(err));
  }

  /** The shape sent on the wire. */
  toWire(): WireError {
    return { code: this.code, message: this.message, ...(this.details ? { details: this.details } : {}) };
  }

  /**
   * Rebuilds an error received on the wire. It is a peer's value, so nothing about it is trusted: an
   * unknown code string (a newer peer) becomes INTERNAL but keeps the text; a missing or non-string code,
   * or a body that is not a map, is PROTOCOL (the peer broke the protocol); a message that is not a string
   * is replaced by a placeholder (never String() of a peer's value); details are kept only when a map.
   */
  static fromWire(e: unknown): PeerwayError {
    const wire: Partial<Record<keyof WireError, unknown>> = isPlainMap(e) ? e : {};
    const code: ErrorCode = isErrorCode(wire.code) ? wire.code : typeof wire.code === 'string' ? 'INTERNAL' : 'PROTOCOL';
    const message =
      typeof wire.message === 'string' ? wire.message : isPlainMap(e) ? 'the peer sent an error without a readable message' : 'the peer sent an error message without an error body';
    return new PeerwayError(code, message, isPlainMap(wire.details) ? { details: wire.details } : {});
  }
}

export interface WireError {
  code: string;
  message: string;
  details?: Record<string, unknown>;
}

/** A map as a peer's decoded message carries one: a non-null object that is not an array or a byte string. */
function isPlainMap(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value) && !(value instanceof Uint8Array);
}

export function isErrorCode(code: unknown): code is ErrorCode {
  return typeof code === 'string' && Object.prototype.hasOwnProperty.call(ERROR_CODES, code);
}
