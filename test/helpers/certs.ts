import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

/*
 * The one certificate generator of the repository: the tests use it, and so does the benchmark suite
 * (bench/context.ts, for its ssl scenario and raw TLS baseline, which take `ca` and `server`). Both are
 * development code outside the library, so the generator lives here with the other test helpers and is
 * never shipped in dist/.
 */

const exec = promisify(execFile);

/** Runs openssl; a missing binary is reported as what it is, with the fix. */
async function run(command: string, args: string[]): Promise<void> {
  try {
    await exec(command, args);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
      throw new Error(`${command} is not installed: throw-away test and bench certificates are made with the openssl CLI (install openssl)`, { cause: err });
    }
    throw err;
  }
}

/**
 * A PEM certificate and its private key on disk. The field names are the ssl bearer's attribute names, so
 * `{ ...certs.server, ca: certs.ca.certificate }` is a complete set of server attributes.
 */
export interface CertificateFiles {
  certificate: string;
  key: string;
}

/** Test certificates generated with the `openssl` CLI. Every leaf is a P-256 key signed by `ca` unless said otherwise. */
export interface TestCertificates {
  /** Directory holding every file. */
  dir: string;
  /** The trusted test CA. */
  ca: CertificateFiles;
  /** A second CA that signed nothing the servers trust: for "unknown CA" cases. */
  otherCa: CertificateFiles;
  /** Server certificate for `localhost`, `127.0.0.1` and `::1`. */
  server: CertificateFiles;
  /** Client certificate (extended key usage clientAuth) for mutual TLS. */
  client: CertificateFiles;
  /** Client certificate signed by `otherCa`: a server trusting only `ca` refuses it. */
  otherClient: CertificateFiles;
  /** Server certificate for `localhost`/`127.0.0.1` whose validity ended in 2021. */
  expired: CertificateFiles;
  /** Server certificate for `wrong.example` only (host-name mismatch on 127.0.0.1). */
  wrongHost: CertificateFiles;
  /** Server certificate for `localhost`/`127.0.0.1` that ends 5 days and 1 hour after generation. */
  expiringSoon: CertificateFiles;
  /** Server certificate for `localhost`/`127.0.0.1` whose validity starts 30 days after generation. */
  notYetValid: CertificateFiles;
}

const cache = new Map<string, Promise<TestCertificates>>();
let ownDir: string | undefined;

/**
 * Generates the test certificates into `dir` (a fresh temp dir, removed at process exit, when omitted).
 * Generation runs once per directory per process; later calls share the result. Keys never leave the temp
 * dir, so nothing secret ends up in the repository.
 */
export function makeTestCertificates(dir?: string): Promise<TestCertificates> {
  if (dir === undefined) {
    if (!ownDir) {
      ownDir = mkdtempSync(join(tmpdir(), 'peerway-certs-'));
      const remove = ownDir;
      process.once('exit', () => rmSync(remove, { recursive: true, force: true }));
    }
    dir = ownDir;
  }
  let pending = cache.get(dir);
  if (!pending) {
    pending = generate(dir);
    cache.set(dir, pending);
  }
  return pending;
}

