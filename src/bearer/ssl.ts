import { X509Certificate } from 'node:crypto';
import net from 'node:net';
import tls from 'node:tls';
import { readFile } from 'node:fs/promises';
import { PeerwayError } from '../errors.js';
import type { Bearer, BearerAddress, BearerAttributes, BearerOptions, ConnectOptions, Listener, MessageConnection } from './bearer.js';
import { SlabReader } from './slab-reader.js';
import { StreamConnection } from './stream-connection.js';
import { connectSocket, listenSocketServer } from './socket-helpers.js';
import { formatHost } from './tcp.js';

const SSL_ID = 'connect.bearer.ssl';
/** A client that opens TCP and never finishes the handshake is dropped after this long. */
const HANDSHAKE_TIMEOUT_MS = 10_000;
/**
 * In TLS 1.3 the client finishes its handshake before the server has checked the client certificate, so a
 * refusal arrives just after `secureConnect`. A Node server sends session tickets at once when it accepts;
 * waiting (at most this long) for them, or for the refusal, makes connect() report mutual-TLS failures.
 */
const TLS13_SETTLE_MS = 500;
/** A listener's certificate expiring within this long is worth a warning at start-up. */
const EXPIRY_WARNING_MS = 14 * 86_400_000;

interface SslConfig {
  files: Partial<Record<'certificate' | 'key' | 'ca', { path: string; pem: Buffer }>>;
  passphrase?: string;
  verify: boolean;
  serverName?: string;
  requireClientCertificate: boolean;
}

/**
 * `connect.bearer.ssl` (schemes `ssl`, `tls`): the tcp bearer's framing inside TLS 1.2/1.3.
 * Attributes: certificate, key, ca (PEM file paths), passphrase, verify, serverName, requireClientCertificate.
 * Every TLS failure is a PeerwayError whose message names the problem and the attribute that fixes it.
 */
