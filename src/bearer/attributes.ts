import type { AttributeKind, Bearer } from './bearer.js';

/**
 * Which `<attribute name>` a `<connectionadapter>` of a bearer accepts, and what each holds. Two kinds:
 *
 * - address attributes (`host`, `port`, `path`) say where to listen or connect; they become a BearerAddress;
 * - bearer attributes (`certificate`, `verify`, …) configure the transport.
 *
 * Each bearer declares both in its own file (Bearer.addressAttributes, .attributes, .attributeKinds), so
 * a new bearer needs no line here. docs/bearers.md has the table for people; a test keeps the two in step.
 */

const HOST_PORT: readonly string[] = ['host', 'port'];

export function addressAttributesOf(bearer: Bearer): readonly string[] {
  return bearer.addressAttributes ?? HOST_PORT;
}

/** The bearer's configuration attributes (not the address ones); none when the bearer declares none. */
export function bearerAttributesOf(bearer: Bearer): readonly string[] {
  return bearer.attributes ?? [];
}

/** Every attribute name a `<connectionadapter>` of this bearer accepts: address first, then configuration. */
export function acceptedAttributesOf(bearer: Bearer): readonly string[] {
  return [...addressAttributesOf(bearer), ...bearerAttributesOf(bearer)];
}

/** How a configuration file checks the attribute's value. */
export function attributeKindOf(bearer: Bearer, name: string): AttributeKind {
  return bearer.attributeKinds?.[name] ?? 'text';
}
