// Raw pub/sub hub: the baseline for runtime-data fan-out. A connection's first frame names its role:
// body "P" (publisher) or "S" (subscriber, answered with an "A" frame once registered). Every later frame
// from a publisher is written unchanged to every subscriber: the complete frames of a chunk go to each
// subscriber with one write per event-loop turn (as Peerway's server writes). Prints `ready <port>`.
import net from 'node:net';
import { chunkReader, exitWithParent, frame, turnWriter } from './framing.mjs';

exitWithParent();
/** Subscriber socket → its per-turn writer. */
const subscribers = new Map();
const ACK = frame(Buffer.from('A'));

const server = net.createServer((socket) => {
  socket.setNoDelay(true);
  let role;
  const read = chunkReader((frames) => {
    if (role === 'P') {
      for (const write of subscribers.values()) write(frames);
      return;
    }
    if (role) return; // subscribers have nothing more to say
    role = String.fromCharCode(frames[4]);
    const rest = frames.subarray(4 + frames.readUInt32BE(0));
    if (role === 'S') {
      subscribers.set(socket, turnWriter(socket));
      socket.write(ACK);
    } else if (role === 'P' && rest.length > 0) {
      for (const write of subscribers.values()) write(rest);
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