export const sslBearer: Bearer = {
  id: SSL_ID,
  schemes: ['ssl', 'tls'],
  reliable: true,
  attributes: ['certificate', 'key', 'ca', 'passphrase', 'verify', 'serverName', 'requireClientCertificate'],
  attributeKinds: { certificate: 'pem', key: 'pem', ca: 'pem', verify: 'boolean', requireClientCertificate: 'boolean' },
  listenerNeeds: ['certificate', 'key'],
  listenerHelp:
    'an ssl link listens with a certificate and its key, and this runner has none: ' +
    'pass --link-cert FILE --link-key FILE, or add <attribute name="certificate" value="FILE"/> and <attribute name="key" value="FILE"/> ' +
    `to the ${SSL_ID} <connectionadapter> of --config (in code: the runner's adapters["${SSL_ID}"].certificate and .key)`,
  // A client needs at least the CA to verify a service, so it offers ssl only once it has an adapter for it.
  offer: 'when-configured',
  howToConfigure:
    'Configure a connect.bearer.ssl connection adapter on the client: ' +
    "on the command line pass --ca FILE (the CA that signed the service's certificate; add --cert FILE --key FILE if the service requires a client certificate); " +
    'or in a file given with --config add <connectionadapter type="connect.bearer.ssl"><attribute name="ca" value="FILE"/></connectionadapter>; ' +
    'or in code connect(url, { adapters: { "connect.bearer.ssl": { ca: "FILE" } } })',

  async listen(address: BearerAddress, onConnection: (c: MessageConnection) => void, options: BearerOptions = {}): Promise<Listener> {
    const config = await loadConfig(options.attributes ?? {});
    const { certificate, key, ca } = config.files;
    for (const [name, file] of [['certificate', certificate], ['key', key]] as const) {
      if (!file) throw new PeerwayError('CONFIG_INVALID', `${SSL_ID} cannot listen without a ${name}: set attribute ${name} to a PEM file`);
    }
    if (config.requireClientCertificate && !ca) {
      throw new PeerwayError('CONFIG_INVALID', `${SSL_ID}: requireClientCertificate needs attribute ca, the PEM file of the CA that signs client certificates`);
    }
    if (certificate) {
      for (const warning of certificateWarnings(certificate, address.host ?? '127.0.0.1', Date.now())) warnCertificate(options.onWarning, warning);
    }
    const server = tls.createServer({
      ...contextOptions(config),
      // With a CA to check them against, client certificates are asked for (a verified one names a policy
      // identity) but only required with requireClientCertificate.
      requestCert: config.requireClientCertificate || ca !== undefined,
      rejectUnauthorized: config.requireClientCertificate,
      handshakeTimeout: HANDSHAKE_TIMEOUT_MS,
    });
    // Sockets still in their handshake are not tracked by listenSocketServer; close() must end them too.
    const raw = new Set<net.Socket>();
    const remotes = new WeakMap<net.Socket, string>();
    server.on('connection', (s: net.Socket) => {
      raw.add(s);
      remotes.set(s, `${s.remoteAddress}:${s.remotePort}`);
      s.once('close', () => raw.delete(s));
    });
    server.on('tlsClientError', (err: NodeJS.ErrnoException, socket: tls.TLSSocket) => {
      // A refused socket is already destroyed and has forgotten its peer; the raw TCP socket under it
      // (Node's `_parent`) was recorded by the 'connection' handler above.
      const parent = (socket as tls.TLSSocket & { _parent?: net.Socket })._parent;
      const remote = (parent && remotes.get(parent)) ?? `${socket.remoteAddress ?? 'unknown'}:${socket.remotePort ?? '?'}`;
      const error = describeRefusedClient(err, socket, remote, config);
      options.onWarning?.(error.message, error);
    });
    const listener = await listenSocketServer(
      server,
      { port: address.port ?? 0, host: address.host ?? '127.0.0.1' },
      (socket) => {
        onConnection(new StreamConnection(SSL_ID, socket, `${socket.remoteAddress}:${socket.remotePort}`, options.maxMessageBytes, false));
      },
      (bound) => ({ bearer: SSL_ID, host: bound.host, port: bound.port }),
      'secureConnection',
    );
    return {
      address: listener.address,
      close: () => {
        for (const s of raw) s.destroy();
        return listener.close();
      },
    };
  },

  async connect(address: BearerAddress, options: ConnectOptions = {}): Promise<MessageConnection> {
    const config = await loadConfig(options.attributes ?? {});
    if (!!config.files.certificate !== !!config.files.key) {
      const [set, missing] = config.files.certificate ? ['certificate', 'key'] : ['key', 'certificate'];
      throw new PeerwayError('CONFIG_INVALID', `${SSL_ID}: attribute ${set} is set but ${missing} is not; a client certificate needs both`);
    }
    const host = address.host ?? '127.0.0.1';
    const port = address.port ?? 2002;
    const peer = `${formatHost(host)}:${port}`;
    const expectedName = config.serverName ?? host;
    const started = Date.now();
    const timeoutMs = options.timeoutMs ?? 10_000;
    let tcpConnected = false;
    const describe = (err: NodeJS.ErrnoException) => describeHandshakeFailure(err, peer, config);
    const reader = new SlabReader();
    const socket = await connectSocket(
      () => {
        // `onread` works for TLS sockets too (tls.connect passes socket.connect options on), but the typings
        // do not list it; the bearer suite (run by test/bearer/ssl.test.ts) fails if it stops working.
        const s = tls.connect(<tls.ConnectionOptions>{
          host,
          port,
          onread: reader.onread,
          ...contextOptions(config),
          // SNI must be a DNS name (RFC 6066); an IP is still checked against the certificate below.
          servername: net.isIP(expectedName) ? undefined : expectedName,
          // Verification is done by hand after the handshake, where the peer certificate can be described.
          rejectUnauthorized: false,
          checkServerIdentity: (_host, cert) => tls.checkServerIdentity(expectedName, cert),
        });
        s.once('connect', () => (tcpConnected = true));
        return s;
      },
      'secureConnect',
      `ssl://${peer}`,
      options,
      describe,
    ).catch((err: unknown) => {
      if (err instanceof PeerwayError && err.code === 'TIMEOUT' && tcpConnected) {
        throw new PeerwayError(
          'TIMEOUT',
          `the peer at ${peer} accepted TCP but did not answer the TLS handshake within ${timeoutMs} ms: it is probably a plain connect.bearer.tcp port; use tcp://`,
        );
      }
      throw err;
    });
    if (!socket.authorized) {
      if (config.verify) {
        const error = describeUntrustedServer(socket, peer, expectedName, config);
        socket.destroy();
        throw error;
      }
      warnVerifyOff(options.onWarning);
    }
    if (socket.getProtocol() === 'TLSv1.3') {
      await settle(socket, Math.min(TLS13_SETTLE_MS, Math.max(0, timeoutMs - (Date.now() - started))), options.signal, peer, describe);
    }
    return new StreamConnection(SSL_ID, socket, peer, options.maxMessageBytes, false, reader);
  },
};

