import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ANONYMOUS } from '../../src/policy/authorizer.js';
import { Broker } from '../../src/server/broker.js';
import { serveClient } from '../../src/server/client-connection.js';
import { InProcessService } from '../../src/server/in-process-service.js';
import { loadService } from '../../src/service/load-service.js';
import type { Channel } from '../../src/wire/channel.js';
import { decodeMessage, encodeMessage } from '../../src/wire/codec.js';
import type { Message } from '../../src/wire/messages.js';
import { fixture } from '../helpers/harness.js';

/**
 * The server encodes a publish once for all the sessions that get it unchanged (SharedPush) and splices
 * each session's id in. What each client connection is sent must still be exactly the message a
 * per-session encoding gives, and a session the policy redacts or denies must not get the shared copy.
 */

const PROFILE = { bearers: [], host: 'h', version: 1 };

/** A client connection as the outbox sees it: records the encoded pushes it is sent. */
function recordingChannel(label: string) {
  const sent: Buffer[] = [];
  const channel = { closed: false, queuedBytes: 0, peerLabel: label, sendEncoded: (b: Uint8Array) => sent.push(Buffer.from(b)), fail: () => undefined };
  return { sent, channel: channel as unknown as Channel };
}

test('every subscriber gets exactly its own session’s push from a shared encoding; a redacted one its own value, a denied one nothing', async (t) => {
  const runtime = await loadService(fixture('memory', 'whoami.xml'));
  await runtime.start();
  t.after(() => runtime.stop());
  const broker = new Broker();
  const entry = broker.register({ identity: ANONYMOUS, label: 'test' }, new InProcessService(runtime), runtime.tree.snapshot());
  // Ids of different lengths (fixstr, str8) so that the spliced copies differ in size.
  const ids = ['s1', 'a-session-id', 'x'.repeat(40), 'short', 'y'.repeat(300)];
  broker.newSessionId = () => ids.shift()!;
  const clients = [];
  for (let i = 0; i < 5; i++) {
    const { sent, channel } = recordingChannel(`client ${i}`);
    const handlers = serveClient(broker, channel, { identity: ANONYMOUS, label: `client ${i}` });
    const started = await handlers.requests!.start!({ type: 'start', id: 1, service: 'WhoAmI', client: PROFILE });
    await handlers.requests!.subscribe!({ type: 'subscribe', id: 2, session: started.session, kind: 'data', name: '' });
    await handlers.requests!.subscribe!({ type: 'subscribe', id: 3, session: started.session, kind: 'event', name: 'bumped' });
    clients.push({ sent, session: started.session });
  }
  // The second client may not read `secret`; the fourth may read no leaf and hear no event.
  broker.sessions.get(clients[1].session)!.setGrants({ denied: { 'read:secret': 'not for you' } });
  broker.sessions.get(clients[3].session)!.setGrants({ denied: { 'read:n': 'no', 'read:secret': 'no', 'subscribe:bumped': 'no' } });

  entry.publishData('', { n: 7, secret: 'hidden' });
  entry.publishData('n', 8);
  entry.publishEvent('bumped', { n: 8 });

  const expected = (i: number, session: string): Message[] =>
    i === 3
      ? [{ type: 'data', session, path: '', value: {} }] // the root is not denied, every leaf in it is
      : [
          { type: 'data', session, path: '', value: i === 1 ? { n: 7 } : { n: 7, secret: 'hidden' } },
          { type: 'data', session, path: 'n', value: 8 },
          { type: 'event', session, name: 'bumped', args: { n: 8 } },
        ];
  for (const [i, c] of clients.entries()) {
    const want = expected(i, c.session);
    assert.deepEqual(c.sent.map((b) => decodeMessage(b)), want, `client ${i} (session of ${c.session.length} characters)`);
    // As hex: msgpackr leaves a cached DataView on a buffer it decoded, which a Buffer comparison would see.
    assert.deepEqual(c.sent.map((b) => b.toString('hex')), want.map((m) => Buffer.from(encodeMessage(m)).toString('hex')), `client ${i}: the bytes of a per-session encoding`);
  }
  assert.equal(entry.counters.dataOut, 9);
  assert.equal(entry.counters.eventsOut, 4);
});
