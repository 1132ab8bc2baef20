import type { Identity } from '../policy/authorizer.js';
import type { Broker } from '../server/broker.js';
import { BrokerClient } from '../server/broker-client.js';
import type { SessionSink } from '../server/broker-session.js';
import { PROTOCOL_VERSION } from '../wire/messages.js';

/** Pushes to a stateless HTTP caller's sessions go nowhere: it asks, it gets an answer, that is all. */
const NOWHERE: SessionSink = { event: () => undefined, data: () => undefined, ended: () => undefined };

/** Sessions an HTTP caller identity keeps at most (one per service it used); the oldest is stopped for another. */
export const MAX_SESSIONS = 256;

/**
 * The broker as stateless HTTP requests use it (Kanzi's `serviceinvoke`, the JSON API's calls): one
 * BrokerClient per identity, and one session per service it calls, started on first use and kept, so a
 * request costs a call, not a session start. A session its service ended is started afresh next time.
 */
export class HttpCallers {
  private readonly clients = new Map<string, { client: BrokerClient; sessions: Map<string, string>; starting: Map<string, Promise<string>> }>();

  constructor(private readonly broker: Broker) {}

  /** The caller's session id with `service`, started when there is none (or it ended). */
  async session(identity: Identity, service: string): Promise<{ client: BrokerClient; session: string }> {
    let entry = this.clients.get(identity.name);
    if (!entry) {
      const sessions = new Map<string, string>();
      const sink: SessionSink = { ...NOWHERE, ended: (id) => sessions.forEach((s, name) => s === id && sessions.delete(name)) };
      entry = { client: new BrokerClient(this.broker, { identity, label: `http (${identity.name})` }, sink), sessions, starting: new Map() };
      this.clients.set(identity.name, entry);
    }
    const known = entry.sessions.get(service);
    if (known !== undefined && this.broker.sessions.has(known)) return { client: entry.client, session: known };
    // Requests that arrive together share one start: a second session would be kept by nobody.
    let starting = entry.starting.get(service);
    if (!starting) {
      starting = this.start(entry, service).finally(() => entry.starting.delete(service));
      entry.starting.set(service, starting);
    }
    return { client: entry.client, session: await starting };
  }

  private async start(entry: { client: BrokerClient; sessions: Map<string, string> }, service: string): Promise<string> {
    if (entry.sessions.size >= MAX_SESSIONS) {
      const [oldService, oldSession] = entry.sessions.entries().next().value!;
      entry.sessions.delete(oldService);
      entry.client.stop(oldSession);
    }
    const started = await entry.client.start(service, { bearers: [], host: 'http', version: PROTOCOL_VERSION });
    await entry.client.ready(started.session, {});
    entry.sessions.set(service, started.session);
    return started.session;
  }

  /** A BrokerClient for `identity` with no session: listings, definitions, stats. */
  client(identity: Identity): BrokerClient {
    return new BrokerClient(this.broker, { identity, label: `http (${identity.name})` }, NOWHERE);
  }

  /** Stops every session (the server is stopping). */
  close(): void {
    for (const { client } of this.clients.values()) client.close();
    this.clients.clear();
  }
}
