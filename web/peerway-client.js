// Peerway browser client: an ES module with no imports, served by the gateway at /peerway-client.js and
// published as `peerway/browser`. Same shape as the Node client (connect → startSession → call, onEvent,
// watch, stop), over the gateway's JSON WebSocket /ws (docs/browser.md). Types: peerway-client.d.ts.

const DEFAULT_TIMEOUT_MS = 10_000;

/** Stable error codes (docs/errors.md); an unknown code from a newer server becomes INTERNAL. */
const ERROR_CODES = new Set([
  'SERVICE_NOT_FOUND', 'METHOD_NOT_FOUND', 'EVENT_NOT_FOUND', 'PATH_NOT_FOUND', 'SESSION_NOT_FOUND', 'BAD_ARGUMENT',
  'BAD_RESULT', 'IMPLEMENTATION_ERROR', 'NOT_IMPLEMENTED', 'TIMEOUT', 'ABORTED', 'SERVICE_GONE', 'CONNECTION_CLOSED',
  'CONNECT_FAILED', 'DUPLICATE_SERVICE', 'PROTOCOL', 'VERSION_MISMATCH', 'FRAME_TOO_LARGE', 'DEFINITION_INVALID',
  'CONFIG_INVALID', 'USAGE', 'BEARER_UNKNOWN', 'BEARER_MISSING', 'LINK_FAILED', 'UNAUTHORIZED', 'POLICY_DENIED',
  'LIMIT_EXCEEDED', 'INTERNAL',
]);

/** Every failure of this client: a stable `code`, a message that says what to do, maybe `details`. */
export class PeerwayError extends Error {
  constructor(code, message, details, cause) {
    super(message, cause === undefined ? undefined : { cause });
    this.name = 'PeerwayError';
    this.code = ERROR_CODES.has(code) ? code : 'INTERNAL';
    if (details !== undefined) this.details = details;
  }

  /** Rebuilds an error from its JSON form `{ code, message, details? }`. */
  static fromWire(error) {
    const e = error && typeof error === 'object' ? error : {};
    return new PeerwayError(String(e.code), typeof e.message === 'string' ? e.message : 'error without a message', e.details);
  }
}

/**
 * The WebSocket URL for `url`: nothing means this page's own gateway; an http(s) address means its `/ws`;
 * a ws(s) address is taken as it is.
 */
export function socketUrl(url) {
  const base = typeof location === 'object' && location ? location.href : undefined;
  const target = new URL(url ?? '/ws', base);
  if (target.protocol === 'http:' || target.protocol === 'https:') {
    target.protocol = target.protocol === 'https:' ? 'wss:' : 'ws:';
    if (target.pathname === '/' || target.pathname === '') target.pathname = '/ws';
  }
  if (target.protocol !== 'ws:' && target.protocol !== 'wss:') {
    throw new PeerwayError('USAGE', `cannot connect to ${target.href}: give the gateway's http(s):// or ws(s):// address (peerway server --http)`);
  }
  return target.href;
}

/**
 * Connects to a Peerway gateway's browser WebSocket and says hello (with `options.token` when given).
 * Options: `token`, `timeoutMs` (each request, default 10 s), `connectTimeoutMs` (default 10 s), `signal`.
 */
