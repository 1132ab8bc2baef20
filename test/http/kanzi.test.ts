import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { example, fixture, startRunner } from '../helpers/harness.js';
import { eventually, HMI, HTTP_POLICY, httpServer, policyFile, request, type HttpServer } from './http-helpers.js';

/** Kanzi Connect's stateless HTTP API on a real server process: descriptions, invoke (GET and POST), runtime data, errors. */

const TYPES = fixture('definitions', 'types.xml');

interface KanziResult {
  status: string;
  type: string;
  value: unknown;
}

interface KanziError {
  status: string;
  code: string;
  message: string;
}

async function typesServer(t: import('node:test').TestContext, args: string[] = []): Promise<HttpServer> {
  const server = await httpServer(t, args);
  await startRunner(t, server.url, [TYPES]);
  return server;
}

const invoke = (server: HttpServer, method: string, args: Record<string, string> = {}, service = 'Types') =>
  request<KanziResult & KanziError>(`${server.base}/serviceinvoke/${service}/method/${method}?${new URLSearchParams(args)}`);

const post = (server: HttpServer, method: string, form: Record<string, string>, query = '') =>
  request<KanziResult & KanziError>(`${server.base}/serviceinvoke/Types/method/${method}${query}`, { method: 'POST', body: new URLSearchParams(form) });

test('servicedescriptions answers the definition XML as application/xml', async (t) => {
  const server = await typesServer(t);
  const res = await fetch(`${server.base}/servicedescriptions/Types`);
  assert.equal(res.status, 200);
  assert.match(res.headers.get('content-type') ?? '', /^application\/xml/);
  assert.equal(await res.text(), readFileSync(TYPES, 'utf8'));
  const details = await fetch(`${server.base}/servicedescriptions/Types?details`);
  assert.equal(await details.text(), readFileSync(TYPES, 'utf8'), "Kanzi's ?details is accepted: the whole definition is always given");
});

test('serviceinvoke with GET takes named arguments from the query string, each parsed with its type, and answers as Kanzi writes values', async (t) => {
  const server = await typesServer(t);
  assert.deepEqual((await invoke(server, 'add', { a: '1', b: '2' })).body, { status: 'OK', type: 'int', value: '3' });
  assert.deepEqual((await invoke(server, 'echoBool', { value: 'true' })).body, { status: 'OK', type: 'bool', value: '1' });
  assert.deepEqual((await invoke(server, 'echoBool', { value: '0' })).body, { status: 'OK', type: 'bool', value: '0' });
  assert.deepEqual((await invoke(server, 'echoDouble', { value: '2.5e3' })).body, { status: 'OK', type: 'double', value: '2500.000000' });
  // Six decimals, as Kanzi writes floats: the JSON API keeps every digit.
  assert.deepEqual((await invoke(server, 'echoDouble', { value: '3.14159265' })).body, { status: 'OK', type: 'double', value: '3.141593' });
  assert.deepEqual((await invoke(server, 'echoString', { value: 'a b&c=d' })).body, { status: 'OK', type: 'string', value: 'a b&c=d' });
  assert.deepEqual((await invoke(server, 'nothing')).body, { status: 'OK', type: 'void', value: null });
  // int64 in decimal, exact beyond 2^53.
  assert.deepEqual((await invoke(server, 'echoInt64', { value: '9223372036854775807' })).body, { status: 'OK', type: 'int64', value: '9223372036854775807' });
  assert.deepEqual((await invoke(server, 'echoInt64', { value: '-42' })).body, { status: 'OK', type: 'int64', value: '-42' });
  // binary: base64 (the URL-encoded + and / survive) or hex:, answered as base64.
  assert.deepEqual((await invoke(server, 'echoBinary', { value: '+/8A' })).body, { status: 'OK', type: 'binary', value: '+/8A' });
  assert.deepEqual((await invoke(server, 'echoBinary', { value: 'hex:cafe' })).body, { status: 'OK', type: 'binary', value: 'yv4=' });
  // Structs and lists as JSON text; the answer keeps their shape with every scalar written as text.
  const shape = { name: 'tri', points: [{ x: 0, y: 0, label: 'a' }, { x: 1, y: 0.5, label: 'b' }] };
  const shapeText = { name: 'tri', points: [{ x: '0.000000', y: '0.000000', label: 'a' }, { x: '1.000000', y: '0.500000', label: 'b' }] };
  assert.deepEqual((await invoke(server, 'echoShape', { value: JSON.stringify(shape) })).body, { status: 'OK', type: 'Shape', value: shapeText });
  assert.deepEqual((await invoke(server, 'echoInts', { value: '[1,2,3]' })).body, { status: 'OK', type: 'int[]', value: ['1', '2', '3'] });
});

