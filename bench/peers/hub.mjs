// Raw pub/sub hub: the baseline for runtime-data fan-out. A connection's first frame names its role:
// body "P" (publisher) or "S" (subscriber, answered with an "A" frame once registered). Every later frame
// from a publisher is written unchanged to every subscriber. Prints `ready <port>`.
import net from 'node:net';
import { exitWithParent, frame, frameReader } from './framing.mjs';

exitWithParent();
const subscribers = new Set();
const ACK = frame(Buffer.from('A'));

const server = net.createServer((socket) => {
  socket.setNoDelay(true);
  let role;
  const read = frameReader((f) => {
    if (role === 'P') {
      for (const s of subscribers) s.write(f);
      return;
    }
    if (role) return; // subscribers have nothing more to say
    role = String.fromCharCode(f[4]);
    if (role === 'S') {
      subscribers.add(socket);
      socket.write(ACK);
    }
  });
  socket.on('data', (chunk) => {
    try {
      read(chunk);
    } catch {
      socket.destroy();
    }
  });
  const gone = () => subscribers.delete(socket);
  socket.on('close', gone).on('error', gone);
});
server.listen(0, '127.0.0.1', () => console.log(`ready ${server.address().port}`));
