// NATS request/reply echo: an outside reference for call round trips. Connects to a nats-server with
// nats.js, subscribes to `peerway.bench.echo` and answers every request with its payload. Prints `ready`.
//   node nats-echo.mjs --port 4222
import { connect } from 'nats';
import { exitWithParent, parseArgs } from './framing.mjs';

const args = parseArgs(process.argv.slice(2));
exitWithParent();
const nc = await connect({ servers: `127.0.0.1:${args.port}` });
const sub = nc.subscribe('peerway.bench.echo', { callback: (err, msg) => { if (!err) msg.respond(msg.data); } });
await nc.flush();
void sub;
console.log('ready');
