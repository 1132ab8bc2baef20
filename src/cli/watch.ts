import { setTimeout as sleep } from 'node:timers/promises';
import { Command } from 'commander';
import type { RuntimeDataNode } from '../definition/model.js';
import { RuntimeDataTree } from '../definition/runtime-data-tree.js';
import { toJsonValue } from '../definition/value-text.js';
import { PeerwayError } from '../errors.js';
import type { CloseInfo } from '../bearer/bearer.js';
import { formatBearerUrl } from '../bearer/registry.js';
import type { PeerwayClient } from '../client/client.js';
import type { DataChange, ServiceEvent, Session } from '../client/session.js';
import { didYouMean } from '../definition/did-you-mean.js';
import { addServerOption, collect, positiveIntArg, printLine, reportError, untilSignal, EXIT_OK } from './common.js';
import { addClientBearerOptions, startSessionWithHint, withClient, type ClientCliOptions } from './with-client.js';

interface WatchCliOptions extends ClientCliOptions {
  path: string;
  event?: string[];
  events: boolean;
  data: boolean;
  count?: number;
  wait?: boolean;
  waitTimeout?: number;
}

/** How often `--wait` asks the server for its services. */
const WAIT_POLL_MS = 250;

export function watchCommand(setExit: (code: number) => void): Command {
  const cmd = new Command('watch')
    .description('print runtime data (initial values, then each change) and events of a service, one JSON object per line')
    .argument('<service>', 'service name')
    .option('-p, --path <path>', 'runtime-data dot path to watch (default: everything)', '')
    .option('-e, --event <name>', 'watch only this event, repeatable (default: every event)', collect<string>)
    .option('--no-events', 'do not subscribe to events')
    .option('--no-data', 'do not watch runtime data')
    .option('-n, --count <n>', 'exit after printing n lines', positiveIntArg)
    .option('-w, --wait', 'if the service is not registered yet, wait for it (one "waiting for SERVICE…" line on stderr), then watch')
    .option('--wait-timeout <ms>', 'how long --wait waits before failing with TIMEOUT (default: --timeout)', positiveIntArg)
    .option('--restore-timeout <ms>', 'when the service goes away, how long to wait for it to come back before exiting 1 (default 60000)', positiveIntArg)
    .addHelpText(
      'after',
      '\nLines look like\n  {"kind":"runtime-data","path":"cabin.temperature","value":21.5,"route":"server","initial":true}\n  {"kind":"event","name":"overheat","args":{"celsius":90},"route":"server"}\n"route" says how the message arrived: "server" (relayed) or "direct" (peer-to-peer, with "link").',
    );
  addServerOption(cmd);
  addClientBearerOptions(cmd);
  cmd.action(async (service: string, opts: WatchCliOptions) => {
    try {
      const code = await withClient('watch', opts, async (client) => {
        if (opts.wait && !(await waitForService(client, service, opts.waitTimeout ?? opts.timeout))) return EXIT_OK; // Ctrl-C while waiting
        return watchSession(client, await startSessionWithHint(client, service), opts);
      });
      setExit(code);
    } catch (err) {
      setExit(reportError('watch', err));
    }
  });
  return cmd;
}

/**
 * Polls the server's service list until `service` is registered. Nothing goes to stdout meanwhile (it holds
 * only watch lines); stderr gets one "waiting for …" line when the service is not there at first.
 * Resolves true once it is registered, false on Ctrl-C / SIGTERM (the command then exits 0 like a watch).
 * @throws PeerwayError TIMEOUT after `timeoutMs`, naming the registered services.
 */
async function waitForService(client: PeerwayClient, service: string, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  const interrupted = new AbortController();
  const onSignal = () => interrupted.abort();
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    let said = false;
    for (;;) {
      const list = await client.services({ signal: interrupted.signal }).catch((err: unknown) => {
        if (interrupted.signal.aborted) return undefined;
        throw err;
      });
      if (list === undefined) return false;
      const names = list.map((s) => s.name);
      if (names.includes(service)) return true;
      if (!said) {
        process.stderr.write(`waiting for ${service}…\n`);
        said = true;
      }
      const left = deadline - Date.now();
      if (left <= 0) {
        const registered = names.length > 0 ? names.join(', ') : 'none';
        throw new PeerwayError('TIMEOUT', `service ${service} was not registered within ${timeoutMs} ms${didYouMean(service, names)} (registered: ${registered}); start its runner, or give a longer --wait-timeout`);
      }
      await sleep(Math.min(WAIT_POLL_MS, left), undefined, { signal: interrupted.signal }).catch(() => undefined);
      if (interrupted.signal.aborted) return false;
    }
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}

