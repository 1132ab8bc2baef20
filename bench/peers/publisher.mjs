// Raw publisher: connects to the raw hub as "P" and, on the stdin command
//   publish <from> <count> <batch> <size>
// sends frames whose body is <size> bytes starting with the counter (uint32 BE, from+1 … from+count),
// <batch> frames per event-loop turn: the same pacing the Peerway bench service uses for its updates. The
// frames of one turn go out with one write, as Peerway's own connections send them.
// Answers `done <count>` on stdout. Prints `ready` once connected.
import net from 'node:net';
import { setImmediate as turn } from 'node:timers/promises';
import { exitWithParent, frame, frameReader, onCommand, parseArgs, turnWriter } from './framing.mjs';

const args = parseArgs(process.argv.slice(2));
exitWithParent();
const socket = net.connect({ host: '127.0.0.1', port: Number(args.port) }, () => {
  socket.setNoDelay(true);
  socket.write(frame(Buffer.from('P')));
  console.log('ready');
});
const write = turnWriter(socket);
socket.on('data', frameReader(() => {}));
socket.on('error', (err) => {
  console.error(`publisher: ${err.message}`);
  process.exit(1);
});

onCommand(async ([cmd, from, count, batch, size]) => {
  if (cmd !== 'publish') return;
  const start = Number(from);
  const n = Number(count);
  const perTurn = Number(batch);
  const bodyBytes = Math.max(4, Number(size));
  for (let i = 1; i <= n; i++) {
    const body = Buffer.alloc(bodyBytes);
    body.writeUInt32BE(start + i, 0);
    write(frame(body));
    if (i % perTurn === 0) await turn();
  }
  console.log(`done ${n}`);
});
