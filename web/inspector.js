// The Peerway inspector (served at / by `peerway server --http`): services with their methods, events and
// live runtime data, call forms, sessions with their routes, relay counters and policy denials. Everything
// live arrives as pushes over the gateway's WebSocket: nothing here polls.
import { connect, PeerwayError } from './peerway-client.js';

const TOKEN_KEY = 'peerway-inspector-token';
const EVENT_LOG_LENGTH = 20;
const RECONNECT_MS = [1000, 2000, 5000, 10_000];

const $ = (selector, root = document) => root.querySelector(selector);

/** Creates an element: `h('td', { class: 'x', dataset: { testid: 'y' } }, child, 'text')`. */
function h(tag, attributes = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attributes)) {
    if (value === undefined || value === false) continue;
    if (key === 'dataset') Object.assign(el.dataset, value);
    else if (key === 'class') el.className = value;
    else if (key.startsWith('on')) el.addEventListener(key.slice(2), value);
    else el.setAttribute(key, value === true ? '' : String(value));
  }
  el.append(...children.flat().filter((c) => c !== undefined && c !== null && c !== false));
  return el;
}

const json = (value) => (value === undefined ? '—' : JSON.stringify(value));

/** Whether two dot paths overlap ('' is everything). */
const overlap = (a, b) => a === '' || b === '' || a === b || a.startsWith(`${b}.`) || b.startsWith(`${a}.`);

function valueAt(root, path) {
  if (path === '') return root;
  let node = root;
  for (const part of path.split('.')) {
    if (node === null || typeof node !== 'object') return undefined;
    node = node[part];
  }
  return node;
}

function withValueAt(root, path, value) {
  if (path === '') return value;
  const parts = path.split('.');
  const top = root !== null && typeof root === 'object' ? root : {};
  let node = top;
  for (const part of parts.slice(0, -1)) {
    if (node[part] === null || typeof node[part] !== 'object') node[part] = {};
    node = node[part];
  }
  node[parts[parts.length - 1]] = value;
  return top;
}

/** Everything about the current connection; replaced on each reconnect. */
let state = { client: undefined, services: new Map(), ownSessions: new Set() };
let attempt = 0;

async function start() {
  const token = sessionStorage.getItem(TOKEN_KEY) ?? undefined;
  setStatus('connecting', 'connecting…');
  let client;
  try {
    client = await connect(undefined, token ? { token } : {});
  } catch (err) {
    if (err.code === 'UNAUTHORIZED' && token) {
      sessionStorage.removeItem(TOKEN_KEY);
      $('[data-testid="token-error"]').textContent = err.message;
      $('[data-testid="token-form"]').hidden = false;
      return start();
    }
    return retry(err);
  }
  attempt = 0;
  state = { client, services: new Map(), ownSessions: new Set() };
  client.on('close', (err) => {
    if (state.client !== client) return;
    for (const card of state.services.values()) card.el.classList.add('stale');
    retry(err);
  });
  setStatus('connected', `connected to ${location.host}`);
  $('[data-testid="identity"]').textContent = `as ${client.identity}`;
  $('[data-testid="token-form"]').hidden = !client.policy;
  $('[data-testid="services"]').replaceChildren();
  try {
    const [stats, sessions] = await Promise.all([client.watchStats(renderStats), client.watchSessions(renderSessions)]);
    renderStats(stats.snapshot);
    renderSessions(sessions.snapshot);
    await syncServices();
  } catch (err) {
    if (!client.closed) setStatus('error', `${err.code}: ${err.message}`);
  }
}

function retry(err) {
  const wait = RECONNECT_MS[Math.min(attempt++, RECONNECT_MS.length - 1)];
  setStatus('disconnected', `disconnected (${err.code}); reconnecting in ${wait / 1000} s`);
  setTimeout(start, wait);
}

function setStatus(kind, text) {
  const el = $('[data-testid="connection"]');
  el.dataset.state = kind;
  el.textContent = text;
}

