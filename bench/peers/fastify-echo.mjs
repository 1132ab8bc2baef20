// Raw fastify echo peer: the baseline for the HTTP gateway's round trips (what fastify and HTTP/1.1 cost by
// themselves, with no broker, no relay and no service behind them). It answers the same JSON the gateway
// answers for BenchRouted.echo, copying the argument text through without decoding it:
//   POST /echo  (JSON body {"data": "<base64>"})   → {"value": "<base64>"}                      (the JSON API's shape)
//   GET  /echo?data=<base64>                       → {"status":"OK","type":"binary","value":…}  (the Kanzi endpoint's shape)
//   GET  /ws (WebSocket, JSON text messages)       → {"id", "ok": true, "result": args.data} for each {"id", "type", "args"}
// The app is set up as the gateway sets up its own: fastify defaults, no request logging, @fastify/websocket
// without compression. Prints `ready <port>`.
import Fastify from 'fastify';
import fastifyWebsocket from '@fastify/websocket';
import { exitWithParent } from './framing.mjs';

exitWithParent();
const app = Fastify({ logger: false, bodyLimit: 1024 * 1024 });
await app.register(fastifyWebsocket, { options: { maxPayload: 1024 * 1024, perMessageDeflate: false } });

app.post('/echo', (request) => ({ value: request.body?.data ?? null }));
app.get('/echo', (request) => ({ status: 'OK', type: 'binary', value: request.query.data ?? null }));
app.get('/ws', { websocket: true }, (socket) => {
  socket.on('message', (data) => {
    let message;
    try {
      message = JSON.parse(data.toString('utf8'));
    } catch {
      socket.close(1007, 'not JSON');
      return;
    }
    socket.send(JSON.stringify({ id: message.id, ok: true, result: message.args?.data ?? null }));
  });
});

await app.listen({ host: '127.0.0.1', port: 0 });
console.log(`ready ${app.server.address().port}`);
