import { PeerwayError } from '../errors.js';

/**
 * The NATS subjects of a Peerway cluster. Server names are subject tokens (checked by `checkServerName`);
 * service names are written as tokens when they are plain, base64url-encoded otherwise (a dot or a
 * wildcard in a name must not change the subject's shape).
 */
const ROOT = 'peerway';

/** Every server publishes its heartbeats here and listens to everyone's. */
export const HEARTBEAT_SUBJECT = `${ROOT}.heartbeat`;

/** Requests for the sessions other servers hold with `server`'s services (request/reply). */
export const requestSubject = (server: string): string => `${ROOT}.server.${server}.request`;

/** One-way notices to `server` about the cluster sessions it takes part in. */
export const noticeSubject = (server: string): string => `${ROOT}.server.${server}.notice`;

/** Events (`event`) or runtime data (`data`) of `service`, published by its server while other servers hold sessions with it. */
export const trafficSubject = (server: string, service: string, kind: 'event' | 'data'): string => `${ROOT}.service.${server}.${serviceToken(service)}.${kind}`;

function serviceToken(name: string): string {
  return /^[A-Za-z0-9_-]+$/.test(name) ? name : `~${Buffer.from(name, 'utf8').toString('base64url')}`;
}

/** A server's name is a subject token: letters, digits, `_` and `-`, 1 to 64 of them. */
export function checkServerName(name: string): string {
  if (!/^[A-Za-z0-9_-]{1,64}$/.test(name)) {
    throw new PeerwayError('USAGE', `--name "${name}": a server name in a cluster is 1 to 64 letters, digits, "_" or "-" (it is part of NATS subjects), e.g. --name site-a`);
  }
  return name;
}
