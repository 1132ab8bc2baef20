import { PeerwayError } from '../errors.js';
import { parseDefinition } from '../definition/parse-definition.js';
import type { Channel } from '../wire/channel.js';
import type { Push, RegisterServices, Request } from '../wire/messages.js';
import type { PeerwayServer } from './server.js';
import { RemoteService } from './remote-service.js';
import type { ServiceEntry } from './service-entry.js';

/** Serves one runner connection: registers its services and feeds their events and runtime data to the hub. */
export class RunnerHandler {
  private readonly entries = new Map<string, ServiceEntry>();

  constructor(
    private readonly server: PeerwayServer,
    private readonly channel: Channel,
    private readonly label: string,
  ) {}

  request(m: Request): unknown {
    if (m.type === 'register') return this.register(m);
    if (m.type === 'list') return this.server.listServices();
    throw new PeerwayError('PROTOCOL', `runners cannot send "${m.type}" requests`);
  }

  push(m: Push): void {
    if (m.type !== 'event' && m.type !== 'data') {
      this.server.log.debug({ peer: this.label, type: m.type }, 'ignored push from runner');
      return;
    }
    const entry = m.service ? this.entries.get(m.service) : undefined;
    if (!entry) {
      this.server.log.warn({ peer: this.label, service: m.service }, `runner pushed ${m.type} for a service it did not register; dropped`);
      return;
    }
    try {
      if (m.type === 'event') entry.publishEvent(m.name, m.args ?? {});
      else entry.publishData(m.path, m.value);
    } catch (err) {
      // A bad update from one runner must not disturb anyone else; log it and keep going.
      this.server.log.warn({ peer: this.label, service: entry.name, reason: (err as Error).message }, `bad ${m.type} from runner dropped`);
    }
  }

  closed(): void {
    const gone = new PeerwayError('SERVICE_GONE', `the runner at ${this.label} disconnected`);
    for (const name of this.entries.keys()) {
      this.server.unregister(name, new PeerwayError('SERVICE_GONE', `service ${name} went away: ${gone.message}`));
    }
    this.entries.clear();
  }

  private register(m: RegisterServices): { registered: string[] } {
    if (!Array.isArray(m.services) || m.services.length === 0) {
      throw new PeerwayError('PROTOCOL', 'register needs a non-empty "services" list');
    }
    // Parse all first, so one bad definition leaves nothing half-registered.
    const parsed = m.services.map((s) => ({ definition: parseDefinition(s.xml, s.file ?? `${s.name}.xml`), data: s.data }));
    const done: string[] = [];
    try {
      for (const { definition, data } of parsed) {
        const entry = this.server.register(new RemoteService(definition, this.channel, this.label), data);
        this.entries.set(definition.name, entry);
        done.push(definition.name);
      }
    } catch (err) {
      for (const name of done) {
        this.entries.delete(name);
        this.server.unregister(name, PeerwayError.from(err));
      }
      throw err;
    }
    return { registered: done };
  }
}
