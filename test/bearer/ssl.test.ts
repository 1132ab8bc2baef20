import assert from 'node:assert/strict';
import net from 'node:net';
import { describe, it } from 'node:test';
import type { BearerAttributes, Listener } from '../../src/bearer/bearer.js';
import { parseBearerUrl } from '../../src/bearer/registry.js';
import type { ConnectOptions } from '../../src/bearer/bearer.js';
import { sslBearer } from '../../src/bearer/ssl.js';
import { tcpBearer } from '../../src/bearer/tcp.js';
import { makeTestCertificates } from '../helpers/certs.js';
import { Collector, freePort, runBearerSuite, silentTcpServer } from './bearer-suite.js';

const certs = await makeTestCertificates();
const local = { bearer: sslBearer.id, host: '127.0.0.1', port: 0 };

runBearerSuite('connect.bearer.ssl', () => ({
  bearer: sslBearer,
  listenAddress: () => ({ ...local }),
  listenOptions: { attributes: { ...certs.server } },
  connectOptions: { attributes: { ca: certs.ca.certificate } },
  maxMessageBytes: 64 * 1024,
  deadMessage: /^cannot connect to ssl:\/\/127\.0\.0\.1:\d+: connection refused \(is the server running and listening there\?\)$/,
  deadAddress: async () => ({ ...local, port: await freePort() }),
  silentAddress: async () => {
    const s = await silentTcpServer();
    return { address: { ...local, port: s.port }, close: () => s.close() };
  },
}));

/** An ssl listener whose accepted connections and warnings the test can inspect. */
async function sslServer(attributes: BearerAttributes) {
  const warnings: string[] = [];
  const accepted: Collector[] = [];
  const listener = await sslBearer.listen({ ...local }, (c) => accepted.push(new Collector(c)), {
    attributes,
    onWarning: (m) => warnings.push(m),
  });
  return { listener, warnings, accepted, peer: `127.0.0.1:${listener.address.port}` };
}

async function connectFails(listener: Listener, attributes: BearerAttributes, message: string | RegExp, code = 'CONNECT_FAILED'): Promise<void> {
  await assert.rejects(sslBearer.connect(listener.address, { attributes }), (err: Error & { code?: string }) => {
    assert.equal(err.code, code);
    if (typeof message === 'string') assert.equal(err.message, message);
    else assert.match(err.message, message);
    return true;
  });
}

