import type { PeerwayError } from '../errors.js';
import type { MessageConnection } from '../wire/connection.js';

export type { CloseInfo, ConnectionHandlers, MessageConnection } from '../wire/connection.js';

/**
 * The pluggable transport contract. The core (server, runner, client, routing) only ever talks to these
 * interfaces; sockets live in one file per bearer. A new bearer is one file plus one registry line, and
 * must pass the shared suite in test/bearer/bearer-suite.ts.
 */

/** Where to listen or connect. Parsed from URLs such as `tcp://127.0.0.1:2002` or `local:///run/pw.sock`. */
export interface BearerAddress {
  /** Bearer id, e.g. `connect.bearer.tcp`. */
  bearer: string;
  host?: string;
  port?: number;
  /** Socket path (local bearer) or URL path (ws bearer). */
  path?: string;
}

/** Bearer-specific configuration, in the seed's name/value attribute vocabulary (certificate, key, ca, …). */
export type BearerAttributes = Record<string, string>;

export interface BearerOptions {
  attributes?: BearerAttributes;
  /** Largest message accepted or sent, in bytes. */
  maxMessageBytes?: number;
  /**
   * Receives what cannot be reported to a caller: refused handshakes on a listener (a plain tcp client on
   * a TLS port, a refused client certificate) and configuration warnings (ssl's `verify=false`).
   */
  onWarning?: (message: string, error?: PeerwayError) => void;
}

export interface ConnectOptions extends BearerOptions {
  signal?: AbortSignal;
  timeoutMs?: number;
  /** What should be listening there, for error hints ("is the server running…?"); default `the server`. */
  peer?: string;
}

export interface Listener {
  /** The bound address (an ephemeral port 0 is resolved to the real one). */
  readonly address: BearerAddress;
  /** Stops accepting and closes every connection it accepted. */
  close(): Promise<void>;
}

/** Who can reach a listener of a bearer: anyone on the network, processes on the same host, or only the same process. */
export type BearerReach = 'network' | 'host' | 'process';

/**
 * When a client that did not choose its bearers offers this one for peer-to-peer routes: always, only
 * when it has an adapter (attributes) for it or reaches the server over it, or never (opt-in only).
 */
export type BearerOffer = 'always' | 'when-configured' | 'never';

/** What a bearer attribute holds: a PEM file path, a whole number, true/false, or free text. */
export type AttributeKind = 'pem' | 'number' | 'boolean' | 'text';

/** Where a service's peer-to-peer link listens when its `<link>` gives no address of its own. */
export interface LinkListenContext {
  /** The runner's `--p2p-host` (for host/port bearers). */
  host: string;
  service: string;
  link: string;
}

export interface Bearer {
  /** `connect.bearer.tcp`, … */
  readonly id: string;
  /** URL schemes that select this bearer (`tcp`, …). The first one is used when formatting addresses. */
  readonly schemes: readonly string[];
  readonly reliable: boolean;
  /**
   * Names of the configuration attributes this bearer accepts (`certificate`, `maxDatagramBytes`, …), not
   * counting the address ones (host, port, path). Configuration files are checked against it; absent means none.
   */
  readonly attributes?: readonly string[];
  /** How configuration files check the value of each attribute; absent ones are free text. */
  readonly attributeKinds?: Readonly<Record<string, AttributeKind>>;
  /** Attributes a listener cannot start without (ssl: `certificate` and `key`). */
  readonly listenerNeeds?: readonly string[];
  /** How a runner gets `listenerNeeds` for its link listeners, in words for a user. */
  readonly listenerHelp?: string;
  /** The address attributes of a `<connectionadapter>` (default `host` and `port`). */
  readonly addressAttributes?: readonly string[];
  /** Who can reach its listeners (default `network`): routing offers a direct route only to clients that can. */
  readonly reach?: BearerReach;
  /** Whether clients offer it for peer-to-peer routes by default (default `always`). */
  readonly offer?: BearerOffer;
  /**
   * Bearers that carry a message in datagrams: the payload of one datagram by default. Bigger messages
   * travel in fragments, and a lost fragment loses the whole message, so `peerway check` warns about values
   * without a size bound routed to such a link.
   */
  readonly datagramPayloadBytes?: number;
  /** The fix, in words for a user, when a route needs this bearer and the client cannot use it. */
  readonly howToConfigure?: string;
  /** Where a link listener binds by default (default: `host`, an ephemeral port). */
  linkListenAddress?(context: LinkListenContext): BearerAddress;
  /**
   * Parses a `path` address attribute of a configuration file (relative to `baseDir`), or says what is
   * wrong with it. Bearers without it take no path.
   */
  parsePathAttribute?(value: string, baseDir: string): { path: string } | { problem: string };
  /** Parses this bearer's URLs when they are not SCHEME://HOST:PORT[/PATH] (Unix socket paths, names). */
  parseUrl?(url: string): BearerAddress;
  /** The inverse of parseUrl. */
  formatUrl?(address: BearerAddress): string;
  /**
   * The likely cause when a peer at `address` closed the connection during the hello without a word (a
   * plain tcp client on a TLS port), or undefined when this bearer has no better guess. `permanent` when
   * the bearer made sure of it (the port answered a TLS handshake): retrying the same address cannot help.
   */
  explainSilentClose?(address: BearerAddress, options?: ConnectOptions): Promise<{ reason: string; permanent: boolean } | undefined>;
  listen(address: BearerAddress, onConnection: (connection: MessageConnection) => void, options?: BearerOptions): Promise<Listener>;
  connect(address: BearerAddress, options?: ConnectOptions): Promise<MessageConnection>;
}