/** Resolves once the server shows it accepted us (session ticket) or the grace period ends; rejects on a refusal. */
function settle(socket: tls.TLSSocket, ms: number, signal: AbortSignal | undefined, peer: string, describe: (err: NodeJS.ErrnoException) => string | undefined): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    let settled = false;
    const finish = (err?: PeerwayError) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.off('session', onSession).off('error', onError).off('close', onClose);
      signal?.removeEventListener('abort', onAbort);
      if (err) {
        socket.destroy();
        reject(err);
      } else resolve();
    };
    // 'session' fires from inside OpenSSL's read; writing before that unwinds corrupts the TLS stream
    // (bad record MAC), so the caller gets the connection on a later turn of the event loop.
    const onSession = () => setImmediate(() => finish());
    const onError = (err: NodeJS.ErrnoException) => finish(new PeerwayError('CONNECT_FAILED', `cannot connect to ssl://${peer}: ${describe(err) ?? err.message}`, { cause: err, details: { code: err.code } }));
    const onClose = () =>
      finish(
        new PeerwayError(
          'CONNECT_FAILED',
          `cannot connect to ssl://${peer}: the server closed the connection right after the TLS handshake: it refused our client certificate (mutual TLS); attribute certificate must be signed by a CA the server trusts`,
        ),
      );
    const onAbort = () => finish(new PeerwayError('ABORTED', `connecting to ssl://${peer} was aborted`));
    const timer = setTimeout(() => finish(), ms);
    socket.on('session', onSession).on('error', onError).on('close', onClose);
    signal?.addEventListener('abort', onAbort, { once: true });
    if (signal?.aborted) onAbort();
  });
}

const UNTRUSTED_CA = new Set([
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'CERT_UNTRUSTED',
  'CERT_SIGNATURE_FAILURE',
]);

/** The server certificate failed verification: say which check failed, on what certificate, and the fix. */
function describeUntrustedServer(socket: tls.TLSSocket, peer: string, expectedName: string, config: SslConfig): PeerwayError {
  const code = String(socket.authorizationError ?? 'UNKNOWN');
  const cert = socket.getPeerCertificate();
  const subject = cert.subject ? ` (subject "${dn(cert.subject)}", issuer "${dn(cert.issuer)}")` : '';
  // permanent: the same certificate will not verify on the next try (a runner stops instead of retrying).
  const details = { tlsError: code, subject: cert.subject ? dn(cert.subject) : undefined, permanent: true };
  let why: string;
  if (UNTRUSTED_CA.has(code)) {
    const selfSigned = code === 'DEPTH_ZERO_SELF_SIGNED_CERT' ? ', it is self-signed' : '';
    const caNote = config.files.ca ? ` (the CA in ${config.files.ca.path} did not sign it)` : ' (only the default root CAs were checked)';
    why = `the certificate of ${peer}${subject} is not signed by a trusted CA${selfSigned}${caNote}; pass the CA with --ca FILE or attribute ca`;
  } else if (code === 'CERT_HAS_EXPIRED') {
    why = `the certificate of ${peer}${subject} expired on ${cert.valid_to}; the server must install a renewed certificate (or this machine's clock is wrong)`;
  } else if (code === 'CERT_NOT_YET_VALID') {
    why = `the certificate of ${peer}${subject} is not valid before ${cert.valid_from}; check the clocks of both machines`;
  } else if (code === 'ERR_TLS_CERT_ALTNAME_INVALID') {
    const cn = cert.subject?.CN;
    const names = cert.subjectaltname || (cn ? `CN=${Array.isArray(cn) ? cn.join(', ') : cn}` : 'no names');
    why = `the certificate of ${peer} is for ${names}, not for "${expectedName}"; connect with a name the certificate lists, or set attribute serverName to the name it should match`;
  } else {
    why = `the certificate of ${peer}${subject} was refused (${code}); pass the right CA with --ca FILE or attribute ca`;
  }
  return new PeerwayError('CONNECT_FAILED', `cannot connect to ssl://${peer}: ${why}`, { details });
}