async function waitFor(check: () => boolean, what: string, ms = 2000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe('connect.bearer.ssl', () => {
  it('is selected by ssl:// and tls:// URLs', () => {
    assert.equal(parseBearerUrl('ssl://127.0.0.1:2003').bearer, sslBearer.id);
    assert.equal(parseBearerUrl('tls://127.0.0.1:2003').bearer, sslBearer.id);
  });

  it('accepts a client certificate signed by the CA when mutual TLS is required', async () => {
    const s = await sslServer({ ...certs.server, ca: certs.ca.certificate, requireClientCertificate: 'true' });
    try {
      const c = new Collector(await sslBearer.connect(s.listener.address, { attributes: { ...certs.client, ca: certs.ca.certificate } }));
      c.connection.send(Buffer.from('authenticated'));
      await waitFor(() => s.accepted[0]?.messages.length === 1, 'the message');
      assert.equal(s.accepted[0].messages[0].toString(), 'authenticated');
      c.connection.close();
      assert.deepEqual(s.warnings, []);
    } finally {
      await s.listener.close();
    }
  });

  it('refuses a client without a certificate when mutual TLS is required, and says so on both sides', async () => {
    const s = await sslServer({ ...certs.server, ca: certs.ca.certificate, requireClientCertificate: 'true' });
    try {
      await connectFails(
        s.listener,
        { ca: certs.ca.certificate },
        `cannot connect to ssl://${s.peer}: the server at ${s.peer} requires a client certificate (mutual TLS); set attributes certificate and key to a certificate signed by a CA the server trusts`,
      );
      await waitFor(() => s.warnings.length === 1, 'the listener warning');
      assert.match(s.warnings[0], /^client 127\.0\.0\.1:\d+ presented no certificate but this listener requires one \(requireClientCertificate\); the client must set attributes certificate and key$/);
      assert.equal(s.accepted.length, 0);
    } finally {
      await s.listener.close();
    }
  });

  it('refuses a client certificate from an unrelated CA, and says so on both sides', async () => {
    const s = await sslServer({ ...certs.server, ca: certs.ca.certificate, requireClientCertificate: 'true' });
    try {
      await connectFails(
        s.listener,
        { ...certs.otherClient, ca: certs.ca.certificate },
        `cannot connect to ssl://${s.peer}: the server closed the connection right after the TLS handshake: it refused our client certificate (mutual TLS); attribute certificate must be signed by a CA the server trusts`,
      );
      await waitFor(() => s.warnings.length === 1, 'the listener warning');
      assert.match(s.warnings[0], new RegExp(`^refused the client certificate of 127\\.0\\.0\\.1:\\d+ \\(mutual TLS\\): it is not signed by the CA in attribute ca \\(${certs.ca.certificate}\\)$`));
    } finally {
      await s.listener.close();
    }
  });

  it('explains a server certificate from an unknown CA', async () => {
    const s = await sslServer({ ...certs.server });
    try {
      const subject = `(subject "CN=localhost", issuer "CN=Peerway Test CA")`;
      await connectFails(
        s.listener,
        {},
        `cannot connect to ssl://${s.peer}: the certificate of ${s.peer} ${subject} is not signed by a trusted CA (only the default root CAs were checked); pass the CA with --ca FILE or attribute ca`,
      );
      await connectFails(
        s.listener,
        { ca: certs.otherCa.certificate },
        `cannot connect to ssl://${s.peer}: the certificate of ${s.peer} ${subject} is not signed by a trusted CA (the CA in ${certs.otherCa.certificate} did not sign it); pass the CA with --ca FILE or attribute ca`,
      );
    } finally {
      await s.listener.close();
    }
  });

  it('explains an expired server certificate', async () => {
    const s = await sslServer({ ...certs.expired });
    try {
      await connectFails(
        s.listener,
        { ca: certs.ca.certificate },
        `cannot connect to ssl://${s.peer}: the certificate of ${s.peer} (subject "CN=localhost", issuer "CN=Peerway Test CA") expired on Jan  1 00:00:00 2021 GMT; the server must install a renewed certificate (or this machine's clock is wrong)`,
      );
    } finally {
      await s.listener.close();
    }
  });

  it('explains a host-name mismatch, and serverName overrides the name checked', async () => {
    const s = await sslServer({ ...certs.wrongHost });
    try {
      await connectFails(
        s.listener,
        { ca: certs.ca.certificate },
        `cannot connect to ssl://${s.peer}: the certificate of ${s.peer} is for DNS:wrong.example, not for "127.0.0.1"; connect with a name the certificate lists, or set attribute serverName to the name it should match`,
      );
      const c = await sslBearer.connect(s.listener.address, { attributes: { ca: certs.ca.certificate, serverName: 'wrong.example' } });
      c.close();
    } finally {
      await s.listener.close();
    }
  });

  it('connects by host name when the certificate lists it', async () => {
    const s = await sslServer({ ...certs.server });
    try {
      const c = await sslBearer.connect({ ...s.listener.address, host: 'localhost' }, { attributes: { ca: certs.ca.certificate } });
      c.close();
    } finally {
      await s.listener.close();
    }
  });

  it('connects without verification when verify=false and warns once per sink', async () => {
    const s = await sslServer({ ...certs.wrongHost });
    try {
      const warnings: string[] = [];
      const options = { attributes: { verify: 'false' }, onWarning: (m: string) => warnings.push(m) } as ConnectOptions;
      (await sslBearer.connect(s.listener.address, options)).close();
      (await sslBearer.connect(s.listener.address, options)).close();
      assert.deepEqual(warnings, [
        'connect.bearer.ssl: attribute verify=false: server certificates are not checked, so anyone on the path can impersonate the server; use it for tests only',
      ]);
    } finally {
      await s.listener.close();
    }
  });

  it('tells an ssl client that it reached a plain tcp port, and the tcp side why it closed', async () => {
    const accepted: Collector[] = [];
    const tcp = await tcpBearer.listen({ bearer: tcpBearer.id, host: '127.0.0.1', port: 0 }, (c) => accepted.push(new Collector(c)));
    try {
      const peer = `127.0.0.1:${tcp.address.port}`;
      await connectFails(
        tcp,
        { ca: certs.ca.certificate },
        `cannot connect to ssl://${peer}: the peer at ${peer} did not answer the TLS handshake: it is probably a plain connect.bearer.tcp port; use tcp://`,
      );
      await waitFor(() => accepted[0]?.closes.length === 1, 'the tcp side close');
      assert.equal(accepted[0].closes[0].error?.code, 'PROTOCOL');
      assert.match(accepted[0].closes[0].reason, /peer started a TLS handshake on a plain connect\.bearer\.tcp port/);
    } finally {
      await tcp.close();
    }
  });

  it('says the handshake went unanswered when a TCP peer stays silent', async () => {
    const silent = await silentTcpServer();
    try {
      const peer = `127.0.0.1:${silent.port}`;
      await assert.rejects(sslBearer.connect({ ...local, port: silent.port }, { attributes: { ca: certs.ca.certificate }, timeoutMs: 200 }), {
        code: 'TIMEOUT',
        message: `the peer at ${peer} accepted TCP but did not answer the TLS handshake within 200 ms: it is probably a plain connect.bearer.tcp port; use tcp://`,
      });
    } finally {
      await silent.close();
    }
  });

  it('closes a plain tcp client on the ssl port at once and reports why', async () => {
    const s = await sslServer({ ...certs.server });
    try {
      const client = await tcpBearer.connect(s.listener.address);
      const c = new Collector(client);
      const started = Date.now();
      c.connection.send(Buffer.from('hello, plainly'));
      // Closed at the first bytes, not after the 10 s handshake timeout.
      await c.until(() => c.closes.length === 1, 'the close', 5000);
      assert.ok(Date.now() - started < 5000);
      await waitFor(() => s.warnings.length === 1, 'the listener warning');
      assert.match(s.warnings[0], /^client 127\.0\.0\.1:\d+ sent bytes that are not TLS to the connect\.bearer\.ssl port, so it was closed: it is probably a connect\.bearer\.tcp client; it must connect with ssl:\/\/$/);
      assert.equal(s.accepted.length, 0);
    } finally {
      await s.listener.close();
    }
  });

  it('ends connections still in their TLS handshake when the listener closes', async () => {
    const s = await sslServer({ ...certs.server });
    const raw = net.connect(s.listener.address.port!, '127.0.0.1');
    raw.on('error', () => undefined);
    await new Promise((resolve) => raw.once('connect', resolve));
    const closed = new Promise((resolve) => raw.once('close', resolve));
    const started = Date.now();
    await s.listener.close();
    await closed;
    assert.ok(Date.now() - started < 5000, 'closed with the listener, not after the 10 s handshake timeout');
  });

  it('names the attribute to set or the file it could not use', async () => {
    const listen = (attributes: BearerAttributes) => sslBearer.listen({ ...local }, () => undefined, { attributes });
    await assert.rejects(listen({}), { code: 'CONFIG_INVALID', message: 'connect.bearer.ssl cannot listen without a certificate: set attribute certificate to a PEM file' });
    await assert.rejects(listen({ certificate: certs.server.certificate }), { code: 'CONFIG_INVALID', message: 'connect.bearer.ssl cannot listen without a key: set attribute key to a PEM file' });
    await assert.rejects(listen({ ...certs.server, ca: '/nonexistent/ca.pem' }), {
      code: 'CONFIG_INVALID',
      message: 'connect.bearer.ssl: cannot read attribute ca (/nonexistent/ca.pem): no such file',
    });
    await assert.rejects(listen({ certificate: certs.server.certificate, key: certs.client.key }), {
      code: 'CONFIG_INVALID',
      message: `connect.bearer.ssl: the key in attribute key (${certs.client.key}) does not belong to the certificate in attribute certificate (${certs.server.certificate})`,
    });
    await assert.rejects(listen({ ...certs.server, requireClientCertificate: 'true' }), {
      code: 'CONFIG_INVALID',
      message: 'connect.bearer.ssl: requireClientCertificate needs attribute ca, the PEM file of the CA that signs client certificates',
    });
    await assert.rejects(listen({ ...certs.server, requireClientCertificate: 'sometimes' }), {
      code: 'CONFIG_INVALID',
      message: 'connect.bearer.ssl: attribute requireClientCertificate must be true or false, got "sometimes"',
    });
    await assert.rejects(sslBearer.connect({ ...local, port: 1 }, { attributes: { certificate: certs.client.certificate } }), {
      code: 'CONFIG_INVALID',
      message: 'connect.bearer.ssl: attribute certificate is set but key is not; a client certificate needs both',
    });
  });
});
