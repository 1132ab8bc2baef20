import { readFile } from 'node:fs/promises';
import { LineCounter, isSeq, parseDocument, type YAMLError } from 'yaml';
import { PeerwayError } from '../errors.js';
import { didYouMean } from '../definition/did-you-mean.js';
import { formatDiagnostic, type Diagnostic, type Position } from '../definition/model.js';
import { parseSubject, subjectKey } from './certificate-subject.js';
import { POLICY_MODES, type Located, type PolicyIdentity, type PolicyMode, type PolicyModel } from './policy-model.js';
import { parseStatement } from './policy-statements.js';
import { YamlReader } from './policy-yaml.js';

/**
 * The access policy file (DESIGN §6, docs/policy.md): YAML with `mode`, `identities` and `statements`.
 * Every problem is reported as `file:line:col: message`, all of them at once, in a PeerwayError
 * CONFIG_INVALID (as server configuration files are).
 */

export type { Condition, PolicyIdentity, PolicyMode, PolicyModel, PolicyStatement } from './policy-model.js';

const TOP_KEYS = ['mode', 'identities', 'statements'];
const IDENTITY_KEYS = ['token_sha256', 'certificate'];
/** Names that stay readable in logs, messages and a service's call context. */
const IDENTITY_NAME = /^[A-Za-z0-9_][A-Za-z0-9_.@-]*$/;
const HASH_HOWTO = "printf %s 'TOKEN' | sha256sum";

/** Reads and checks a policy file. @throws PeerwayError CONFIG_INVALID listing every problem. */
export async function loadPolicy(file: string): Promise<PolicyModel> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    const why = e.code === 'ENOENT' ? 'no such file' : e.code === 'EACCES' ? 'permission denied' : e.code === 'EISDIR' ? 'it is a directory' : e.message;
    throw new PeerwayError('CONFIG_INVALID', `${file}: cannot read the policy file (${why})`, { cause: err, details: { file } });
  }
  return parsePolicy(text, file);
}

/**
 * Parses and checks policy text; `file` labels positions. The model's `warnings` hold non-fatal findings.
 * @throws PeerwayError CONFIG_INVALID whose message lists `file:line:col: message` lines (errors and
 * warnings, in file order), with `details.diagnostics`.
 */
export function parsePolicy(text: string, file: string): PolicyModel {
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false, uniqueKeys: true });
  const reader = new YamlReader(file, lines, doc);
  const start: Position = { file, line: 1, column: 1 };
  const model: PolicyModel = { file, mode: 'enforced', identities: [], statements: [], warnings: [] };
  if (doc.errors.length > 0) {
    // The tree after a syntax error is a guess: report the syntax and nothing else.
    for (const e of doc.errors) reader.error(reader.at(e.pos[0]), yamlMessage(e, text));
    return fail(reader.diagnostics, file);
  }
  for (const w of doc.warnings) reader.warning(reader.at(w.pos[0]), w.message);

  const entries = reader.entries(doc.contents, start);
  if (!entries) {
    const message = reader.isEmpty(doc.contents)
      ? 'the policy file is empty; it needs at least statements: (see docs/policy.md)'
      : 'a policy file is a mapping with mode, identities and statements (see docs/policy.md)';
    reader.error(reader.pos(doc.contents, start), message);
    return fail(reader.diagnostics, file);
  }
  const known = reader.checkKeys(entries, TOP_KEYS, 'at the top of the policy');
  const get = (key: string) => known.find((e) => e.key === key);

  const mode = get('mode');
  if (mode) {
    const value = reader.scalarText(mode.value);
    if (value !== undefined && (POLICY_MODES as readonly string[]).includes(value)) model.mode = value as PolicyMode;
    else {
      const shown = value === undefined ? 'mode needs a value' : `unknown mode "${value}"${didYouMean(value, POLICY_MODES)}`;
      reader.error(reader.pos(mode.value, mode.pos), `${shown}; write enforced (deny what no statement allows) or notify (block nothing, report would-be denials)`);
    }
  }

  const identities = get('identities');
  if (identities) model.identities = parseIdentities(reader, identities.value, identities.pos);

  const statements = get('statements');
  if (!statements) {
    reader.error(start, 'the policy has no statements: add statements: with a list of allow/deny entries (see docs/policy.md)');
  } else if (reader.isEmpty(statements.value) || (isSeq(statements.value) && statements.value.items.length === 0)) {
    reader.warning(statements.pos, `statements is empty: ${model.mode === 'enforced' ? 'everything is denied' : 'everything is reported as a would-be denial'}`);
  } else if (!isSeq(statements.value)) {
    reader.error(reader.pos(statements.value, statements.pos), 'statements must be a list: start each statement with "- allow:" or "- deny:"');
  } else {
    const names = new Set(model.identities.map((i) => i.name));
    for (const [i, item] of statements.value.items.entries()) {
      const statement = parseStatement(reader, reader.resolve(item, statements.pos), i + 1, names, statements.pos);
      if (statement) model.statements.push(statement);
    }
  }

  if (reader.failed) return fail(reader.diagnostics, file);
  model.warnings = sorted(reader.diagnostics);
  return model;
}

