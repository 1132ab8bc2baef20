import { isIP } from 'node:net';

/** Why an Origin was refused, for the 403 and the log; undefined when it is allowed. */
export type OriginRefusal = string | undefined;

/** `scheme://host[:port]` in the form browsers send (lowercase, default port left out); undefined when not a web origin. */
export function normalizeOrigin(origin: string): string | undefined {
  if (origin === 'null') return undefined;
  let url: URL;
  try {
    url = new URL(origin);
  } catch {
    return undefined;
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return undefined;
  return url.origin;
}

/**
 * Whether a page from `origin` may open the browser WebSocket of a gateway reached at `host` (the request's
 * Host header) and listening on `listenHost`, given the operator's allow-list (`--http-origin`).
 *
 * - No Origin: not a browser (curl, a Node program); nothing to protect against, allowed.
 * - An origin in the allow-list: allowed.
 * - The gateway's own origin (the page was served by this gateway): allowed, but only when the name it was
 *   reached by cannot be a rebound DNS name: an IP literal, `localhost`, or the host it listens on. A page
 *   from `http://attacker.example:8080` whose name was re-pointed at 127.0.0.1 carries an Origin that
 *   equals its Host; only the name tells it apart. Other names the gateway is reached by go in the list.
 * - Anything else (another site, `null` from a sandboxed frame or a file): refused.
 */
export function checkOrigin(origin: string | undefined, host: string | undefined, listenHost: string, allowed: readonly string[]): OriginRefusal {
  if (origin === undefined) return undefined;
  const normalized = normalizeOrigin(origin);
  if (normalized === undefined) return `the origin ${JSON.stringify(origin)} is not a web origin this gateway can allow`;
  if (allowed.some((a) => normalizeOrigin(a) === normalized)) return undefined;
  const url = new URL(normalized);
  if (host === undefined || url.host !== host.toLowerCase()) {
    return `${normalized} is neither this gateway's own origin nor in --http-origin`;
  }
  const name = url.hostname.replace(/^\[|\]$/g, '');
  if (isIP(name) !== 0 || name === 'localhost' || name === listenHost.toLowerCase()) return undefined;
  return `${normalized} reached this gateway by the name ${name}, which could be a rebound DNS name; list the origin with --http-origin to allow it`;
}

/**
 * Whether a request may be served when it reached the gateway by the name in its Host header: an IP
 * literal, `localhost`, the host it listens on, or a host of an allowed origin (`--http-origin`). Any other
 * name could be a DNS name an attacker's page re-pointed at this address (DNS rebinding): its script would
 * then read the API as its own origin. Requests without a Host header (HTTP/1.0 tools) are served.
 */
export function checkHostName(host: string | undefined, listenHost: string, allowedOrigins: readonly string[]): OriginRefusal {
  if (host === undefined || host === '') return undefined;
  let name: string;
  try {
    name = new URL(`http://${host}`).hostname.replace(/^\[|\]$/g, '').toLowerCase();
  } catch {
    return `the Host header ${JSON.stringify(host)} is not a host name`;
  }
  if (isIP(name) !== 0 || name === 'localhost' || name === listenHost.toLowerCase()) return undefined;
  if (allowedOrigins.some((o) => normalizeOrigin(o) !== undefined && new URL(normalizeOrigin(o)!).hostname.toLowerCase() === name)) return undefined;
  return `this gateway was reached by the name ${name}, which could be a rebound DNS name; list an origin with that host with --http-origin to allow it`;
}
