import { randomBytes, timingSafeEqual } from 'node:crypto';

/** A random secret of `bytes` bytes, base64url: session tokens, resume secrets. */
export function randomSecret(bytes: number): string {
  return randomBytes(bytes).toString('base64url');
}

/**
 * Whether `given` (anything a peer sent) is exactly `expected`, in time that does not depend on where
 * they differ. Compared as UTF-8 bytes: a string of the right length in characters but not in bytes
 * (non-ASCII) is simply not equal, never an error.
 */
export function sameSecret(given: unknown, expected: string): boolean {
  if (typeof given !== 'string') return false;
  const a = Buffer.from(given, 'utf8');
  const b = Buffer.from(expected, 'utf8');
  return a.length === b.length && timingSafeEqual(a, b);
}
