// NATS request/reply echo: the outside reference for call round trips (peers scenario) and the raw
// baseline for the cross-server hop of a Peerway cluster (cluster scenario). Connects to a nats-server with
// nats.js, subscribes to `peerway.bench.echo` and answers every request with its payload. Prints `ready`
// once its subscription is in place (flushed to the server).
//   node nats-echo.mjs --port 4222            (a nats-server on 127.0.0.1)
//   node nats-echo.mjs --url nats://HOST:PORT (a node of a cluster)
import { connect } from 'nats';
import { exitWithParent, parseArgs } from './framing.mjs';

const args = parseArgs(process.argv.slice(2));
exitWithParent();
const nc = await connect({ servers: args.url ?? `127.0.0.1:${args.port}` });
nc.subscribe('peerway.bench.echo', { callback: (err, msg) => (err ? undefined : msg.respond(msg.data)) });
await nc.flush();
process.stdout.write('ready\n');
