import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { PeerwayError } from '../errors.js';
import type { Bearer, BearerAddress, BearerAttributes } from '../bearer/bearer.js';
import { acceptedAttributesOf, addressAttributesOf, attributeKindOf } from '../bearer/attributes.js';
import { availableBearerIds, getBearer, hasBearer } from '../bearer/registry.js';
import { didYouMean } from '../definition/did-you-mean.js';
import { formatDiagnostic, type Diagnostic, type Position } from '../definition/model.js';
import { readXmlTree, type XmlAttribute, type XmlElement } from '../definition/xml-tree.js';

/**
 * Connection adapter configuration files, in the seed's vocabulary:
 *
 * ```xml
 * <configuration>
 *   <connectionadapter type="connect.bearer.ssl">
 *     <attribute name="port" value="2003"/>
 *     <attribute name="certificate" value="server.pem"/>
 *     <attribute name="key" value="server.key"/>
 *   </connectionadapter>
 *   <service file="climate.xml"/>          <!-- server only -->
 * </configuration>
 * ```
 *
 * The server listens once per adapter; a client or runner takes the bearer attributes per bearer, and the
 * first adapter with an address is the server it connects to (unless --server says otherwise). Every
 * problem is reported as `file:line:col: message`, all of them at once.
 */

/** Who reads the file: the server listens on adapters, clients and runners connect with them. */
export type ConfigRole = 'server' | 'client' | 'runner';

export interface AdapterConfig {
  bearer: string;
  /** The address attributes given (host, port, path), with the bearer id; see `hasAddress`. */
  address: BearerAddress;
  /** Whether any address attribute was given. */
  hasAddress: boolean;
  /** Bearer attributes; file attributes are absolute paths (relative ones are relative to the file). */
  attributes: BearerAttributes;
  pos: Position;
}

export interface PeerwayConfig {
  file: string;
  adapters: AdapterConfig[];
  /** In-process service definition files (server only), absolute paths. */
  services: { file: string; pos: Position }[];
}

const ROOT = 'configuration';
const ADAPTER = 'connectionadapter';
/** `library` is the Kanzi Connect plugin name; Peerway's bearers are built in, so it is accepted and ignored. */
const ADAPTER_ATTRIBUTES = ['type', 'library'];
/** Port used when an adapter gives none (the same default as URLs without a port). */
export const DEFAULT_PORT = 2002;
const DEFAULT_HOST = '127.0.0.1';

/** Reads, checks and resolves a configuration file. @throws PeerwayError CONFIG_INVALID listing every problem. */
export async function loadPeerwayConfig(file: string, role: ConfigRole): Promise<PeerwayConfig> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    throw new PeerwayError('CONFIG_INVALID', `${file}: cannot read the configuration file (${e.code === 'ENOENT' ? 'no such file' : e.message})`, { cause: err });
  }
  return parsePeerwayConfig(text, file, role);
}

