import { PeerwayError } from '../errors.js';
import { parseDefinition } from '../definition/parse-definition.js';
import type { Channel, ChannelHandlers } from '../wire/channel.js';
import type { Push, Registered, RegisterServices } from '../wire/messages.js';
import type { Broker, Caller } from './broker.js';
import { RemoteService } from './remote-service.js';
import type { ServiceEntry } from './service-entry.js';

/**
 * The front end for one runner connection: registers its services with the broker and feeds their
 * events and runtime data to the broker's fan-out. When the runner goes, its services go with it.
 */
export function serveRunner(broker: Broker, channel: Channel, caller: Caller, maxDefinitionBytes?: number): ChannelHandlers {
  const entries = new Map<string, ServiceEntry>();

  const register = (m: RegisterServices): Registered => {
    if (!Array.isArray(m.services) || m.services.length === 0) {
      throw new PeerwayError('PROTOCOL', 'register needs a non-empty "services" list');
    }
    // Parse all first, so one bad definition leaves nothing half-registered.
    const parsed = m.services.map((s) => {
      if (typeof s?.xml !== 'string') throw new PeerwayError('PROTOCOL', 'register: each service needs its definition text in "xml"');
      const file = typeof s.file === 'string' ? s.file : `${typeof s.name === 'string' ? s.name.slice(0, 64) : 'service'}.xml`;
      return { definition: parseDefinition(s.xml, file, maxDefinitionBytes ? { maxBytes: maxDefinitionBytes } : {}), data: s.data };
    });
    const done: string[] = [];
    try {
      for (const { definition, data } of parsed) {
        const entry = broker.register(caller, new RemoteService(definition, channel, caller.label), data);
        entries.set(definition.name, entry);
        done.push(definition.name);
      }
    } catch (err) {
      for (const name of done) {
        broker.unregister(name, PeerwayError.from(err), entries.get(name));
        entries.delete(name);
      }
      throw err;
    }
    return { registered: done };
  };

  const publish = (m: Push): void => {
    if (m.type !== 'event' && m.type !== 'data') {
      broker.log.debug({ peer: caller.label, type: m.type }, 'ignored push from runner');
      return;
    }
    const entry = m.service ? entries.get(m.service) : undefined;
    if (!entry) {
      broker.log.warn({ peer: caller.label, service: m.service }, `runner pushed ${m.type} for a service it did not register; dropped`);
      return;
    }
    try {
      if (m.type === 'event') entry.publishEvent(m.name, m.args ?? {});
      else entry.publishData(m.path, m.value);
    } catch (err) {
      // A bad update from one runner must not disturb anyone else; log it and keep going.
      broker.log.warn({ peer: caller.label, service: entry.name, reason: (err as Error).message }, `bad ${m.type} from runner dropped`);
    }
  };

  return {
    requests: {
      register,
      list: () => broker.listServices(caller.identity),
    },
    push: publish,
    close: () => {
      // Only the runner's own entries: a name this runner lost to a cluster peer is someone else's now.
      for (const [name, entry] of entries) {
        broker.unregister(name, new PeerwayError('SERVICE_GONE', `service ${name} went away: the runner at ${caller.label} disconnected`), entry);
      }
      entries.clear();
    },
    fault: (error) => broker.log.warn({ peer: caller.label, reason: error.message }, 'runner connection fault'),
  };
}
