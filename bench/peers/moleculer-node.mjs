// Moleculer node with an `echo` service on the TCP transporter: an outside reference for call round
// trips (the bench's own Moleculer broker calls `echo.echo` on this node). Discovery is off: the bench's
// node names this one by address (`urls`), and the gossip of the TCP transporter tells this node about the
// bench's. JSON serializer (Moleculer's default), so the 64-byte payload travels as base64 text. Needs
// the dev dependency `moleculer`. Prints `ready <port>`.
//   node moleculer-node.mjs --port 40123
import { ServiceBroker } from 'moleculer';
import { exitWithParent, parseArgs } from './framing.mjs';

const args = parseArgs(process.argv.slice(2));
exitWithParent();
const broker = new ServiceBroker({
  nodeID: 'bench-echo',
  logger: false,
  transporter: { type: 'TCP', options: { udpDiscovery: false, port: Number(args.port), urls: [] } },
});
broker.createService({ name: 'echo', actions: { echo: (ctx) => ctx.params.data } });
await broker.start();
console.log(`ready ${args.port}`);
