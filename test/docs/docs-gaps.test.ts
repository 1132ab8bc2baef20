import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { Command } from 'commander';
import { addLimitOptions } from '../../src/cli/limit-options.js';
import { DEFAULT_BROWSER_SOCKET_LIMITS } from '../../src/http/browser-socket.js';
import { MAX_STREAMS_PER_CALLER } from '../../src/http/event-stream.js';
import { MAX_BODY_BYTES } from '../../src/http/gateway.js';
import { MAX_SESSIONS } from '../../src/http/http-callers.js';
import { ROOT } from '../helpers/harness.js';

/** The docs points of the first-hour issue (#11) and the limits table of the hardening issue (#10), each checked. */

const readme = () => readFile(path.join(ROOT, 'README.md'), 'utf8');

/** The text of a README section, from its heading to the next one of the same level. */
function section(text: string, heading: string): string {
  const start = text.indexOf(`\n${heading}\n`);
  assert.ok(start >= 0, `README has a "${heading}" section`);
  const level = /^#+/.exec(heading)![0];
  const end = text.indexOf(`\n${level} `, start + heading.length + 2);
  return text.slice(start, end < 0 ? undefined : end);
}

/** The field names of an exported TypeScript interface, read from its source. */
async function interfaceFields(file: string, name: string): Promise<string[]> {
  const source = await readFile(path.join(ROOT, file), 'utf8');
  const start = source.indexOf(`export interface ${name} `);
  assert.ok(start >= 0, `${file} exports ${name}`);
  const body = source.slice(start, source.indexOf('\n}\n', start));
  return [...body.matchAll(/^ {2}([a-zA-Z]+)\??:/gm)].map((m) => m[1]);
}

test("the README's connect() options name every field of ClientOptions (bearers and linkTimeoutMs among them)", async () => {
  const text = await readme();
  const start = text.indexOf('- `connect(url, options?)`');
  assert.ok(start >= 0, 'the README describes connect(url, options?)');
  const paragraph = text.slice(start, text.indexOf('\n- ', start + 1));
  const fields = await interfaceFields('src/client/client.ts', 'ClientOptions');
  assert.ok(fields.includes('bearers') && fields.includes('linkTimeoutMs'), `ClientOptions read as ${fields.join(', ')}`);
  const missing = fields.filter((f) => !paragraph.includes(`\`${f}\``));
  assert.deepEqual(missing, [], `the README's connect() options miss ${missing.join(', ')}`);
});

test('no example, doc or README cites a DESIGN section that is not in the repository', async () => {
  const files = [
    'README.md',
    ...(await readdir(path.join(ROOT, 'examples'))).map((f) => path.join('examples', f)),
    ...(await readdir(path.join(ROOT, 'docs'))).filter((f) => f.endsWith('.md')).map((f) => path.join('docs', f)),
  ];
  const citing: string[] = [];
  for (const f of files) {
    if (!/\.(md|xml|mjs|ts|js|yaml|json)$/.test(f)) continue;
    if (/DESIGN(\.md)?\s*§/.test(await readFile(path.join(ROOT, f), 'utf8'))) citing.push(f);
  }
  assert.deepEqual(citing, []);
});

test('the docs no longer say the HTTP gateway, browser WebSocket or policy file is "(coming)"', async () => {
  const stale: string[] = [];
  for (const f of ['README.md', 'docs/protocol.md', 'docs/architecture.md']) {
    const text = await readFile(path.join(ROOT, f), 'utf8');
    text.split('\n').forEach((line, i) => {
      if (/\(coming\)/i.test(line)) stale.push(`${f}:${i + 1}: ${line.trim()}`);
    });
  }
  assert.deepEqual(stale, []);
});

