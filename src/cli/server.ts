import { Command, InvalidArgumentError } from 'commander';
import type { BearerAddress } from '../bearer/bearer.js';
import { formatBearerUrl, getBearer, parseBearerUrl } from '../bearer/registry.js';
import { PeerwayError } from '../errors.js';
import { formatHost } from '../bearer/tcp.js';
import { PeerwayServer, type ListenSpec } from '../server/server.js';
import { joinCluster, type ClusterLink } from '../cluster/cluster-link.js';
import { clusterOptionsFrom, addClusterOptions, type ClusterCliOptions } from './cluster-options.js';
import type { HttpGateway } from '../http/gateway.js';
import { startHttpGateway } from '../http/http-server.js';
import { adaptersOf, listenersOf, loadPeerwayConfig } from '../server/server-config.js';
import { loadService } from '../service/load-service.js';
import type { ServiceRuntime } from '../service/service-runtime.js';
import { guardServiceFaults } from './service-fault-guard.js';
import { addPersistOptions, persistenceFrom, type PersistCliOptions } from './persist-options.js';
import { addLimitOptions, limitsFrom, type LimitCliOptions } from './limit-options.js';
import { addLogOptions, bearerUrlArg, collect, loggerFrom, positiveIntArg, printLine, reportError, untilSignal, DEFAULT_SERVER_URL, EXIT_OK } from './common.js';

interface ServerCliOptions extends LimitCliOptions, PersistCliOptions, ClusterCliOptions {
  config?: string;
  listen?: BearerAddress[];
  service?: string[];
  maxMessageBytes?: number;
  relayTimeout: number;
  policy?: string;
  http?: { host: string; port: number };
  httpOrigin?: string[];
  logLevel: string;
  logFormat: string;
}

