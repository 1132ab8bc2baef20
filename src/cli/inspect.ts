import { Command } from 'commander';
import type { BearerAddress } from '../bearer/bearer.js';
import { addServerOption, printLine, reportError, EXIT_OK } from './common.js';
import { withClient } from './with-client.js';

interface InspectCliOptions {
  server?: BearerAddress;
  timeout: number;
}

/** `peerway services`: the registered services, one JSON object per line. */
export function servicesCommand(setExit: (code: number) => void): Command {
  const cmd = new Command('services').description('list the services registered on the server (one JSON object per line)');
  addServerOption(cmd);
  cmd.action(async (opts: InspectCliOptions) => {
    try {
      const list = await withClient('services', opts, (c) => c.services());
      for (const s of list) await printLine(JSON.stringify(s));
      setExit(EXIT_OK);
    } catch (err) {
      setExit(reportError('services', err));
    }
  });
  return cmd;
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