/** Parses configuration text; file attributes are checked on disk. @throws PeerwayError CONFIG_INVALID. */
export async function parsePeerwayConfig(text: string, file: string, role: ConfigRole): Promise<PeerwayConfig> {
  const diagnostics: Diagnostic[] = [];
  const error = (pos: Position, message: string) => diagnostics.push({ file: pos.file, line: pos.line, column: pos.column, severity: 'error', message });
  const config: PeerwayConfig = { file, adapters: [], services: [] };
  const dir = path.dirname(path.resolve(file));
  const { root, syntaxError } = readXmlTree(text, file);
  if (syntaxError) {
    error(syntaxError.pos, syntaxError.message.replace('outside the <service> element', `outside the <${ROOT}> element`));
  } else if (!root) {
    error({ file, line: 1, column: 1 }, `the file holds no XML element; a configuration starts with <${ROOT}>`);
  } else if (root.name !== ROOT) {
    const hint = root.name === 'service' ? `; this looks like a service definition: pass it with --service${role === 'runner' ? ' (or as an argument)' : ''}` : '';
    error(root.pos, `the root element must be <${ROOT}>, not <${root.name}>${hint}`);
  } else {
    checkAttributes(root, [], error);
    const fileChecks: Promise<void>[] = [];
    const seen = new Map<string, Position>();
    for (const child of root.children) {
      if (child.name === ADAPTER) {
        const adapter = parseAdapter(child, dir, error, fileChecks);
        if (!adapter) continue;
        const first = seen.get(adapter.bearer);
        if (first && role !== 'server') {
          error(adapter.pos, `a second ${adapter.bearer} adapter (the first is at ${first.line}:${first.column}); a ${role} uses one set of attributes per bearer: merge them`);
          continue;
        }
        if (role === 'server' && !getBearer(adapter.bearer).reliable) {
          error(child.attributes.get('type')!.pos, `${adapter.bearer} is unreliable and cannot carry server connections; configure it on the runner, where it is the built-in "unreliable" link`);
          continue;
        }
        const addressNames = addressAttributesOf(getBearer(adapter.bearer));
        if (role === 'server' && !addressNames.includes('port') && addressNames.includes('path') && !adapter.address.path) {
          error(child.pos, `a ${adapter.bearer} adapter needs <attribute name="path" value="…"/> to listen on (see docs/bearers.md)`);
          continue;
        }
        seen.set(adapter.bearer, first ?? adapter.pos);
        config.adapters.push(adapter);
      } else if (child.name === 'service') {
        if (role !== 'server') {
          error(child.pos, `<service> belongs in a server configuration; ${role === 'runner' ? 'give the runner its service files as arguments' : 'a client configuration holds only <connectionadapter> elements'}`);
          continue;
        }
        checkAttributes(child, ['file'], error);
        const attr = child.attributes.get('file');
        if (!attr || attr.value === '') {
          error(child.pos, '<service> needs a file attribute, e.g. <service file="climate.xml"/>');
          continue;
        }
        const resolved = path.resolve(dir, attr.value);
        config.services.push({ file: resolved, pos: attr.pos });
        fileChecks.push(checkReadable(resolved, attr, `service file "${attr.value}"`, error, false));
      } else {
        const allowed = role === 'server' ? [ADAPTER, 'service'] : [ADAPTER];
        error(child.pos, `unknown element <${child.name}> in <${ROOT}>${didYouMean(child.name, allowed)}; allowed here: ${allowed.map((a) => `<${a}>`).join(', ')}`);
      }
    }
    await Promise.all(fileChecks);
  }
  if (diagnostics.length > 0) {
    diagnostics.sort((a, b) => a.line - b.line || a.column - b.column);
    throw new PeerwayError('CONFIG_INVALID', diagnostics.map(formatDiagnostic).join('\n'), { details: { file, diagnostics } });
  }
  return config;
}

type Report = (pos: Position, message: string) => void;

function parseAdapter(el: XmlElement, dir: string, error: Report, fileChecks: Promise<void>[]): AdapterConfig | undefined {
  checkAttributes(el, ADAPTER_ATTRIBUTES, error);
  const typeAttr = el.attributes.get('type');
  if (!typeAttr) {
    error(el.pos, `<${ADAPTER}> needs a type attribute, e.g. <${ADAPTER} type="connect.bearer.tcp">`);
    return undefined;
  }
  const bearerId = typeAttr.value;
  if (!hasBearer(bearerId)) {
    const ids = availableBearerIds();
    error(typeAttr.pos, `unknown bearer type "${bearerId}"${didYouMean(bearerId, ids)}; known bearers: ${ids.join(', ')}`);
    return undefined;
  }
  const bearer = getBearer(bearerId);
  const accepted = acceptedAttributesOf(bearer);
  const addressNames = addressAttributesOf(bearer);
  const adapter: AdapterConfig = { bearer: bearerId, address: { bearer: bearerId }, hasAddress: false, attributes: {}, pos: el.pos };
  const given = new Map<string, Position>();
  let ok = true;
  if (el.text !== '' && el.textPos) error(el.textPos, `text inside <${ADAPTER}> is not allowed; write each setting as <attribute name="…" value="…"/>`);
  for (const child of el.children) {
    if (child.name !== 'attribute') {
      error(child.pos, `unknown element <${child.name}> in <${ADAPTER}>${didYouMean(child.name, ['attribute'])}; write each setting as <attribute name="…" value="…"/>`);
      continue;
    }
    checkAttributes(child, ['name', 'value'], error);
    const nameAttr = child.attributes.get('name');
    const valueAttr = child.attributes.get('value');
    if (!nameAttr || !valueAttr) {
      error(child.pos, `<attribute> needs name and value, e.g. <attribute name="${accepted[0] ?? 'port'}" value="…"/>`);
      ok = false;
      continue;
    }
    const name = nameAttr.value;
    if (!accepted.includes(name)) {
      error(nameAttr.pos, `${bearerId} has no attribute "${name}"${didYouMean(name, accepted)}; accepted: ${accepted.join(', ')}`);
      ok = false;
      continue;
    }
    const earlier = given.get(name);
    if (earlier) {
      error(nameAttr.pos, `attribute "${name}" is already set at ${earlier.line}:${earlier.column}; keep one`);
      ok = false;
      continue;
    }
    given.set(name, nameAttr.pos);
    const problem = addressNames.includes(name)
      ? setAddress(adapter, bearer, name, valueAttr.value, dir)
      : setAttribute(adapter, bearer, name, valueAttr, dir, error, fileChecks);
    if (problem) {
      error(valueAttr.pos, problem);
      ok = false;
    }
  }
  if (adapter.hasAddress && adapter.address.host === undefined && addressNames.includes('host')) adapter.address.host = DEFAULT_HOST;
  if (adapter.hasAddress && adapter.address.port === undefined && addressNames.includes('port')) adapter.address.port = DEFAULT_PORT;
  return ok ? adapter : undefined;
}

