// ServiceHost in process, for what the wire cannot reach on a real runner without a forged server.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PeerwayError } from '../../src/errors.js';
import { silentLogger } from '../../src/logger.js';
import type { ServiceHost } from '../../src/runner/service-host.js';
import { serveLink } from '../../src/runner/link-handler.js';
import { loadService } from '../../src/service/load-service.js';
import { encodeMessage } from '../../src/wire/codec.js';
import type { ConnectionHandlers, MessageConnection } from '../../src/wire/connection.js';
import { PROTOCOL_VERSION, type Message } from '../../src/wire/messages.js';
import { fixture } from '../helpers/harness.js';
import { recordingLogger, testServiceHost } from '../helpers/service-host.js';

async function labHost(log = silentLogger()): Promise<ServiceHost> {
  return testServiceHost(await loadService(fixture('p2p', 'lab.xml')), { log });
}

/** A link connection driven by the test: the peer's close arrives right after the welcome is sent. */
function closingAfterWelcome(error?: PeerwayError | 'stays open'): MessageConnection & { deliver(m: Record<string, unknown> | Buffer): void } {
  let handlers: ConnectionHandlers | undefined;
  let closed = false;
  return {
    bearer: 'connect.bearer.tcp',
    reliable: true,
    remote: 'test',
    queuedBytes: 0,
    get closed() {
      return closed;
    },
    start(h) {
      handlers = h;
    },
    send() {
      if (closed) throw new PeerwayError('CONNECTION_CLOSED', 'closed');
      if (error === 'stays open') return true;
      // Before the runner's code after the handshake runs: the close is in before its handlers are set.
      queueMicrotask(() => {
        if (closed) return;
        closed = true;
        handlers!.close({ reason: 'the peer went away', ...(error instanceof PeerwayError ? { error } : {}) });
      });
      return true;
    },
    close() {
      if (closed) return;
      closed = true;
      handlers?.close({ reason: 'closed here' });
    },
    deliver(m) {
      handlers!.message(Buffer.isBuffer(m) ? m : Buffer.from(encodeMessage(m as unknown as Message)));
    },
  };
}

for (const withError of [false, true]) {
  test(`a link connection that closed${withError ? ' with an error' : ''} before its handlers were set is not kept among the session's links, and is logged as ${withError ? 'a warning' : 'debug'}`, async () => {
    const { log, entries } = recordingLogger();
    const host = await labHost(log);
    host.open('s1', { bearers: ['connect.bearer.tcp'], host: 'h', version: PROTOCOL_VERSION }, { name: 'anonymous' });
    const s = host.session('s1');
    const connection = closingAfterWelcome(withError ? new PeerwayError('PROTOCOL', 'broken frame') : undefined);
    const accepting = (host as unknown as { acceptLink(link: string, c: MessageConnection): Promise<void> }).acceptLink('reliable', connection);
    connection.deliver({ type: 'hello', version: PROTOCOL_VERSION, role: 'link', session: 's1', token: s.token, link: 'reliable' });
    await accepting;
    assert.equal(connection.closed, true);
    assert.equal(s.links.has('reliable'), false, 'the closed link was dropped');
    const closes = entries.filter((e) => e.msg.startsWith('link closed')).map((e) => [e.level, e.msg]);
    assert.deepEqual(closes, [withError ? [40, 'link closed with error'] : [20, 'link closed']], 'logged once, at its level');
  });
}

test('a link whose message held behind the hello breaks the protocol is closed once, when its handlers are set, and dropped', async () => {
  const { log, entries } = recordingLogger();
  const host = await labHost(log);
  host.open('s1', { bearers: ['connect.bearer.tcp'], host: 'h', version: PROTOCOL_VERSION }, { name: 'anonymous' });
  const s = host.session('s1');
  const connection = closingAfterWelcome('stays open');
  const accepting = (host as unknown as { acceptLink(link: string, c: MessageConnection): Promise<void> }).acceptLink('reliable', connection);
  connection.deliver({ type: 'hello', version: PROTOCOL_VERSION, role: 'link', session: 's1', token: s.token, link: 'reliable' });
  connection.deliver(Buffer.from([0xc1])); // not msgpack: held until the handlers are set, then it closes the link
  await accepting;
  assert.equal(connection.closed, true);
  assert.equal(s.links.has('reliable'), false, 'the closed link was dropped');
  assert.equal(entries.filter((e) => e.msg.startsWith('link closed')).length, 1, 'the close handler ran once');
});

test('a link refused after its hello was accepted (here: its "link open" log line throws) is failed and removed from the session', async () => {
  const refused: string[] = [];
  const logger = {
    child: () => logger,
    trace: () => undefined,
    info: () => undefined,
    error: () => undefined,
    warn: (_fields: unknown, msg: string) => void refused.push(msg),
    debug: (_fields: unknown, msg: string) => {
      if (msg === 'link open') throw new Error('the log sink failed');
    },
  };
  const host = await labHost(logger as unknown as ReturnType<typeof silentLogger>);
  host.open('s1', { bearers: ['connect.bearer.tcp'], host: 'h', version: PROTOCOL_VERSION }, { name: 'anonymous' });
  const s = host.session('s1');
  const connection = closingAfterWelcome('stays open');
  const accepting = (host as unknown as { acceptLink(link: string, c: MessageConnection): Promise<void> }).acceptLink('reliable', connection);
  connection.deliver({ type: 'hello', version: PROTOCOL_VERSION, role: 'link', session: 's1', token: s.token, link: 'reliable' });
  await accepting;
  assert.ok(refused.includes('link connection refused'), JSON.stringify(refused));
  assert.equal(s.links.has('reliable'), false, 'not kept among the session\'s links');
  assert.equal(connection.closed, true, 'the connection was failed');
});

test('a relayed request for a session this service does not know is SESSION_NOT_FOUND, not a TypeError', async () => {
  const host = await labHost();
  const notFound = (e: unknown) => e instanceof PeerwayError && e.code === 'SESSION_NOT_FOUND' && e.message === 'session nope is not open on service Lab';
  assert.throws(() => host.session('nope'), notFound);
  assert.throws(() => host.identityOf('nope'), notFound);
  assert.throws(() => host.assertServerRoute('nope', 'method:echo'), notFound);
});

test('serveLink refuses a subscription kind other than "event" or "data" with PROTOCOL (the wire checks it first; this is the second line)', async () => {
  const host = await labHost();
  host.open('s1', { bearers: ['connect.bearer.tcp'], host: 'h', version: PROTOCOL_VERSION }, { name: 'anonymous' });
  const s = host.session('s1');
  s.routes = { 'data:counter': { linkType: 'direct', link: 'rt_link' } };
  s.ready = true;
  const handlers = serveLink(host, s, 'rt_link');
  // rt_link serves runtime data: a kind taken for "data" would be answered with the tree.
  assert.equal(handlers.subscribe!({ type: 'subscribe', id: 1, session: 's1', kind: 'data', name: 'counter' }), 0);
  assert.throws(
    () => handlers.subscribe!({ type: 'subscribe', id: 2, session: 's1', kind: 'bogus' as 'data', name: '' }),
    (e: unknown) => e instanceof PeerwayError && e.code === 'PROTOCOL' && /unknown subscription kind/.test(e.message),
  );
});
