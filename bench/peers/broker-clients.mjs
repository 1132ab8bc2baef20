// Clients for the outside fan-out references, nats-server and mosquitto, used only when those brokers are
// already installed (the bench never installs them). Minimal protocol clients, no library: NATS's text
// protocol (CONNECT, SUB, PUB, MSG, PING/PONG) and MQTT 3.1.1 at QoS 0 (CONNECT, SUBSCRIBE, PUBLISH).
//   node broker-clients.mjs --proto nats|mqtt --port P --role sub --subscribers N
//       then on stdin `expect <final> <timeoutMs>` → `expecting`, later `done <delivered>` (or `… incomplete`)
//   node broker-clients.mjs --proto nats|mqtt --port P --role pub
//       then on stdin `publish <from> <count> <batch> <size>` → `published <count>`
// Messages carry the counter (uint32 BE) first, like the raw hub's frames. A publisher writes the messages
// of one event-loop turn with one write, as the raw publisher and Peerway do. Prints `ready` once connected
// (and, for subscribers, once every subscription is confirmed by the broker).
import net from 'node:net';
import { setImmediate as turn } from 'node:timers/promises';
import { exitWithParent, onCommand, parseArgs, turnWriter } from './framing.mjs';

const args = parseArgs(process.argv.slice(2));
const proto = args.proto;
const port = Number(args.port);
const SUBJECT = 'peerway.bench';
exitWithParent();

function fail(message) {
  console.error(`broker-clients (${proto}): ${message}`);
  process.exit(1);
}

function open() {
  return new Promise((resolve, reject) => {
    const s = net.connect({ host: '127.0.0.1', port }, () => {
      s.setNoDelay(true);
      resolve(s);
    });
    s.once('error', reject);
  });
}

// ---- NATS ---------------------------------------------------------------------------------------

/** A NATS connection; `onMessage(payload)` for MSGs; resolves after the server answered a PING. */
async function natsConnect(onMessage, subscribe) {
  const s = await open();
  let buf = Buffer.alloc(0);
  let pong;
  const ponged = new Promise((r) => (pong = r));
  s.on('data', (chunk) => {
    buf = buf.length ? Buffer.concat([buf, chunk]) : chunk;
    for (;;) {
      const eol = buf.indexOf('\r\n');
      if (eol < 0) return;
      const line = buf.subarray(0, eol).toString('latin1');
      if (line.startsWith('MSG ')) {
        const bytes = Number(line.slice(line.lastIndexOf(' ') + 1));
        if (buf.length < eol + 2 + bytes + 2) return; // payload not complete yet
        onMessage(buf.subarray(eol + 2, eol + 2 + bytes));
        buf = buf.subarray(eol + 2 + bytes + 2);
        continue;
      }
      buf = buf.subarray(eol + 2);
      if (line === 'PING') s.write('PONG\r\n');
      else if (line === 'PONG') pong();
      else if (line.startsWith('-ERR')) fail(line);
      // INFO and +OK need nothing
    }
  });
  s.write(`CONNECT {"verbose":false,"pedantic":false,"lang":"node","version":"0.0.0","protocol":0}\r\n`);
  if (subscribe) s.write(`SUB ${SUBJECT} 1\r\n`);
  s.write('PING\r\n'); // the PONG proves CONNECT (and SUB) were processed
  await ponged;
  const write = turnWriter(s);
  return { publish: (payload) => write(Buffer.concat([Buffer.from(`PUB ${SUBJECT} ${payload.length}\r\n`), payload, Buffer.from('\r\n')])) };
}

// ---- MQTT 3.1.1, QoS 0 -----------------------------------------------------------------------------

function varint(n) {
  const out = [];
  do {
    let b = n % 128;
    n = Math.floor(n / 128);
    if (n > 0) b |= 0x80;
    out.push(b);
  } while (n > 0);
  return Buffer.from(out);
}

function str(text) {
  const b = Buffer.from(text);
  const out = Buffer.alloc(2 + b.length);
  out.writeUInt16BE(b.length, 0);
  b.copy(out, 2);
  return out;
}

