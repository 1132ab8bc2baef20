import { PeerwayError } from '../errors.js';
import type { MessageConnection } from './connection.js';
import { Channel } from './channel.js';
import type { Hello, Role } from './messages.js';
import { PROTOCOL_VERSION } from './messages.js';

/** How long a peer has to say hello (accepting side) or to answer one (dialling side), unless told otherwise. */
export const DEFAULT_HANDSHAKE_TIMEOUT_MS = 5_000;
/** Longest agent, token, session or link name a hello may carry: they end up in logs and labels. */
const MAX_HELLO_FIELD = 256;

export interface DialOptions {
  role: Role;
  agent?: string;
  token?: string;
  session?: string;
  link?: string;
  timeoutMs?: number;
  signal?: AbortSignal;
  /** Protocol version to announce; tests use it to check the mismatch path. */
  version?: number;
}

/**
 * The connecting side of the hello exchange: sends hello, waits for welcome. A refusal (version or role
 * mismatch, bad token) arrives as an error message and rejects with that typed error; silence rejects
 * with TIMEOUT. Either way the connection is closed, never left hanging.
 */
export function dialHandshake(connection: MessageConnection, peerLabel: string, options: DialOptions): Promise<Channel> {
  const channel = new Channel(connection, peerLabel);
  const timeoutMs = options.timeoutMs ?? DEFAULT_HANDSHAKE_TIMEOUT_MS;
  return new Promise<Channel>((resolve, reject) => {
    let done = false;
    const finish = (err?: PeerwayError) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      options.signal?.removeEventListener('abort', onAbort);
      if (err) {
        channel.close(err.message);
        reject(err);
      } else {
        resolve(channel);
      }
    };
    const onAbort = () => finish(new PeerwayError('ABORTED', `handshake with ${peerLabel} was aborted`));
    const timer = setTimeout(
      () => finish(new PeerwayError('TIMEOUT', `${peerLabel} did not answer the hello within ${timeoutMs} ms (is it a Peerway server on the right bearer?)`)),
      timeoutMs,
    );
    options.signal?.addEventListener('abort', onAbort, { once: true });
    channel.takeFirstMessage((m) => {
      if (m.type === 'welcome') finish();
      else if (m.type === 'error') finish(PeerwayError.fromWire(m.error));
      else finish(new PeerwayError('PROTOCOL', `${peerLabel} answered the hello with "${m.type}" instead of "welcome"`));
    });
    channel.start({
      close: (info) => finish(info.error ?? new PeerwayError('CONNECTION_CLOSED', `${peerLabel} closed the connection during the handshake (${info.reason})`)),
    });
    const hello: Hello = { type: 'hello', version: options.version ?? PROTOCOL_VERSION, role: options.role };
    if (options.agent) hello.agent = options.agent;
    if (options.token) hello.token = options.token;
    if (options.session) hello.session = options.session;
    if (options.link) hello.link = options.link;
    try {
      channel.send(hello);
    } catch (err) {
      finish(PeerwayError.from(err, 'CONNECTION_CLOSED'));
    }
  });
}

export interface AcceptOptions {
  /** Roles this endpoint accepts. */
  roles: readonly Role[];
  /** Name announced in the welcome. */
  peer: string;
  /** How long the peer has to send its hello; 0 = no deadline (default 5 s). */
  timeoutMs?: number;
  /**
   * Extra check (a link token, the caller's credentials); throw (or reject) with a PeerwayError to refuse.
   * May take its time (a refusal delayed to slow a guesser): what the peer sends meanwhile is held.
   */
  verify?(hello: Hello): void | Promise<void>;
}

/**
 * The accepting side: the first message must be a hello with our protocol version and an accepted role.
 * Anything else is answered with an error message and a close. Resolves with the channel (handlers not
 * yet attached: call `channel.setHandlers`) and the peer's hello.
 */
export function acceptHandshake(connection: MessageConnection, peerLabel: string, options: AcceptOptions): Promise<{ channel: Channel; hello: Hello }> {
  const channel = new Channel(connection, peerLabel);
  const timeoutMs = options.timeoutMs ?? DEFAULT_HANDSHAKE_TIMEOUT_MS;
  return new Promise((resolve, reject) => {
    let done = false;
    const refuse = (err: PeerwayError) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      channel.fail(err);
      reject(err);
    };
    const timer = timeoutMs > 0 ? setTimeout(() => refuse(new PeerwayError('TIMEOUT', `no hello within ${timeoutMs} ms`)), timeoutMs) : undefined;
    channel.takeFirstMessage((m) => {
      if (m.type !== 'hello') {
        refuse(new PeerwayError('PROTOCOL', `the first message must be "hello", got "${m.type}"`));
        return;
      }
      if (m.version !== PROTOCOL_VERSION) {
        refuse(new PeerwayError('VERSION_MISMATCH', `protocol version ${shown(m.version)} is not supported; this peer speaks version ${PROTOCOL_VERSION} (upgrade the older side)`));
        return;
      }
      const badField = (['agent', 'token', 'session', 'link'] as const).find((f) => m[f] !== undefined && (typeof m[f] !== 'string' || m[f].length > MAX_HELLO_FIELD));
      if (badField) {
        refuse(new PeerwayError('PROTOCOL', `hello.${badField} must be a string of at most ${MAX_HELLO_FIELD} characters`));
        return;
      }
      if (!options.roles.includes(m.role)) {
        refuse(new PeerwayError('PROTOCOL', `role "${shown(m.role)}" is not accepted here; expected ${options.roles.map((r) => `"${r}"`).join(' or ')}`));
        return;
      }
      // What follows the hello (maybe in the same packet) waits for the check, then for the handlers.
      channel.hold();
      const welcome = () => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        try {
          channel.send({ type: 'welcome', version: PROTOCOL_VERSION, peer: options.peer });
        } catch (err) {
          // The connection ended while the hello was being checked (the peer left, or broke a bound of
          // the transport in the same packet): there is no one to welcome. Its close may not have been
          // delivered yet, so say so here; the close handler finds the handshake done.
          const error = PeerwayError.from(err, 'CONNECTION_CLOSED');
          channel.close(error.message);
          reject(new PeerwayError('CONNECTION_CLOSED', `the connection closed while its hello was being checked (${error.message})`, { cause: err }));
          return;
        }
        resolve({ channel, hello: m });
      };
      let verdict: void | Promise<void>;
      try {
        verdict = options.verify?.(m);
      } catch (err) {
        refuse(PeerwayError.from(err, 'UNAUTHORIZED'));
        return;
      }
      if (verdict instanceof Promise) verdict.then(welcome, (err: unknown) => refuse(PeerwayError.from(err, 'UNAUTHORIZED')));
      else welcome();
    });
    channel.start({
      close: (info) => {
        if (!done) {
          done = true;
          clearTimeout(timer);
          reject(info.error ?? new PeerwayError('CONNECTION_CLOSED', `closed before the hello (${info.reason})`));
        }
      },
    });
  });
}

/** A peer's value for a message: itself when it is a short string or a number, its type otherwise (never a deep toString). */
function shown(value: unknown): string {
  if (typeof value === 'number') return String(value);
  if (typeof value === 'string') return value.length > 64 ? `${value.slice(0, 64)}…` : value;
  return `(${Array.isArray(value) ? 'array' : typeof value})`;
}
