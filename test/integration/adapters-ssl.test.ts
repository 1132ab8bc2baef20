import { test } from 'node:test';
import assert from 'node:assert/strict';
import { connectClient, fixture, runPeerway, startRunner } from '../helpers/harness.js';
import { makeTestCertificates } from '../helpers/certs.js';
import { startServerWith, writeConfig } from '../helpers/adapters.js';

const certs = await makeTestCertificates();
const LAB = fixture('p2p', 'lab.xml');
const TYPES = fixture('definitions', 'types.xml');
const SSL = 'connect.bearer.ssl';

test("a runner that reaches the server over ssl serves its reliable link over ssl, and ssl clients use it directly", async (t) => {
  const config = await writeConfig(certs.dir, 'ssl-server.xml', [{ type: SSL, attributes: { port: '0', ...certs.server } }]);
  const server = await startServerWith(['--config', config], 1);
  t.after(() => server.stop());
  assert.equal(server.listeners[0].bearer, SSL);
  const url = server.url(0);
  await startRunner(t, url, [LAB], ['--ca', certs.ca.certificate, '--link-cert', certs.server.certificate, '--link-key', certs.server.key]);

  const client = await connectClient(t, url, { adapters: { [SSL]: { ca: certs.ca.certificate } } });
  const session = await client.startSession('Lab');
  assert.equal(session.routeFor('method', 'echo').bearer, SSL);
  assert.deepEqual(session.routeFor('method', 'echo'), { linkType: 'direct', link: 'reliable', bearer: SSL });
  assert.equal(await session.call('echo', { text: 'a' }), 'a via direct');

  // The CLI, with --ca, over the same ssl server connection and ssl link.
  const cli = await runPeerway(['call', '--server', url, '--ca', certs.ca.certificate, '--verbose', 'Lab', 'echo', 'text=b']);
  assert.equal(cli.code, 0, cli.stderr);
  assert.equal(cli.stdout, '"b via direct"\n');
  assert.match(cli.stderr, /route for Lab\.echo: direct, link reliable \(connect\.bearer\.ssl\)/);
});

test('a runner on ssl without a certificate for its links stops at start-up naming the service, the link and the flags', async (t) => {
  const config = await writeConfig(certs.dir, 'ssl-server-2.xml', [{ type: SSL, attributes: { port: '0', ...certs.server } }]);
  const server = await startServerWith(['--config', config], 1);
  t.after(() => server.stop());
  const r = await runPeerway(['runner', '--server', server.url(0), '--ca', certs.ca.certificate, LAB]);
  assert.equal(r.code, 2, r.stderr);
  assert.match(
    r.stderr,
    /^peerway runner: error \[CONFIG_INVALID\]: service Lab routes resources on the built-in link "reliable", which uses connect\.bearer\.ssl because this runner reaches the server over ssl; an ssl link listens with a certificate and its key, and this runner has none: pass --link-cert FILE --link-key FILE, or add <attribute name="certificate" value="FILE"\/> and <attribute name="key" value="FILE"\/> to the connect\.bearer\.ssl <connectionadapter> of --config/m,
  );
});

test('mutual TLS: the server accepts a client certificate signed by its CA and refuses a missing or foreign one', async (t) => {
  const config = await writeConfig(
    certs.dir,
    'mtls-server.xml',
    [{ type: SSL, attributes: { port: '0', ...certs.server, ca: certs.ca.certificate, requireClientCertificate: 'true' } }],
    [TYPES],
  );
  const server = await startServerWith(['--config', config], 1);
  t.after(() => server.stop());
  const url = server.url(0);
  const peer = server.listeners[0].address.replace(/\./g, '\\.');
  const call = (...flags: string[]) => runPeerway(['call', '--server', url, '--ca', certs.ca.certificate, ...flags, 'Types', 'add', 'a=2', 'b=3']);
  const [accepted, missing, foreign] = await Promise.all([
    call('--cert', certs.client.certificate, '--key', certs.client.key),
    call(),
    call('--cert', certs.otherClient.certificate, '--key', certs.otherClient.key),
  ]);
  assert.equal(accepted.code, 0, accepted.stderr);
  assert.equal(accepted.stdout, '5\n');
  assert.equal(missing.code, 1);
  assert.match(
    missing.stderr,
    new RegExp(`^peerway call: error \\[CONNECT_FAILED\\]: cannot connect to ssl://${peer}: the server at ${peer} requires a client certificate \\(mutual TLS\\)`, 'm'),
  );
  assert.equal(foreign.code, 1);
  assert.match(foreign.stderr, new RegExp(`^peerway call: error \\[CONNECT_FAILED\\]: cannot connect to ssl://${peer}: .*refused our client certificate`, 'm'));
  await server.proc.waitFor(/refused the client certificate of 127\.0\.0\.1:\d+ \(mutual TLS\): it is not signed by the CA in attribute ca/, { stream: 'stderr' });
});

test('peerway server started with an expired certificate warns at start, naming the file and the fix, and still serves', async (t) => {
  const config = await writeConfig(certs.dir, 'ssl-server-expired.xml', [{ type: SSL, attributes: { port: '0', ...certs.expired } }]);
  const server = await startServerWith(['--config', config], 1);
  t.after(() => server.stop());
  await server.proc.waitFor(/expired on 2021-01-01/, { stream: 'stderr' });
  const warning = server.proc.stderr().split('\n').find((l) => l.includes('expired on 2021-01-01')) ?? '';
  assert.match(warning, new RegExp(`the certificate ${certs.expired.certificate.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} \\(subject "CN=localhost"\\) expired on 2021-01-01 00:00:00 UTC`));
  assert.match(warning, /install a renewed certificate/);
  assert.equal(server.listeners[0].bearer, SSL);
});