/**
 * Client-side handshake errors (before or just after secureConnect) → the reason text; undefined for plain
 * socket errors (refused, unreachable), which connectSocket already words well.
 */
function describeHandshakeFailure(err: NodeJS.ErrnoException, peer: string, config: SslConfig): string | undefined {
  const code = err.code ?? '';
  const ourCert = config.files.certificate;
  if (code === 'ECONNRESET' || code === 'EPIPE' || code === 'ERR_SSL_WRONG_VERSION_NUMBER' || code === 'ERR_SSL_PACKET_LENGTH_TOO_LONG') {
    const maybeMtls = ourCert && (code === 'ECONNRESET' || code === 'EPIPE') ? ' (or a TLS 1.2 server that refused our client certificate)' : '';
    return `the peer at ${peer} did not answer the TLS handshake: it is probably a plain connect.bearer.tcp port${maybeMtls}; use tcp://`;
  }
  if (code === 'ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED' || (code === 'ERR_SSL_SSLV3_ALERT_HANDSHAKE_FAILURE' && !ourCert)) {
    return `the server at ${peer} requires a client certificate (mutual TLS); set attributes certificate and key to a certificate signed by a CA the server trusts`;
  }
  if (ourCert && /ALERT_(UNKNOWN_CA|BAD_CERTIFICATE|CERTIFICATE_EXPIRED|CERTIFICATE_REVOKED|UNSUPPORTED_CERTIFICATE|CERTIFICATE_UNKNOWN|ACCESS_DENIED|DECRYPT_ERROR)/.test(code)) {
    return `the server at ${peer} refused our client certificate ${ourCert.path} (mutual TLS, ${code}); it must be signed by a CA the server trusts (its attribute ca) and be valid now`;
  }
  if (/PROTOCOL_VERSION|UNSUPPORTED_PROTOCOL/.test(code)) {
    return `the server at ${peer} and this client share no TLS version (Peerway speaks TLS 1.2 and 1.3)`;
  }
  if (code.startsWith('ERR_SSL') || code.startsWith('ERR_TLS')) return `TLS handshake with ${peer} failed: ${err.message.split('\n')[0]}`;
  return undefined;
}

/** A listener's refused handshake, for `onWarning`: who, why, and what the client must change. */
function describeRefusedClient(err: NodeJS.ErrnoException, socket: tls.TLSSocket, remote: string, config: SslConfig): PeerwayError {
  const code = err.code ?? '';
  const details = { remote, tlsError: code };
  if (/WRONG_VERSION_NUMBER|HTTP_REQUEST|HTTPS_PROXY_REQUEST|PACKET_LENGTH_TOO_LONG|RECORD_LAYER_FAILURE|UNEXPECTED_RECORD/.test(code)) {
    const what = code.includes('HTTP') ? 'a plain HTTP request' : 'bytes that are not TLS';
    return new PeerwayError('PROTOCOL', `client ${remote} sent ${what} to the ${SSL_ID} port, so it was closed: it is probably a connect.bearer.tcp client; it must connect with ssl://`, { details });
  }
  if (code === 'ERR_SSL_PEER_DID_NOT_RETURN_A_CERTIFICATE') {
    return new PeerwayError('CONNECT_FAILED', `client ${remote} presented no certificate but this listener requires one (requireClientCertificate); the client must set attributes certificate and key`, { details });
  }
  if (code === 'ERR_TLS_HANDSHAKE_TIMEOUT') {
    return new PeerwayError('TIMEOUT', `client ${remote} did not complete the TLS handshake within ${HANDSHAKE_TIMEOUT_MS} ms, so it was closed`, { details });
  }
  const refused = socket.authorizationError ? String(socket.authorizationError) : undefined;
  if (refused) {
    const why = UNTRUSTED_CA.has(refused)
      ? `it is not signed by the CA in attribute ca (${config.files.ca?.path})`
      : refused === 'CERT_HAS_EXPIRED' ? 'it has expired' : refused;
    return new PeerwayError('CONNECT_FAILED', `refused the client certificate of ${remote} (mutual TLS): ${why}`, { details: { ...details, tlsError: refused } });
  }
  if (code === 'ECONNRESET') {
    // A client that does not trust our certificate (unknown CA, expired, another name) hangs up mid-handshake.
    return new PeerwayError('CONNECT_FAILED', `client ${remote} hung up during the TLS handshake: it probably refused this listener's certificate (a CA it does not trust, expired, or not for the name it dialled); its own error says which`, { details });
  }
  return new PeerwayError('CONNECT_FAILED', `TLS handshake with client ${remote} failed: ${err.message.split('\n')[0]}`, { details });
}