/** Adds a card for each service that appeared, removes those that went away. */
async function syncServices() {
  const { client } = state;
  const listing = await client.services();
  const names = new Set(listing.map((s) => s.name));
  for (const [name, card] of state.services) {
    if (names.has(name)) continue;
    card.el.remove();
    state.services.delete(name);
  }
  for (const service of listing) {
    if (!state.services.has(service.name)) await addService(service);
  }
  $('[data-testid="no-services"]').hidden = state.services.size > 0;
}

async function addService(listing) {
  const { client } = state;
  const name = listing.name;
  const el = h('article', { class: 'service', dataset: { testid: `service-${name}` } });
  const card = { el, values: undefined, session: undefined };
  state.services.set(name, card);
  const container = $('[data-testid="services"]');
  const after = [...container.children].find((c) => c.dataset.testid.slice(8) > name);
  container.insertBefore(el, after ?? null);
  el.append(
    h('header', {},
      h('h3', {}, name),
      h('span', { class: 'meta' }, [listing.fullname, listing.version && `v${listing.version}`, listing.location, listing.origin !== listing.location && listing.origin].filter(Boolean).join(' · ')),
    ),
  );
  let definition;
  try {
    definition = await client.describe(name);
  } catch (err) {
    el.append(errorBox(err, `service-error-${name}`));
    return;
  }
  const events = h('ol', { class: 'event-log', dataset: { testid: `events-${name}` } });
  el.append(
    section(`Methods (${definition.methods.length})`, definition.methods.length ? definition.methods.map((m) => methodForm(card, name, m)) : h('p', { class: 'empty' }, 'none')),
    section(`Events (${definition.events.length})`, [
      h('ul', { class: 'signatures' }, definition.events.map((e) => h('li', {}, h('code', {}, `${e.name}(${e.arguments.map((a) => `${a.name}: ${a.type}`).join(', ')})`)))),
      definition.events.length ? events : h('p', { class: 'empty' }, 'none'),
    ]),
    section('Runtime data', h('ul', { class: 'tree', dataset: { testid: `data-${name}` } }, treeNode(name, definition.runtimeData, true))),
  );
  // One session per service: the call forms use it, and its subscriptions feed the live parts.
  try {
    const session = await client.startSession(name);
    card.session = session;
    state.ownSessions.add(session.id);
    session.on('ended', (err) => {
      el.classList.add('stale');
      el.append(errorBox(err, `service-error-${name}`));
    });
    const watch = await session.watch('', (change) => {
      card.values = withValueAt(card.values, change.path, change.value);
      refreshValues(card, change.path);
    });
    card.values = watch.snapshot;
    refreshValues(card, '');
    if (definition.events.length) {
      await session.onEvent(undefined, (e) => {
        events.prepend(h('li', {}, h('time', {}, new Date().toLocaleTimeString()), h('b', {}, e.name), h('code', {}, json(e.args))));
        while (events.children.length > EVENT_LOG_LENGTH) events.lastChild.remove();
      });
    }
  } catch (err) {
    el.append(errorBox(err, `service-error-${name}`));
  }
}

function section(title, content) {
  return h('details', { open: true }, h('summary', {}, title), content);
}

function errorBox(err, testid) {
  const error = err instanceof PeerwayError ? err : new PeerwayError('INTERNAL', String(err?.message ?? err));
  return h('p', { class: 'error', dataset: { testid } }, h('span', { class: 'code' }, error.code), ` ${error.message}`);
}

/** One runtime-data node: objects nest, leaves (and lists of objects) show their live value. */
function treeNode(service, node, root = false) {
  if (node.children && !node.repeated) {
    const children = h('ul', {}, node.children.map((c) => treeNode(service, c)));
    return root ? children.childNodes.length ? [...children.childNodes] : h('li', { class: 'empty' }, 'none') : h('li', {}, h('span', { class: 'key' }, node.name), children);
  }
  return h(
    'li',
    { class: 'leaf' },
    h('span', { class: 'key' }, node.name || '(value)'),
    h('span', { class: 'type' }, node.type ?? (node.repeated ? 'list' : 'object')),
    h('output', { class: 'value', dataset: { path: node.path, testid: `value-${service}-${node.path}` } }, '—'),
  );
}