async function generate(dir: string): Promise<TestCertificates> {
  await mkdir(join(dir, 'newcerts'), { recursive: true });
  // Our own minimal configs, so the system openssl.cnf cannot add or change extensions.
  await writeFile(
    join(dir, 'req.cnf'),
    [
      '[ req ]',
      'distinguished_name = dn',
      '[ dn ]',
      '[ ca_ext ]',
      'basicConstraints = critical, CA:TRUE',
      'keyUsage = critical, keyCertSign, cRLSign',
      'subjectKeyIdentifier = hash',
      '',
    ].join('\n'),
  );
  await writeFile(
    join(dir, 'ext.cnf'),
    [
      '[ server_ext ]',
      'basicConstraints = CA:FALSE',
      'keyUsage = critical, digitalSignature, keyEncipherment',
      'extendedKeyUsage = serverAuth',
      'subjectAltName = DNS:localhost, IP:127.0.0.1, IP:::1',
      '[ client_ext ]',
      'basicConstraints = CA:FALSE',
      'keyUsage = critical, digitalSignature',
      'extendedKeyUsage = clientAuth',
      '[ wrong_host_ext ]',
      'basicConstraints = CA:FALSE',
      'keyUsage = critical, digitalSignature, keyEncipherment',
      'extendedKeyUsage = serverAuth',
      'subjectAltName = DNS:wrong.example',
      '',
    ].join('\n'),
  );
  const [ca, otherCa] = await Promise.all([makeCa(dir, 'ca', 'Peerway Test CA'), makeCa(dir, 'other-ca', 'Unrelated Test CA')]);
  const now = Date.now();
  const valid = { start: now - 86_400_000, end: now + 10 * 365 * 86_400_000 };
  // Leaves signed by the same CA share its `openssl ca` database, so they are signed one after another.
  const server = await makeLeaf(dir, 'server', 'localhost', ca, 'server_ext', valid);
  const client = await makeLeaf(dir, 'client', 'peerway-test-client', ca, 'client_ext', valid);
  const expired = await makeLeaf(dir, 'expired', 'localhost', ca, 'server_ext', {
    start: Date.UTC(2020, 0, 1),
    end: Date.UTC(2021, 0, 1),
  });
  const wrongHost = await makeLeaf(dir, 'wrong-host', 'wrong.example', ca, 'wrong_host_ext', valid);
  const expiringSoon = await makeLeaf(dir, 'expiring-soon', 'localhost', ca, 'server_ext', {
    start: now - 86_400_000,
    end: now + 5 * 86_400_000 + 3_600_000,
  });
  const notYetValid = await makeLeaf(dir, 'not-yet-valid', 'localhost', ca, 'server_ext', {
    start: now + 30 * 86_400_000,
    end: now + 365 * 86_400_000,
  });
  const otherClient = await makeLeaf(dir, 'other-client', 'unrelated-client', otherCa, 'client_ext', valid);
  return { dir, ca, otherCa, server, client, otherClient, expired, wrongHost, expiringSoon, notYetValid };
}

async function makeKey(path: string): Promise<void> {
  await run('openssl', ['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', path]);
}

async function makeCa(dir: string, name: string, commonName: string): Promise<CertificateFiles> {
  const key = join(dir, `${name}.key`);
  const certificate = join(dir, `${name}.pem`);
  await makeKey(key);
  await run('openssl', [
    'req', '-x509', '-new', '-config', join(dir, 'req.cnf'), '-key', key, '-out', certificate,
    '-subj', `/CN=${commonName}`, '-days', '3650', '-extensions', 'ca_ext',
  ]);
  // `openssl ca` needs a database per CA; its config is written next to the CA.
  await writeFile(join(dir, `${name}.db`), '');
  await writeFile(join(dir, `${name}.srl`), '1000\n');
  await writeFile(
    join(dir, `${name}.cnf`),
    [
      '[ ca ]',
      'default_ca = test_ca',
      '[ test_ca ]',
      `database = ${join(dir, `${name}.db`)}`,
      `new_certs_dir = ${join(dir, 'newcerts')}`,
      `serial = ${join(dir, `${name}.srl`)}`,
      'default_md = sha256',
      'policy = policy_any',
      'unique_subject = no',
      'copy_extensions = none',
      '[ policy_any ]',
      'commonName = supplied',
      '',
    ].join('\n'),
  );
  return { certificate, key };
}

async function makeLeaf(
  dir: string,
  name: string,
  commonName: string,
  ca: CertificateFiles,
  extensions: string,
  validity: { start: number; end: number },
): Promise<CertificateFiles> {
  const key = join(dir, `${name}.key`);
  const csr = join(dir, `${name}.csr`);
  const certificate = join(dir, `${name}.pem`);
  await makeKey(key);
  await run('openssl', ['req', '-new', '-config', join(dir, 'req.cnf'), '-key', key, '-out', csr, '-subj', `/CN=${commonName}`]);
  // `openssl ca` (not `x509 -req`) because OpenSSL 3.0 can only set a start date in the past this way.
  await run('openssl', [
    'ca', '-batch', '-notext', '-config', ca.certificate.replace(/\.pem$/, '.cnf'),
    '-cert', ca.certificate, '-keyfile', ca.key, '-in', csr, '-out', certificate,
    '-startdate', asn1Time(validity.start), '-enddate', asn1Time(validity.end),
    '-extfile', join(dir, 'ext.cnf'), '-extensions', extensions,
  ]);
  return { certificate, key };
}

/** `YYYYMMDDHHMMSSZ`, the GeneralizedTime form `openssl ca -startdate/-enddate` accepts. */
function asn1Time(ms: number): string {
  return new Date(ms).toISOString().replace(/[-:T]/g, '').replace(/\.\d+Z$/, 'Z');
}
