import { setTimeout as sleep } from 'node:timers/promises';
import { PeerwayError } from '../errors.js';
import type { Logger } from '../logger.js';
import { ANONYMOUS, type Identity } from '../policy/authorizer.js';
import type { MessageConnection } from '../wire/connection.js';
import type { Hello } from '../wire/messages.js';

/** What a peer presents: a bearer token in its hello, a verified TLS client certificate. */
export interface Credentials {
  token?: string;
  certificateSubject?: Readonly<Record<string, string | string[]>>;
}

/** Turns credentials into an identity: `undefined` means "presented, but unknown" (refused). */
export interface IdentityResolver {
  identify(credentials: Credentials): Identity | undefined;
}

/** Failures from one address before its refusals are slowed down, and the longest delay. */
const FREE_FAILURES = 3;
const MAX_DELAY_MS = 4000;
/** An address whose last failure is this old starts afresh. */
const FORGET_AFTER_MS = 10 * 60_000;
/** Addresses remembered at most (the oldest are forgotten first). */
const MAX_ADDRESSES = 10_000;

/**
 * Who a connecting peer is (its token or certificate, through the policy's identities), and a brake on
 * guessing: after a few wrong tokens from one address each further refusal waits longer (up to 4 s), so a
 * guesser gets a handful of tries per second at most, while a client that mistyped once is never locked
 * out (its next right token is accepted at once, and clears the count).
 */
export class Authenticator {
  private readonly failures = new Map<string, { count: number; last: number }>();

  constructor(
    private resolver: IdentityResolver | undefined,
    private readonly log: Logger,
  ) {}

  /** A new policy's identities (reload). */
  setResolver(resolver: IdentityResolver | undefined): void {
    this.resolver = resolver;
  }

  /** The identity of a binary-protocol peer: the token of its hello, the certificate of its connection. */
  authenticate(hello: Hello, connection: MessageConnection): Promise<Identity> {
    const credentials: Credentials = {};
    if (hello.token !== undefined) credentials.token = hello.token;
    if (connection.peerCertificateSubject) credentials.certificateSubject = connection.peerCertificateSubject;
    return this.identify(credentials, connection.remote, hello.role);
  }

  /**
   * The identity behind `credentials` presented from `remote` (`HOST:PORT`; the port is ignored for the
   * brake on guessing). `how` says how it connected, for the log and the refusal.
   */
  async identify(credentials: Credentials, remote: string, how: string): Promise<Identity> {
    const resolver = this.resolver;
    if (!resolver) return ANONYMOUS; // no policy: everyone is anonymous, a token changes nothing
    const identity = resolver.identify(credentials);
    const address = remote.replace(/:\d+$/, '');
    if (identity) {
      this.failures.delete(address);
      return identity;
    }
    const delay = this.recordFailure(address);
    this.log.warn({ peer: remote, role: how, delayMs: delay }, 'unknown token refused');
    if (delay > 0) await sleep(delay);
    throw new PeerwayError('UNAUTHORIZED', 'the token presented is not one the server knows: check --token (or PEERWAY_TOKEN, or the Bearer token) against the identities of the server policy', {
      details: { role: how },
    });
  }

  private recordFailure(address: string): number {
    const now = Date.now();
    const previous = this.failures.get(address);
    const count = previous && now - previous.last < FORGET_AFTER_MS ? previous.count + 1 : 1;
    this.failures.delete(address); // re-inserted: the map stays in order of last failure
    this.failures.set(address, { count, last: now });
    if (this.failures.size > MAX_ADDRESSES) this.failures.delete(this.failures.keys().next().value!);
    return count <= FREE_FAILURES ? 0 : Math.min(MAX_DELAY_MS, 250 * 2 ** (count - FREE_FAILURES - 1));
  }
}