function packet(type, body) {
  return Buffer.concat([Buffer.from([type]), varint(body.length), body]);
}

let clientSeq = 0;

/** An MQTT connection; `onMessage(payload)` for PUBLISHes; resolves after CONNACK (and SUBACK). */
async function mqttConnect(onMessage, subscribe) {
  const s = await open();
  let buf = Buffer.alloc(0);
  let connack;
  let suback;
  const connected = new Promise((r) => (connack = r));
  const subscribed = new Promise((r) => (suback = r));
  s.on('data', (chunk) => {
    buf = buf.length ? Buffer.concat([buf, chunk]) : chunk;
    for (;;) {
      if (buf.length < 2) return;
      let length = 0;
      let mult = 1;
      let i = 1;
      for (;;) {
        if (i >= buf.length) return; // length bytes not complete yet
        const b = buf[i++];
        length += (b & 0x7f) * mult;
        mult *= 128;
        if ((b & 0x80) === 0) break;
      }
      if (buf.length < i + length) return;
      const first = buf[0];
      const type = first >> 4;
      const body = buf.subarray(i, i + length);
      buf = buf.subarray(i + length);
      if (type === 2) {
        if (body[1] !== 0) fail(`CONNACK refused the connection (return code ${body[1]})`);
        connack();
      } else if (type === 9) {
        if (body[2] === 0x80) fail('SUBACK refused the subscription');
        suback();
      } else if (type === 3) {
        const qos = (first >> 1) & 3; // only QoS 0 is requested, but skip a packet id if the broker sends one
        const topicLength = body.readUInt16BE(0);
        onMessage(body.subarray(2 + topicLength + (qos > 0 ? 2 : 0)));
      }
    }
  });
  const connectBody = Buffer.concat([str('MQTT'), Buffer.from([4, 0x02, 0, 0]), str(`peerway-bench-${process.pid}-${clientSeq++}`)]);
  s.write(packet(0x10, connectBody)); // keep-alive 0: no PINGREQ needed during a run
  await connected;
  if (subscribe) {
    s.write(packet(0x82, Buffer.concat([Buffer.from([0, 1]), str(SUBJECT), Buffer.from([0])])));
    await subscribed;
  }
  const topic = str(SUBJECT);
  const write = turnWriter(s);
  return { publish: (payload) => write(packet(0x30, Buffer.concat([topic, payload]))) };
}

// ---- roles ----------------------------------------------------------------------------------------

const connectTo = proto === 'nats' ? natsConnect : proto === 'mqtt' ? mqttConnect : fail(`unknown --proto ${proto}`);

if (args.role === 'sub') {
  const n = Number(args.subscribers ?? 1);
  let delivered = 0;
  let final = -1;
  let remaining = 0;
  let timer;
  const finish = (incomplete) => {
    clearTimeout(timer);
    final = -1;
    console.log(`done ${delivered}${incomplete ? ' incomplete' : ''}`);
  };
  const onMessage = (payload) => {
    delivered++;
    if (payload.length >= 4 && payload.readUInt32BE(0) === final && --remaining === 0) finish(false);
  };
  try {
    for (let i = 0; i < n; i++) await connectTo(onMessage, true);
  } catch (err) {
    fail(err.message);
  }
  console.log('ready');
  onCommand(([cmd, value, timeoutMs]) => {
    if (cmd !== 'expect') return;
    delivered = 0;
    final = Number(value);
    remaining = n;
    timer = setTimeout(() => finish(true), Number(timeoutMs));
    console.log('expecting');
  });
} else if (args.role === 'pub') {
  let client;
  try {
    client = await connectTo(() => {}, false);
  } catch (err) {
    fail(err.message);
  }
  console.log('ready');
  onCommand(async ([cmd, from, count, batch, size]) => {
    if (cmd !== 'publish') return;
    for (let i = 1; i <= Number(count); i++) {
      const payload = Buffer.alloc(Math.max(4, Number(size)));
      payload.writeUInt32BE(Number(from) + i, 0);
      client.publish(payload);
      if (i % Number(batch) === 0) await turn();
    }
    console.log(`published ${count}`);
  });
} else {
  fail('--role must be pub or sub');
}
