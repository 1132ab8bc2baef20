// Raw relay peer: the baseline for server-routed calls. For each client it opens a connection to the
// target (the raw echo peer) and forwards whole frames both ways. It parses frame boundaries, as any
// message broker must, but decodes nothing; the complete frames of a chunk go on with one write per
// event-loop turn (as Peerway's server writes). Prints `ready <port>`.
//   node relay.mjs --target-port 40123
import net from 'node:net';
import { chunkReader, exitWithParent, parseArgs, turnWriter } from './framing.mjs';

const args = parseArgs(process.argv.slice(2));
const targetPort = Number(args['target-port']);
exitWithParent();

function pipeFrames(from, to) {
  const write = turnWriter(to);
  const read = chunkReader((frames) => write(frames));
  from.on('data', (chunk) => {
    try {
      read(chunk);
    } catch {
      from.destroy();
      to.destroy();
    }
  });
}

const server = net.createServer((client) => {
  client.setNoDelay(true);
  const upstream = net.connect({ host: '127.0.0.1', port: targetPort });
  upstream.setNoDelay(true);
  pipeFrames(client, upstream);
  pipeFrames(upstream, client);
  const end = () => {
    client.destroy();
    upstream.destroy();
  };
  client.on('error', end).on('close', end);
  upstream.on('error', end).on('close', end);
});
server.listen(0, '127.0.0.1', () => console.log(`ready ${server.address().port}`));