/** `2021-01-01 00:00:00 UTC` from X509Certificate's `Jan  1 00:00:00 2021 GMT`. */
function certificateDate(text: string): string {
  const date = new Date(text);
  return Number.isNaN(date.getTime()) ? text : date.toISOString().replace('T', ' ').replace(/\.\d+Z$/, ' UTC');
}

/** 0.0.0.0, ::, [::] and other spellings of "every address": no host name to check the certificate against. */
function isUnspecifiedHost(host: string): boolean {
  return host === '' || host === '0.0.0.0' || /^[:0]+$/.test(host);
}

/**
 * What is wrong with a listener's certificate that clients will refuse it for: outside its validity
 * dates (or close to the end of them), or not issued for the host the listener was given. One message per
 * problem, naming the file, the subject, the dates or names, and the fix; none for a sound certificate.
 * A listener on every address (0.0.0.0, ::) is not checked for names: which one clients dial is unknown.
 */
function certificateWarnings(file: { path: string; pem: Buffer }, listenHost: string, now: number): string[] {
  let cert: X509Certificate;
  try {
    cert = new X509Certificate(file.pem);
  } catch {
    return []; // createSecureContext accepted it; nothing more can be said
  }
  const what = `${SSL_ID}: the certificate ${file.path} (subject "${cert.subject.replace(/\n/g, ', ')}")`;
  const warnings: string[] = [];
  const validFrom = new Date(cert.validFrom).getTime();
  const validTo = new Date(cert.validTo).getTime();
  if (now < validFrom) {
    warnings.push(
      `${what} is not valid before ${certificateDate(cert.validFrom)}; clients will refuse it until then: check this machine's clock, or issue a certificate valid from now`,
    );
  } else if (now > validTo) {
    warnings.push(`${what} expired on ${certificateDate(cert.validTo)}; clients will refuse it: install a renewed certificate (or correct this machine's clock)`);
  } else if (validTo - now < EXPIRY_WARNING_MS) {
    const days = Math.floor((validTo - now) / 86_400_000);
    const when = days === 0 ? 'within a day' : `in ${days} day${days === 1 ? '' : 's'}`;
    warnings.push(`${what} expires on ${certificateDate(cert.validTo)}, ${when}; renew it before then, or clients will refuse it`);
  }
  const host = listenHost.replace(/^\[(.*)\]$/, '$1');
  if (!isUnspecifiedHost(host)) {
    const covered = net.isIP(host) ? cert.checkIP(host) : cert.checkHost(host);
    if (covered === undefined) {
      const names = cert.subjectAltName ?? 'no subjectAltName';
      warnings.push(
        `${what} is for ${names}, not for "${host}", the address this listener was given; clients dialling ${host} will refuse it: ` +
          `use a certificate that lists ${host} in its subjectAltName, or have clients set attribute serverName to a name it lists`,
      );
    }
  }
  return warnings;
}

/** A listener's certificate problem, to the listener's warning sink (the server and runner log them). */
function warnCertificate(onWarning: BearerOptions['onWarning'], message: string): void {
  if (onWarning) onWarning(message);
  else process.emitWarning(message, { code: 'PEERWAY_TLS_CERTIFICATE' });
}