function refreshValues(card, changed) {
  for (const cell of card.el.querySelectorAll('output.value[data-path]')) {
    const path = cell.dataset.path;
    if (!overlap(path, changed)) continue;
    const text = json(valueAt(card.values, path));
    if (cell.textContent === text) continue;
    cell.textContent = text;
    cell.classList.remove('changed');
    void cell.offsetWidth; // restarts the highlight animation
    cell.classList.add('changed');
  }
}

/** A form built from a method's definition: one input per argument, typed as the definition says. */
function methodForm(card, service, method) {
  const id = `${service}-${method.name}`;
  const output = h('output', { class: 'result', dataset: { testid: `result-${id}` } });
  const inputs = method.arguments.map((a) => ({ arg: a, input: argumentInput(id, a) }));
  const form = h(
    'form',
    { class: 'method', dataset: { testid: `method-${id}` } },
    h('code', { class: 'signature' }, `${method.name}(${method.arguments.map((a) => `${a.name}: ${a.type}`).join(', ')}) → ${method.returns}`),
    inputs.length ? h('div', { class: 'arguments' }, inputs.map(({ arg, input }) => h('label', {}, h('span', {}, arg.name), input))) : undefined,
    h('div', { class: 'actions' }, h('button', { type: 'submit', dataset: { testid: `call-${id}` } }, 'Call'), output),
  );
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    output.className = 'result pending';
    output.textContent = '…';
    try {
      if (!card.session) throw new PeerwayError('SESSION_NOT_FOUND', `no session with ${service}: see the error above`);
      const args = {};
      for (const { arg, input } of inputs) args[arg.name] = argumentValue(arg, input.value);
      const result = await card.session.call(method.name, args);
      output.className = 'result ok';
      output.textContent = method.returns === 'void' ? 'done' : json(result);
    } catch (err) {
      output.className = 'result failed';
      output.replaceChildren(errorBox(err, `error-${id}`));
    }
  });
  return form;
}

function argumentInput(id, arg) {
  const testid = `arg-${id}-${arg.name}`;
  if (arg.type === 'bool') return h('select', { name: arg.name, dataset: { testid } }, h('option', {}, 'true'), h('option', {}, 'false'));
  const structured = arg.type.endsWith('[]') || !['int', 'int64', 'float', 'double', 'string', 'binary'].includes(arg.type);
  if (structured) return h('textarea', { name: arg.name, rows: 2, placeholder: `${arg.type} as JSON`, spellcheck: 'false', dataset: { testid } });
  return h('input', { name: arg.name, placeholder: arg.type === 'binary' ? 'base64' : arg.type, autocomplete: 'off', spellcheck: 'false', dataset: { testid } });
}

/**
 * The value of one argument field. Text that is not a number stays text, so the server's check names the
 * argument and the type it expected (the same error every client gets).
 */
function argumentValue(arg, text) {
  switch (arg.type) {
    case 'bool':
      return text === 'true';
    case 'int':
    case 'float':
    case 'double':
      return text.trim() !== '' && Number.isFinite(Number(text)) ? Number(text) : text;
    case 'int64':
    case 'string':
    case 'binary':
      return text;
    default:
      try {
        return JSON.parse(text);
      } catch (err) {
        throw new PeerwayError('BAD_ARGUMENT', `argument "${arg.name}" must be ${arg.type} written as JSON (${err.message})`);
      }
  }
}

function routeBadge(route) {
  const text = route.linkType === 'direct' ? ['direct', route.link, route.bearer?.replace(/^connect\.bearer\./, '')].filter(Boolean).join(' · ') : 'server';
  return h('span', { class: `route route-${route.linkType}`, title: route.bearer ?? '', dataset: { testid: 'route', linkType: route.linkType } }, text);
}

