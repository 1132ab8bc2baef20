import { Command, InvalidArgumentError } from 'commander';
import { fileURLToPath } from 'node:url';
import { connect, type PeerwayClient } from '../client/client.js';
import type { DataChange, ServiceEvent } from '../client/session.js';
import { toJsonValue } from '../definition/value-text.js';
import { positiveIntArg, printLine, reportError, untilSignal, EXIT_OK } from './common.js';
import { startPeerway, type PeerwayProcess } from './peerway-process.js';

const examples = (name: string) => fileURLToPath(new URL(`../../examples/${name}`, import.meta.url));

/** `--http-port`: 0 (a free port) to 65535. */
function portArg(value: string): number {
  const n = Number(value);
  if (!/^\d+$/.test(value) || n > 65535) throw new InvalidArgumentError('must be a port number from 0 to 65535');
  return n;
}

interface DemoCliOptions {
  duration?: number;
  httpPort: number;
}

/**
 * `peerway demo` (what `npm start` runs): a real server process with an in-process service, a real runner
 * process with a remote service, and a client in this process that calls, watches and prints.
 */
export function demoCommand(setExit: (code: number) => void): Command {
  return new Command('demo')
    .description('start a server, a runner and a client, and show them working together (Ctrl-C stops)')
    .option('--duration <ms>', 'stop by itself after this long', positiveIntArg)
    .option('--http-port <port>', 'port of the inspector page on 127.0.0.1 (default: a free one, printed)', portArg, 0)
    .action(async (opts: DemoCliOptions) => {
      const children: PeerwayProcess[] = [];
      let client: PeerwayClient | undefined;
      // Listening from the start: a Ctrl-C during start-up waits for it to finish, then stops everything in
      // order. The children have process groups of their own, so the terminal's Ctrl-C reaches only us.
      const signalled = untilSignal();
      try {
        const say = (text: string) => printLine(text);
        await say('Peerway demo: starting a server with the in-process service Vehicle…');
        const server = startPeerway(['server', '--listen', 'tcp://127.0.0.1:0', '--service', examples('vehicle.xml'), '--http', `127.0.0.1:${opts.httpPort}`], { ownProcessGroup: true });
        children.push(server);
        const [, address] = await server.waitFor(/listening connect\.bearer\.tcp (\S+)/);
        const url = `tcp://${address}`;
        await say(`  server listening on ${url}`);
        const [, inspector] = await server.waitFor(/^listening http (\S+)$/m);
        await say(`  inspector: http://${inspector}/ (open it in a browser: services, live runtime data, call forms, sessions and their routes)`);
        await say('Starting a runner that hosts the remote service Climate…');
        const runner = startPeerway(['runner', '--server', url, examples('climate.xml')], { ownProcessGroup: true });
        children.push(runner);
        await runner.waitFor(/registered .*/);
        await say('  runner registered Climate');

        client = await connect(url, { agent: 'peerway-demo' });
        await say('Services on the server:');
        for (const s of await client.services()) await say(`  ${s.name} (${s.location}, ${s.origin})`);

        const climate = await client.startSession('Climate');
        await say(`Session ${climate.id} with Climate (${climate.location}). Its routing instructions gave these routes:`);
        for (const [resource, r] of Object.entries(climate.chosenRoutes)) {
          await say(`  ${(resource === 'data:' ? 'data:(all)' : resource).padEnd(24)} ${r.linkType === 'direct' ? `direct, link ${r.link}` : 'via the server'}`);
        }
        await say('Watching its runtime data and events:');
        const show = (service: string) => (c: DataChange) =>
          void say(`  [${service}] runtime data ${c.path || '(all)'} = ${JSON.stringify(toJsonValue(c.value))}   (route: ${c.route}${c.link ? `, link ${c.link}` : ''})`);
        const showEvent = (service: string) => (e: ServiceEvent) =>
          void say(`  [${service}] event ${e.name} ${JSON.stringify(toJsonValue(e.args))}   (route: ${e.route}${e.link ? `, link ${e.link}` : ''})`);
        const { snapshot } = await climate.watch('', show('Climate'));
        await say(`  initial runtime data: ${JSON.stringify(toJsonValue(snapshot))}`);
        await climate.onEvent(undefined, showEvent('Climate'));

        await say('Calling Climate.setTemperature(zone=1, celsius=31.5)…');
        await say(`  → ${JSON.stringify(await climate.call('setTemperature', { zone: 1, celsius: 31.5 }))}`);
        await say(`Calling Climate.getTemperature(zone=1) → ${JSON.stringify(await climate.call('getTemperature', { zone: 1 }))}   (route: server)`);

        const vehicle = await client.startSession('Vehicle');
        await say(`Session ${vehicle.id} with Vehicle (${vehicle.location}).`);
        await vehicle.watch('speed', show('Vehicle'));
        await vehicle.onEvent('gearChanged', showEvent('Vehicle'));
        await say(`Calling Vehicle.getVin() → ${JSON.stringify(await vehicle.call('getVin'))}`);
        await say(`Calling Vehicle.setGear(gear="D") → ${JSON.stringify(await vehicle.call('setGear', { gear: 'D' }))}`);
        await say(opts.duration ? `Running for ${opts.duration} ms…` : `Live updates follow (the inspector at http://${inspector}/ shows them too). Press Ctrl-C to stop.`);

        const stopAfter = opts.duration ? new Promise<void>((r) => setTimeout(r, opts.duration).unref()) : new Promise<void>(() => {});
        await Promise.race([signalled, stopAfter]);
        // A client that offers no peer-to-peer bearer gets the server routes: it reads the server's copy of the
        // runtime data, which the service keeps current because its routing has a server route for it.
        const observer = await connect(url, { agent: 'peerway-demo-observer', bearers: [] });
        const serverCopy = await (await observer.startSession('Climate')).watch('', () => {});
        await say(`The server's copy of Climate's runtime data: ${JSON.stringify(toJsonValue(serverCopy.snapshot))}`);
        await observer.close();
        const stats = (await client.stats()).services.Climate;
        await say(`Server relay counters for Climate: ${stats.calls} call(s), ${stats.eventsOut} event(s) and ${stats.dataOut} runtime-data update(s) relayed to clients;`);
        await say(`  ${stats.dataIn} runtime-data update(s) received for its copy. Direct traffic never passes through the server.`);
        await say('Stopping: sessions, client, runner, server…');
        await climate.stop().catch(() => undefined);
        await vehicle.stop().catch(() => undefined);
        setExit(EXIT_OK);
      } catch (err) {
        for (const c of children) if (c.stderr()) process.stderr.write(c.stderr());
        setExit(reportError('demo', err));
      } finally {
        await client?.close();
        for (const c of children.reverse()) await c.stop();
      }
      await printLine('Demo stopped.');
    });
}
