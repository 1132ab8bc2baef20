import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { fixture, runPeerway } from '../helpers/harness.js';
import { makeTestCertificates } from '../helpers/certs.js';
import { startServerWith, type ConfiguredServer } from '../helpers/adapters.js';
import { startPeerway, type PeerwayProcess } from '../../src/cli/peerway-process.js';

const certs = await makeTestCertificates();

/**
 * The seed's troubleshooting case end to end: the client reaches the server over plain tcp while services
 * route over ssl (required, or with a fallback) — and connect.bearer.local routes, which only same-host
 * clients may take.
 */
describe('peer-to-peer routes on bearers the client may lack', () => {
  let server: ConfiguredServer;
  let runner: PeerwayProcess | undefined;
  let url = '';
  before(async () => {
    server = await startServerWith(['--listen', 'tcp://127.0.0.1:0'], 1);
    url = server.url(0);
    runner = startPeerway([
      'runner', '--server', url, '--link-cert', certs.server.certificate, '--link-key', certs.server.key,
      fixture('p2p', 'ssl-required.xml'), fixture('adapters', 'ssl-preferred.xml'), fixture('adapters', 'near-far.xml'),
    ]);
    await runner.waitFor(/^registered Secure, SslPreferred, NearFar with/m);
  });
  after(async () => {
    await runner?.stop();
    await server?.stop();
  });

  const call = (args: string[], env: NodeJS.ProcessEnv = {}) => runPeerway(['call', '--server', url, '--verbose', ...args], { env });

  it('a client with an ssl adapter (--ca) takes the required ssl link directly, though its server connection is tcp', async () => {
    const r = await call(['--ca', certs.ca.certificate, 'Secure', 'echo', 'text=hi']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, '"hi"\n');
    assert.match(r.stderr, /route for Secure\.echo: direct, link secure \(connect\.bearer\.ssl\)/);
  });

  it('a client without an ssl adapter gets one error naming the service, the resource, the bearer and how to configure it', async () => {
    const r = await call(['Secure', 'echo', 'text=hi']);
    assert.equal(r.code, 1);
    const lines = r.stderr.trim().split('\n');
    assert.equal(lines.length, 1, r.stderr);
    assert.match(
      lines[0],
      /^peerway call: error \[BEARER_MISSING\]: service Secure requires a direct connect\.bearer\.ssl link "secure" for method "echo" \(.*ssl-required\.xml:7:5\), and this client cannot use it: the client has no connect\.bearer\.ssl bearer\. /,
    );
    assert.ok(lines[0].includes('on the command line pass --ca FILE'), lines[0]);
    assert.ok(lines[0].includes('or in a file given with --config add <connectionadapter type="connect.bearer.ssl"><attribute name="ca" value="FILE"/></connectionadapter>'), lines[0]);
    assert.ok(lines[0].includes('or in code connect(url, { adapters: { "connect.bearer.ssl": { ca: "FILE" } } })'), lines[0]);
  });

  it('where the route allows fallback, a client without an ssl adapter gets a warning and the server route', async () => {
    const r = await call(['SslPreferred', 'echo', 'text=hi']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, '"hi via server"\n');
    assert.match(
      r.stderr,
      /^peerway call: warning: SslPreferred: the direct connect\.bearer\.ssl route on link "secure" \(for method "echo"\) was skipped because this client has no connect\.bearer\.ssl connection adapter; using the server route instead\. Configure a connect\.bearer\.ssl connection adapter on the client: on the command line pass --ca FILE/m,
    );
    const withCa = await call(['--ca', certs.ca.certificate, 'SslPreferred', 'echo', 'text=hi']);
    assert.equal(withCa.stdout, '"hi via direct"\n', withCa.stderr);
    assert.doesNotMatch(withCa.stderr, /warning/);
  });

  it('a local route serves a same-host client over IPC and a client on another host over the tcp route after it', async () => {
    const [near, far] = await Promise.all([call(['NearFar', 'echo', 'text=a']), call(['NearFar', 'echo', 'text=b'], { PEERWAY_HOST_ID: 'other' })]);
    assert.equal(near.stdout, '"a via direct"\n', near.stderr);
    assert.match(near.stderr, /route for NearFar\.echo: direct, link ipc \(connect\.bearer\.local\)/);
    assert.equal(far.stdout, '"b via direct"\n', far.stderr);
    assert.match(far.stderr, /route for NearFar\.echo: direct, link net \(connect\.bearer\.tcp\)/);
    assert.match(far.stderr, /<skipped linkType="direct" link="ipc" bearer="connect\.bearer\.local" reason="connect\.bearer\.local works only on the same host/);
    assert.doesNotMatch(far.stderr, /warning/, 'another host is not a misconfiguration');
  });
});
