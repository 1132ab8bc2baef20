import os from 'node:os';
import { PeerwayError } from '../errors.js';
import type { BearerAddress, BearerAttributes, BearerOptions, CloseInfo, Listener, MessageConnection } from '../bearer/bearer.js';
import { formatBearerUrl, getBearer, hasBearer } from '../bearer/registry.js';
import type { Logger } from '../logger.js';
import { enforce, type Action, type Authorizer, type Identity, type Resource } from '../policy/authorizer.js';
import { randomSecret, sameSecret } from '../policy/secret.js';
import { chooseRoutes, standardLinkCheck, type ServicePlace } from '../routing/route-chooser.js';
import { renderInstructions, type LinkInstruction } from '../routing/instructions.js';
import { RouteTable, describeResource, parseResourceKey } from '../routing/route-table.js';
import type { ServiceRuntime } from '../service/service-runtime.js';
import type { Channel } from '../wire/channel.js';
import { acceptHandshake } from '../wire/handshake.js';
import { encodeMessage } from '../wire/codec.js';
import type { ClientProfile, Push, SessionGrants, SessionOpened } from '../wire/messages.js';
import { GrantCheck, dataPaths } from '../policy/grants.js';
import { redactDenied } from '../policy/redact.js';
import type { Limits } from '../wire/limits.js';
import { serveLink } from './link-handler.js';
import { RunnerSession, type OfferedRoutes } from './runner-session.js';

export interface ServiceHostOptions {
  /** Bearer of the runner's server connection: the built-in `reliable` link uses the same. */
  reliableBearer: string;
  /** Address link listeners bind to (default 127.0.0.1). */
  p2pHost: string;
  /** Address advertised to clients when listeners bind to a wildcard address. */
  advertiseHost?: string;
  /** This machine and process, for bearers that reach only within one host or one process. */
  place: ServicePlace;
  /** Access decisions on direct links (the last the service received from the server). */
  authorizer: Authorizer;
  /** Attributes per bearer for link listeners (certificates for ssl, datagram size for udp, …). */
  adapters: Record<string, BearerAttributes>;
  /** Bounds on each link connection (keepalive, queued bytes, requests in flight, held pushes). */
  limits: Required<Limits>;
  /** Sends a push to the server over the runner's primary connection (dropped while disconnected). */
  toServer(message: Push): void;
  log: Logger;
}

interface LinkState {
  listener?: Listener;
  /** Why the link cannot be used (listen failed, bearer not available). */
  down?: string;
}

/**
 * One remote service inside a runner: its peer-to-peer links, its sessions and the rules that send each
 * event and runtime-data change to exactly the places that should get it — directly to sessions that took
 * a direct route, to the server for the rest (DESIGN §4). The service, not the server, chooses routes.
 */
export class ServiceHost {
  readonly table: RouteTable;
  readonly sessions = new Map<string, RunnerSession>();
  /** Every runtime-data path of the definition: grants are decided per path. */
  private readonly nodePaths: ReadonlySet<string>;
  private readonly links = new Map<string, LinkState>();
  /** Per resource: how many ready sessions take the server route (events are forwarded only when > 0). */
  private readonly serverUse = new Map<string, number>();
  private readonly log: Logger;

  constructor(
    readonly runtime: ServiceRuntime,
    private readonly options: ServiceHostOptions,
  ) {
    this.log = options.log.child({ service: runtime.name });
    this.table = new RouteTable(runtime.definition, options.reliableBearer);
    this.nodePaths = new Set(dataPaths(runtime.definition.runtimeData));
    runtime.addOutput({ event: (n, a) => this.onEvent(n, a), data: (p, v) => this.onData(p, v) });
  }

  get name(): string {
    return this.runtime.name;
  }

