import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { ERROR_CODES } from '../../src/errors.js';
import type { ErrorCode } from '../../web/peerway-client.js';
import { connectClient, example, fixture, ROOT, startRunner, startServer } from '../helpers/harness.js';
import { policyFile, sha } from './http-helpers.js';

/** The inspector page and the browser client, driven in headless Chromium against real processes. */

const LAB = fixture('http', 'browser', 'lab.xml');
// Waits only catch a hang: Chromium on a 2-core machine under a full test run took over 10 s for one
// update once (2026-12-01), which is slow, not wrong.
const WAIT = { timeout: 30_000 };

async function openBrowser(t: TestContext): Promise<Browser> {
  const browser = await chromium.launch({
    executablePath: '/usr/bin/chromium',
    args: ['--headless=new', '--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage', '--disable-background-networking'],
    timeout: 30_000,
  });
  t.after(() => browser.close());
  return browser;
}

/** A page that fails the test on any script error it reports or any request that fails (but a missing favicon). */
async function openPage(t: TestContext, browser: Browser, url: string): Promise<Page> {
  const page = await browser.newPage();
  page.setDefaultTimeout(WAIT.timeout);
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  page.on('console', (m) => m.type() === 'error' && !m.text().startsWith('Failed to load resource') && errors.push(m.text()));
  page.on('response', (r) => r.status() >= 400 && !r.url().endsWith('/favicon.ico') && errors.push(`${r.status()} ${r.url()}`));
  t.after(() => assert.deepEqual(errors, [], 'the page reported errors'));
  await page.goto(url);
  return page;
}

async function gateway(t: TestContext, extra: string[] = []) {
  const server = await startServer(t, ['--service', LAB, '--http', '0', ...extra]);
  const [, address] = await server.proc.waitFor(/^listening http (\S+)$/m);
  return { server, base: `http://${address}` };
}

const text = (page: Page, testid: string) => page.getByTestId(testid).textContent();