const warnedSinks = new WeakSet<object>();
let warnedProcess = false;

/** Disabling verification is a test-only setting: say so once per warning sink, never per connection. */
function warnVerifyOff(onWarning: ConnectOptions['onWarning']): void {
  const message = `${SSL_ID}: attribute verify=false: server certificates are not checked, so anyone on the path can impersonate the server; use it for tests only`;
  if (onWarning) {
    if (warnedSinks.has(onWarning)) return;
    warnedSinks.add(onWarning);
    onWarning(message);
  } else if (!warnedProcess) {
    warnedProcess = true;
    process.emitWarning(message, { code: 'PEERWAY_TLS_VERIFY_OFF' });
  }
}

function contextOptions(config: SslConfig): tls.SecureContextOptions {
  const { certificate, key, ca } = config.files;
  return { cert: certificate?.pem, key: key?.pem, ca: ca?.pem, passphrase: config.passphrase, minVersion: 'TLSv1.2' };
}

/** Reads and checks the attributes up front, so a bad file or key fails with a CONFIG_INVALID that names it. */
async function loadConfig(attributes: BearerAttributes): Promise<SslConfig> {
  const config: SslConfig = {
    files: {},
    passphrase: attributes.passphrase,
    verify: parseBoolean(attributes, 'verify', true),
    serverName: attributes.serverName || undefined,
    requireClientCertificate: parseBoolean(attributes, 'requireClientCertificate', false),
  };
  for (const name of ['certificate', 'key', 'ca'] as const) {
    const path = attributes[name];
    if (!path) continue;
    const pem = await readFile(path).catch((err: NodeJS.ErrnoException) => {
      throw new PeerwayError('CONFIG_INVALID', `${SSL_ID}: cannot read attribute ${name} (${path}): ${err.code === 'ENOENT' ? 'no such file' : err.message}`, { cause: err });
    });
    if (!pem.includes('-----BEGIN')) {
      throw new PeerwayError('CONFIG_INVALID', `${SSL_ID}: attribute ${name} (${path}) is not a PEM file (no "-----BEGIN" line)`);
    }
    config.files[name] = { path, pem };
  }
  try {
    tls.createSecureContext(contextOptions(config));
  } catch (err) {
    throw contextError(err as NodeJS.ErrnoException, config);
  }
  return config;
}

function contextError(err: NodeJS.ErrnoException, config: SslConfig): PeerwayError {
  const { certificate, key, ca } = config.files;
  const code = err.code ?? '';
  let why = `${err.message} (attributes certificate=${certificate?.path}, key=${key?.path}, ca=${ca?.path})`;
  if (code === 'ERR_OSSL_X509_KEY_VALUES_MISMATCH') why = `the key in attribute key (${key?.path}) does not belong to the certificate in attribute certificate (${certificate?.path})`;
  else if (/BAD_DECRYPT|BAD_PASSWORD|INTERRUPTED_OR_CANCELLED/.test(code) || /bad decrypt|passphrase/i.test(err.message)) {
    why = `cannot decrypt attribute key (${key?.path}): the passphrase is wrong or missing (attribute passphrase)`;
  }
  return new PeerwayError('CONFIG_INVALID', `${SSL_ID}: ${why}`, { cause: err, details: { code } });
}

function parseBoolean(attributes: BearerAttributes, name: string, fallback: boolean): boolean {
  const text = attributes[name];
  if (text === undefined || text === '') return fallback;
  if (/^(true|yes|1)$/i.test(text)) return true;
  if (/^(false|no|0)$/i.test(text)) return false;
  throw new PeerwayError('CONFIG_INVALID', `${SSL_ID}: attribute ${name} must be true or false, got "${text}"`);
}

/** `CN=x, O=y` from Node's parsed distinguished name. */
function dn(name: tls.Certificate | undefined): string {
  if (!name) return '?';
  return Object.entries(name)
    .map(([k, v]) => `${k}=${Array.isArray(v) ? v.join('+') : v}`)
    .join(', ');
}
