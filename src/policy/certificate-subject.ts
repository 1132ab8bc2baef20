/**
 * Certificate subjects, as a policy names them (`certificate: "CN=diagnostics,O=Acme"`) and as a peer
 * presents them: Node's `getPeerCertificate().subject` object (`{ CN: 'diagnostics', O: 'Acme' }`, a list
 * for a repeated attribute) or a string (`CN=diagnostics,O=Acme`, OpenSSL's `/CN=diagnostics/O=Acme`, or
 * `X509Certificate.subject`'s one attribute per line).
 *
 * The matching rule: every attribute the policy names must be present in the peer's subject with exactly
 * that value (a repeated attribute matches if any of its values does); attributes the policy does not
 * name are ignored. Attribute keys are compared case-insensitively (`cn` = `CN`), values exactly.
 */

/** `KEY=value` pairs, keys upper-cased, in the order written. */
export type SubjectAttributes = [string, string][];

/** A peer's subject: a string in any of the forms above, or Node's object. */
export type PeerSubject = string | Readonly<Record<string, string | readonly string[] | undefined>>;

const KEY = /^(?:[A-Za-z][A-Za-z0-9-]*|\d+(?:\.\d+)+)$/;

/** Splits at unescaped separators; a backslash escapes the next character (RFC 4514 style). */
function splitUnescaped(text: string, separators: string): string[] {
  const parts: string[] = [];
  let current = '';
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === '\\' && i + 1 < text.length) {
      current += c + text[++i];
    } else if (separators.includes(c)) {
      parts.push(current);
      current = '';
    } else {
      current += c;
    }
  }
  parts.push(current);
  return parts;
}

const unescape = (s: string): string => s.replace(/\\(.)/gs, '$1');

/**
 * Parses a subject string into its attributes, or says what is wrong with it (for the policy file's
 * messages). Separators: `,`, `+`, new lines; or `/` when the text starts with one (OpenSSL's form).
 */
export function parseSubject(text: string): SubjectAttributes | { problem: string } {
  const trimmed = text.trim();
  if (trimmed === '') return { problem: 'an empty certificate subject; write the attributes to match, e.g. "CN=diagnostics"' };
  const parts = trimmed.startsWith('/') ? splitUnescaped(trimmed.slice(1), '/') : splitUnescaped(trimmed, ',+\n');
  const attributes: SubjectAttributes = [];
  for (const part of parts) {
    const eq = part.indexOf('=');
    const key = (eq < 0 ? part : part.slice(0, eq)).trim();
    const value = eq < 0 ? '' : unescape(part.slice(eq + 1).trim());
    if (eq < 0 || !KEY.test(key)) return { problem: `"${part.trim()}" in "${trimmed}" is not an attribute; write KEY=value pairs separated by commas, e.g. "CN=diagnostics,O=Acme"` };
    if (value === '') return { problem: `attribute ${key} in "${trimmed}" has no value; write ${key}=… or leave the attribute out` };
    attributes.push([key.toUpperCase(), value]);
  }
  return attributes;
}

/** A peer's subject as upper-cased keys to their values; an unparsable string gives an empty map. */
export function subjectValues(subject: PeerSubject): Map<string, string[]> {
  const out = new Map<string, string[]>();
  const add = (key: string, value: string) => {
    const k = key.toUpperCase();
    const list = out.get(k);
    if (list) list.push(value);
    else out.set(k, [value]);
  };
  if (typeof subject === 'string') {
    const parsed = parseSubject(subject);
    if (!('problem' in parsed)) for (const [k, v] of parsed) add(k, v);
    return out;
  }
  for (const key of Object.keys(subject)) {
    const value = subject[key];
    if (typeof value === 'string') add(key, value);
    else if (Array.isArray(value)) for (const v of value as readonly unknown[]) if (typeof v === 'string') add(key, v);
  }
  return out;
}

/** Whether every attribute in `required` is in `given` with that value. */
export function subjectMatches(required: SubjectAttributes, given: Map<string, string[]>): boolean {
  return required.every(([key, value]) => given.get(key)?.includes(value) === true);
}

/** A canonical text of a set of attributes (sorted), to find policy identities naming the same subject. */
export function subjectKey(attributes: SubjectAttributes): string {
  return attributes
    .map(([k, v]) => `${k}=${v.replace(/[\\,]/g, '\\$&')}`)
    .sort()
    .join(',');
}
