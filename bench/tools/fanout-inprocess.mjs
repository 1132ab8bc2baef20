// The server's fan-out path on its own, in one process: ServiceEntry.publishData → each BrokerSession →
// the binary front end's sink (encoding) → PushOutbox → Channel.sendEncoded, with N subscribers whose
// connections only collect what they are sent (no socket, no peer). Prints CPU ns per delivered update
// (min and median of 7 rounds), so a change to that path can be judged without the bench's processes and
// on a machine too loaded for rates to mean much. Uses the built dist/ of the checkout it is run from
// (or of the ROOT given): `npm run build` first.
//   node bench/tools/fanout-inprocess.mjs [SUBSCRIBERS=100] [ROOT]
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const n = Number(process.argv[2] ?? 100);
const root = path.resolve(process.argv[3] ?? path.join(path.dirname(fileURLToPath(import.meta.url)), '../..'));
const load = (file) => import(pathToFileURL(path.join(root, 'dist', file)).href);
const { Broker } = await load('server/broker.js');
const { serveClient } = await load('server/client-connection.js');
const { InProcessService } = await load('server/in-process-service.js');
const { loadService } = await load('service/load-service.js');
const { ANONYMOUS } = await load('policy/authorizer.js');

const runtime = await loadService(path.join(root, 'bench/services/bench-routed.xml'));
await runtime.start();
const broker = new Broker();
const entry = broker.register({ identity: ANONYMOUS, label: 'fanout-inprocess' }, new InProcessService(runtime), runtime.tree.snapshot());
for (let i = 0; i < n; i++) {
  let sent = [];
  const channel = {
    closed: false,
    queuedBytes: 0,
    peerLabel: `subscriber ${i}`,
    sendEncoded: (bytes) => {
      sent.push(bytes); // kept for a while, as a connection's batch keeps them until its write
      if (sent.length > 400) sent = [];
      return true;
    },
    fail: () => undefined,
  };
  const handlers = serveClient(broker, channel, { identity: ANONYMOUS, label: `subscriber ${i}` });
  const { session } = await handlers.requests.start({ type: 'start', id: 1, service: entry.name, client: { bearers: [], host: 'h', version: 1 } });
  await handlers.requests.subscribe({ type: 'subscribe', id: 2, session, kind: 'data', name: 'counter' });
}

const updates = Math.round(2_000_000 / n);
for (let i = 0; i < 2 * updates; i++) entry.publishData('counter', 1_000_000 + i); // warm-up
const perUpdate = [];
for (let round = 0; round < 7; round++) {
  const t0 = process.cpuUsage();
  for (let i = 0; i < updates; i++) entry.publishData('counter', 1_000_000 + i);
  const cpu = process.cpuUsage(t0);
  perUpdate.push(((cpu.user + cpu.system) * 1000) / (updates * n));
}
perUpdate.sort((a, b) => a - b);
console.log(`${n} subscriber(s): min ${perUpdate[0].toFixed(0)}, median ${perUpdate[3].toFixed(0)} ns CPU per delivered update (${root})`);
await runtime.stop();
