import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { adaptersOf, listenersOf, parsePeerwayConfig, serverAddressOf, type ConfigRole } from '../../src/server/server-config.js';
import { PeerwayError } from '../../src/errors.js';
import { makeTestCertificates } from '../helpers/certs.js';
import { fixture } from '../helpers/harness.js';

const certs = await makeTestCertificates();
const FILE = path.join(certs.dir, 'test-config.xml');
const TYPES = fixture('definitions', 'types.xml');

async function problems(text: string, role: ConfigRole = 'server'): Promise<string[]> {
  try {
    await parsePeerwayConfig(text, FILE, role);
  } catch (err) {
    assert.ok(err instanceof PeerwayError);
    assert.equal(err.code, 'CONFIG_INVALID');
    return err.message.split('\n').map((l) => l.replace(`${FILE}:`, ''));
  }
  assert.fail('expected CONFIG_INVALID');
}

describe('connection adapter configuration', () => {
  it('reads adapters with defaults, resolving files and sockets relative to the file', async () => {
    const config = await parsePeerwayConfig(
      `<configuration>
  <connectionadapter type="connect.bearer.tcp" library="bearer_tcp"><attribute name="port" value="2010"/></connectionadapter>
  <connectionadapter type="connect.bearer.ssl">
    <attribute name="certificate" value="server.pem"/><attribute name="key" value="server.key"/>
    <attribute name="verify" value="false"/>
  </connectionadapter>
  <connectionadapter type="connect.bearer.local"><attribute name="path" value="run/pw.sock"/></connectionadapter>
  <connectionadapter type="connect.bearer.local"><attribute name="path" value="@peerway"/></connectionadapter>
  <service file="${TYPES}"/>
</configuration>`,
      FILE,
      'server',
    );
    assert.deepEqual(listenersOf(config), [
      { bearer: 'connect.bearer.tcp', host: '127.0.0.1', port: 2010, attributes: {} },
      { bearer: 'connect.bearer.ssl', host: '127.0.0.1', port: 2002, attributes: { certificate: certs.server.certificate, key: certs.server.key, verify: 'false' } },
      { bearer: 'connect.bearer.local', path: path.join(certs.dir, 'run/pw.sock'), attributes: {} },
      { bearer: 'connect.bearer.local', path: '\0peerway', attributes: {} },
    ]);
    assert.deepEqual(config.services.map((s) => s.file), [TYPES]);
  });

  it('gives a client its attributes per bearer and the first adapter with an address as the server', async () => {
    const config = await parsePeerwayConfig(
      `<configuration>
  <connectionadapter type="connect.bearer.udp"><attribute name="maxDatagramBytes" value="1400"/></connectionadapter>
  <connectionadapter type="connect.bearer.ssl"><attribute name="host" value="localhost"/><attribute name="ca" value="ca.pem"/></connectionadapter>
</configuration>`,
      FILE,
      'client',
    );
    assert.deepEqual(adaptersOf(config), { 'connect.bearer.udp': { maxDatagramBytes: '1400' }, 'connect.bearer.ssl': { ca: certs.ca.certificate } });
    assert.deepEqual(serverAddressOf(config), { bearer: 'connect.bearer.ssl', host: 'localhost', port: 2002 });
  });

  it('reports every mistake at its line and column', async () => {
    assert.deepEqual(
      await problems(`<configuration version="1">
  <connectionadapter>
  </connectionadapter>
  <connectionadapter type="connect.bearer.ws"><attribute name="path" value="peerway"/><attribute name="port" value="80"/><attribute name="port" value="81"/></connectionadapter>
  <connectionadapter type="connect.bearer.udp"/>
  <connectionadapter type="connect.bearer.ssl">
    <attribute name="ca" value="req.cnf"/>
    <attribute name="ca"/>
    <attribute name="requireClientCertificate" value="yes"/>
    <setting/>
  </connectionadapter>
</configuration>`),
      [
        '1:16: unknown attribute "version" on <configuration>; it takes no attributes',
        '2:3: <connectionadapter> needs a type attribute, e.g. <connectionadapter type="connect.bearer.tcp">',
        '4:70: path "peerway" must start with /, e.g. /peerway',
        '4:133: attribute "port" is already set at 4:98; keep one',
        '5:22: connect.bearer.udp is unreliable and cannot carry server connections; configure it on the runner, where it is the built-in "unreliable" link',
        `7:26: ca file "req.cnf" (${certs.dir}/req.cnf) is not a PEM file (no "-----BEGIN" line)`,
        '8:5: <attribute> needs name and value, e.g. <attribute name="host" value="…"/>',
        '9:48: requireClientCertificate must be "true" or "false", got "yes"',
        '10:5: unknown element <setting> in <connectionadapter>; write each setting as <attribute name="…" value="…"/>',
      ],
    );
  });

  it('says what the file is when it is not a configuration, and what a client configuration may hold', async () => {
    assert.deepEqual(await problems('<service name="X"/>'), ['1:1: the root element must be <configuration>, not <service>; this looks like a service definition: pass it with --service']);
    assert.deepEqual(await problems('<configuration><service file="x.xml"/></configuration>', 'client'), [
      '1:16: <service> belongs in a server configuration; a client configuration holds only <connectionadapter> elements',
    ]);
    assert.deepEqual(
      await problems('<configuration><connectionadapter type="connect.bearer.tcp"/><connectionadapter type="connect.bearer.tcp"/></configuration>', 'runner'),
      ['1:62: a second connect.bearer.tcp adapter (the first is at 1:16); a runner uses one set of attributes per bearer: merge them'],
    );
    assert.deepEqual(await problems('<configuration>\n  <connectionadapter type="connect.bearer.tcp">\n</configuration>'), [
      '3:1: </configuration> comes while <connectionadapter> (opened at 2:3) is still open; add </connectionadapter> before it',
    ]);
  });
});