/** Applies one address attribute; returns the problem with its value, if any. */
function setAddress(adapter: AdapterConfig, bearer: Bearer, name: string, value: string, dir: string): string | undefined {
  adapter.hasAddress = true;
  if (name === 'host') {
    if (value.trim() === '') return 'host must not be empty; use 127.0.0.1 (this machine only) or 0.0.0.0 (every interface)';
    adapter.address.host = value.trim();
  } else if (name === 'port') {
    if (!/^\d{1,5}$/.test(value) || Number(value) > 65535) return `port "${value}" must be a whole number from 0 to 65535 (0 picks a free port)`;
    adapter.address.port = Number(value);
  } else {
    const parsed = bearer.parsePathAttribute?.(value, dir) ?? { problem: `${bearer.id} takes no path` };
    if ('problem' in parsed) return parsed.problem;
    adapter.address.path = parsed.path;
  }
  return undefined;
}

/** Applies one bearer attribute; file attributes are checked asynchronously (pushed on `fileChecks`). */
function setAttribute(adapter: AdapterConfig, bearer: Bearer, name: string, valueAttr: XmlAttribute, dir: string, error: Report, fileChecks: Promise<void>[]): string | undefined {
  const value = valueAttr.value;
  const kind = attributeKindOf(bearer, name);
  if (kind === 'boolean' && !/^(true|false)$/.test(value)) return `${name} must be "true" or "false", got "${value}"`;
  if (kind === 'number' && !/^\d+$/.test(value)) return `${name} must be a whole number, got "${value}"`;
  if (kind === 'pem') {
    if (value === '') return `${name} must name a PEM file`;
    const resolved = path.resolve(dir, value);
    adapter.attributes[name] = resolved;
    fileChecks.push(checkReadable(resolved, valueAttr, `${name} file "${value}"`, error, true));
    return undefined;
  }
  adapter.attributes[name] = value;
  return undefined;
}

async function checkReadable(file: string, at: XmlAttribute, what: string, error: Report, pem: boolean): Promise<void> {
  try {
    const content = await readFile(file);
    if (pem && !content.includes('-----BEGIN')) error(at.pos, `${what} (${file}) is not a PEM file (no "-----BEGIN" line)`);
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    const why = e.code === 'ENOENT' ? 'no such file' : e.code === 'EACCES' ? 'permission denied' : e.code === 'EISDIR' ? 'it is a directory' : e.message;
    error(at.pos, `cannot read ${what} (${file}): ${why}; relative paths are relative to this configuration file`);
  }
}

function checkAttributes(el: XmlElement, allowed: readonly string[], error: Report): void {
  for (const attr of el.attributes.values()) {
    if (allowed.includes(attr.name) || attr.name.startsWith('xmlns') || attr.name.startsWith('xml:')) continue;
    const list = allowed.length === 0 ? 'it takes no attributes' : `allowed attributes: ${allowed.join(', ')}`;
    error(attr.pos, `unknown attribute "${attr.name}" on <${el.name}>${didYouMean(attr.name, allowed)}; ${list}`);
  }
}

/** Bearer attributes per bearer id (a client's or runner's adapters); later adapters of a bearer add to earlier ones. */
export function adaptersOf(config: PeerwayConfig | undefined): Record<string, BearerAttributes> {
  const out: Record<string, BearerAttributes> = {};
  for (const a of config?.adapters ?? []) out[a.bearer] = { ...out[a.bearer], ...a.attributes };
  return out;
}

/** The server a client or runner connects to according to the file: the first adapter with an address. */
export function serverAddressOf(config: PeerwayConfig | undefined): BearerAddress | undefined {
  return config?.adapters.find((a) => a.hasAddress)?.address;
}

/** What a server listens on: one address per adapter (defaults filled in) with its attributes. */
export function listenersOf(config: PeerwayConfig): (BearerAddress & { attributes: BearerAttributes })[] {
  return config.adapters.map((a) => {
    const address: BearerAddress = { ...a.address };
    const names = addressAttributesOf(getBearer(a.bearer));
    if (names.includes('host')) address.host ??= DEFAULT_HOST;
    if (names.includes('port')) address.port ??= DEFAULT_PORT;
    return { ...address, attributes: { ...a.attributes } };
  });
}