export async function connect(url, options = {}) {
  const href = socketUrl(url);
  const connectTimeoutMs = options.connectTimeoutMs ?? DEFAULT_TIMEOUT_MS;
  const socket = new WebSocket(href);
  await new Promise((resolve, reject) => {
    const done = (error) => {
      clearTimeout(timer);
      socket.removeEventListener('open', opened);
      socket.removeEventListener('close', failed);
      options.signal?.removeEventListener('abort', aborted);
      if (error) {
        socket.close();
        reject(error);
      } else resolve();
    };
    const opened = () => done();
    const failed = (ev) =>
      done(new PeerwayError('CONNECT_FAILED', `could not open ${href} (close code ${ev.code}${ev.reason ? `: ${ev.reason}` : ''}): is the server running with --http, and is this page's origin allowed (--http-origin)?`));
    const aborted = () => done(new PeerwayError('ABORTED', `connecting to ${href} was aborted`));
    const timer = setTimeout(() => done(new PeerwayError('TIMEOUT', `${href} did not open within ${connectTimeoutMs} ms`)), connectTimeoutMs);
    socket.addEventListener('open', opened);
    socket.addEventListener('close', failed);
    if (options.signal?.aborted) aborted();
    else options.signal?.addEventListener('abort', aborted);
  });
  const client = new PeerwayClient(socket, href, options);
  try {
    const welcome = await client.request({ type: 'hello', ...(options.token ? { token: options.token } : {}) }, { timeoutMs: connectTimeoutMs });
    client.identity = welcome.identity;
    client.policy = welcome.policy;
    client.limits = welcome.limits;
  } catch (err) {
    client.close();
    throw err;
  }
  return client;
}

/** Listeners by event name; one that throws is reported and the others still run. */
class Listeners {
  constructor(report) {
    this.map = new Map();
    this.report = report;
  }

  on(name, listener) {
    if (!this.map.has(name)) this.map.set(name, new Set());
    this.map.get(name).add(listener);
    return () => this.map.get(name)?.delete(listener);
  }

  emit(name, ...args) {
    for (const listener of [...(this.map.get(name) ?? [])]) {
      try {
        listener(...args);
      } catch (err) {
        this.report(err, name);
      }
    }
  }

  count(name) {
    return this.map.get(name)?.size ?? 0;
  }
}

/** Whether two dot paths overlap: one is the other or inside it ('' is everything). */
function pathsOverlap(a, b) {
  if (a === '' || b === '' || a === b) return true;
  return a.startsWith(`${b}.`) || b.startsWith(`${a}.`) || a.startsWith(`${b}[`) || b.startsWith(`${a}[`);
}

/**
 * A connection to a gateway and the sessions started over it. Events (`on(name, listener)`, which returns
 * a function that removes it): `close` (PeerwayError saying why), `error` (a listener threw), `sessions`
 * and `stats` are delivered through watchSessions / watchStats.
 */
export class PeerwayClient {
  constructor(socket, url, options) {
    this.url = url;
    this.identity = 'anonymous';
    this.policy = false;
    this.limits = undefined;
    this.timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    this.socket = socket;
    this.pending = new Map();
    this.nextId = 1;
    this.sessionsById = new Map();
    this.closeError = undefined;
    this.events = new Listeners((err, where) => this.reportError(err, `a "${where}" listener`));
    this.listingHandlers = { sessions: new Set(), stats: new Set() };
    socket.addEventListener('message', (ev) => this.receive(ev.data));
    socket.addEventListener('close', (ev) => this.closed(ev));
  }

  /** Whether the connection is closed (every request fails with CONNECTION_CLOSED). */
  get closed() {
    return this.closeError !== undefined;
  }

  on(name, listener) {
    return this.events.on(name, listener);
  }

  /** The services this identity may see. */
  services(options) {
    return this.request({ type: 'services' }, options);
  }

  /** A service's definition as JSON: methods with their arguments, events, the runtime-data tree, routing. */
  describe(service, options) {
    return this.request({ type: 'describe', service }, options);
  }

  /** The server's relay counters (and bounds, and policy denials). */
  stats(options) {
    return this.request({ type: 'stats' }, options);
  }

  /** The sessions of the services this identity may see, with their routes and warnings. */
  sessions(options) {
    return this.request({ type: 'sessions' }, options);
  }

  /** Watches the relay counters: resolves with `{ snapshot, close() }`; `handler(stats)` on each change. */
  watchStats(handler, options) {
    return this.watchListing('stats', handler, options);
  }

