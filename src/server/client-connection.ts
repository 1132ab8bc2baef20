import type { PeerwayError } from '../errors.js';
import type { Channel, ChannelHandlers } from '../wire/channel.js';
import type { Broker, Caller } from './broker.js';
import { BrokerClient } from './broker-client.js';
import type { SessionSink } from './broker-session.js';

/**
 * The binary-protocol front end for one client connection: a thin adapter that turns requests into broker
 * API calls and the broker's pushes into messages on this connection. Nothing here decides anything.
 */
export function serveClient(broker: Broker, channel: Channel, caller: Caller): ChannelHandlers {
  const sink: SessionSink = {
    event: (session, name, args) => sendPush(channel, { type: 'event', session, name, args }),
    data: (session, path, value) => sendPush(channel, { type: 'data', session, path, value }),
    ended: (session, error: PeerwayError) => sendPush(channel, { type: 'ended', session, error: error.toWire() }),
  };
  const client = new BrokerClient(broker, caller, sink);
  return {
    requests: {
      list: () => client.services(),
      stats: () => client.stats(),
      start: (m) => client.start(m.service, m.client),
      attach: (m) => client.attach(m.session, m.resume),
      ready: (m) => client.ready(m.session, m.routes),
      stop: (m) => client.stop(m.session),
      call: (m) => client.call(m.session, m.method, m.args),
      subscribe: (m) => client.subscribe(m.session, m.kind, m.name),
      unsubscribe: (m) => client.unsubscribe(m.session, m.kind, m.name),
    },
    push: (m) => broker.log.debug({ peer: caller.label, type: m.type }, 'ignored push from client'),
    close: () => client.close(),
    fault: (error) => broker.log.warn({ peer: caller.label, reason: error.message }, 'client connection fault'),
  };
}

/** A push to a client that is going away is dropped: its close handler cleans up. */
function sendPush(channel: Channel, message: Parameters<Channel['send']>[0]): void {
  if (channel.closed) return;
  try {
    channel.send(message);
  } catch {
    // dropped: see above
  }
}
