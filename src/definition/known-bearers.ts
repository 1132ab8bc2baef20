/**
 * The bearer ids a service definition may name (DESIGN §2). The definition layer only checks spelling
 * here; whether a bearer can actually be used is decided by the bearer registry at run time.
 */
export const KNOWN_BEARERS = [
  'connect.bearer.tcp',
  'connect.bearer.ssl',
  'connect.bearer.udp',
  'connect.bearer.local',
  'connect.bearer.ws',
] as const;

export type KnownBearer = (typeof KNOWN_BEARERS)[number];

/** True when `id` is one of {@link KNOWN_BEARERS}. */
export function isKnownBearer(id: string): id is KnownBearer {
  return (KNOWN_BEARERS as readonly string[]).includes(id);
}