test('the inspector shows services, a live value, call results and typed errors, a direct and a server route side by side with warnings, all live without polling', async (t) => {
  const { server, base } = await gateway(t);
  await startRunner(t, server.url, [example('forked-runtime-data.xml')]);
  // A Node client offers tcp: it takes ForkedRuntimeData's direct route; the page (a browser) takes the server one.
  const node = await connectClient(t, server.url);
  const forked = await node.startSession('ForkedRuntimeData');
  await forked.watch('', () => undefined);
  assert.equal(forked.routeFor('data', 'value').linkType, 'direct');

  // A client without tcp is told why it takes the server route: the inspector shows that warning.
  const noTcp = await connectClient(t, server.url, { withoutBearers: ['connect.bearer.tcp'] });
  const warned = await noTcp.startSession('ForkedRuntimeData');
  assert.equal(warned.routeFor('data', 'value').linkType, 'server');
  assert.equal(warned.warnings.length, 1, `one warning: ${JSON.stringify(warned.warnings)}`);

  const page = await openPage(t, await openBrowser(t), `${base}/`);
  await page.waitForSelector('[data-testid="connection"][data-state="connected"]', WAIT);
  // Every live part comes over the one WebSocket: no HTTP request is made once the page is connected.
  const requests: string[] = [];
  page.on('request', (r) => !r.url().endsWith('/favicon.ico') && requests.push(`${r.method()} ${r.url()}`));
  assert.equal(await page.title(), 'Peerway inspector');
  for (const name of ['Lab', 'ForkedRuntimeData']) await page.getByTestId(`service-${name}`).waitFor(WAIT);
  assert.match((await text(page, 'method-Lab-add')) ?? '', /add\(a: int, b: int\) → int/);
  assert.match((await page.getByTestId('service-Lab').textContent()) ?? '', /tick\(seq: int, payload: string\)/);

  // The counter of ForkedRuntimeData moves every second: the page shows each new value as it is pushed.
  const value = page.getByTestId('value-ForkedRuntimeData-value');
  await page.waitForFunction(() => /^\d+$/.test(document.querySelector('[data-testid="value-ForkedRuntimeData-value"]')?.textContent ?? ''), undefined, WAIT);
  const first = Number(await value.textContent());
  await page.waitForFunction((n) => Number(document.querySelector('[data-testid="value-ForkedRuntimeData-value"]')?.textContent) > n, first, WAIT);

  // A call from the form built from the definition, then one with a bad argument.
  await page.getByTestId('arg-Lab-add-a').fill('2');
  await page.getByTestId('arg-Lab-add-b').fill('40');
  await page.getByTestId('call-Lab-add').click();
  await page.waitForFunction(() => document.querySelector('[data-testid="result-Lab-add"]')?.textContent === '42', undefined, WAIT);
  await page.getByTestId('arg-Lab-add-a').fill('two');
  await page.getByTestId('call-Lab-add').click();
  const error = page.getByTestId('error-Lab-add');
  await error.waitFor(WAIT);
  assert.match((await error.textContent()) ?? '', /^BAD_ARGUMENT Lab\.add argument "a" must be int .*got "two"/);

  // Runtime data and events of the page's own session, changed by a call from the form.
  await page.getByTestId('arg-Lab-publish-value').fill('17');
  await page.getByTestId('call-Lab-publish').click();
  await page.waitForFunction(() => document.querySelector('[data-testid="value-Lab-counter"]')?.textContent === '17', undefined, WAIT);
  await page.waitForFunction(() => /changed\s*\{"value":17\}/.test(document.querySelector('[data-testid="events-Lab"]')?.textContent ?? ''), undefined, WAIT);

  // Sessions: the Node client's direct route and the page's server route for the same runtime data.
  const forkedRows = page.locator('[data-testid="sessions"] tr[data-service="ForkedRuntimeData"]');
  await page.waitForFunction(() => document.querySelectorAll('[data-testid="sessions"] tr[data-service="ForkedRuntimeData"]').length === 3, undefined, WAIT);
  const direct = forkedRows.filter({ has: page.locator('.route-direct') });
  const viaServer = forkedRows.filter({ has: page.locator('.route-server') });
  assert.equal(await direct.count(), 1);
  assert.equal(await viaServer.count(), 2);
  const warningRow = forkedRows.filter({ hasText: warned.id });
  assert.equal((await warningRow.getByTestId('warnings').textContent())?.trim(), warned.warnings[0]);
  assert.match((await direct.locator('.route-direct').textContent()) ?? '', /^direct · rt_link · tcp$/);
  assert.match((await direct.textContent()) ?? '', new RegExp(forked.id));
  assert.match((await viaServer.filter({ hasText: 'this page' }).textContent()) ?? '', /this page/);

  // Relay counters are pushed as they change: the form's two good calls went through the server (the bad
  // argument was refused by the gateway before it).
  await page.waitForFunction(() => document.querySelector('[data-testid="stats-Lab"]')?.children[2]?.textContent === '2', undefined, WAIT);
  assert.match((await text(page, 'policy')) ?? '', /No access policy/);
  assert.equal(await page.getByTestId('token-form').isHidden(), true, 'no token field without a policy');

  // ForkedRuntimeData counts up once a second: the page shows each new value without asking for it.
  const shown = await text(page, 'value-ForkedRuntimeData-value');
  await page.waitForFunction((before) => document.querySelector('[data-testid="value-ForkedRuntimeData-value"]')?.textContent !== before, shown, WAIT);
  assert.deepEqual(requests, [], 'no request after the page connected: live parts come over the WebSocket, never by polling');
});

