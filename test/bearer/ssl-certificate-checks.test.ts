import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import type { BearerAddress, BearerAttributes } from '../../src/bearer/bearer.js';
import { sslBearer } from '../../src/bearer/ssl.js';
import { makeTestCertificates } from '../helpers/certs.js';

const certs = await makeTestCertificates();

/** Listens (and closes again) with `attributes`; returns the warnings reported while starting. */
async function startupWarnings(attributes: BearerAttributes, host: string | undefined = '127.0.0.1'): Promise<string[]> {
  const warnings: string[] = [];
  const address: BearerAddress = { bearer: sslBearer.id, port: 0, ...(host === undefined ? {} : { host }) };
  const listener = await sslBearer.listen(address, () => {}, { attributes, onWarning: (m) => warnings.push(m) });
  try {
    assert.ok(listener.address.port && listener.address.port > 0, 'a certificate problem is a warning: the listener still starts');
  } finally {
    await listener.close();
  }
  return warnings;
}

/** `2021-01-01 00:00:00 UTC`: the certificate's end (or start) date as the warnings print it. */
function certificateDate(file: string, which: 'validFrom' | 'validTo'): string {
  const cert = new X509Certificate(readFileSync(file));
  return `${new Date(cert[which]).toISOString().slice(0, 19).replace('T', ' ')} UTC`;
}

const SSL = 'connect.bearer.ssl';

describe('connect.bearer.ssl checks its certificate when it starts listening', () => {
  it('says nothing about a sound certificate for the host it listens on', async () => {
    assert.deepEqual(await startupWarnings({ ...certs.server }, '127.0.0.1'), []);
    assert.deepEqual(await startupWarnings({ ...certs.server }, 'localhost'), []);
    assert.deepEqual(await startupWarnings({ ...certs.server }, undefined), [], 'the default host 127.0.0.1 is listed too');
  });

  it('warns that an expired certificate will be refused, naming the file, the subject, the date and the fix', async () => {
    assert.deepEqual(await startupWarnings({ ...certs.expired }), [
      `${SSL}: the certificate ${certs.expired.certificate} (subject "CN=localhost") expired on 2021-01-01 00:00:00 UTC; ` +
        `clients will refuse it: install a renewed certificate (or correct this machine's clock)`,
    ]);
  });

  it('warns that a certificate is not valid yet', async () => {
    const from = certificateDate(certs.notYetValid.certificate, 'validFrom');
    assert.deepEqual(await startupWarnings({ ...certs.notYetValid }), [
      `${SSL}: the certificate ${certs.notYetValid.certificate} (subject "CN=localhost") is not valid before ${from}; ` +
        `clients will refuse it until then: check this machine's clock, or issue a certificate valid from now`,
    ]);
  });

  it('warns when the certificate expires within 14 days', async () => {
    const to = certificateDate(certs.expiringSoon.certificate, 'validTo');
    assert.deepEqual(await startupWarnings({ ...certs.expiringSoon }), [
      `${SSL}: the certificate ${certs.expiringSoon.certificate} (subject "CN=localhost") expires on ${to}, in 5 days; ` +
        `renew it before then, or clients will refuse it`,
    ]);
  });

  it('warns when the certificate is not for the IP address or host name the listener was given', async () => {
    const wrong = (host: string) =>
      `${SSL}: the certificate ${certs.wrongHost.certificate} (subject "CN=wrong.example") is for DNS:wrong.example, not for "${host}", ` +
      `the address this listener was given; clients dialling ${host} will refuse it: ` +
      `use a certificate that lists ${host} in its subjectAltName, or have clients set attribute serverName to a name it lists`;
    assert.deepEqual(await startupWarnings({ ...certs.wrongHost }, '127.0.0.1'), [wrong('127.0.0.1')]);
    assert.deepEqual(await startupWarnings({ ...certs.wrongHost }, 'localhost'), [wrong('localhost')]);
  });

  it('does not check names when listening on every address', async () => {
    assert.deepEqual(await startupWarnings({ ...certs.wrongHost }, '0.0.0.0'), []);
  });

  it('reports to process warnings when the listener has no warning sink', async () => {
    const seen: Array<{ message: string; code?: string }> = [];
    const onWarning = (w: Error & { code?: string }) => seen.push({ message: w.message, code: w.code });
    process.on('warning', onWarning);
    try {
      const listener = await sslBearer.listen({ bearer: sslBearer.id, host: '127.0.0.1', port: 0 }, () => {}, { attributes: { ...certs.expired } });
      await listener.close();
      await new Promise((resolve) => setImmediate(resolve)); // process warnings are emitted on a later tick
    } finally {
      process.off('warning', onWarning);
    }
    assert.deepEqual(seen, [
      {
        message:
          `${SSL}: the certificate ${certs.expired.certificate} (subject "CN=localhost") expired on 2021-01-01 00:00:00 UTC; ` +
          `clients will refuse it: install a renewed certificate (or correct this machine's clock)`,
        code: 'PEERWAY_TLS_CERTIFICATE',
      },
    ]);
  });
});
