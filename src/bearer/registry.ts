import { PeerwayError } from '../errors.js';
import type { Bearer, BearerAddress } from './bearer.js';
import { formatHost, tcpBearer } from './tcp.js';
import { localBearer } from './local.js';
import { memoryBearer } from './memory.js';
import { sslBearer } from './ssl.js';
import { udpBearer } from './udp.js';
import { wsBearer } from './ws.js';

/**
 * Bearer id → implementation, and URL scheme → bearer. Adding a bearer is one line here.
 */
const BEARERS: Bearer[] = [tcpBearer, sslBearer, udpBearer, localBearer, wsBearer, memoryBearer];

const byId = new Map<string, Bearer>();
const byScheme = new Map<string, Bearer>();
for (const b of BEARERS) registerBearer(b);

/** Makes a bearer available by id and by its URL schemes (also used by tests to add in-memory bearers). */
export function registerBearer(bearer: Bearer): void {
  byId.set(bearer.id, bearer);
  for (const s of bearer.schemes) byScheme.set(s, bearer);
}

export function getBearer(id: string): Bearer {
  const b = byId.get(id);
  if (!b) {
    throw new PeerwayError('BEARER_UNKNOWN', `unknown bearer "${id}"; available: ${availableBearerIds().join(', ')}`);
  }
  return b;
}

export function availableBearerIds(): string[] {
  return [...byId.keys()];
}

export function hasBearer(id: string): boolean {
  return byId.has(id);
}

/**
 * Parses `tcp://host:port` (and the other registered schemes) into a BearerAddress.
 * A bare `host:port` or `:port` means tcp, because that is what people type.
 */
export function parseBearerUrl(url: string, defaultPort = 2002): BearerAddress {
  const text = url.trim();
  if (!text.includes('://')) {
    const m = /^(\[[^\]]+\]|[^:\s/]*)(?::(\d+))?$/.exec(text);
    if (!m) throw badUrl(url, 'expected SCHEME://HOST:PORT, e.g. tcp://127.0.0.1:2002');
    return { bearer: tcpBearer.id, host: stripBrackets(m[1] || '127.0.0.1'), port: parsePort(url, m[2], defaultPort) };
  }
  const scheme = text.slice(0, text.indexOf('://'));
  const bearer = byScheme.get(scheme);
  if (!bearer) {
    const schemes = [...byScheme.keys()].map((s) => `${s}://`).join(', ');
    throw new PeerwayError('BEARER_UNKNOWN', `unknown URL scheme "${scheme}://" in "${url}"; use one of ${schemes}`);
  }
  if (bearer.parseUrl) return bearer.parseUrl(text);
  let parsed: URL;
  try {
    parsed = new URL(text.replace(/^[a-z]+:/, 'http:'));
  } catch {
    throw badUrl(url, `expected ${scheme}://HOST:PORT`);
  }
  const address: BearerAddress = { bearer: bearer.id };
  if (parsed.hostname) address.host = stripBrackets(parsed.hostname);
  if (parsed.port || parsed.hostname) address.port = parsePort(url, parsed.port, defaultPort);
  if (parsed.pathname && parsed.pathname !== '/') address.path = decodeURIComponent(parsed.pathname);
  return address;
}

/** The inverse of parseBearerUrl, for logs and `listening …` lines. */
export function formatBearerUrl(address: BearerAddress): string {
  const bearer = getBearer(address.bearer);
  if (bearer.formatUrl) return bearer.formatUrl(address);
  const scheme = bearer.schemes[0];
  const hostPart = address.host !== undefined ? `${formatHost(address.host)}${address.port !== undefined ? `:${address.port}` : ''}` : '';
  return `${scheme}://${hostPart}${address.path ?? ''}`;
}

function parsePort(url: string, text: string | undefined, fallback: number): number {
  if (text === undefined || text === '') return fallback;
  const port = Number(text);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw badUrl(url, 'the port must be a number from 0 to 65535');
  return port;
}

function stripBrackets(host: string): string {
  return host.startsWith('[') && host.endsWith(']') ? host.slice(1, -1) : host;
}

function badUrl(url: string, fix: string): PeerwayError {
  return new PeerwayError('USAGE', `invalid address "${url}": ${fix}`);
}