  /** Opens a listener for every link a direct route uses. A link that cannot listen is logged and skipped. */
  async openLinks(): Promise<void> {
    for (const [name, decl] of this.table.links) {
      if (!hasBearer(decl.bearer)) {
        this.links.set(name, { down: `bearer ${decl.bearer} is not available in this runner` });
        continue;
      }
      const address = this.listenAddress(name, decl);
      const options: BearerOptions = {
        attributes: { ...this.options.adapters[decl.bearer], ...withoutAddressAttributes(decl.attributes) },
        onWarning: (message) => this.log.warn({ link: name }, message),
      };
      try {
        const listener = await getBearer(decl.bearer).listen(address, (c) => void this.acceptLink(name, c), options);
        this.links.set(name, { listener });
        this.log.info({ link: name, address: formatBearerUrl(listener.address) }, 'link listening');
      } catch (err) {
        const reason = `link ${name} could not listen on ${formatBearerUrl(address)}: ${(err as Error).message}`;
        this.links.set(name, { down: reason });
        this.log.warn({ link: name }, `${reason}; clients will use the next route`);
      }
    }
  }

  /** Where a link listens: the `<link>`'s own address, else the bearer's default for links. */
  private listenAddress(name: string, decl: { bearer: string; host?: string; port?: number; attributes: BearerAttributes }): BearerAddress {
    const bearer = getBearer(decl.bearer);
    const fallback = bearer.linkListenAddress?.({ host: this.options.p2pHost, service: this.name, link: name }) ?? {
      bearer: decl.bearer,
      host: this.options.p2pHost,
      port: 0,
    };
    const address: BearerAddress = { ...fallback };
    if (decl.host !== undefined) address.host = decl.host;
    if (decl.port !== undefined) address.port = decl.port;
    if (decl.attributes.path !== undefined) address.path = decl.attributes.path;
    return address;
  }

  async closeLinks(): Promise<void> {
    for (const s of this.sessions.values()) s.closeLinks('runner stopping');
    await Promise.all([...this.links.values()].flatMap((l) => (l.listener ? [l.listener.close()] : [])));
    this.links.clear();
  }

  /** A client starts a session: choose its routes, issue the token, answer with routing instructions. */
  open(sessionId: string, client: ClientProfile, identity: Identity, grants?: SessionGrants): SessionOpened {
    const check = standardLinkCheck(this.options.place, (link) => this.links.get(link)?.down);
    const choices = chooseRoutes(this.table, client, check);
    const token = randomSecret(24);
    const offered: OfferedRoutes = { direct: new Map(), serverRefused: new Set() };
    for (const [key, choice] of choices) {
      offered.direct.set(key, new Set(choice.usable.flatMap((a) => (a.linkType === 'direct' && a.link ? [a.link] : []))));
      if (!choice.usable.some((a) => a.linkType === 'server')) offered.serverRefused.add(key);
    }
    const session = new RunnerSession(sessionId, token, client, identity, offered);
    if (grants) session.grants = new GrantCheck(grants, this.nodePaths);
    this.sessions.set(sessionId, session);
    // Until the client reports its routes, everything it may receive goes through the server: a client
    // that never sends `ready` (it does not have to) still gets its events.
    this.countServerUse(session, +1);
    if (!this.table.hasRouting) return {};
    const used = new Set<string>();
    for (const c of choices.values()) for (const a of c.usable) if (a.linkType === 'direct' && a.link) used.add(a.link);
    const links: LinkInstruction[] = [];
    for (const name of used) {
      const listener = this.links.get(name)?.listener;
      if (listener) links.push({ name, address: this.advertised(listener.address), token });
    }
    const serverRefused = [...offered.serverRefused];
    return {
      routing: renderInstructions({ service: this.name, session: sessionId, links, resources: choices }),
      ...(serverRefused.length > 0 ? { serverRefused } : {}),
    };
  }

  /** The client opened its links and reports the routes it took: checked against what was offered. */
  ready(sessionId: string, reported: unknown): void {
    const s = this.session(sessionId);
    const routes = s.acceptRoutes(reported, this.name);
    this.countServerUse(s, -1);
    s.routes = routes;
    s.ready = true;
    this.countServerUse(s, +1);
    this.log.debug({ session: sessionId, routes: s.routes }, 'session ready');
  }

  close(sessionId: string): void {
    const s = this.sessions.get(sessionId);
    if (!s) return;
    this.sessions.delete(sessionId);
    this.countServerUse(s, -1);
    s.closeLinks('session stopped');
  }

  closeAllSessions(reason: string): void {
    for (const id of [...this.sessions.keys()]) this.close(id);
    this.log.debug({ reason }, 'all sessions closed');
  }

