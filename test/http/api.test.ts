import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { DefinitionJson } from '../../src/definition/definition-json.js';
import type { SessionListing } from '../../src/server/broker.js';
import { makeTestCertificates } from '../helpers/certs.js';
import { connectClient, example, fixture, startRunner } from '../helpers/harness.js';
import { eventually, HMI, HTTP_POLICY, httpServer, policyFile, postJson, request, type ApiError, type HttpServer } from './http-helpers.js';

/** The JSON API on a real server process: definitions, calls, runtime data, sessions, OpenAPI, and every error status. */

const TYPES = fixture('definitions', 'types.xml');

async function typesServer(t: import('node:test').TestContext, args: string[] = []): Promise<HttpServer> {
  const server = await httpServer(t, args);
  await startRunner(t, server.url, [TYPES]);
  return server;
}

const call = <T = { value: unknown }>(server: HttpServer, method: string, body?: unknown, headers: Record<string, string> = {}, service = 'Types') =>
  postJson<T & ApiError>(`${server.base}/api/services/${service}/methods/${method}`, body, headers);

test('GET /api/services/<S> is the definition as JSON; an unknown name is a 404 with a did-you-mean', async (t) => {
  const server = await typesServer(t);
  const res = await request<DefinitionJson>(`${server.base}/api/services/Types`);
  assert.equal(res.status, 200);
  assert.equal(res.body.name, 'Types');
  assert.deepEqual(res.body.types.find((x) => x.name === 'Shape'), { name: 'Shape', fields: [{ name: 'name', type: 'string' }, { name: 'points', type: 'Point[]' }] });
  assert.deepEqual(res.body.methods.find((m) => m.name === 'add'), { name: 'add', arguments: [{ name: 'a', type: 'int' }, { name: 'b', type: 'int' }], returns: 'int' });
  assert.deepEqual(res.body.events, [{ name: 'ping', arguments: [{ name: 'seq', type: 'int' }, { name: 'note', type: 'string' }] }]);
  assert.equal(res.body.runtimeData.children?.find((c) => c.name === 'big')?.default, '9007199254740993');
  const missing = await request<ApiError>(`${server.base}/api/services/Tpyes`);
  assert.equal(missing.status, 404);
  assert.equal(missing.body.error.code, 'SERVICE_NOT_FOUND');
  assert.match(missing.body.error.message, /no service named "Tpyes" is registered \(did you mean "Types"\?\); services: Types/);
});

test('POST /api/services/<S>/methods/<m> takes a JSON body of named arguments and answers {value}', async (t) => {
  const server = await typesServer(t);
  const added = await call(server, 'add', { a: 2, b: 3 });
  assert.equal(added.status, 200);
  assert.match(added.contentType, /^application\/json/);
  assert.deepEqual(added.body, { value: 5 });
  // No body, or an empty one with a JSON content type: no arguments.
  assert.deepEqual((await call(server, 'nothing')).body, { value: null });
  const empty = await request(`${server.base}/api/services/Types/methods/nothing`, { method: 'POST', headers: { 'content-type': 'application/json' } });
  assert.deepEqual([empty.status, empty.body], [200, { value: null }]);
  // int64: a number when exact, a decimal string beyond 2^53, both ways.
  assert.deepEqual((await call(server, 'echoInt64', { value: '9223372036854775807' })).body, { value: '9223372036854775807' });
  assert.deepEqual((await call(server, 'echoInt64', { value: -9007199254740991 })).body, { value: -9007199254740991 });
  assert.deepEqual((await call(server, 'echoInt64', { value: '-9223372036854775808' })).body, { value: '-9223372036854775808' });
  // binary as base64 (or hex: on the way in).
  assert.deepEqual((await call(server, 'echoBinary', { value: 'AAEC/w==' })).body, { value: 'AAEC/w==' });
  assert.deepEqual((await call(server, 'echoBinary', { value: 'hex:00ff' })).body, { value: 'AP8=' });
  const shape = { name: 'sq', points: [{ x: 0, y: 0, label: 'o' }, { x: 1, y: 1, label: 'd' }] };
  assert.deepEqual((await call(server, 'echoShape', { value: shape })).body, { value: shape });
  assert.deepEqual((await call(server, 'echoInts', { value: [3, 2, 1] })).body, { value: [3, 2, 1] });
  assert.deepEqual((await call(server, 'echoFloat', { value: 0.25 })).body, { value: 0.25 });
});

