import { execFile } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { PeerwayError } from '../errors.js';

const exec = promisify(execFile);

/** Runs openssl; a missing binary is reported as what it is, with the fix. */
async function run(command: string, args: string[]): Promise<void> {
  try {
    await exec(command, args);
  } catch (err) {
    const e = err as NodeJS.ErrnoException & { stderr?: string };
    if (e.code === 'ENOENT') throw new PeerwayError('CONFIG_INVALID', 'openssl is not installed: the ssl scenario makes a throw-away certificate with the openssl CLI (install openssl, or leave ssl out with --only)');
    throw new PeerwayError('INTERNAL', `openssl ${args[0]} failed: ${e.stderr?.trim() || e.message}`, { cause: err });
  }
}

/** Paths of a throw-away CA and a server certificate for `localhost` / 127.0.0.1 signed by it. */
export interface BenchCertificates {
  ca: string;
  certificate: string;
  key: string;
}

/**
 * Generates a CA and a server certificate with the `openssl` CLI into `dir` (the bench's temp dir, removed
 * when the bench ends): the same kind of P-256 keys test/helpers/certs.ts makes, minus its error cases.
 * Throws with the openssl output when openssl is missing or fails.
 */
export async function makeBenchCertificates(dir: string): Promise<BenchCertificates> {
  const p = (name: string) => path.join(dir, name);
  // Our own config, so the system openssl.cnf cannot add or change extensions.
  await writeFile(
    p('openssl.cnf'),
    [
      '[ req ]',
      'distinguished_name = dn',
      '[ dn ]',
      '[ ca_ext ]',
      'basicConstraints = critical, CA:TRUE',
      'keyUsage = critical, keyCertSign, cRLSign',
      '[ server_ext ]',
      'basicConstraints = CA:FALSE',
      'keyUsage = critical, digitalSignature, keyEncipherment',
      'extendedKeyUsage = serverAuth',
      'subjectAltName = DNS:localhost, IP:127.0.0.1',
      '',
    ].join('\n'),
  );
  const cnf = p('openssl.cnf');
  const ec = ['-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256'];
  await run('openssl', ['genpkey', ...ec, '-out', p('ca.key')]);
  await run('openssl', ['req', '-x509', '-new', '-config', cnf, '-key', p('ca.key'), '-out', p('ca.pem'), '-subj', '/CN=Peerway Bench CA', '-days', '2', '-extensions', 'ca_ext']);
  await run('openssl', ['genpkey', ...ec, '-out', p('server.key')]);
  await run('openssl', ['req', '-new', '-config', cnf, '-key', p('server.key'), '-out', p('server.csr'), '-subj', '/CN=localhost']);
  await run('openssl', [
    'x509', '-req', '-in', p('server.csr'), '-CA', p('ca.pem'), '-CAkey', p('ca.key'), '-set_serial', '1',
    '-out', p('server.pem'), '-days', '2', '-extfile', cnf, '-extensions', 'server_ext',
  ]);
  return { ca: p('ca.pem'), certificate: p('server.pem'), key: p('server.key') };
}
