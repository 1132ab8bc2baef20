import type { PeerwayError } from '../errors.js';
import type { Channel, ChannelHandlers } from '../wire/channel.js';
import { encodeMessage } from '../wire/codec.js';
import type { Push } from '../wire/messages.js';
import type { SharedPush } from '../wire/shared-push.js';
import { DEFAULT_PUSH_LIMITS, PushOutbox, type PushLimits } from '../wire/push-outbox.js';
import type { Broker, Caller } from './broker.js';
import { BrokerClient } from './broker-client.js';
import type { SessionSink } from './broker-session.js';

/**
 * The binary-protocol front end for one client connection: a thin adapter that turns requests into broker
 * API calls and the broker's pushes into messages on this connection. Nothing here decides anything.
 */
export function serveClient(broker: Broker, channel: Channel, caller: Caller, limits: PushLimits = DEFAULT_PUSH_LIMITS): ChannelHandlers {
  // Pushes go through an outbox: a client that stops reading gets runtime data coalesced, then is dropped.
  // One the connection refuses (above its message limit: the session id it carries is longer than the
  // service name the runner sent) is dropped, and said so.
  const outbox = new PushOutbox(channel, limits, (error) => broker.log.warn({ peer: caller.label, reason: error.message }, 'push dropped'));
  const unencodable = (type: string, err: unknown) =>
    broker.log.warn({ peer: caller.label, type, reason: (err as Error).message }, 'push could not be encoded; dropped');
  const push = (message: Push, coalesceKey?: string) => {
    let bytes: Uint8Array;
    try {
      bytes = encodeMessage(message);
    } catch (err) {
      unencodable(message.type, err);
      return;
    }
    outbox.push(bytes, coalesceKey);
  };
  // The push of one publish to many sessions: encoded once, this session's id spliced in.
  const pushShared = (shared: SharedPush, session: string, coalesceKey?: string) => {
    let bytes: Uint8Array;
    try {
      bytes = shared.encodeFor(session);
    } catch (err) {
      unencodable(shared.push.type, err);
      return;
    }
    outbox.push(bytes, coalesceKey);
  };
  const sink: SessionSink = {
    event: (session, name, args, shared) => (shared ? pushShared(shared, session) : push({ type: 'event', session, name, args })),
    data: (session, path, value, shared) => {
      const key = `${session}\n${path}`;
      if (shared) pushShared(shared, session, key);
      else push({ type: 'data', session, path, value }, key);
    },
    ended: (session, error: PeerwayError) => push({ type: 'ended', session, error: error.toWire() }),
  };
  const client = new BrokerClient(broker, caller, sink);
  return {
    requests: {
      list: () => client.services(),
      stats: () => client.stats(),
      start: (m) => client.start(m.service, m.client),
      attach: (m) => client.attach(m.session, m.resume),
      ready: (m) => client.ready(m.session, m.routes, m.warnings),
      stop: (m) => client.stop(m.session),
      call: (m) => client.call(m.session, m.method, m.args),
      subscribe: (m) => client.subscribe(m.session, m.kind, m.name),
      unsubscribe: (m) => client.unsubscribe(m.session, m.kind, m.name),
    },
    push: (m) => broker.log.debug({ peer: caller.label, type: m.type }, 'ignored push from client'),
    close: () => client.close(),
    drain: () => outbox.flush(),
    fault: (error) => broker.log.warn({ peer: caller.label, reason: error.message }, 'client connection fault'),
  };
}
