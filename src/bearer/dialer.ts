import { PeerwayError } from '../errors.js';
import type { Channel } from '../wire/channel.js';
import { dialHandshake, type DialOptions } from '../wire/handshake.js';
import type { BearerAddress, ConnectOptions } from './bearer.js';
import { formatBearerUrl, getBearer } from './registry.js';

/** How a Dialer reaches its peer: the bearer options, and the hello it says once connected. */
export interface DialerOptions {
  /** Bearer options of every attempt (attributes, message size, connect timeout). */
  connect?: ConnectOptions;
  /** The hello: role, agent, token, … (`timeoutMs` bounds the hello exchange; default 10 s). */
  hello: Omit<DialOptions, 'signal'>;
  /** What the peer is, for error messages (default `server at URL`). */
  label?: string;
}

const DEFAULT_DIAL_TIMEOUT_MS = 10_000;

/**
 * A connection owner's memory of how it dialled: the address, the bearer options and the hello. Each
 * `dial()` opens a new connection the same way, so whoever holds a Dialer can replace a lost connection
 * (the client's server connection, a runner's, a session's link) without knowing the bearer.
 */
export class Dialer {
  readonly label: string;

  constructor(
    readonly address: BearerAddress,
    private readonly options: DialerOptions,
  ) {
    this.label = options.label ?? `server at ${formatBearerUrl(address)}`;
  }

  get url(): string {
    return formatBearerUrl(this.address);
  }

  /**
   * Connects and completes the hello. Rejects with the bearer's or the peer's typed error; a silent close
   * during the hello is explained by the bearer when it knows the likely cause.
   */
  async dial(signal?: AbortSignal): Promise<Channel> {
    const bearer = getBearer(this.address.bearer);
    const connectOptions: ConnectOptions = { timeoutMs: DEFAULT_DIAL_TIMEOUT_MS, ...this.options.connect };
    const helloSignal = signal ?? this.options.connect?.signal;
    if (signal) connectOptions.signal = signal;
    const connection = await bearer.connect(this.address, connectOptions);
    try {
      return await dialHandshake(connection, this.label, {
        timeoutMs: connectOptions.timeoutMs,
        ...this.options.hello,
        ...(helloSignal ? { signal: helloSignal } : {}),
      });
    } catch (err) {
      const cause = err instanceof PeerwayError && err.code === 'CONNECTION_CLOSED' ? await bearer.explainSilentClose?.(this.address, connectOptions) : undefined;
      if (!cause) throw err;
      // permanent: a runner or a reconnecting client stops instead of retrying what cannot work.
      throw new PeerwayError('CONNECT_FAILED', `cannot connect to ${this.url}: ${cause.reason}`, {
        cause: err,
        details: { address: this.url, ...(cause.permanent ? { permanent: true } : {}) },
      });
    }
  }
}
