import { randomBytes } from 'node:crypto';
import { PeerwayError } from '../errors.js';
import type { Logger } from '../logger.js';
import type { Broker } from '../server/broker.js';
import type { ClusterNotice, ClusterRequest, Heartbeat } from './cluster-messages.js';
import { CLUSTER_PROTOCOL } from './cluster-messages.js';
import { DEFAULT_HEARTBEAT_MS, EXPIRY_HEARTBEATS, isAuthenticated, type ClusterOptions } from './cluster-options.js';
import { ClusterRegistry } from './cluster-registry.js';
import { ClusterService } from './cluster-service.js';
import { HostedSessions } from './hosted-sessions.js';
import { NatsLink } from './nats-link.js';
import { checkServerName, HEARTBEAT_SUBJECT, noticeSubject, requestSubject } from './subjects.js';

/**
 * A server's membership of a cluster: one NATS connection, the heartbeats that announce its own services,
 * the registry of the others' (ClusterRegistry), and the owning side of the sessions other servers hold
 * with its services (HostedSessions). It is a front end over the broker like the others: it only talks
 * to the Broker API, and the broker's policy decides for every relayed identity.
 */
export class ClusterLink {
  private readonly stops: (() => void)[] = [];
  private timer: NodeJS.Timeout | undefined;
  private announceQueued = false;
  private closed = false;
  private down = false;
  private reconciling = false;
  readonly heartbeatMs: number;
  readonly expireMs: number;

  private constructor(
    private readonly broker: Broker,
    private readonly link: NatsLink,
    readonly name: string,
    private readonly boot: string,
    options: ClusterOptions,
    private readonly log: Logger,
  ) {
    this.heartbeatMs = options.heartbeatMs ?? DEFAULT_HEARTBEAT_MS;
    this.expireMs = options.expireMs ?? EXPIRY_HEARTBEATS * this.heartbeatMs;
    this.sessions = new HostedSessions(broker, link, name, log);
    this.registry = new ClusterRegistry(broker, link, name, boot, this.expireMs, log, (server) => this.sessions.dropServer(server));
  }

  private readonly sessions: HostedSessions;
  private readonly registry: ClusterRegistry;

  /**
   * Connects to NATS and joins under `options.name`. CONNECT_FAILED when no NATS server answers;
   * CONFIG_INVALID when a live server of the cluster already has that name.
   */
  static async join(broker: Broker, options: ClusterOptions, log: Logger): Promise<ClusterLink> {
    const name = checkServerName(options.name);
    if (options.servers.length === 0) throw new PeerwayError('USAGE', '--cluster needs at least one NATS address, e.g. --cluster nats://127.0.0.1:4222');
    const holder: { self?: ClusterLink } = {};
    const link = await NatsLink.connect(options, log, {
      disconnected: () => holder.self?.lost(),
      reconnected: () => holder.self?.regained(),
    });
    try {
      const other = await link.request(requestSubject(name), { op: 'ping', from: name } satisfies ClusterRequest, 1000, name).then(
        () => true,
        (err: PeerwayError) => err.code !== 'SERVICE_GONE' && err.code !== 'TIMEOUT',
      );
      if (other) throw new PeerwayError('CONFIG_INVALID', `--name ${name}: another Peerway server of the cluster already has that name; give each server a name of its own`);
    } catch (err) {
      await link.close();
      throw err;
    }
    const self = new ClusterLink(broker, link, name, randomBytes(9).toString('base64url'), options, log);
    holder.self = self;
    self.start();
    if (!isAuthenticated(options)) {
      log.warn({ cluster: options.servers.join(',') }, 'the cluster link is open: no NATS credentials or client certificate are configured, so any process that reaches these NATS servers can register and call services as a Peerway server (give --cluster-user/--cluster-password, --cluster-token, --cluster-creds or --cluster-tls-cert)');
    }
    return self;
  }