  /** Watches the session list: resolves with `{ snapshot, close() }`; `handler(sessions)` on each change. */
  watchSessions(handler, options) {
    return this.watchListing('sessions', handler, options);
  }

  /** Starts a session with a service; every resource takes the server route (a browser has no direct link). */
  async startSession(service, options) {
    const started = await this.request({ type: 'start', service }, options);
    const session = new Session(this, started);
    this.sessionsById.set(session.id, session);
    return session;
  }

  /** Closes the connection; the server stops this connection's sessions. */
  close() {
    if (this.socket.readyState === WebSocket.OPEN || this.socket.readyState === WebSocket.CONNECTING) this.socket.close(1000, 'client closed');
    this.closed({ code: 1000, reason: '', wasClean: true, byClient: true });
  }

  /**
   * Sends one request; resolves with its result, rejects with a PeerwayError. Every request has a deadline
   * (`timeoutMs`, default the client's) and may be aborted (`signal`).
   */
  request(body, options = {}) {
    if (this.closeError) {
      return Promise.reject(new PeerwayError('CONNECTION_CLOSED', `the connection to ${this.url} is closed (${this.closeError.message})`, undefined, this.closeError));
    }
    const id = this.nextId++;
    const text = JSON.stringify({ id, ...body });
    const max = this.limits?.maxMessageBytes;
    if (max !== undefined && new TextEncoder().encode(text).length > max) {
      return Promise.reject(new PeerwayError('FRAME_TOO_LARGE', `the ${body.type} request is above the gateway's limit of ${max} bytes`));
    }
    const timeoutMs = options.timeoutMs ?? this.timeoutMs;
    return new Promise((resolve, reject) => {
      const signal = options.signal;
      const finish = () => {
        clearTimeout(timer);
        this.pending.delete(id);
        signal?.removeEventListener('abort', aborted);
      };
      const aborted = () => {
        finish();
        reject(new PeerwayError('ABORTED', `the ${body.type} request was aborted`));
      };
      const timer = setTimeout(() => {
        finish();
        reject(new PeerwayError('TIMEOUT', `no answer to the ${body.type} request within ${timeoutMs} ms`, { timeoutMs }));
      }, timeoutMs);
      if (signal?.aborted) return aborted();
      signal?.addEventListener('abort', aborted);
      this.pending.set(id, {
        resolve: (value) => (finish(), resolve(value)),
        reject: (error) => (finish(), reject(error)),
      });
      this.socket.send(text);
    });
  }

  /** @internal a listener threw: the client's `error` listeners hear of it, or the console. */
  reportError(err, where) {
    const error = new PeerwayError('IMPLEMENTATION_ERROR', `${where} threw: ${err instanceof Error ? err.message : String(err)}`, undefined, err);
    if (this.events.count('error') > 0) this.events.emit('error', error);
    else console.error(error);
  }

  async watchListing(kind, handler, options) {
    const handlers = this.listingHandlers[kind];
    const snapshot = await this.request({ type: kind, watch: true }, options);
    handlers.add(handler);
    return {
      snapshot,
      close: async () => {
        if (!handlers.delete(handler) || handlers.size > 0 || this.closed) return;
        await this.request({ type: kind, watch: false });
      },
    };
  }

  receive(data) {
    let message;
    try {
      message = JSON.parse(data);
    } catch {
      return; // the gateway sends JSON only; nothing to answer
    }
    if ('id' in message) {
      const waiter = this.pending.get(message.id);
      if (!waiter) return; // timed out or aborted meanwhile
      if (message.ok) waiter.resolve(message.result);
      else waiter.reject(PeerwayError.fromWire(message.error));
      return;
    }
    switch (message.type) {
      case 'event':
      case 'data':
        this.sessionsById.get(message.session)?.deliver(message);
        return;
      case 'ended': {
        const session = this.sessionsById.get(message.session);
        this.sessionsById.delete(message.session);
        session?.markEnded(PeerwayError.fromWire(message.error), true);
        return;
      }
      case 'sessions':
      case 'stats':
        for (const handler of [...this.listingHandlers[message.type]]) {
          try {
            handler(message[message.type]);
          } catch (err) {
            this.reportError(err, `the ${message.type} watcher`);
          }
        }
    }
  }

