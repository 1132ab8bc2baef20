import { readFile } from 'node:fs/promises';
import { credsAuthenticator, type ConnectionOptions } from 'nats';
import { PeerwayError } from '../errors.js';

/** How a server joins a cluster (`peerway server --cluster … --name …`). */
export interface ClusterOptions {
  /** NATS servers (`nats://HOST:PORT`, `tls://HOST:PORT`); the client library fails over between them. */
  servers: string[];
  /** This server's name, unique in the cluster. */
  name: string;
  user?: string;
  password?: string;
  token?: string;
  /** A NATS credentials file (JWT and NKey seed), as `nsc` writes it. */
  credsFile?: string;
  /** TLS to the NATS servers: CA to verify them with, and a client certificate and key for mutual TLS. */
  tls?: { caFile?: string; certFile?: string; keyFile?: string };
  /** How often the server says it is alive (default 1000 ms). */
  heartbeatMs?: number;
  /** How long without a heartbeat before a server's services are taken out (default 4 × heartbeatMs). */
  expireMs?: number;
}

export const DEFAULT_HEARTBEAT_MS = 1000;
export const EXPIRY_HEARTBEATS = 4;

/** Whether the cluster link proves who it is to NATS (credentials or a client certificate). */
export function isAuthenticated(options: ClusterOptions): boolean {
  return Boolean(options.user || options.token || options.credsFile || options.tls?.certFile);
}

/** The NATS client options: reconnect forever, quickly, to any node of the cluster. */
export async function natsOptions(options: ClusterOptions): Promise<ConnectionOptions> {
  const out: ConnectionOptions = {
    servers: options.servers,
    name: `peerway-server ${options.name}`,
    maxReconnectAttempts: -1,
    reconnectTimeWait: 250,
    reconnectJitter: 100,
    pingInterval: 5000,
    maxPingOut: 2,
    timeout: 5000,
  };
  if (options.user) {
    out.user = options.user;
    if (options.password !== undefined) out.pass = options.password;
  }
  if (options.token) out.token = options.token;
  if (options.credsFile) out.authenticator = credsAuthenticator(await readOption(options.credsFile, '--cluster-creds'));
  if (options.tls) {
    out.tls = {
      ...(options.tls.caFile ? { caFile: options.tls.caFile } : {}),
      ...(options.tls.certFile ? { certFile: options.tls.certFile } : {}),
      ...(options.tls.keyFile ? { keyFile: options.tls.keyFile } : {}),
    };
  }
  return out;
}

async function readOption(file: string, flag: string): Promise<Uint8Array> {
  try {
    return await readFile(file);
  } catch (err) {
    throw new PeerwayError('CONFIG_INVALID', `${flag} ${file}: cannot read it (${(err as Error).message})`, { cause: err });
  }
}
