import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseDefinition } from '../../src/definition/parse-definition.js';
import { chooseRoutes, standardLinkCheck } from '../../src/routing/route-chooser.js';
import { RouteTable } from '../../src/routing/route-table.js';
import type { ClientProfile } from '../../src/wire/messages.js';

/** Route choice on its own: a definition, a client profile, and the service's place; no link, no process. */

const definition = parseDefinition(
  `<service name="Place">
     <methods><method name="m" returns="void"/><method name="n" returns="void"/></methods>
     <routing>
       <route link="shm" linkType="direct" bearer="connect.bearer.memory"><method name="m"/></route>
       <route link="ipc" linkType="direct" bearer="connect.bearer.local"><method/></route>
       <route link="net" linkType="direct" bearer="connect.bearer.tcp"><method/></route>
     </routing>
   </service>`,
  'place.xml',
);
const table = new RouteTable(definition, 'connect.bearer.tcp');
const service = { host: 'host-a', process: 'host-a/1' };
const ALL = ['connect.bearer.memory', 'connect.bearer.local', 'connect.bearer.tcp'];
const profile = (p: Partial<ClientProfile>): ClientProfile => ({ bearers: ALL, host: 'host-a', process: 'host-a/1', version: 1, ...p });

function usable(client: ClientProfile, down: Record<string, string> = {}): Record<string, string[]> {
  const choices = chooseRoutes(table, client, standardLinkCheck(service, (link) => down[link]));
  return Object.fromEntries([...choices].map(([k, c]) => [k, c.usable.map((a) => a.link ?? a.linkType)]));
}

test('each bearer reaches as far as it declares: memory the same process, local the same host, tcp the network', () => {
  assert.deepEqual(usable(profile({})), { 'method:m': ['shm', 'ipc', 'net', 'server'], 'method:n': ['ipc', 'net', 'server'], 'data:': ['server'] });
  assert.deepEqual(usable(profile({ process: 'host-a/2' }))['method:m'], ['ipc', 'net', 'server']);
  assert.deepEqual(usable(profile({ host: 'host-b', process: 'host-b/1' }))['method:m'], ['net', 'server']);
});

test('a route is skipped, with the reason, when the client lacks the bearer or the link is down', () => {
  const choices = chooseRoutes(table, profile({ bearers: ['connect.bearer.tcp'] }), standardLinkCheck(service, (link) => (link === 'net' ? 'net could not listen' : undefined)));
  assert.deepEqual(
    choices.get('method:m')!.skipped.map((s) => [s.alternative.link, s.reason]),
    [
      ['shm', 'the client has no connect.bearer.memory bearer'],
      ['ipc', 'the client has no connect.bearer.local bearer'],
      ['net', 'net could not listen'],
    ],
  );
  assert.deepEqual(choices.get('method:m')!.usable.map((a) => a.linkType), ['server']);
});

test('a client in another process is told why the memory route is not for it', () => {
  const choices = chooseRoutes(table, profile({ process: 'host-a/9' }), standardLinkCheck(service, () => undefined));
  assert.deepEqual(choices.get('method:m')!.skipped.map((s) => s.reason), ['connect.bearer.memory works only inside one process, and the client is in another process']);
});

test('a method key is the same string as the table key for a declared method, and made up for any other name', () => {
  assert.equal(table.methodKey('m'), 'method:m');
  assert.ok(table.keys().includes(table.methodKey('n')));
  assert.equal(table.methodKey('nope'), 'method:nope');
  assert.deepEqual(table.alternatives(table.methodKey('nope')), []);
});