export function serverCommand(setExit: (code: number) => void): Command {
  const cmd = new Command('server')
    .description('run the broker: accepts clients and runners, hosts in-process services, relays server routes')
    .option('--config <file>', 'configuration XML: <connectionadapter type="connect.bearer.…"> elements to listen on (with their attributes) and <service file="…"/> entries (docs/bearers.md)')
    .option(
      '-l, --listen <url>',
      `address to listen on, repeatable: tcp://HOST:PORT, ssl://HOST:PORT, ws://HOST:PORT/PATH, local:///PATH (default ${DEFAULT_SERVER_URL} when neither --listen nor --config gives one); takes the attributes of the --config adapter of its bearer`,
      (v: string, prev: BearerAddress[] | undefined) => collect(bearerUrlArg(v), prev),
    )
    .option('--service <file.xml>', 'load an in-process service (its implementation is the sibling .js/.mjs/.ts file), repeatable', collect<string>)
    .option('--max-message-bytes <n>', 'largest message accepted on any connection', positiveIntArg)
    .option('--relay-timeout <ms>', 'time a runner has to answer a relayed call', positiveIntArg, 60_000)
    .option('--http <[host:]port>', 'serve the HTTP API, the browser WebSocket and the inspector page here (host 127.0.0.1 unless given; 0 picks a free port)', httpAddressArg)
    .option('--http-origin <origin>', 'a web origin (https://hmi.example:8443) allowed to open the browser WebSocket besides the page\'s own, repeatable', collect<string>)
    .option('--policy <file.yaml>', 'access policy: identities (tokens, certificates) and who may register, describe, call, subscribe and read what (docs/policy.md); reloaded on SIGHUP or when the file changes')
    .addHelpText('after', '\nPrints "listening BEARER ADDRESS" on stdout for each address once ready (HOST:PORT, HOST:PORT/PATH for ws, the socket for local).\nStops cleanly on Ctrl-C.');
  addLimitOptions(cmd, 'server');
  addPersistOptions(cmd, 'its in-process services');
  addClusterOptions(cmd);
  addLogOptions(cmd);
  cmd.action(async (opts: ServerCliOptions) => {
    const log = loggerFrom('server', opts);
    guardServiceFaults(log);
    const runtimes: ServiceRuntime[] = [];
    let server: PeerwayServer | undefined;
    let gateway: HttpGateway | undefined;
    let cluster: ClusterLink | undefined;
    try {
      const clusterOptions = clusterOptionsFrom(opts);
      const config = opts.config ? await loadPeerwayConfig(opts.config, 'server') : undefined;
      const attributes = adaptersOf(config);
      const listen: ListenSpec[] = (opts.listen ?? []).map((a) => (attributes[a.bearer] ? { ...a, attributes: attributes[a.bearer] } : a));
      for (const l of listen) {
        const missing = (getBearer(l.bearer).listenerNeeds ?? []).filter((n) => !l.attributes?.[n]);
        if (missing.length === 0) continue;
        throw new PeerwayError(
          'USAGE',
          `--listen ${formatBearerUrl(l)}: a ${l.bearer} listener needs ${missing.join(' and ')}; give --config FILE with <connectionadapter type="${l.bearer}"> holding ${missing.map((n) => `<attribute name="${n}" value="FILE"/>`).join(' and ')} (docs/bearers.md)`,
        );
      }
      if (config) listen.push(...listenersOf(config));
      if (listen.length === 0) listen.push(parseBearerUrl(DEFAULT_SERVER_URL));
      for (const file of [...(config?.services.map((s) => s.file) ?? []), ...(opts.service ?? [])]) {
        // server.start() starts them, after restoring their persistent runtime data.
        runtimes.push(await loadService(file, undefined, log, opts.maxDefinitionBytes ? { maxBytes: opts.maxDefinitionBytes } : {}));
      }
      const persistence = runtimes.length > 0 ? persistenceFrom(opts, log) : undefined;
      server = new PeerwayServer({
        listen,
        services: runtimes,
        logger: log,
        relayTimeoutMs: opts.relayTimeout,
        ...(opts.policy ? { policyFile: opts.policy } : {}),
        limits: limitsFrom(opts),
        ...(opts.maxMessageBytes ? { maxMessageBytes: opts.maxMessageBytes } : {}),
        ...(persistence ? { persistence } : {}),
      });
      for (const a of await server.start()) {
        await printLine(`listening ${a.bearer} ${describeAddress(a)}`);
      }
      if (clusterOptions) {
        cluster = await joinCluster(server.broker, clusterOptions, log);
        await printLine(`cluster ${cluster.name} joined through ${cluster.natsServer ?? clusterOptions.servers.join(',')}`);
      }
      if (opts.http) {
        gateway = await startHttpGateway(server, { ...opts.http, ...(opts.httpOrigin ? { origins: opts.httpOrigin } : {}) });
        const { host, port } = gateway.boundAddress;
        await printLine(`listening http ${formatHost(host)}:${port}`);
      }
    } catch (err) {
      await gateway?.stop();
      await cluster?.close();
      await server?.stop();
      await Promise.all(runtimes.map((r) => r.stop()));
      setExit(reportError('server', err));
      return;
    }
    const signal = await untilSignal();
    log.info({ signal }, 'stopping');
    await gateway?.stop();
    await cluster?.close();
    await server.stop();
    await Promise.all(runtimes.map((r) => r.stop()));
    setExit(EXIT_OK);
  });
  return cmd;
}

/** `HOST:PORT`, `HOST:PORT/PATH` (ws), or the socket (`/run/x.sock`, `@name` for an abstract one). */
function describeAddress(a: BearerAddress): string {
  if (a.host !== undefined) return `${formatHost(a.host)}:${a.port}${a.path ?? ''}`;
  const path = a.path ?? '';
  return path.startsWith('\0') ? `@${path.slice(1)}` : path;
}

/** `--http`: `PORT`, `HOST:PORT` or `[IPV6]:PORT`; the host defaults to 127.0.0.1 (this machine only). */
function httpAddressArg(value: string): { host: string; port: number } {
  const m = /^(?:(\[[^\]]+\]|[^:]+):)?(\d{1,5})$/.exec(value.trim());
  const port = Number(m?.[2]);
  if (!m || port > 65535) throw new InvalidArgumentError(`expected [HOST:]PORT, e.g. 127.0.0.1:8080 or 8080, got "${value}"`);
  return { host: m[1] ? m[1].replace(/^\[|\]$/g, '') : '127.0.0.1', port };
}
