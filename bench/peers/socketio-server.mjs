// socket.io echo server: an outside reference for call round trips, the way socket.io users make calls
// (`emitWithAck` on the client, an acknowledgement callback here). WebSocket transport only, binary payload
// as sent. Needs the dev dependency `socket.io`. Prints `ready <port>`.
import http from 'node:http';
import { Server } from 'socket.io';
import { exitWithParent } from './framing.mjs';

exitWithParent();
const httpServer = http.createServer();
const io = new Server(httpServer, { serveClient: false, transports: ['websocket'] });
io.on('connection', (socket) => {
  socket.on('echo', (data, ack) => ack(data));
});
httpServer.listen(0, '127.0.0.1', () => console.log(`ready ${httpServer.address().port}`));
