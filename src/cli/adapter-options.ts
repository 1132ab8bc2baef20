import { access, constants } from 'node:fs/promises';
import path from 'node:path';
import type { Command } from 'commander';
import type { BearerAddress, BearerAttributes } from '../bearer/bearer.js';
import { PeerwayError } from '../errors.js';
import { adaptersOf, loadPeerwayConfig, serverAddressOf } from '../server/server-config.js';

const SSL = 'connect.bearer.ssl';

/**
 * Connection adapter options of every subcommand that connects to a server (call, watch, services, stats,
 * runner): a configuration file in the `<connectionadapter>` grammar and shortcuts for the ssl adapter.
 * Flags win over the file.
 */
export interface AdapterCliOptions {
  server?: BearerAddress;
  /** Set when `server` came from PEERWAY_SERVER rather than --server: --config's address then wins. */
  serverFromEnv?: boolean;
  config?: string;
  ca?: string;
  cert?: string;
  key?: string;
  /** --token / PEERWAY_TOKEN: presented to the server's access policy. */
  token?: string;
}

/** Options of the runner's ssl link listeners. */
export interface LinkCertificateCliOptions {
  linkCert?: string;
  linkKey?: string;
}

export function addAdapterOptions(cmd: Command): Command {
  return cmd
    .option('--config <file>', 'connection adapters: an XML file of <connectionadapter type="connect.bearer.…"> elements (docs/bearers.md)')
    .option('--ca <file>', "ssl adapter: PEM file of the CA that signed the server's and the services' certificates")
    .option('--cert <file>', 'ssl adapter: certificate (PEM) presented when a server or service requires one (mutual TLS); with --key')
    .option('--key <file>', 'ssl adapter: private key (PEM) of --cert');
}

export function addLinkCertificateOptions(cmd: Command): Command {
  return cmd
    .option('--link-cert <file>', "certificate (PEM) the runner's ssl links present to clients (default: the ssl adapter's certificate); with --link-key")
    .option('--link-key <file>', 'private key (PEM) of --link-cert');
}

export interface ResolvedAdapters {
  /** --server, else the first adapter with an address in --config, else PEERWAY_SERVER, else `fallback`. */
  server: BearerAddress;
  /** Attributes per bearer id: the file's, then the flags'. */
  adapters: Record<string, BearerAttributes>;
}

/** Reads --config and the ssl flags. @throws PeerwayError USAGE / CONFIG_INVALID (exit 2) naming the option or file:line:col. */
export async function resolveAdapters(opts: AdapterCliOptions, role: 'client' | 'runner', fallback: BearerAddress): Promise<ResolvedAdapters> {
  const config = opts.config ? await loadPeerwayConfig(opts.config, role) : undefined;
  const adapters = adaptersOf(config);
  const ssl: BearerAttributes = {};
  if (opts.ca) ssl.ca = await readableFile('--ca', opts.ca);
  await pair(ssl, '--cert', opts.cert, '--key', opts.key);
  if (Object.keys(ssl).length > 0) adapters[SSL] = { ...adapters[SSL], ...ssl };
  const flag = opts.serverFromEnv ? undefined : opts.server;
  return { server: flag ?? serverAddressOf(config) ?? opts.server ?? fallback, adapters };
}

/**
 * The attributes a runner's link listeners use: its adapters, with the ssl certificate and key replaced by
 * --link-cert/--link-key when given (a listener presents a server certificate; the adapter's own may be a
 * client certificate for the server connection).
 */
export async function linkAdapters(adapters: Record<string, BearerAttributes>, opts: LinkCertificateCliOptions): Promise<Record<string, BearerAttributes>> {
  const own: BearerAttributes = {};
  await pair(own, '--link-cert', opts.linkCert, '--link-key', opts.linkKey);
  return Object.keys(own).length === 0 ? { ...adapters } : { ...adapters, [SSL]: { ...adapters[SSL], ...own } };
}

/** A certificate and its key come together; sets `certificate` and `key` on `into`. */
async function pair(into: BearerAttributes, certFlag: string, cert: string | undefined, keyFlag: string, key: string | undefined): Promise<void> {
  if (!cert && !key) return;
  if (!cert || !key) {
    const [given, missing] = cert ? [certFlag, keyFlag] : [keyFlag, certFlag];
    throw new PeerwayError('USAGE', `${given} needs ${missing} too: a certificate is used together with its private key`);
  }
  into.certificate = await readableFile(certFlag, cert);
  into.key = await readableFile(keyFlag, key);
}

async function readableFile(flag: string, file: string): Promise<string> {
  const resolved = path.resolve(file);
  await access(resolved, constants.R_OK).catch((err: NodeJS.ErrnoException) => {
    const why = err.code === 'ENOENT' ? 'no such file' : err.code === 'EACCES' ? 'permission denied' : err.message;
    throw new PeerwayError('USAGE', `${flag} ${file}: cannot read it (${why})`);
  });
  return resolved;
}
