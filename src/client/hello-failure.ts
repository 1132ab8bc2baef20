import { PeerwayError } from '../errors.js';
import type { BearerAddress } from '../bearer/bearer.js';
import { formatBearerUrl } from '../bearer/registry.js';
import { formatHost } from '../bearer/tcp.js';

/**
 * Turns a silent close during the hello into the likely cause. A plain tcp client on a connect.bearer.ssl
 * port sends a frame that the TLS server rejects as "not TLS" and closes without a word, so the client
 * would otherwise only learn "closed during the handshake". Other errors are returned unchanged.
 */
export function explainHelloFailure(err: unknown, address: BearerAddress): unknown {
  if (!(err instanceof PeerwayError) || err.code !== 'CONNECTION_CLOSED' || address.bearer !== 'connect.bearer.tcp') return err;
  const hostPort = `${formatHost(address.host ?? '127.0.0.1')}:${address.port ?? 2002}`;
  return new PeerwayError(
    'CONNECT_FAILED',
    `cannot connect to ${formatBearerUrl(address)}: the server closed the connection during the hello without answering; ` +
      `the port may be a connect.bearer.ssl (TLS) port: connect with ssl://${hostPort} and pass the CA that signed its certificate with --ca FILE`,
    { cause: err, details: { address: formatBearerUrl(address) } },
  );
}
