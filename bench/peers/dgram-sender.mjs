// Raw datagram sender: the baseline for unreliable events. On the stdin command
//   send <port> <count> <batch> <size>
// sends <count> datagrams of <size> bytes (sequence number first, uint32 BE) to 127.0.0.1:<port>, <batch>
// per event-loop turn: the same pacing the Peerway bench service uses for its events. Answers `done <n>`.
import dgram from 'node:dgram';
import { setImmediate as turn } from 'node:timers/promises';
import { exitWithParent, onCommand } from './framing.mjs';

exitWithParent();
const socket = dgram.createSocket('udp4');
socket.on('error', () => undefined); // ICMP unreachable after the receiver closed: nothing to do
socket.bind(0, '127.0.0.1', () => console.log('ready'));

onCommand(async ([cmd, port, count, batch, size]) => {
  if (cmd !== 'send') return;
  const n = Number(count);
  const perTurn = Number(batch);
  const bytes = Math.max(4, Number(size));
  for (let i = 1; i <= n; i++) {
    const d = Buffer.alloc(bytes);
    d.writeUInt32BE(i, 0);
    socket.send(d, Number(port), '127.0.0.1');
    if (i % perTurn === 0) await turn();
  }
  console.log(`done ${n}`);
});