  private countServerUse(s: RunnerSession, delta: number): void {
    for (const key of this.table.keys()) {
      if (s.directLink(key) !== undefined) continue;
      const before = this.serverUse.get(key) ?? 0;
      const after = before + delta;
      this.serverUse.set(key, after);
      // A runtime-data subtree starts going to the server: bring the server's copy up to date first.
      if (before === 0 && after > 0 && key.startsWith('data:') && !this.table.publishesDataToServer) {
        const { name } = parseResourceKey(key);
        this.options.toServer({ type: 'data', service: this.name, path: name, value: this.runtime.tree.get(name) });
      }
    }
  }

  private onEvent(name: string, args: Record<string, unknown>): void {
    const key = `event:${name}`;
    const push = new LinkPush({ type: 'event', name, args });
    for (const s of this.sessions.values()) {
      const link = s.directLink(key);
      if (link === undefined || !s.wantsEvent(link, name) || !this.allows(s, 'subscribe', name)) continue;
      this.sendOnLink(s, link, push);
    }
    if ((this.serverUse.get(key) ?? 0) > 0) this.options.toServer({ type: 'event', service: this.name, name, args });
  }

  private onData(path: string, value: unknown): void {
    const key = this.table.dataKey(path);
    const push = new LinkPush({ type: 'data', path, value });
    for (const s of this.sessions.values()) {
      const link = s.directLink(key);
      if (link === undefined || !s.wantsData(link, path) || !this.allows(s, 'read', path)) continue;
      // A change wider than what the session may read goes out without the denied parts (its own copy).
      const hidden = s.grants.deniedInside(path);
      this.sendOnLink(s, link, hidden.length === 0 ? push : new LinkPush({ type: 'data', path, value: redactDenied(value, path, hidden) }));
    }
    if (this.table.publishesDataToServer || (this.serverUse.get(key) ?? 0) > 0) {
      this.options.toServer({ type: 'data', service: this.name, path, value });
    }
  }

  /**
   * The runner's authorization point for direct traffic: every request and push on a link asks it. The
   * session's grants (the server policy's decisions, the last received) first, then the runner's own
   * authorizer, if it was given one.
   */
  allows(s: RunnerSession, action: Action, name?: string): boolean {
    if (name !== undefined && s.grants.denial(action, name) !== undefined) return false;
    return this.options.authorizer.authorize(s.identity, action, this.resource(name)).allowed;
  }

  /** Like `allows`, but throws POLICY_DENIED with the server's wording. */
  authorize(s: RunnerSession, action: Action, name?: string): void {
    if (name !== undefined && s.grants.denial(action, name) !== undefined) {
      this.log.warn({ audit: 'denied', identity: s.identity.name, action, service: this.name, name, session: s.id, route: 'direct' }, 'policy denied');
      s.grants.enforce(action, name);
    }
    enforce(this.options.authorizer, s.identity, action, this.resource(name));
  }

  /** The resource a direct request names; no spread: every direct call passes here. */
  private resource(name: string | undefined): Resource {
    return name !== undefined ? { service: this.name, name } : { service: this.name };
  }

  /** The server's decisions for a session changed (a condition flipped, the policy was reloaded). */
  setGrants(sessionId: string, grants: SessionGrants): void {
    const s = this.sessions.get(sessionId);
    if (!s) return;
    s.grants = new GrantCheck(grants, this.nodePaths);
    this.log.debug({ session: sessionId, denied: Object.keys(grants.denied) }, 'grants changed');
  }

  /**
   * A server-relayed request for a resource this session may only reach directly is refused (the server
   * was told, this is the second line: a required ssl route never travels in plaintext).
   */
  assertServerRoute(sessionId: string, key: string): void {
    const s = this.session(sessionId);
    if (s.offered.serverRefused.has(key)) {
      throw new PeerwayError('BEARER_MISSING', `${this.name} requires its direct route for ${describeResource(key)}; it is not served through the server`);
    }
  }

  private sendOnLink(s: RunnerSession, link: string, push: LinkPush): void {
    const open = s.links.get(link);
    if (!open || open.channel.closed) return;
    open.outbox.push(push.bytes(), push.coalesceKey);
  }