  closed(ev) {
    if (this.closeError) return;
    // The gateway closes with 4000 + HTTP status and "CODE: message" when it has a reason (LIMIT_EXCEEDED…).
    const coded = /^([A-Z_]+): ([\s\S]*)$/.exec(ev.reason ?? '');
    this.closeError =
      ev.code >= 4000 && coded
        ? new PeerwayError(coded[1], coded[2], { closeCode: ev.code })
        : ev.code === 1009
          ? new PeerwayError('FRAME_TOO_LARGE', `the gateway closed the connection: a message was above its size limit${this.limits ? ` of ${this.limits.maxMessageBytes} bytes` : ''}`, { closeCode: ev.code })
          : new PeerwayError('CONNECTION_CLOSED', ev.byClient ? 'the client closed the connection' : `the connection to ${this.url} closed (code ${ev.code}${ev.reason ? `: ${ev.reason}` : ''})`, { closeCode: ev.code });
    const pending = [...this.pending.values()];
    this.pending.clear();
    for (const waiter of pending) {
      waiter.reject(new PeerwayError('CONNECTION_CLOSED', `the connection closed before the answer arrived: ${this.closeError.message}`, { reason: this.closeError.code }, this.closeError));
    }
    for (const session of this.sessionsById.values()) session.markEnded(this.closeError, ev.byClient === true);
    this.sessionsById.clear();
    for (const kind of Object.keys(this.listingHandlers)) this.listingHandlers[kind].clear();
    this.events.emit('close', this.closeError);
  }
}

/**
 * A session with one service. Events (`on(name, listener)`): `ended` (PeerwayError) when it ends without
 * this client asking: the service went away, or the connection closed.
 */
export class Session {
  constructor(client, started) {
    this.client = client;
    this.id = started.session;
    this.service = started.service;
    this.location = started.location;
    this.definition = started.definition;
    this.endedWith = undefined;
    this.events = new Listeners((err, where) => client.reportError(err, `the "${where}" listener of session ${this.id}`));
    this.eventListeners = new Map(); // name ('' = all) → { listeners: Set, ready: Promise }
    this.dataListeners = new Map(); // path → Set
  }

  get ended() {
    return this.endedWith !== undefined;
  }

  on(name, listener) {
    return this.events.on(name, listener);
  }

  /** Calls a method with named arguments (int64 as decimal strings, binary as base64); resolves with its result. */
  async call(method, args = {}, options) {
    this.assertLive();
    if (!this.definition.methods.some((m) => m.name === method)) {
      const known = this.definition.methods.map((m) => m.name).join(', ') || 'none';
      throw new PeerwayError('METHOD_NOT_FOUND', `service ${this.service} has no method "${method}" (methods: ${known})`);
    }
    return this.client.request({ type: 'call', session: this.id, method, args }, options);
  }

