import { Command } from 'commander';
import { parseBearerUrl } from '../bearer/registry.js';
import { PeerwayError } from '../errors.js';
import { PeerwayRunner } from '../runner/runner.js';
import { loadService } from '../service/load-service.js';
import type { ServiceRuntime } from '../service/service-runtime.js';
import { addLogOptions, addServerOption, loggerFrom, positiveIntArg, printLine, reportError, untilSignal, DEFAULT_SERVER_URL, EXIT_OK } from './common.js';
import { guardServiceFaults } from './service-fault-guard.js';
import { addPersistOptions, persistenceFrom, type PersistCliOptions } from './persist-options.js';
import { addLimitOptions, limitsFrom, type LimitCliOptions } from './limit-options.js';
import { addLinkCertificateOptions, linkAdapters, resolveAdapters, type AdapterCliOptions, type LinkCertificateCliOptions } from './adapter-options.js';

const UDP = 'connect.bearer.udp';

interface RunnerCliOptions extends AdapterCliOptions, LinkCertificateCliOptions, LimitCliOptions, PersistCliOptions {
  timeout: number;
  impl?: string;
  p2pHost: string;
  advertiseHost?: string;
  udpMaxDatagram?: number;
  logLevel: string;
  logFormat: string;
}

export function runnerCommand(setExit: (code: number) => void): Command {
  const cmd = new Command('runner')
    .description('host remote services: connect to the server, register them, serve their calls')
    .argument('<files...>', 'service definition XML files (each with its implementation next to it)')
    .option('--impl <file>', 'implementation module, when there is a single XML file whose sibling is not used')
    .option('--p2p-host <address>', 'address the peer-to-peer link listeners bind to', '127.0.0.1')
    .option('--advertise-host <name>', 'host name given to clients when --p2p-host is a wildcard (0.0.0.0)')
    .option('--udp-max-datagram <bytes>', 'payload bytes per datagram on the built-in unreliable (udp) link; bigger messages go in fragments (default 1200)', positiveIntArg)
    .addHelpText(
      'after',
      '\nPrints "registered NAME… with URL" on stdout once the server accepted the services.\nIf the server goes away, says so on stderr and reconnects.\n' +
        'The connection adapters (--config, --ca, --cert, --key) serve the server connection and the link listeners; the built-in\n' +
        '"reliable" link uses the bearer of --server, so an ssl:// runner needs --link-cert/--link-key (or the ssl adapter\'s certificate and key).',
    );
  addServerOption(cmd);
  addLinkCertificateOptions(cmd);
  addLimitOptions(cmd, 'runner');
  addPersistOptions(cmd, 'its services');
  addLogOptions(cmd);
  cmd.action(async (files: string[], opts: RunnerCliOptions) => {
    const log = loggerFrom('runner', opts);
    guardServiceFaults(log);
    const runtimes: ServiceRuntime[] = [];
    let runner: PeerwayRunner | undefined;
    try {
      if (opts.impl && files.length > 1) {
        throw new PeerwayError('USAGE', '--impl applies to a single XML file; give one file, or put each implementation next to its XML');
      }
      const { server, adapters } = await resolveAdapters(opts, 'runner', parseBearerUrl(DEFAULT_SERVER_URL));
      const links = await linkAdapters(adapters, opts);
      if (opts.udpMaxDatagram) links[UDP] = { ...links[UDP], maxDatagramBytes: String(opts.udpMaxDatagram) };
      const definitionLimit = opts.maxDefinitionBytes ? { maxBytes: opts.maxDefinitionBytes } : {};
      for (const file of files) runtimes.push(await loadService(file, opts.impl, log, definitionLimit));
      const persistence = persistenceFrom(opts, log);
      // runner.start() starts the services, after restoring their persistent runtime data.
      runner = new PeerwayRunner({
        server,
        services: runtimes,
        logger: log,
        connectOptions: { timeoutMs: opts.timeout, ...(adapters[server.bearer] ? { attributes: adapters[server.bearer] } : {}) },
        p2pHost: opts.p2pHost,
        ...(opts.advertiseHost ? { advertiseHost: opts.advertiseHost } : {}),
        adapters: links,
        limits: limitsFrom(opts),
        ...(opts.token ? { token: opts.token } : {}),
        ...(persistence ? { persistence } : {}),
      });
      const names = await runner.start();
      await printLine(`registered ${names.join(', ')} with ${runner.serverUrl}`);
    } catch (err) {
      await runner?.stop();
      await Promise.all(runtimes.map((r) => r.stop()));
      setExit(reportError('runner', err));
      return;
    }
    const fatal = new Promise<PeerwayError>((resolve) => runner.once('fatal', resolve));
    const outcome = await Promise.race([untilSignal(), fatal]);
    await runner.stop();
    setExit(outcome instanceof PeerwayError ? reportError('runner', outcome) : EXIT_OK);
  });
  return cmd;
}