  /** A client opens a link: it must present the token of a live session, for this link. */
  private async acceptLink(link: string, connection: MessageConnection): Promise<void> {
    const label = `link ${link} from ${connection.remote}`;
    let session: RunnerSession | undefined;
    let accepted: Channel | undefined;
    try {
      const { channel } = await acceptHandshake(connection, label, {
        roles: ['link'],
        timeoutMs: this.options.limits.helloTimeoutMs,
        peer: `peerway-runner/${process.pid}/${this.name}/${link}`,
        verify: (hello) => {
          session = this.authenticate(hello.session, hello.token, hello.link, link);
        },
      });
      accepted = channel;
      const s = session!;
      channel.configure(this.options.limits);
      // One slow or broken link must not stop delivery to the others: a push it refuses is logged and dropped.
      const open = s.addLink(link, channel, this.options.limits, (err) => this.log.warn({ session: s.id, link, reason: err.message }, 'could not send on link'));
      let closed = false;
      const close = (info: CloseInfo) => {
        if (closed) return;
        closed = true;
        if (s.links.get(link) === open) {
          s.links.delete(link);
          // The client subscribes again on whichever route it fails over to (and on this link when it is back).
          s.clearLink(link);
        }
        if (info.error) this.log.warn({ session: s.id, link, reason: info.reason }, 'link closed with error');
        else this.log.debug({ session: s.id, link, reason: info.reason }, 'link closed');
      };
      // Messages that came with the hello are handled here; one that breaks the protocol closes the link.
      channel.setHandlers({
        requests: serveLink(this, s, link),
        fault: (error) => this.log.warn({ session: s.id, link, reason: error.message }, 'link fault'),
        drain: () => open.outbox.flush(),
        close,
      });
      // A link whose close was delivered before its handlers were in place never calls them: never keep it.
      if (channel.closeInfo) close(channel.closeInfo);
      else this.log.debug({ session: s.id, link, peer: connection.remote }, 'link open');
    } catch (err) {
      const error = PeerwayError.from(err);
      this.log.warn({ link, peer: connection.remote, reason: error.message }, 'link connection refused');
      // Refused after the hello was accepted: the link must not stay open, nor stay among the session's links.
      if (accepted) {
        if (session?.links.get(link)?.channel === accepted) session.links.delete(link);
        accepted.fail(error);
      }
    }
  }

  private authenticate(sessionId: unknown, token: unknown, helloLink: unknown, link: string): RunnerSession {
    const s = typeof sessionId === 'string' ? this.sessions.get(sessionId) : undefined;
    if (s === undefined || !sameSecret(token, s.token)) {
      throw new PeerwayError('UNAUTHORIZED', `link ${link} of ${this.name}: no live session matches this session id and token (forged, or the session has ended)`);
    }
    if (helloLink !== link) {
      throw new PeerwayError('UNAUTHORIZED', `link ${link} of ${this.name}: the hello names link "${String(helloLink)}"`);
    }
    return s;
  }

  /** Who the session's client is, for the context of calls relayed by the server. */
  identityOf(sessionId: string): Identity {
    return this.session(sessionId).identity;
  }

  session(id: string): RunnerSession {
    const s = this.sessions.get(id);
    if (!s) throw new PeerwayError('SESSION_NOT_FOUND', `session ${id} is not open on service ${this.name}`);
    return s;
  }

  /** The address clients should dial: a wildcard bind address is replaced by the advertised host. */
  private advertised(address: BearerAddress): BearerAddress {
    if (address.host === '0.0.0.0' || address.host === '::') {
      return { ...address, host: this.options.advertiseHost ?? os.hostname() };
    }
    return address;
  }
}

/**
 * An event or runtime-data push for links, encoded once however many links it goes to. It carries no
 * session id: a link belongs to exactly one session, so the id would only make every copy different.
 */
class LinkPush {
  private encoded: Buffer | undefined;
  /** Runtime data is coalesced per path for a link that does not keep up; events are not. */
  readonly coalesceKey: string | undefined;

  constructor(private readonly message: Push) {
    this.coalesceKey = message.type === 'data' ? message.path : undefined;
  }

  bytes(): Buffer {
    return (this.encoded ??= encodeMessage(this.message));
  }
}

/** Link attributes that describe the address, not the bearer configuration. */
function withoutAddressAttributes(attributes: BearerAttributes): BearerAttributes {
  const rest = { ...attributes };
  delete rest.path;
  return rest;
}