  /** Subscribes to one event (all with `undefined`): `listener({ name, args, route })`. Resolves with `{ close() }`. */
  async onEvent(name, listener, options) {
    this.assertLive();
    const key = name ?? '';
    if (key && !this.definition.events.some((e) => e.name === key)) {
      const known = this.definition.events.map((e) => e.name).join(', ') || 'none';
      throw new PeerwayError('EVENT_NOT_FOUND', `service ${this.service} has no event "${key}" (events: ${known})`);
    }
    let entry = this.eventListeners.get(key);
    if (!entry) {
      entry = { listeners: new Set(), ready: this.client.request({ type: 'subscribe', session: this.id, kind: 'event', ...(key ? { name: key } : {}) }, options) };
      this.eventListeners.set(key, entry);
      entry.ready.catch(() => this.eventListeners.get(key) === entry && entry.listeners.size === 0 && this.eventListeners.delete(key));
    }
    await entry.ready;
    entry.listeners.add(listener);
    const own = entry;
    return {
      close: async () => {
        if (!own.listeners.delete(listener) || own.listeners.size > 0 || this.eventListeners.get(key) !== own) return;
        this.eventListeners.delete(key);
        if (this.ended) return;
        await this.client.request({ type: 'unsubscribe', session: this.id, kind: 'event', ...(key ? { name: key } : {}) });
        // The server's "unsubscribe from all events" drops the named subscriptions too: make those again.
        if (key === '') await Promise.all([...this.eventListeners.keys()].map((k) => this.client.request({ type: 'subscribe', session: this.id, kind: 'event', name: k })));
      },
    };
  }

  /**
   * Watches runtime data at a dot path ('' = all): resolves with `{ snapshot, close() }` (the server's copy
   * now), then `listener({ path, value, route })` for each change that touches the path.
   */
  async watch(path, listener, options) {
    this.assertLive();
    const key = path ?? '';
    let set = this.dataListeners.get(key);
    const fresh = !set;
    if (!set) {
      set = new Set();
      this.dataListeners.set(key, set);
    }
    set.add(listener);
    let snapshot;
    try {
      snapshot = await this.client.request({ type: 'subscribe', session: this.id, kind: 'data', path: key }, options);
    } catch (err) {
      set.delete(listener);
      if (fresh && set.size === 0) this.dataListeners.delete(key);
      throw err;
    }
    const own = set;
    return {
      snapshot,
      close: async () => {
        if (!own.delete(listener) || own.size > 0 || this.dataListeners.get(key) !== own) return;
        this.dataListeners.delete(key);
        if (this.ended) return;
        await this.client.request({ type: 'unsubscribe', session: this.id, kind: 'data', path: key });
        // The server's "unsubscribe from all runtime data" drops the narrower watches too: make those again.
        if (key === '') await Promise.all([...this.dataListeners.keys()].map((p) => this.client.request({ type: 'subscribe', session: this.id, kind: 'data', path: p })));
      },
    };
  }

  /** Stops the session; its subscriptions end. */
  async stop(options) {
    if (this.ended) return;
    this.markEnded(new PeerwayError('SESSION_NOT_FOUND', `session ${this.id} was stopped`), true);
    this.client.sessionsById.delete(this.id);
    if (!this.client.closed) await this.client.request({ type: 'stop', session: this.id }, options);
  }

  /** @internal a push for this session. */
  deliver(message) {
    if (message.type === 'event') {
      const event = { name: message.name, args: message.args ?? {}, route: 'server' };
      for (const key of [message.name, '']) {
        for (const listener of [...(this.eventListeners.get(key)?.listeners ?? [])]) this.isolated(() => listener(event), `the listener of event "${message.name}"`);
      }
      return;
    }
    const change = { path: message.path, value: message.value, route: 'server' };
    for (const [watched, set] of this.dataListeners) {
      if (!pathsOverlap(watched, message.path)) continue;
      for (const listener of [...set]) this.isolated(() => listener(change), `the watch of "${watched || '(all)'}"`);
    }
  }

  /** @internal the session ended; `quiet` keeps the `ended` event back (this client asked for it). */
  markEnded(error, quiet) {
    if (this.endedWith) return;
    this.endedWith = error;
    this.eventListeners.clear();
    this.dataListeners.clear();
    if (!quiet) this.events.emit('ended', error);
  }

  isolated(fn, where) {
    try {
      fn();
    } catch (err) {
      this.client.reportError(err, `${where} (session ${this.id})`);
    }
  }

  assertLive() {
    if (this.endedWith) throw new PeerwayError(this.endedWith.code, `session ${this.id} with ${this.service} has ended: ${this.endedWith.message}`);
  }
}