function parseIdentities(reader: YamlReader, node: unknown, pos: Position): PolicyIdentity[] {
  if (reader.isEmpty(node)) return [];
  const entries = reader.entries(node, pos);
  if (!entries) {
    reader.error(reader.pos(node, pos), 'identities must be a mapping of names to credentials, e.g. hmi: { token_sha256: <64 hex digits> }');
    return [];
  }
  const out: PolicyIdentity[] = [];
  const hashes = new Map<string, { name: string; pos: Position }>();
  const subjects = new Map<string, { name: string; pos: Position }>();
  for (const entry of entries) {
    const name = entry.key;
    if (name === 'anonymous') {
      reader.error(entry.pos, 'anonymous is the identity of callers without credentials; it needs no entry (name it in who: directly)');
      continue;
    }
    if (!IDENTITY_NAME.test(name)) {
      reader.error(entry.pos, `identity name "${name}" may hold only letters, digits and _ . @ - (and not start with . @ -)`);
      continue;
    }
    const fields = reader.entries(entry.value, entry.pos);
    if (!fields) {
      reader.error(reader.pos(entry.value, entry.pos), `identity ${name} needs its credentials, e.g. ${name}: { token_sha256: <64 hex digits> } or ${name}: { certificate: "CN=${name}" }`);
      continue;
    }
    const identity: PolicyIdentity = { name, tokenSha256: [], pos: entry.pos };
    const tokenHint = (key: string) =>
      /^(token|password|secret)$/i.test(key)
        ? `the token itself never goes in the file: write token_sha256: <its SHA-256> (${HASH_HOWTO})`
        : /^tok|sha|hash/i.test(key)
          ? `unknown key "${key}" in identity ${name} (did you mean "token_sha256"?); allowed here: ${IDENTITY_KEYS.join(', ')}`
          : undefined;
    for (const field of reader.checkKeys(fields, IDENTITY_KEYS, `in identity ${name}`, tokenHint)) {
      if (field.key === 'token_sha256') {
        for (const hash of reader.texts(field.value, field.pos, 'token_sha256', `the token's SHA-256 in hex (${HASH_HOWTO})`) ?? []) {
          const problem = hashProblem(hash.value);
          if (problem) reader.error(hash.pos, problem);
          else if (claim(reader, hashes, hash, name, 'token hash')) identity.tokenSha256.push(hash);
        }
      } else {
        const subject = reader.text(field.value, field.pos, 'certificate');
        if (!subject) continue;
        const parsed = parseSubject(subject.value);
        if ('problem' in parsed) reader.error(subject.pos, parsed.problem);
        else if (claim(reader, subjects, { value: subjectKey(parsed), pos: subject.pos }, name, 'certificate subject')) {
          identity.certificate = { value: { text: subject.value, attributes: parsed }, pos: subject.pos };
        }
      }
    }
    if (fields.length === 0) reader.error(entry.pos, `identity ${name} needs token_sha256 or certificate`);
    out.push(identity);
  }
  return out;
}

/** Records that `name` uses `item`; reports (and returns false) when another identity already does. */
function claim(reader: YamlReader, seen: Map<string, { name: string; pos: Position }>, item: Located<string>, name: string, what: string): boolean {
  const earlier = seen.get(item.value);
  if (earlier) {
    const whose = earlier.name === name ? 'already given for this identity' : `the same ${what} as identity ${earlier.name}`;
    reader.error(item.pos, `${whose} (at ${earlier.pos.line}:${earlier.pos.column}); each ${what} names one identity: remove one`);
    return false;
  }
  seen.set(item.value, { name, pos: item.pos });
  return true;
}

/** What is wrong with a token hash (must be 64 lowercase hex digits), naming the fix. */
function hashProblem(hash: string): string | undefined {
  if (/^[0-9a-f]{64}$/.test(hash)) return undefined;
  const shown = hash.length > 72 ? `${hash.slice(0, 69)}...` : hash;
  if (/^[0-9a-f]{64}\s+-$/.test(hash)) return `remove the "  -" that sha256sum prints after the hash: ${hash.slice(0, 64)}`;
  if (/^[0-9a-fA-F]{64}$/.test(hash)) return `write the hash in lowercase: ${hash.toLowerCase()}`;
  if (hash.includes('…') || hash.includes('...')) return `"${shown}" is shortened; write the full 64-hex-digit SHA-256 of the token (${HASH_HOWTO})`;
  if (/^[0-9a-fA-F]+$/.test(hash)) return `the hash has ${hash.length} hex digits, a SHA-256 has 64; make it with ${HASH_HOWTO}`;
  return `"${shown}" is not a SHA-256 in hex (64 digits 0-9 a-f); the token itself never goes in the file: write its hash (${HASH_HOWTO})`;
}

/** A YAML syntax error as a message that names the fix where the usual cause is known. */
function yamlMessage(e: YAMLError, text: string): string {
  switch (e.code) {
    case 'DUPLICATE_KEY': {
      const key = /^[^\s:,{}[\]]+|^"[^"]*"|^'[^']*'/.exec(text.slice(e.pos[0]))?.[0];
      return `${key === undefined ? 'this key' : `key ${key}`} is already given in the same mapping; keep one`;
    }
    case 'TAB_AS_INDENT':
      return 'YAML cannot indent with tabs; indent with spaces';
    case 'MULTIPLE_DOCS':
      return 'the file holds several YAML documents (separated by ---); a policy is one document';
    default:
      if (/alias cannot be an empty string/i.test(e.message)) return 'a bare * starts a YAML alias; write "*" in quotes';
      return `not valid YAML: ${e.message.replace(/\.$/, '')}`;
  }
}

function sorted(diagnostics: Diagnostic[]): Diagnostic[] {
  return [...diagnostics].sort((a, b) => a.line - b.line || a.column - b.column);
}

function fail(diagnostics: Diagnostic[], file: string): never {
  const all = sorted(diagnostics);
  throw new PeerwayError('CONFIG_INVALID', all.map(formatDiagnostic).join('\n'), { details: { file, diagnostics: all } });
}
