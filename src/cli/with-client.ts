import { Command } from 'commander';
import { parseBearerUrl } from '../bearer/registry.js';
import { connect, type PeerwayClient } from '../client/client.js';
import { resolveAdapters, type AdapterCliOptions } from './adapter-options.js';
import { DEFAULT_SERVER_URL } from './common.js';

/** Client options shared by the subcommands that connect (call, watch, services, stats). */
export interface ClientCliOptions extends AdapterCliOptions {
  timeout: number;
  udp?: boolean;
  bearers?: string;
}

/** Adds the peer-to-peer options of a client: which bearers it offers. */
export function addClientBearerOptions(cmd: Command): Command {
  return cmd
    .option('--bearers <ids>', 'comma-separated bearers offered for peer-to-peer routes (default: tcp, udp, local, ws)')
    .option('--no-udp', 'do not offer connect.bearer.udp (unreliable routes then fall back)');
}

function bearerList(opts: ClientCliOptions): string[] | undefined {
  let list = opts.bearers?.split(',').map((b) => b.trim()).filter(Boolean).map((b) => (b.includes('.') ? b : `connect.bearer.${b}`));
  if (opts.udp === false) list = (list ?? ['connect.bearer.tcp', 'connect.bearer.local', 'connect.bearer.ws']).filter((b) => b !== 'connect.bearer.udp');
  return list;
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
    ...(bearers ? { bearers } : {}),
  });
  client.on('warning', (text: string) => process.stderr.write(`peerway ${command}: warning: ${text}\n`));
  try {
    return await work(client);
  } finally {
    await client.close();
  }
}