function routeKey(key) {
  const [kind, ...rest] = key.split(':');
  const name = rest.join(':');
  return h('span', { class: 'resource', title: key }, h('span', { class: 'kind' }, kind), ` ${name === '' ? '(all)' : name}`);
}

function renderSessions(sessions) {
  const body = $('[data-testid="sessions"] tbody');
  body.replaceChildren(
    ...sessions.map((s) =>
      h(
        'tr',
        { dataset: { testid: `session-${s.session}`, service: s.service }, class: s.attached ? '' : 'detached' },
        h(
          'td',
          {},
          h('b', {}, s.service),
          h('code', {}, s.session),
          h('small', {}, `${s.identity} · since ${new Date(s.startedAt).toLocaleTimeString()}`),
          h('small', { class: 'client' }, s.client),
          state.ownSessions.has(s.session) ? h('small', { class: 'own' }, 'this page') : undefined,
          s.attached ? undefined : h('small', { class: 'warning' }, 'detached: waiting for its client to come back'),
        ),
        h(
          'td',
          {},
          h('ul', { class: 'routes' }, Object.entries(s.routes).map(([key, route]) => h('li', {}, routeKey(key), routeBadge(route)))),
          s.warnings.length ? h('ul', { class: 'warnings', dataset: { testid: 'warnings' } }, s.warnings.map((w) => h('li', {}, w))) : undefined,
        ),
      ),
    ),
  );
  if (sessions.length === 0) body.append(h('tr', {}, h('td', { colspan: 2, class: 'empty' }, 'No sessions.')));
}

function renderStats(stats) {
  const body = $('[data-testid="stats"] tbody');
  body.replaceChildren(
    ...Object.entries(stats.services).map(([name, s]) =>
      h('tr', { dataset: { testid: `stats-${name}` } }, h('td', {}, name), h('td', {}, s.sessions), h('td', {}, s.calls), h('td', {}, `${s.eventsIn} / ${s.eventsOut}`), h('td', {}, `${s.dataIn} / ${s.dataOut}`)),
    ),
  );
  const health = stats.health;
  $('[data-testid="health"]').textContent = health
    ? `${stats.sessions} session(s) · ${health.connections} connection(s) · ${health.slowConsumersClosed} slow consumer(s) closed · ${health.coalesced} update(s) coalesced`
    : `${stats.sessions} session(s)`;
  const policy = stats.policy ?? { mode: 'none', denied: 0, wouldDeny: 0 };
  $('[data-testid="policy"]').replaceChildren(
    policy.mode === 'none'
      ? h('p', {}, 'No access policy: every caller is anonymous and may do everything (peerway server --policy FILE).')
      : h(
          'dl',
          {},
          h('dt', {}, 'mode'), h('dd', {}, policy.mode),
          h('dt', {}, 'denied'), h('dd', { class: policy.denied ? 'denied' : '', dataset: { testid: 'policy-denied' } }, String(policy.denied)),
          h('dt', {}, 'would deny'), h('dd', { dataset: { testid: 'policy-would-deny' } }, String(policy.wouldDeny)),
        ),
  );
  // A service that registered or left shows up here first: bring the cards in line.
  const names = Object.keys(stats.services);
  if (state.client && (names.length !== state.services.size || names.some((n) => !state.services.has(n)))) void syncServices().catch(() => undefined);
}

$('[data-testid="token-form"]').addEventListener('submit', (ev) => {
  ev.preventDefault();
  const token = new FormData(ev.target).get('token');
  if (token) sessionStorage.setItem(TOKEN_KEY, String(token));
  else sessionStorage.removeItem(TOKEN_KEY);
  $('[data-testid="token-error"]').textContent = '';
  const old = state.client;
  state = { client: undefined, services: new Map(), ownSessions: new Set() };
  old?.close();
  void start();
});

void start();