test('bad arguments are a 400 naming the argument and the type it expects', async (t) => {
  const server = await typesServer(t);
  const cases: [string, unknown, RegExp][] = [
    ['add', { a: 1, b: 'two' }, /^Types\.add argument "b" must be int \(whole number from -2147483648 to 2147483647\), got "two" \(string\)$/],
    ['add', { a: 1 }, /^Types\.add argument "b" is missing; expected int/],
    ['add', { a: 1, b: 2, bb: 3 }, /^Types\.add has no argument "bb" \(did you mean "b"\?\); valid arguments: a, b$/],
    ['add', [1, 2], /^Types\.add arguments must be an object of name → value, got an array of 2 elements$/],
    ['echoPoint', { value: { x: 1, y: 2 } }, /^Types\.echoPoint argument "value" is missing field "label" of Point/],
    ['echoShape', { value: { name: 's', points: [{ x: 1, y: 'no', label: '' }] } }, /^Types\.echoShape argument "value" at \.points\[0\]\.y must be float/],
    ['echoBinary', { value: 'not base64!' }, /^Types\.echoBinary argument "value" must be binary \(base64 text, or hex: followed by hex digits\)/],
    ['nothing', { extra: 1 }, /^Types\.nothing has no argument "extra"; Types\.nothing takes no arguments$/],
  ];
  for (const [method, body, message] of cases) {
    const res = await call(server, method, body);
    assert.equal(res.status, 400, JSON.stringify(res.body));
    assert.equal(res.body.error.code, 'BAD_ARGUMENT');
    assert.match(res.body.error.message, message);
  }
  // A JSON number past 2^53 has already lost its exact value: refused, with the way to send it (a string).
  const inexact = await request<ApiError>(`${server.base}/api/services/Types/methods/echoInt64`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"value":9007199254740993}' });
  assert.equal(inexact.status, 400);
  assert.match(inexact.body.error.message, /^Types\.echoInt64 argument "value" must be int64 .*got 9007199254740992 \(number\) \(beyond the safe integer range of a number; send it as a decimal string/);
  const notJson = await request<ApiError>(`${server.base}/api/services/Types/methods/add`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"a":' });
  assert.deepEqual([notJson.status, notJson.body.error.code], [400, 'BAD_ARGUMENT']);
  const poisoned = await request<ApiError>(`${server.base}/api/services/Types/methods/add`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"a":1,"b":2,"__proto__":{"x":1}}' });
  assert.deepEqual([poisoned.status, poisoned.body.error.code], [400, 'BAD_ARGUMENT']);
});

test('unknown methods, paths and events are 404s with a did-you-mean; service errors keep their codes', async (t) => {
  const server = await typesServer(t);
  const method = await call(server, 'ech0Int', { value: 1 });
  assert.deepEqual([method.status, method.body.error.code], [404, 'METHOD_NOT_FOUND']);
  assert.match(method.body.error.message, /no method "ech0Int" \(did you mean "echoInt"\?\)/);
  const path = await request<ApiError>(`${server.base}/api/services/Types/runtime-data?path=positon.x`);
  assert.deepEqual([path.status, path.body.error.code], [404, 'PATH_NOT_FOUND']);
  assert.match(path.body.error.message, /no child "positon" \(did you mean "position"\?\)/);
  const event = await request<ApiError>(`${server.base}/api/services/Types/events?name=pong`);
  assert.deepEqual([event.status, event.body.error.code], [404, 'EVENT_NOT_FOUND']);
  assert.match(event.body.error.message, /no event "pong" \(did you mean "ping"\?\)/);
  const route = await request<ApiError>(`${server.base}/api/nothing-here`);
  assert.equal(route.status, 404);
  const failed = await call(server, 'fail', { message: 'broken on purpose' });
  assert.deepEqual([failed.status, failed.body.error.code], [500, 'IMPLEMENTATION_ERROR']);
  const badResult = await call(server, 'badResult');
  assert.deepEqual([badResult.status, badResult.body.error.code], [502, 'BAD_RESULT']);
});

test("GET /api/services/<S>/runtime-data answers the server's copy, whole or at ?path=", async (t) => {
  const server = await typesServer(t);
  const whole = await request<{ path: string; value: Record<string, unknown> }>(`${server.base}/api/services/Types/runtime-data`);
  assert.equal(whole.status, 200);
  assert.equal(whole.body.path, '');
  assert.equal(whole.body.value.big, '9007199254740993');
  assert.equal(whole.body.value.blob, 'yv4=');
  assert.deepEqual((await request(`${server.base}/api/services/Types/runtime-data?path=position`)).body, { path: 'position', value: { x: 1.5, y: 0 } });
  await call(server, 'setPosition', { x: 3, y: 4 });
  await eventually(async () => (await request<{ value: unknown }>(`${server.base}/api/services/Types/runtime-data?path=position.y`)).body.value, (v) => v === 4, 'position.y = 4');
});

test('with a policy: 401, 403 on call, describe, read and subscribe, and hidden paths and services left out', async (t) => {
  const server = await httpServer(t, ['--policy', policyFile(t, HTTP_POLICY), '--service', example('climate.xml')]);
  await startRunner(t, server.url, [TYPES], ['--token', 'runner-token']);
  const unknown = await request<ApiError>(`${server.base}/api/services`, { headers: { authorization: 'Bearer nobody' } });
  assert.deepEqual([unknown.status, unknown.body.error.code], [401, 'UNAUTHORIZED']);

  assert.deepEqual((await call(server, 'add', { a: 1, b: 2 }, HMI)).body, { value: 3 });
  const fail = await call(server, 'fail', { message: 'x' }, HMI);
  assert.deepEqual([fail.status, fail.body.error.code], [403, 'POLICY_DENIED']);
  assert.deepEqual(fail.body.error.details, { identity: 'hmi', action: 'call', service: 'Types', name: 'fail' });
  const anonymous = await call(server, 'add', { a: 1, b: 2 });
  assert.deepEqual([anonymous.status, anonymous.body.error.code], [403, 'POLICY_DENIED']);

  // anonymous may not describe Climate: 403 when named, absent from the list and from suggestions.
  const describe = await request<ApiError>(`${server.base}/api/services/Climate`);
  assert.deepEqual([describe.status, describe.body.error.code], [403, 'POLICY_DENIED']);
  assert.deepEqual(((await request<{ name: string }[]>(`${server.base}/api/services`)).body).map((s) => s.name), ['Types']);
  const near = await request<ApiError>(`${server.base}/api/services/Climat`);
  assert.equal(near.status, 404);
  assert.doesNotMatch(near.body.error.message, /Climate/, 'a service the caller may not see is never suggested');
  assert.deepEqual(((await request<{ name: string }[]>(`${server.base}/api/services`, { headers: HMI })).body).map((s) => s.name).sort(), ['Climate', 'Types']);

  const fan = await request<ApiError>(`${server.base}/api/services/Climate/runtime-data?path=cabin.fan`, { headers: HMI });
  assert.deepEqual([fan.status, fan.body.error.code], [403, 'POLICY_DENIED']);
  const cabin = await request(`${server.base}/api/services/Climate/runtime-data?path=cabin`, { headers: HMI });
  assert.deepEqual(cabin.body, { path: 'cabin', value: { temperature: 21 } }, 'the denied fan is left out of the wider value');
  const ping = await request<ApiError>(`${server.base}/api/services/Types/events?name=ping`, { headers: HMI });
  assert.deepEqual([ping.status, ping.body.error.code], [403, 'POLICY_DENIED'], 'a denied subscribe is refused before any stream starts');
  assert.match(ping.contentType, /^application\/json/);

  // The OpenAPI document holds only what the caller may describe.
  const openapi = await request<{ paths: Record<string, unknown> }>(`${server.base}/api/openapi.json`);
  assert.ok(openapi.body.paths['/api/services/Types/methods/add']);
  assert.equal(openapi.body.paths['/api/services/Climate/methods/reset'], undefined);
  const forHmi = await request<{ paths: Record<string, unknown> }>(`${server.base}/api/openapi.json`, { headers: HMI });
  assert.ok(forHmi.body.paths['/api/services/Climate/methods/reset']);
});

test('503 when the runner is killed under a call', async (t) => {
  const server = await httpServer(t);
  const runner = await startRunner(t, server.url, [TYPES]);
  const pending = call(server, 'slow', { ms: 20_000 });
  await runner.waitFor(/types: slow call started/, { stream: 'stderr' });
  runner.child.kill('SIGKILL');
  const gone = await pending;
  assert.deepEqual([gone.status, gone.body.error.code], [503, 'SERVICE_GONE']);
  assert.match(gone.body.error.message, /^service Types went away: (its|the) runner at tcp:\/\/127\.0\.0\.1:\d+ .* disconnected$/);
});

test('GET /api/sessions shows each session with the route, link and bearer its client took, and its warnings', async (t) => {
  const certs = await makeTestCertificates();
  const server = await httpServer(t);
  await startRunner(t, server.url, [example('forked-runtime-data.xml'), fixture('adapters', 'ssl-preferred.xml')], ['--link-cert', certs.server.certificate, '--link-key', certs.server.key]);
  const forked = await (await connectClient(t, server.url)).startSession('ForkedRuntimeData');
  // With an ssl adapter the client takes the ssl link; without one it falls back to the server, with a warning.
  const secure = await (await connectClient(t, server.url, { adapters: { 'connect.bearer.ssl': { ca: certs.ca.certificate } } })).startSession('SslPreferred');
  const fallback = await (await connectClient(t, server.url)).startSession('SslPreferred');
  const sessions = (await request<SessionListing[]>(`${server.base}/api/sessions`)).body;
  const byId = new Map(sessions.map((s) => [s.session, s]));

  const f = byId.get(forked.id)!;
  assert.equal(f.service, 'ForkedRuntimeData');
  assert.equal(f.identity, 'anonymous');
  assert.equal(f.attached, true);
  assert.deepEqual(f.routes, { 'data:': { linkType: 'direct', link: 'rt_link', bearer: 'connect.bearer.tcp' } });

  assert.deepEqual(byId.get(secure.id)!.routes, { 'method:echo': { linkType: 'direct', link: 'secure', bearer: 'connect.bearer.ssl' }, 'data:': { linkType: 'server' } });
  assert.deepEqual(byId.get(secure.id)!.warnings, []);
  const fb = byId.get(fallback.id)!;
  assert.deepEqual(fb.routes, { 'method:echo': { linkType: 'server' }, 'data:': { linkType: 'server' } });
  assert.equal(fb.warnings.length, 1);
  assert.match(fb.warnings[0], /the direct connect\.bearer\.ssl route on link "secure" \(for method "echo"\) was skipped because this client has no connect\.bearer\.ssl connection adapter; using the server route instead/);

  // A stopped session leaves the list.
  await fallback.stop();
  await eventually(async () => (await request<SessionListing[]>(`${server.base}/api/sessions`)).body.map((s) => s.session), (ids) => !ids.includes(fallback.id), 'the stopped session gone');
});

interface OpenApi {
  openapi: string;
  paths: Record<string, Record<string, { requestBody?: { required: boolean; content: Record<string, { schema: unknown }> }; responses: Record<string, { content?: Record<string, { schema: unknown }> } | { $ref: string }> }>>;
  components: { schemas: Record<string, unknown>; responses: Record<string, unknown> };
}

test('GET /api/openapi.json is OpenAPI 3.1 generated from the definitions loaded at request time', async (t) => {
  const server = await httpServer(t, ['--service', example('vehicle.xml')]);
  const before = (await request<OpenApi>(`${server.base}/api/openapi.json`)).body;
  assert.equal(before.openapi, '3.1.0');
  assert.ok(before.paths['/api/services/Vehicle/methods/setGear']);
  assert.equal(before.paths['/api/services/Types/methods/add'], undefined);
  for (const fixed of ['/api/services', '/api/services/{service}', '/api/services/{service}/runtime-data', '/api/services/{service}/events', '/api/sessions', '/api/stats', '/api/openapi.json', '/servicedescriptions/{service}', '/serviceinvoke/{service}/method/{method}', '/serviceruntimedata/{service}']) {
    assert.ok(before.paths[fixed], `${fixed} is described`);
  }
  assert.ok(before.paths['/serviceinvoke/{service}/method/{method}'].get && before.paths['/serviceinvoke/{service}/method/{method}'].post);

  // A runner registers later: the next document has its methods and types.
  await startRunner(t, server.url, [TYPES]);
  const doc = (await request<OpenApi>(`${server.base}/api/openapi.json`)).body;
  const add = doc.paths['/api/services/Types/methods/add'].post;
  assert.deepEqual(add.requestBody, {
    required: true,
    content: {
      'application/json': {
        schema: {
          type: 'object',
          properties: { a: { type: 'integer', format: 'int32', minimum: -2147483648, maximum: 2147483647 }, b: { type: 'integer', format: 'int32', minimum: -2147483648, maximum: 2147483647 } },
          required: ['a', 'b'],
          additionalProperties: false,
        },
      },
    },
  });
  const result = (add.responses['200'] as { content: Record<string, { schema: unknown }> }).content['application/json'].schema;
  assert.deepEqual(result, { type: 'object', required: ['value'], properties: { value: { type: 'integer', format: 'int32', minimum: -2147483648, maximum: 2147483647 } } });
  assert.deepEqual(add.responses['403'], { $ref: '#/components/responses/Forbidden' });
  const shape = doc.paths['/api/services/Types/methods/echoShape'].post;
  assert.deepEqual(shape.requestBody?.content['application/json'].schema, {
    type: 'object',
    properties: { value: { $ref: '#/components/schemas/Types.Shape' } },
    required: ['value'],
    additionalProperties: false,
  });
  assert.deepEqual(doc.components.schemas['Types.Shape'], {
    type: 'object',
    properties: { name: { type: 'string' }, points: { type: 'array', items: { $ref: '#/components/schemas/Types.Point' } } },
    required: ['name', 'points'],
    additionalProperties: false,
  });
  assert.ok(doc.components.schemas['Types.Point']);
  const nothing = doc.paths['/api/services/Types/methods/nothing'].post;
  assert.equal(nothing.requestBody?.required, false);
  assert.deepEqual((nothing.responses['200'] as { content: Record<string, { schema: unknown }> }).content['application/json'].schema, { type: 'object', required: ['value'], properties: { value: { type: 'null' } } });
  const int64 = doc.paths['/api/services/Types/methods/echoInt64'].post.requestBody?.content['application/json'].schema as { properties: { value: { type: string[] } } };
  assert.deepEqual(int64.properties.value.type, ['integer', 'string']);
  const binary = doc.paths['/api/services/Types/methods/echoBinary'].post.requestBody?.content['application/json'].schema as { properties: { value: unknown } };
  assert.deepEqual((binary.properties.value as { contentEncoding: string }).contentEncoding, 'base64');
  // Every $ref points at something the document defines.
  const refs = JSON.stringify(doc).match(/"\$ref":"#\/components\/[^"]+"/g) ?? [];
  for (const r of new Set(refs)) {
    const [, kind, name] = /#\/components\/(\w+)\/([^"]+)/.exec(r)!;
    assert.ok((doc.components as unknown as Record<string, Record<string, unknown>>)[kind][name], `${r} resolves`);
  }
});
