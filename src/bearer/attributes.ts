import type { Bearer } from './bearer.js';

/**
 * Which `<attribute name>` a `<connectionadapter>` of each bearer accepts. Two kinds:
 *
 * - address attributes (`host`, `port`, `path`) say where to listen or connect; they become a BearerAddress;
 * - bearer attributes (`certificate`, `verify`, …) configure the transport; each bearer lists its own in
 *   `Bearer.attributes`, so a new bearer declares them in its own file.
 *
 * docs/bearers.md has the table for people; keep the two in step.
 */

/** Address attributes by bearer id; a bearer not listed is addressed by host and port. */
const ADDRESS_ATTRIBUTES: Record<string, readonly string[]> = {
  'connect.bearer.local': ['path'],
  'connect.bearer.ws': ['host', 'port', 'path'],
};
const HOST_PORT: readonly string[] = ['host', 'port'];

/** Bearer attributes whose values are files (read, relative to the configuration file, at load time). */
export const FILE_ATTRIBUTES: readonly string[] = ['certificate', 'key', 'ca'];

/** Bearer attributes that take a whole number. */
export const NUMBER_ATTRIBUTES: readonly string[] = ['maxDatagramBytes', 'idleTimeoutMs'];

/** Bearer attributes that take `true` or `false`. */
export const BOOLEAN_ATTRIBUTES: readonly string[] = ['verify', 'requireClientCertificate'];

export function addressAttributesOf(bearerId: string): readonly string[] {
  return ADDRESS_ATTRIBUTES[bearerId] ?? HOST_PORT;
}

/** The bearer's configuration attributes (not the address ones); none when the bearer declares none. */
export function bearerAttributesOf(bearer: Bearer): readonly string[] {
  return bearer.attributes ?? [];
}

/** Every attribute name a `<connectionadapter>` of this bearer accepts: address first, then configuration. */
export function acceptedAttributesOf(bearer: Bearer): readonly string[] {
  return [...addressAttributesOf(bearer.id), ...bearerAttributesOf(bearer)];
}