  private start(): void {
    const broker = this.broker;
    broker.serverName = this.name;
    broker.clusterStats = () => ({ server: this.name, nats: this.link.server, peers: this.registry.peerStats() });
    this.stops.push(this.link.serve(requestSubject(this.name), (m) => this.sessions.handle(m as ClusterRequest)));
    this.stops.push(this.link.subscribe(noticeSubject(this.name), (m) => this.notice(m as ClusterNotice)));
    this.stops.push(this.link.subscribe(HEARTBEAT_SUBJECT, (m) => this.registry.heartbeat(m as Heartbeat)));
    this.stops.push(
      broker.watchRegistry({
        registered: (e) => (e.hosted.server === undefined ? this.announceSoon() : undefined),
        unregistered: (e) => (e.hosted.server === undefined ? this.announceSoon() : undefined),
      }),
    );
    this.announce();
    // Shared sessions are compared with their other side once per expiry period (see HostedSessions.reconcile).
    const reconcileEvery = Math.max(1, Math.round(this.expireMs / this.heartbeatMs));
    let beats = 0;
    this.timer = setInterval(() => {
      this.announce();
      if (this.down) return;
      this.registry.sweep();
      if (++beats % reconcileEvery === 0 && !this.reconciling) {
        this.reconciling = true;
        void this.sessions.reconcile(this.expireMs, this.expireMs).finally(() => (this.reconciling = false));
      }
    }, this.heartbeatMs);
    this.timer.unref();
    this.log.info({ server: this.name, heartbeatMs: this.heartbeatMs, expireMs: this.expireMs }, 'joined the cluster');
  }

  /** NATS connection this link uses now (null while reconnecting). */
  get natsServer(): string | null {
    return this.link.server;
  }

  /** Says goodbye (the others take this server's services out at once), then leaves. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.timer);
    for (const stop of this.stops.splice(0)) stop();
    this.link.publish(HEARTBEAT_SUBJECT, this.heartbeatMessage(true));
    this.broker.clusterStats = undefined;
    await this.link.close();
  }

  private notice(n: ClusterNotice): void {
    if (typeof n !== 'object' || n === null || typeof n.session !== 'string') return;
    const s = this.broker.sessions.get(n.session);
    const hosted = s?.entry.hosted;
    // A notice about a session this server holds with a service of the sender…
    if (s && hosted instanceof ClusterService && hosted.server === n.from && hosted.holds(n.session)) {
      if (n.op === 'ended') {
        hosted.forget(n.session);
        this.broker.endSession(s, PeerwayError.fromWire(n.error));
      } else if (n.op === 'grants') {
        this.log.debug({ session: n.session, server: n.from, denied: Object.keys(n.grants?.denied ?? {}) }, 'the owning server decided anew');
        this.broker.setPeerGrants(s, n.grants);
      }
      return;
    }
    // …or about a session the sender holds with a service of this server.
    this.log.debug({ session: n.session, server: n.from, op: n.op }, 'cluster notice');
    this.sessions.notice(n);
  }

  private announceSoon(): void {
    if (this.announceQueued || this.closed) return;
    this.announceQueued = true;
    queueMicrotask(() => {
      this.announceQueued = false;
      if (!this.closed) this.announce();
    });
  }

  private announce(): void {
    this.link.publish(HEARTBEAT_SUBJECT, this.heartbeatMessage(false));
  }

  private heartbeatMessage(bye: boolean): Heartbeat {
    return { v: CLUSTER_PROTOCOL, server: this.name, boot: this.boot, intervalMs: this.heartbeatMs, services: bye ? [] : this.registry.ownServices(), ...(bye ? { bye: true } : {}) };
  }

  private lost(): void {
    this.down = true;
    this.link.setConnected(false);
  }

  private regained(): void {
    this.down = false;
    this.link.setConnected(true);
    this.registry.forgive();
    this.announce();
  }
}

/** Joins `broker` to a cluster (see ClusterLink). */
export function joinCluster(broker: Broker, options: ClusterOptions, log: Logger): Promise<ClusterLink> {
  return ClusterLink.join(broker, options, log);
}