/**
 * Prints until Ctrl-C, `--count` lines, or the session is lost for good (then exit 1 with the reason). A
 * server or runner that goes away and comes back is only noted on stderr: the client restores the session
 * and its subscriptions, and the watch goes on (runtime data with a `restored` snapshot first).
 */
async function watchSession(client: PeerwayClient, session: Session, opts: WatchCliOptions): Promise<number> {
  let printed = 0;
  let finish!: (code: number) => void;
  const done = new Promise<number>((resolve) => (finish = resolve));
  // Lines are queued so they stay in order even when stdout applies backpressure.
  let queue = Promise.resolve();
  const emit = (line: Record<string, unknown>) => {
    queue = queue.then(async () => {
      if (opts.count !== undefined && printed >= opts.count) return;
      await printLine(JSON.stringify(line));
      printed++;
      if (opts.count !== undefined && printed >= opts.count) finish(EXIT_OK);
    });
  };
  const onEnded = (err: PeerwayError) => {
    queue = queue.then(() => finish(reportError('watch', err)));
  };
  const onDisconnected = (info: CloseInfo) => process.stderr.write(`connection to the server at ${formatBearerUrl(client.serverAddress)} lost (${info.reason}); reconnecting…\n`);
  const onRestored = ({ restarted }: { restarted: boolean }) => process.stderr.write(`${session.service}: session ${restarted ? 'started again' : 'attached again'}; watching on\n`);
  session.once('ended', onEnded);
  session.on('restored', onRestored);
  client.on('disconnected', onDisconnected);
  try {
    await subscribe(session, opts, emit);
  } catch (err) {
    // The subscription failed (bad path or event): report that alone, not the close that follows.
    session.off('ended', onEnded);
    session.off('restored', onRestored);
    client.off('disconnected', onDisconnected);
    throw err;
  }
  const code = await Promise.race([done, untilSignal().then(() => EXIT_OK)]);
  client.off('disconnected', onDisconnected);
  await queue;
  if (!session.ended) await session.stop().catch(() => undefined);
  return code;
}

async function subscribe(session: Session, opts: WatchCliOptions, emit: (line: Record<string, unknown>) => void): Promise<void> {
  if (opts.events) {
    const onEvent = (e: ServiceEvent) => emit({ kind: 'event', name: e.name, args: toJsonValue(e.args), route: e.route, ...(e.link ? { link: e.link } : {}) });
    if (opts.event?.length) for (const name of opts.event) await session.onEvent(name, onEvent);
    else await session.onEvent(undefined, onEvent);
  }
  if (opts.data) {
    const onChange = (c: DataChange) =>
      emit({ kind: 'runtime-data', path: c.path, value: toJsonValue(c.value), route: c.route, ...(c.link ? { link: c.link } : {}), ...(c.restored ? { restored: true } : {}) });
    await session.watch(opts.path, onChange);
    const node = RuntimeDataTree.nodeAt(session.definition.runtimeData, opts.path, session.definition);
    // A path inside a struct-typed leaf is printed as itself, not as the whole leaf.
    const leaves = node.path === opts.path ? leavesOf(node) : [opts.path];
    for (const leaf of leaves) {
      const r = session.routeFor('runtimedata', leaf);
      emit({ kind: 'runtime-data', path: leaf, value: toJsonValue(session.data.get(leaf)), route: r.linkType, ...(r.link ? { link: r.link } : {}), initial: true });
    }
  }
}

/** Dot paths of the leaves (and lists, printed whole) under a runtime-data node. */
function leavesOf(node: RuntimeDataNode): string[] {
  if (node.kind === 'leaf' || node.repeated) return [node.path];
  return node.children.flatMap(leavesOf);
}
