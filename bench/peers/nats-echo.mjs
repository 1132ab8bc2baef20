// Raw NATS request/reply peer: the baseline for the cross-server hop of a Peerway cluster. Connects to a
// nats-server with the `nats` client library and answers every request on `bench.echo` with its payload.
// Prints `ready` on stdout once its subscription is in place (flushed to the server).
//   node nats-echo.mjs --url nats://127.0.0.1:4222
import { connect } from 'nats';
import { exitWithParent, parseArgs } from './framing.mjs';

const args = parseArgs(process.argv.slice(2));
exitWithParent();
const nc = await connect({ servers: args.url });
nc.subscribe('bench.echo', { callback: (err, msg) => (err ? undefined : msg.respond(msg.data)) });
await nc.flush();
process.stdout.write('ready\n');