test('serviceinvoke with POST takes a form body, and the query string too', async (t) => {
  const server = await typesServer(t);
  const res = await post(server, 'add', { a: '40', b: '2' });
  assert.equal(res.status, 200);
  assert.match(res.contentType, /^application\/json/);
  assert.deepEqual(res.body, { status: 'OK', type: 'int', value: '42' });
  assert.deepEqual((await post(server, 'add', { b: '5' }, '?a=1')).body, { status: 'OK', type: 'int', value: '6' });
  assert.deepEqual((await post(server, 'echoPoint', { value: '{"x":1,"y":2,"label":"p"}' })).body, { status: 'OK', type: 'Point', value: { x: '1.000000', y: '2.000000', label: 'p' } });
  assert.deepEqual((await post(server, 'echoBinary', { value: 'AAEC/w==' })).body, { status: 'OK', type: 'binary', value: 'AAEC/w==' });
  const text = await request<KanziError>(`${server.base}/serviceinvoke/Types/method/add`, { method: 'POST', headers: { 'content-type': 'text/plain' }, body: 'a=1&b=2' });
  assert.deepEqual([text.status, text.body.code], [400, 'BAD_ARGUMENT']);
  assert.match(text.body.message, /as an application\/x-www-form-urlencoded body/);
  const twice = await post(server, 'add', { a: '1', b: '2' }, '?a=3');
  assert.equal(twice.status, 400);
  assert.equal(twice.body.code, 'BAD_ARGUMENT');
  assert.match(twice.body.message, /argument "a" is given more than once/);
});

test('errors have the JSON API status codes and a status naming the error', async (t) => {
  const server = await typesServer(t);
  const bad = await invoke(server, 'add', { a: 'one', b: '2' });
  assert.equal(bad.status, 400);
  assert.deepEqual(Object.keys(bad.body).sort(), ['code', 'details', 'message', 'status']);
  assert.equal(bad.body.status, 'Bad Request');
  assert.equal(bad.body.code, 'BAD_ARGUMENT');
  assert.match(bad.body.message, /^Types\.add argument "a" must be int \(whole number .*\), got "one"$/);
  const missing = await invoke(server, 'add', { a: '1' });
  assert.equal(missing.status, 400);
  assert.match(missing.body.message, /argument "b" is missing; expected int/);
  const unknown = await invoke(server, 'add', { a: '1', b: '2', c: '3' });
  assert.match(unknown.body.message, /has no argument "c".*valid arguments: a, b/);
  const binary = await invoke(server, 'echoBinary', { value: 'not base64!' });
  assert.equal(binary.status, 400);
  assert.match(binary.body.message, /must be binary \(base64 text, or hex: followed by hex digits\)/);

  const method = await invoke(server, 'ad', { a: '1' });
  assert.equal(method.status, 404);
  assert.deepEqual([method.body.status, method.body.code], ['Not Found', 'METHOD_NOT_FOUND']);
  assert.match(method.body.message, /no method "ad" \(did you mean "add"\?\)/);
  const service = await invoke(server, 'add', {}, 'Typs');
  assert.equal(service.status, 404);
  assert.equal(service.body.code, 'SERVICE_NOT_FOUND');
  assert.match(service.body.message, /no service named "Typs" is registered \(did you mean "Types"\?\)/);
  const description = await request<KanziError>(`${server.base}/servicedescriptions/Nope`);
  assert.deepEqual([description.status, description.body.status, description.body.code], [404, 'Not Found', 'SERVICE_NOT_FOUND']);
  const data = await request<KanziError>(`${server.base}/serviceruntimedata/Nope`);
  assert.deepEqual([data.status, data.body.code], [404, 'SERVICE_NOT_FOUND']);

  const failed = await invoke(server, 'fail', { message: 'on purpose' });
  assert.deepEqual([failed.status, failed.body.status, failed.body.code], [500, 'Internal Server Error', 'IMPLEMENTATION_ERROR']);
  assert.match(failed.body.message, /on purpose/);
  const badResult = await invoke(server, 'badResult');
  assert.deepEqual([badResult.status, badResult.body.code], [502, 'BAD_RESULT']);
  const malformed = await request<KanziError>(`${server.base}/serviceinvoke/Types/method/add?a=1&b=2`, { headers: { authorization: 'Token x' } });
  assert.deepEqual([malformed.status, malformed.body.status, malformed.body.code], [401, 'Unauthorized', 'UNAUTHORIZED']);
});

