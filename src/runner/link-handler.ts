import { PeerwayError } from '../errors.js';
import { RuntimeDataTree } from '../definition/runtime-data-tree.js';
import type { Request } from '../wire/messages.js';
import type { RunnerSession } from './runner-session.js';
import type { ServiceHost } from './service-host.js';

/**
 * Serves one peer-to-peer link of one session. Only resources this session routed to this link are served
 * here: a client cannot reach a resource over a link its routing did not give it.
 */
export class LinkHandler {
  constructor(
    private readonly host: ServiceHost,
    private readonly session: RunnerSession,
    private readonly link: string,
  ) {}

  request(m: Request): unknown {
    if ('session' in m && m.session !== this.session.id) {
      throw new PeerwayError('UNAUTHORIZED', `link ${this.link} belongs to another session`);
    }
    switch (m.type) {
      case 'call':
        if (this.session.directLink(`method:${m.method}`) !== this.link) throw this.notRouted(`method "${m.method}"`);
        return this.host.runtime.invoke(m.method, m.args, { session: this.session.id, route: 'direct' });
      case 'subscribe':
        return this.subscribe(m.kind, m.name ?? '');
      case 'unsubscribe':
        this.session.unsubscribe(this.link, m.kind, m.name);
        return undefined;
      default:
        throw new PeerwayError('PROTOCOL', `"${m.type}" requests are not accepted on a peer-to-peer link`);
    }
  }

  private subscribe(kind: 'event' | 'data', name: string): unknown {
    const definition = this.host.runtime.definition;
    if (kind === 'event') {
      if (name && !definition.events.has(name)) {
        throw new PeerwayError('EVENT_NOT_FOUND', `service ${definition.name} has no event "${name}"`);
      }
      if (name && this.session.directLink(`event:${name}`) !== this.link) throw this.notRouted(`event "${name}"`);
      this.session.subscribe(this.link, 'event', name);
      return undefined;
    }
    RuntimeDataTree.nodeAt(definition.runtimeData, name, definition);
    const routed = this.host.table.dataKeysUnder(name).some((k) => this.session.directLink(k) === this.link);
    if (!routed) throw this.notRouted(`runtime data "${name}"`);
    this.session.subscribe(this.link, 'data', name);
    return this.host.runtime.tree.get(name);
  }

  private notRouted(what: string): PeerwayError {
    return new PeerwayError('PROTOCOL', `${what} of ${this.host.name} is not routed to link ${this.link} for this session; use the route given in the routing instructions`);
  }
}
