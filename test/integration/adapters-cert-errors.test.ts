import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { fixture, runPeerway } from '../helpers/harness.js';
import { makeTestCertificates } from '../helpers/certs.js';
import { startServerWith, writeConfig, type ConfiguredServer } from '../helpers/adapters.js';

const certs = await makeTestCertificates();
const SSL = 'connect.bearer.ssl';
const re = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/**
 * One server with a plain tcp port and three ssl ports (a good, an expired and a wrong-host certificate);
 * each mix-up or certificate problem must reach the `peerway call` user as its own message, exit 1, fast.
 */
describe('certificate and bearer problems reach the peerway call user as their own errors', () => {
  let server: ConfiguredServer;
  const addr = { tcp: '', good: '', expired: '', wrongHost: '' };
  before(async () => {
    const config = await writeConfig(
      certs.dir,
      'cert-errors.xml',
      [
        { type: 'connect.bearer.tcp', attributes: { port: '0' } },
        { type: SSL, attributes: { port: '0', ...certs.server } },
        { type: SSL, attributes: { port: '0', ...certs.expired } },
        { type: SSL, attributes: { port: '0', ...certs.wrongHost } },
      ],
      [fixture('definitions', 'types.xml')],
    );
    server = await startServerWith(['--config', config], 4);
    [addr.tcp, addr.good, addr.expired, addr.wrongHost] = server.listeners.map((l) => l.address) as [string, string, string, string];
  });
  after(() => server?.stop());

  /** `peerway call` that must fail with exit 1 well before its 8 s timeout, with exactly `message`. */
  async function callFails(args: string[], message: string): Promise<void> {
    const started = Date.now();
    const r = await runPeerway(['call', '--timeout', '8000', ...args, 'Types', 'add', 'a=1', 'b=2']);
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stderr, new RegExp(`^peerway call: error \\[CONNECT_FAILED\\]: ${message}$`, 'm'));
    assert.ok(Date.now() - started < 5000, `took ${Date.now() - started} ms: a hang, not a fast failure`);
  }

  it('names an unknown CA', async () => {
    await callFails(
      ['--server', `ssl://${addr.good}`, '--ca', certs.otherCa.certificate],
      re(`cannot connect to ssl://${addr.good}: the certificate of ${addr.good} (subject "CN=localhost", issuer "CN=Peerway Test CA") is not signed by a trusted CA (the CA in ${certs.otherCa.certificate} did not sign it); pass the CA with --ca FILE or attribute ca`),
    );
  });

  it('names an expired certificate', async () => {
    await callFails(
      ['--server', `ssl://${addr.expired}`, '--ca', certs.ca.certificate],
      `${re(`cannot connect to ssl://${addr.expired}: the certificate of ${addr.expired} (subject "CN=localhost", issuer "CN=Peerway Test CA") expired on `)}.*2021 GMT${re("; the server must install a renewed certificate (or this machine's clock is wrong)")}`,
    );
  });

  it('names a certificate for another host name', async () => {
    await callFails(
      ['--server', `ssl://${addr.wrongHost}`, '--ca', certs.ca.certificate],
      re(`cannot connect to ssl://${addr.wrongHost}: the certificate of ${addr.wrongHost} is for DNS:wrong.example, not for "127.0.0.1"; connect with a name the certificate lists, or set attribute serverName to the name it should match`),
    );
  });

  it('tells a plain tcp client on an ssl port to use ssl://', async () => {
    await callFails(
      ['--server', `tcp://${addr.good}`],
      re(`cannot connect to tcp://${addr.good}: the server closed the connection during the hello without answering; the port is a connect.bearer.ssl (TLS) port: connect with ssl://${addr.good} and pass the CA that signed its certificate with --ca FILE`),
    );
    await server.proc.waitFor(/sent bytes that are not TLS to the connect\.bearer\.ssl port, so it was closed/, { stream: 'stderr' });
  });

  it('tells an ssl client on a plain tcp port to use tcp://', async () => {
    await callFails(
      ['--server', `ssl://${addr.tcp}`, '--ca', certs.ca.certificate],
      re(`cannot connect to ssl://${addr.tcp}: the peer at ${addr.tcp} did not answer the TLS handshake: it is probably a plain connect.bearer.tcp port; use tcp://`),
    );
  });

  it('works once the client trusts the CA', async () => {
    const r = await runPeerway(['call', '--server', `ssl://${addr.good}`, '--ca', certs.ca.certificate, 'Types', 'add', 'a=1', 'b=2']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, '3\n');
  });
});
