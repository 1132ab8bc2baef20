// Raw echo peer: the baseline for call round trips. Listens on TCP, a Unix socket or TLS and writes every
// frame back unchanged. Like a careful hand-written server (and like Peerway), it handles reads per chunk
// and writes what one event-loop turn produced with one write. Prints `ready <port|path>` on stdout.
//   node echo-server.mjs --tcp
//   node echo-server.mjs --uds /tmp/x.sock
//   node echo-server.mjs --tls --cert server.pem --key server.key
import net from 'node:net';
import tls from 'node:tls';
import { readFileSync, rmSync } from 'node:fs';
import { chunkReader, exitWithParent, parseArgs, turnWriter } from './framing.mjs';

const args = parseArgs(process.argv.slice(2));
exitWithParent();

function serve(socket) {
  socket.setNoDelay?.(true);
  const write = turnWriter(socket);
  // The complete frames of a chunk are contiguous: echoing them is one write of that slice.
  const read = chunkReader((frames) => write(frames));
  socket.on('data', (chunk) => {
    try {
      read(chunk);
    } catch {
      socket.destroy();
    }
  });
  socket.on('error', () => socket.destroy());
}

let server;
if (args.tls) {
  server = tls.createServer({ cert: readFileSync(args.cert), key: readFileSync(args.key) }, serve);
} else {
  server = net.createServer(serve);
}
if (args.uds) {
  rmSync(args.uds, { force: true });
  server.listen(args.uds, () => console.log(`ready ${args.uds}`));
} else {
  server.listen(0, '127.0.0.1', () => console.log(`ready ${server.address().port}`));
}