test('with a policy: 401 for an unknown token, 403 for what it denies, 200 for what it allows', async (t) => {
  const server = await httpServer(t, ['--policy', policyFile(t, HTTP_POLICY), '--service', example('climate.xml')]);
  await startRunner(t, server.url, [TYPES], ['--token', 'runner-token']);
  const unknown = await request<KanziError>(`${server.base}/serviceinvoke/Types/method/add?a=1&b=2`, { headers: { authorization: 'Bearer not-a-token' } });
  assert.deepEqual([unknown.status, unknown.body.code], [401, 'UNAUTHORIZED']);
  const anonymous = await invoke(server, 'add', { a: '1', b: '2' });
  assert.deepEqual([anonymous.status, anonymous.body.status, anonymous.body.code], [403, 'Forbidden', 'POLICY_DENIED']);
  assert.match(anonymous.body.message, /^anonymous may not start a session with Types/);
  const hidden = await request<KanziError>(`${server.base}/servicedescriptions/Climate`);
  assert.deepEqual([hidden.status, hidden.body.code], [403, 'POLICY_DENIED']);
  assert.match(hidden.body.message, /anonymous may not describe Climate/);

  const allowed = await request<KanziResult>(`${server.base}/serviceinvoke/Types/method/add?a=1&b=2`, { headers: HMI });
  assert.deepEqual(allowed.body, { status: 'OK', type: 'int', value: '3' });
  const denied = await request<KanziError>(`${server.base}/serviceinvoke/Types/method/fail?message=x`, { headers: HMI });
  assert.deepEqual([denied.status, denied.body.code], [403, 'POLICY_DENIED']);
  assert.match(denied.body.message, /^hmi may not call Types "fail"/);
  // The runtime data the policy hides from hmi is left out of the server's copy it is shown.
  const climate = await request<{ cabin: Record<string, unknown>; status: string }>(`${server.base}/serviceruntimedata/Climate`, { headers: HMI });
  assert.equal(climate.status, 200);
  assert.deepEqual(climate.body, { cabin: { temperature: '21.000000' }, status: 'ok' });
});

test('503 when the runner goes away under a call; 404 once the service is gone', async (t) => {
  const server = await httpServer(t);
  const runner = await startRunner(t, server.url, [TYPES]);
  const pending = invoke(server, 'slow', { ms: '20000' });
  await runner.waitFor(/types: slow call started/, { stream: 'stderr' });
  runner.child.kill('SIGKILL');
  const gone = await pending;
  assert.deepEqual([gone.status, gone.body.status, gone.body.code], [503, 'Service Unavailable', 'SERVICE_GONE']);
  assert.match(gone.body.message, /service Types went away/);
  const after = await invoke(server, 'add', { a: '1', b: '2' });
  assert.deepEqual([after.status, after.body.code], [404, 'SERVICE_NOT_FOUND']);
});

test("serviceruntimedata shows the server's copy as Kanzi writes it (every value as text), current after it changes", async (t) => {
  const server = await typesServer(t);
  const initial = await request<Record<string, unknown>>(`${server.base}/serviceruntimedata/Types`);
  assert.equal(initial.status, 200);
  assert.deepEqual(initial.body, {
    flag: '1',
    count: '7',
    big: '9007199254740993',
    ratio: '0.500000',
    precise: '3.141593',
    label: 'hello',
    blob: 'yv4=',
    position: { x: '1.500000', y: '0.000000' },
    history: [],
    shape: { name: '', points: [] },
  });
  await invoke(server, 'setCount', { value: '12' });
  await eventually(async () => (await request<{ count: string }>(`${server.base}/serviceruntimedata/Types`)).body.count, (n) => n === '12', 'count "12"');
});

test("the seed's ForkedRuntimeData, routed direct and to the server, shows its current value at /serviceruntimedata", async (t) => {
  const server = await httpServer(t);
  await startRunner(t, server.url, [example('forked-runtime-data.xml')]);
  const read = async () => Number((await request<{ value: string }>(`${server.base}/serviceruntimedata/ForkedRuntimeData`)).body.value);
  const first = await read();
  assert.ok(Number.isInteger(first), 'an int, written as text');
  // The service counts up once a second; the server's copy follows it (the runner publishes to the server).
  const later = await eventually(read, (v) => v > first, 'a newer value', 5000);
  assert.ok(later >= 1);
  const description = await fetch(`${server.base}/servicedescriptions/ForkedRuntimeData`);
  assert.match(await description.text(), /<route link="rt_link" linkType="direct" bearer="connect\.bearer\.tcp">/);
});
