import { Command } from 'commander';
import type { BearerAddress } from '../bearer/bearer.js';
import { parseBearerUrl } from '../bearer/registry.js';
import { formatHost } from '../bearer/tcp.js';
import type { ServiceListing } from '../wire/messages.js';
import { addServerOption, printLine, reportError, EXIT_OK } from './common.js';
import { withClient } from './with-client.js';

interface InspectCliOptions {
  server?: BearerAddress;
  timeout: number;
}

interface ServicesCliOptions extends InspectCliOptions {
  json?: boolean;
}

/** `peerway services`: the registered services, as a table (or one JSON object per line with --json). */
export function servicesCommand(setExit: (code: number) => void): Command {
  const cmd = new Command('services')
    .description('list the services registered on the server: a table, or one JSON object per line with --json')
    .option('--json', 'one JSON object per service and line: {"name","fullname"?,"version"?,"location","origin","server"?,"sessions"}; "server" (in a cluster) is the server it is registered with')
    .addHelpText('after', '\n"RUNS IN" names the runner by its agent and host (peerway-runner/PID on HOST), or "in-process" for a service the server hosts.');
  addServerOption(cmd);
  cmd.action(async (opts: ServicesCliOptions) => {
    try {
      const list = await withClient('services', opts, (c) => c.services());
      if (opts.json) for (const s of list) await printLine(JSON.stringify(s));
      else for (const line of servicesTable(list)) await printLine(line);
      setExit(EXIT_OK);
    } catch (err) {
      setExit(reportError('services', err));
    }
  });
  return cmd;
}

/**
 * Where a service runs, for people: `in-process`, or the runner's agent and host. The server's `origin` is
 * `ADDRESS (AGENT)`, whose ADDRESS carries the runner's ephemeral port: that says nothing to a reader and
 * changes on every reconnect, so it is left out (`--json` keeps the whole origin).
 */
export function runsIn(s: ServiceListing): string {
  if (s.location === 'in-process') return 'in-process';
  const m = /^(.*?) \((.+)\)$/.exec(s.origin);
  const [address, agent] = m ? [m[1], m[2]] : [s.origin, undefined];
  let host: string;
  try {
    const a = parseBearerUrl(address);
    host = a.host !== undefined ? formatHost(a.host) : 'this host (local socket)';
  } catch {
    host = address;
  }
  return agent ? `${agent} on ${host}` : host;
}

function servicesTable(list: ServiceListing[]): string[] {
  if (list.length === 0) return ['no services are registered'];
  const withFullname = list.some((s) => s.fullname);
  // In a cluster, the server each service is registered with (a client reaches it through any of them).
  const withServer = list.some((s) => s.server !== undefined);
  const header = ['NAME', ...(withFullname ? ['FULLNAME'] : []), 'VERSION', ...(withServer ? ['SERVER'] : []), 'SESSIONS', 'RUNS IN'];
  const rows = list.map((s) => [s.name, ...(withFullname ? [s.fullname ?? '-'] : []), s.version ?? '-', ...(withServer ? [s.server ?? '-'] : []), String(s.sessions), runsIn(s)]);
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  // The last column is not padded, so lines carry no trailing blanks.
  return [header, ...rows].map((r) => r.map((cell, i) => (i === r.length - 1 ? cell : cell.padEnd(widths[i]))).join('  '));
}

/** `peerway stats`: the server's relay counters per service, as JSON. */
export function statsCommand(setExit: (code: number) => void): Command {
  const cmd = new Command('stats')
    .description('print the server relay counters per service as JSON (what went through the server)');
  addServerOption(cmd);
  cmd.action(async (opts: InspectCliOptions) => {
    try {
      const stats = await withClient('stats', opts, (c) => c.stats());
      await printLine(JSON.stringify(stats, null, 2));
      setExit(EXIT_OK);
    } catch (err) {
      setExit(reportError('stats', err));
    }
  });
  return cmd;
}
