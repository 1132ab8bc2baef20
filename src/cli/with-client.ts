import { Command } from 'commander';
import { parseBearerUrl } from '../bearer/registry.js';
import { connect, type PeerwayClient } from '../client/client.js';
import type { Session } from '../client/session.js';
import { closestMatch } from '../definition/did-you-mean.js';
import { PeerwayError } from '../errors.js';
import { resolveAdapters, type AdapterCliOptions } from './adapter-options.js';
import { DEFAULT_SERVER_URL } from './common.js';

/** Client options shared by the subcommands that connect (call, watch, describe, services, stats). */
export interface ClientCliOptions extends AdapterCliOptions {
  timeout: number;
  udp?: boolean;
  bearers?: string;
  /** How long a session whose service went away is restored before giving up (watch). */
  restoreTimeout?: number;
}

/** Adds the peer-to-peer options of a client: which bearers it offers. */
export function addClientBearerOptions(cmd: Command): Command {
  return cmd
    .option('--bearers <ids>', 'comma-separated bearers offered for peer-to-peer routes (default: every bearer offered by default: tcp, udp, local, ws, and ssl with an ssl adapter)')
    .option('--no-udp', `do not offer ${UDP} (unreliable routes then fall back)`);
}

const UDP = 'connect.bearer.udp';

function bearerList(opts: ClientCliOptions): string[] | undefined {
  const list = opts.bearers?.split(',').map((b) => b.trim()).filter(Boolean).map((b) => (b.includes('.') ? b : `connect.bearer.${b}`));
  return list && opts.udp === false ? list.filter((b) => b !== UDP) : list;
}

/**
 * Connects, runs `work`, and always closes the connection afterwards. Routing warnings (a link that
 * could not be opened and the route used instead) are printed on stderr as `peerway CMD: warning: …`.
 */
export async function withClient<T>(command: string, opts: ClientCliOptions, work: (client: PeerwayClient) => Promise<T>): Promise<T> {
  const bearers = bearerList(opts);
  const { server, adapters } = await resolveAdapters(opts, 'client', parseBearerUrl(DEFAULT_SERVER_URL));
  const client = await connect(server, {
    connectTimeoutMs: opts.timeout,
    timeoutMs: opts.timeout,
    agent: `peerway-cli/${process.pid}`,
    adapters,
    ...(opts.token ? { token: opts.token } : {}),
    ...(bearers ? { bearers } : {}),
    ...(opts.udp === false ? { withoutBearers: [UDP] } : {}),
    ...(opts.restoreTimeout !== undefined ? { reconnect: { restoreTimeoutMs: opts.restoreTimeout } } : {}),
  });
  client.on('warning', (text: string) => process.stderr.write(`peerway ${command}: warning: ${text}\n`));
  try {
    return await work(client);
  } finally {
    await client.close();
  }
}

/**
 * Starts a session; when the service is not registered, the error names the closest registered service
 * (`did you mean "Climate"?`) and lists them all. A name close to a registered one is a typo, a usage error
 * (exit 2, like a misspelt method: `details.suggestion` is set); a name like none of them means the service
 * is not running (yet), a runtime failure (exit 1).
 */
export async function startSessionWithHint(client: PeerwayClient, service: string): Promise<Session> {
  try {
    return await client.startSession(service);
  } catch (err) {
    if (!(err instanceof PeerwayError) || err.code !== 'SERVICE_NOT_FOUND') throw err;
    const names = await client.services().then((list) => list.map((s) => s.name), () => undefined);
    if (names === undefined) throw err;
    const suggestion = closestMatch(service, names);
    const registered = names.length > 0 ? names.join(', ') : 'none';
    if (suggestion === undefined) {
      throw new PeerwayError('SERVICE_NOT_FOUND', `no service named "${service}" is registered (registered: ${registered}); start its runner first, or wait for it with peerway watch --wait`, {
        cause: err,
        details: { service },
      });
    }
    throw new PeerwayError('SERVICE_NOT_FOUND', `no service named "${service}" is registered (did you mean "${suggestion}"?); registered: ${registered}`, {
      cause: err,
      details: { service, suggestion },
    });
  }
}
