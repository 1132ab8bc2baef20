import { Command } from 'commander';
import type { BearerAddress } from '../bearer/bearer.js';
import { parseBearerUrl } from '../bearer/registry.js';
import { PeerwayServer } from '../server/server.js';
import { loadService } from '../service/load-service.js';
import type { ServiceRuntime } from '../service/service-runtime.js';
import { addLogOptions, bearerUrlArg, collect, loggerFrom, positiveIntArg, printLine, reportError, untilSignal, DEFAULT_SERVER_URL, EXIT_OK } from './common.js';

interface ServerCliOptions {
  listen?: BearerAddress[];
  service?: string[];
  maxMessageBytes?: number;
  relayTimeout: number;
  logLevel: string;
  logFormat: string;
}

export function serverCommand(setExit: (code: number) => void): Command {
  const cmd = new Command('server')
    .description('run the broker: accepts clients and runners, hosts in-process services, relays server routes')
    .option('-l, --listen <url>', `address to listen on, repeatable (default ${DEFAULT_SERVER_URL})`, (v: string, prev: BearerAddress[] | undefined) => collect(bearerUrlArg(v), prev))
    .option('--service <file.xml>', 'load an in-process service (its implementation is the sibling .js/.mjs/.ts file), repeatable', collect<string>)
    .option('--max-message-bytes <n>', 'largest message accepted on any connection', positiveIntArg)
    .option('--relay-timeout <ms>', 'time a runner has to answer a relayed call', positiveIntArg, 60_000)
    .addHelpText('after', '\nPrints "listening BEARER HOST:PORT" on stdout for each address once ready. Stops cleanly on Ctrl-C.');
  addLogOptions(cmd);
  cmd.action(async (opts: ServerCliOptions) => {
    const log = loggerFrom('server', opts);
    const runtimes: ServiceRuntime[] = [];
    let server: PeerwayServer | undefined;
    try {
      for (const file of opts.service ?? []) {
        const runtime = await loadService(file, undefined, log);
        await runtime.start();
        runtimes.push(runtime);
      }
      server = new PeerwayServer({
        listen: opts.listen ?? [parseBearerUrl(DEFAULT_SERVER_URL)],
        services: runtimes,
        logger: log,
        relayTimeoutMs: opts.relayTimeout,
        ...(opts.maxMessageBytes ? { maxMessageBytes: opts.maxMessageBytes } : {}),
      });
      for (const a of await server.start()) {
        await printLine(`listening ${a.bearer} ${a.path ?? `${a.host?.includes(':') ? `[${a.host}]` : a.host}:${a.port}`}`);
      }
    } catch (err) {
      await server?.stop();
      await Promise.all(runtimes.map((r) => r.stop()));
      setExit(reportError('server', err));
      return;
    }
    const signal = await untilSignal();
    log.info({ signal }, 'stopping');
    await server.stop();
    await Promise.all(runtimes.map((r) => r.stop()));
    setExit(EXIT_OK);
  });
  return cmd;
}