test('"Limits and guarantees" lists every limit flag of server and runner, and the gateway\'s bounds as the code sets them', async () => {
  const limits = section(await readme(), '## Limits and guarantees');
  for (const role of ['server', 'runner'] as const) {
    const flags = addLimitOptions(new Command(), role).options.map((o) => o.long!);
    assert.ok(flags.includes('--hello-timeout'), `${role} has --hello-timeout`);
    const missing = flags.filter((f) => !limits.includes(`\`${f}`));
    assert.deepEqual(missing, [], `flags of peerway ${role} missing from the table`);
  }
  assert.match(limits, /\| hello \| 5 s to send it[^\n]*`--hello-timeout MS`/);
  const mib = (n: number) => {
    assert.equal(n % (1024 * 1024), 0);
    return `${n / (1024 * 1024)} MiB`;
  };
  const row = (name: string) => limits.split('\n').find((l) => l.startsWith(`| *gateway*: ${name} |`)) ?? assert.fail(`no gateway row "${name}"`);
  assert.match(row('HTTP request body'), new RegExp(`\\| ${mib(MAX_BODY_BYTES)} \\|`));
  assert.match(row('event streams (SSE)'), new RegExp(`\\| ${MAX_STREAMS_PER_CALLER} per identity and address \\|[^\\n]*\`429\` \`LIMIT_EXCEEDED\``));
  assert.match(row('sessions of stateless calls'), new RegExp(`\\| ${MAX_SESSIONS} per identity`));
  assert.match(row('browser socket (`/ws`) message'), new RegExp(`\\| ${mib(DEFAULT_BROWSER_SOCKET_LIMITS.maxMessageBytes)} \\|[^\\n]*1009`));
  assert.match(row('browser socket requests in flight'), new RegExp(`\\| ${DEFAULT_BROWSER_SOCKET_LIMITS.maxInFlight} \\|`));
  assert.match(row('browser socket keepalive'), new RegExp(`a ping every ${DEFAULT_BROWSER_SOCKET_LIMITS.keepaliveMs / 1000} s`));
  assert.match(row('browser socket that does not read'), /4429 `LIMIT_EXCEEDED`/);
});

test('inside the checkout `npx peerway` runs this package, as the README\'s npx note says (offline)', async () => {
  const text = await readme();
  assert.match(text, /Inside the package directory\s+`npx peerway <command>` runs this checkout's `bin\/peerway`/);
  const pkg = JSON.parse(await readFile(path.join(ROOT, 'package.json'), 'utf8')) as { version: string };
  // npx links the checkout into npm's cache and, the first time, runs its prepare script (a build). Here
  // with a cache of its own (a run stopped half-way would leave the user's ~/.npm broken for every later
  // npx) and without scripts: a build rewriting dist/ would break the other tests running from it meanwhile.
  const cache = await mkdtemp(path.join(tmpdir(), 'peerway-npx-cache-'));
  try {
    const env = { ...process.env, npm_config_cache: cache, npm_config_ignore_scripts: 'true' };
    const { stdout } = await promisify(execFile)('npx', ['--offline', 'peerway', '--version'], { cwd: ROOT, timeout: 120_000, env });
    assert.equal(stdout.trim(), pkg.version);
  } finally {
    await rm(cache, { recursive: true, force: true });
  }
});

test('every `peerway COMMAND` the README or a source comment names is a command of peerway --help', async () => {
  const { stdout } = await promisify(execFile)(process.execPath, [path.join(ROOT, 'bin', 'peerway'), '--help'], { cwd: ROOT, timeout: 30_000 });
  const commands = new Set([...stdout.slice(stdout.indexOf('Commands:')).matchAll(/^ {2}([a-z]+) /gm)].map((m) => m[1]));
  assert.ok(commands.has('server') && commands.has('demo'), `read the commands as ${[...commands].join(', ')}`);
  const named = new Map<string, string>();
  const note = (text: string, where: string, pattern: RegExp) => {
    for (const m of text.matchAll(pattern)) if (!named.has(m[1])) named.set(m[1], where);
  };
  // The README: every mention; source comments: commands in backquotes (prose says "peerway in …").
  note(await readme(), 'README.md', /\bpeerway ([a-z][a-z-]*)\b/g);
  const sources = (await readdir(path.join(ROOT, 'src'), { recursive: true })).filter((f) => f.endsWith('.ts'));
  for (const file of sources) note(await readFile(path.join(ROOT, 'src', file), 'utf8'), `src/${file}`, /`(?:npx )?peerway ([a-z][a-z-]*)\b/g);
  const unknown = [...named].filter(([command]) => !commands.has(command)).map(([command, where]) => `peerway ${command} (${where})`);
  assert.deepEqual(unknown, [], 'commands that do not exist');
});