test('the browser client loads in a page on its own (no Node imports): calls, events, runtime data, typed errors, deadlines, a closed socket', async (t) => {
  const source = readFileSync(path.join(ROOT, 'web', 'peerway-client.js'), 'utf8');
  assert.doesNotMatch(source, /^\s*import\s|\bimport\(|\brequire\(|['"]node:/m, 'the module imports nothing');
  // Its error codes (and those of its .d.ts) are the server's: a browser sees the same codes as a Node client.
  const codes = Object.keys(ERROR_CODES).sort();
  assert.deepEqual([...(/new Set\(\[([^\]]+)\]/.exec(source)?.[1] ?? '').matchAll(/'([A-Z_]+)'/g)].map((m) => m[1]).sort(), codes);
  const types = readFileSync(path.join(ROOT, 'web', 'peerway-client.d.ts'), 'utf8');
  assert.deepEqual([...(/type ErrorCode =([^;]+);/.exec(types)?.[1] ?? '').matchAll(/'([A-Z_]+)'/g)].map((m) => m[1]).sort(), codes);
  const { base } = await gateway(t);
  const page = await openPage(t, await openBrowser(t), `${base}/peerway-client.js`);
  const script = readFileSync(fixture('http', 'browser', 'client-in-page.js'), 'utf8');
  const outcome = await page.evaluate<Record<string, unknown>>(`(${script.replace(/^\/\/.*\n/gm, '')})()`);
  assert.deepEqual(outcome, {
    identity: 'anonymous',
    services: ['Lab'],
    methods: ['add', 'twice', 'size', 'publish', 'sleep', 'flood'],
    add: 3,
    int64: '9223372036854775806',
    snapshot: 0,
    changes: [{ path: 'counter', value: 5, route: 'server' }],
    events: [{ name: 'changed', args: { value: 5 }, route: 'server' }],
    badArgument: `PeerwayError ${'BAD_ARGUMENT' satisfies ErrorCode}`,
    noMethod: 'PeerwayError METHOD_NOT_FOUND',
    noService: 'PeerwayError SERVICE_NOT_FOUND',
    timeout: 'PeerwayError TIMEOUT',
    pending: 'PeerwayError CONNECTION_CLOSED',
    closeEvent: 'CONNECTION_CLOSED',
    afterClose: 'PeerwayError CONNECTION_CLOSED',
    ended: true,
  });
});

test('with a policy the inspector shows the denials and a token field, and the token opens what the identity may use', async (t) => {
  const policy = policyFile(
    t,
    `identities:
  hmi: { token_sha256: ${sha('hmi-token')} }
statements:
  - allow: { who: "*", service: "*", actions: [describe] }
  - allow: { who: hmi, service: Lab, actions: [call, subscribe, read] }
`,
  );
  const { base } = await gateway(t, ['--policy', policy]);
  const page = await openPage(t, await openBrowser(t), `${base}/`);
  await page.waitForSelector('[data-testid="connection"][data-state="connected"]', WAIT);
  assert.equal(await text(page, 'identity'), 'as anonymous');
  const refused = page.getByTestId('service-error-Lab');
  await refused.waitFor(WAIT);
  assert.match((await refused.textContent()) ?? '', /^POLICY_DENIED anonymous may not start a session with Lab/);
  await page.waitForFunction(() => Number(document.querySelector('[data-testid="policy-denied"]')?.textContent) >= 1, undefined, WAIT);
  assert.match((await text(page, 'policy')) ?? '', /modeenforced/);

  await page.getByTestId('token-input').fill('not-the-token');
  await page.getByTestId('token-submit').click();
  await page.waitForFunction(() => /not one the server knows/.test(document.querySelector('[data-testid="token-error"]')?.textContent ?? ''), undefined, WAIT);
  await page.waitForSelector('[data-testid="connection"][data-state="connected"]', WAIT);
  assert.equal(await text(page, 'identity'), 'as anonymous', 'an unknown token is refused, and the page goes on without it');

  await page.getByTestId('token-input').fill('hmi-token');
  await page.getByTestId('token-submit').click();
  await page.waitForFunction(() => document.querySelector('[data-testid="identity"]')?.textContent === 'as hmi', undefined, WAIT);
  await page.getByTestId('arg-Lab-add-a').fill('5');
  await page.getByTestId('arg-Lab-add-b').fill('6');
  await page.getByTestId('call-Lab-add').click();
  await page.waitForFunction(() => document.querySelector('[data-testid="result-Lab-add"]')?.textContent === '11', undefined, WAIT);
  assert.equal(await page.getByTestId('service-error-Lab').count(), 0);
});
