import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fixture, runPeerway, startRunner } from '../helpers/harness.js';
import { makeTestCertificates } from '../helpers/certs.js';
import { startServerWith, writeConfig } from '../helpers/adapters.js';

const certs = await makeTestCertificates();
const TYPES = fixture('definitions', 'types.xml');

test('one server listens on tcp, ssl, local and ws at once from --config, and a client on each calls a method', async (t) => {
  const socket = path.join(certs.dir, 'all.sock');
  // Relative file and socket paths are relative to the configuration file.
  const config = await writeConfig(
    certs.dir,
    'all-bearers.xml',
    [
      { type: 'connect.bearer.tcp', attributes: { host: '127.0.0.1', port: '0' } },
      { type: 'connect.bearer.ssl', attributes: { port: '0', certificate: 'server.pem', key: 'server.key' } },
      { type: 'connect.bearer.local', attributes: { path: 'all.sock' } },
      { type: 'connect.bearer.ws', attributes: { port: '0', path: '/pw' } },
    ],
    [TYPES],
  );
  const server = await startServerWith(['--config', config], 4);
  t.after(() => server.stop());
  assert.deepEqual(
    server.listeners.map((l) => l.bearer),
    ['connect.bearer.tcp', 'connect.bearer.ssl', 'connect.bearer.local', 'connect.bearer.ws'],
  );
  assert.equal(server.listeners[2].address, socket);
  assert.match(server.listeners[3].address, /^127\.0\.0\.1:\d+\/pw$/);

  // A client configuration naming the server's ssl port and the CA, used instead of --server and --ca.
  const clientConfig = await writeConfig(certs.dir, 'client.xml', [
    { type: 'connect.bearer.ssl', attributes: { host: '127.0.0.1', port: server.listeners[1].address.split(':')[1], ca: 'ca.pem' } },
  ]);
  const calls = [
    ['--server', server.url(0)],
    ['--server', server.url(1), '--ca', certs.ca.certificate],
    ['--server', server.url(2)],
    ['--server', server.url(3)],
    ['--config', clientConfig],
  ];
  const results = await Promise.all(calls.map((flags, i) => runPeerway(['call', ...flags, 'Types', 'add', `a=${i}`, 'b=40'])));
  results.forEach((r, i) => {
    assert.equal(r.code, 0, `${calls[i].join(' ')}: ${r.stderr}`);
    assert.equal(r.stdout, `${i + 40}\n`, calls[i].join(' '));
  });
});

test('a ws server serves a runner and a client end to end, the reliable link on ws too', async (t) => {
  const server = await startServerWith(['--listen', 'ws://127.0.0.1:0/peerway'], 1);
  t.after(() => server.stop());
  assert.match(server.listeners[0].address, /^127\.0\.0\.1:\d+\/peerway$/);
  await startRunner(t, server.url(0), [fixture('p2p', 'lab.xml')]);
  const r = await runPeerway(['call', '--server', server.url(0), '--verbose', 'Lab', 'echo', 'text=w']);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, '"w via direct"\n');
  assert.match(r.stderr, /route for Lab\.echo: direct, link reliable \(connect\.bearer\.ws\)/);
});

test('configuration mistakes are reported as file:line:col with exit 2', async () => {
  const file = path.join(certs.dir, 'broken.xml');
  await writeFile(
    file,
    [
      '<configuration>',
      '  <connectionadapter type="connect.bearer.tpc"/>',
      '  <connectionadapter type="connect.bearer.ssl">',
      '    <attribute name="port" value="0"/>',
      '    <attribute name="certificat" value="server.pem"/>',
      '    <attribute name="key" value="missing.key"/>',
      '  </connectionadapter>',
      '  <listener/>',
      '</configuration>',
      '',
    ].join('\n'),
  );
  const r = await runPeerway(['server', '--config', file]);
  assert.equal(r.code, 2, r.stderr);
  assert.equal(
    r.stderr,
    [
      `peerway server: error [CONFIG_INVALID]: ${file}:2:22: unknown bearer type "connect.bearer.tpc" (did you mean "connect.bearer.tcp"?); known bearers: connect.bearer.tcp, connect.bearer.ssl, connect.bearer.udp, connect.bearer.local, connect.bearer.ws, connect.bearer.memory`,
      `${file}:5:16: connect.bearer.ssl has no attribute "certificat" (did you mean "certificate"?); accepted: host, port, certificate, key, ca, passphrase, verify, serverName, requireClientCertificate`,
      `${file}:6:27: cannot read key file "missing.key" (${path.join(certs.dir, 'missing.key')}): no such file; relative paths are relative to this configuration file`,
      `${file}:8:3: unknown element <listener> in <configuration>; allowed here: <connectionadapter>, <service>`,
      '',
    ].join('\n'),
  );
  const client = await runPeerway(['call', '--config', file, 'Types', 'add']);
  assert.equal(client.code, 2);
  assert.match(client.stderr, new RegExp(`^peerway call: error \\[CONFIG_INVALID\\]: ${file.replace(/\./g, '\\.')}:2:22: unknown bearer type`));
});
