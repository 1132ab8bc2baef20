import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseDefinition } from '../../src/definition/parse-definition.js';
import { chooseRoutes, standardLinkCheck } from '../../src/routing/route-chooser.js';
import { RouteTable } from '../../src/routing/route-table.js';
import type { PeerwayError } from '../../src/errors.js';
import type { ClientProfile } from '../../src/wire/messages.js';

/**
 * The list of usable routes a client gets per resource (what it tries, in order, and what the service lets
 * the server relay): document order, a server route once, and nothing past a `required` route.
 */

const MEMORY = 'connect.bearer.memory';
const LOCAL = 'connect.bearer.local';
const TCP = 'connect.bearer.tcp';
const service = { host: 'host-a', process: 'host-a/1' };
const profile = (p: Partial<ClientProfile> = {}): ClientProfile => ({ bearers: [MEMORY, LOCAL, TCP], host: 'host-a', process: 'host-a/1', version: 1, ...p });

function tableOf(routing: string, methods: string[]): RouteTable {
  const xml = `<service name="Order">
     <methods>${methods.map((m) => `<method name="${m}" returns="void"/>`).join('')}</methods>
     <routing>${routing}</routing>
   </service>`;
  return new RouteTable(parseDefinition(xml, 'order.xml'), TCP);
}

/** Per resource, the usable routes as the client tries them: a link name, or "server". */
function usable(table: RouteTable, client: ClientProfile): Record<string, string[]> {
  const choices = chooseRoutes(table, client, standardLinkCheck(service, () => undefined));
  return Object.fromEntries([...choices].map(([k, c]) => [k, c.usable.map((a) => (a.linkType === 'server' ? 'server' : a.link!))]));
}

test('a server route is always usable, never skipped, and keeps its place in document order ahead of a direct route after it', () => {
  const table = tableOf(
    `<route link="relay" linkType="server"><method name="m"/></route>
     <route link="net" linkType="direct" bearer="${TCP}"><method name="m"/></route>`,
    ['m'],
  );
  const choices = chooseRoutes(table, profile(), standardLinkCheck(service, () => undefined));
  assert.deepEqual(
    choices.get('method:m')!.usable.map((a) => a.linkType),
    ['server', 'direct'],
  );
  assert.deepEqual(choices.get('method:m')!.skipped, [], 'a server route is never skipped, whatever bearers the client has');
  // A client offering no bearer at all still has the server route, first, and only the direct one skipped.
  const bare = chooseRoutes(table, profile({ bearers: [] }), standardLinkCheck(service, () => undefined));
  assert.deepEqual(bare.get('method:m')!.usable.map((a) => a.linkType), ['server']);
  assert.deepEqual(bare.get('method:m')!.skipped.map((s) => s.alternative.link), ['net']);
});

test('a resource the definition routes through the server gets the server route once, where the definition puts it', () => {
  const table = tableOf(
    `<route link="net" linkType="direct_and_server" bearer="${TCP}"><method name="both"/></route>
     <route link="relay" linkType="server"><method name="relayed"/></route>`,
    ['both', 'relayed', 'unrouted'],
  );
  assert.deepEqual(usable(table, profile()), { 'method:both': ['net', 'server'], 'method:relayed': ['server'], 'method:unrouted': ['server'], 'data:': ['server'] });
  // When the direct route is not for this client, what is left is still one server route.
  assert.deepEqual(usable(table, profile({ bearers: [] }))['method:both'], ['server']);
});

test('a required direct route closes the list: no server route is added after it (nothing past it is tried)', () => {
  const table = tableOf(
    `<route link="ipc" linkType="direct" bearer="${LOCAL}" required="true"><method name="pinned"/></route>
     <route link="shm" linkType="direct" bearer="${MEMORY}"><method name="late"/></route>
     <route link="ipc" linkType="direct" bearer="${LOCAL}" required="true"><method name="late"/></route>`,
    ['pinned', 'late', 'free'],
  );
  assert.deepEqual(usable(table, profile()), { 'method:pinned': ['ipc'], 'method:late': ['shm', 'ipc'], 'method:free': ['server'], 'data:': ['server'] });
});

test('a required route the client cannot use stops the session start only when no earlier route is usable', () => {
  const table = tableOf(
    `<route link="shm" linkType="direct" bearer="${MEMORY}"><method name="m"/></route>
     <route link="ipc" linkType="direct" bearer="${LOCAL}" required="true"><method name="m"/></route>`,
    ['m'],
  );
  // No local bearer: the memory route comes first and is usable, so the client takes it; ipc is skipped, with why.
  const choices = chooseRoutes(table, profile({ bearers: [MEMORY, TCP] }), standardLinkCheck(service, () => undefined));
  assert.deepEqual(choices.get('method:m')!.usable.map((a) => a.link), ['shm']);
  assert.deepEqual(
    choices.get('method:m')!.skipped.map((s) => [s.alternative.link, s.reason]),
    [['ipc', `the client has no ${LOCAL} bearer`]],
  );
  // Without the memory bearer too, nothing before the required route is usable: BEARER_MISSING, naming it.
  assert.throws(
    () => chooseRoutes(table, profile({ bearers: [TCP] }), standardLinkCheck(service, () => undefined)),
    (e: PeerwayError) => e.code === 'BEARER_MISSING' && /requires a direct connect\.bearer\.local link "ipc" for method "m"/.test(e.message),
  );
});
