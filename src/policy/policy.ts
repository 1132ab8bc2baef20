import { createHash, timingSafeEqual } from 'node:crypto';
import type { Diagnostic, ServiceDefinition } from '../definition/model.js';
import { PeerwayError } from '../errors.js';
import { ANONYMOUS, enforce, type Action, type Authorizer, type Decision, type Identity, type Resource } from './authorizer.js';
import { subjectMatches, subjectValues, type PeerSubject, type SubjectAttributes } from './certificate-subject.js';
import { appliesTo, compileStatement, coversName, type CompiledStatement } from './policy-compile.js';
import { evaluateConditions, explainHolding, explainMissing, NO_RUNTIME_DATA, type RuntimeDataReader } from './policy-conditions.js';
import { policyPath } from './policy-globs.js';
import type { NamedAction, PolicyMode, PolicyModel } from './policy-model.js';
import { coverage, runtimeDataPaths, unknownNames, type CoverageGap } from './policy-report.js';

export { formatCoverage, type CoverageGap } from './policy-report.js';
export { policyPath } from './policy-globs.js';
export type { RuntimeDataReader } from './policy-conditions.js';
export type { PolicyMode } from './policy-model.js';

/** What a peer presents: a bearer token, and/or the subject of a verified TLS client certificate. */
export interface Credentials {
  token?: string;
  certificateSubject?: PeerSubject;
}

/**
 * What the server hands a runner for one session so the service enforces the policy on direct links
 * without knowing it. Plain JSON (it travels in MessagePack). Keys are `call:METHOD`, `subscribe:EVENT`,
 * `read:PATH` (definition paths, no list indices; `read:` is the root); values are the very message the
 * server's own refusal carries (identity, action, resource, statement). Only denials are listed, so an
 * allow-all policy gives `{ mode, denied: {} }`. In `notify` mode nothing is denied: would-be denials are
 * listed under `wouldDeny` instead (to report, not to block), so a receiver that ignores `mode` never blocks.
 * Grants from `when` conditions are a snapshot: compute them again when `dependencies()` data changes.
 */
export interface SessionGrants {
  mode: PolicyMode;
  denied: Record<string, string>;
  wouldDeny?: Record<string, string>;
}

export interface PolicyOptions {
  /** The server's copy of runtime data, read by `when` conditions; without it every condition is false. */
  runtimeData?: RuntimeDataReader;
}

/** Cached decider lists beyond this many (action, service, identity, name) are dropped and rebuilt. */
const MAX_CACHED = 50_000;
const NO_STATEMENT = 'no statement allows it';

/**
 * The access policy's decision engine (DESIGN §6, docs/policy.md): statements in file order, the last
 * one that applies decides; in `enforced` mode what none allows is denied, in `notify` mode everything is
 * allowed and would-be denials carry `wouldDeny`. Decisions without conditions are precomputed; the
 * statements that can apply to an (action, service, identity) are found once and cached.
 */
export class Policy implements Authorizer {
  readonly mode: PolicyMode;
  private readonly statements: CompiledStatement[];
  private readonly reader: RuntimeDataReader;
  /** Decision of each unconditional statement, by statement index − 1. */
  private readonly fixed: Decision[];
  private readonly noMatch: Decision;
  private readonly tokens: { digest: Buffer; identity: Identity }[] = [];
  /** Most specific (most attributes) first, then in file order. */
  private readonly certificates: { attributes: SubjectAttributes; identity: Identity }[] = [];
  private readonly cache = new Map<string, CompiledStatement[]>();

  constructor(
    readonly model: PolicyModel,
    options: PolicyOptions = {},
  ) {
    this.mode = model.mode;
    this.reader = options.runtimeData ?? NO_RUNTIME_DATA;
    this.statements = model.statements.map(compileStatement);
    this.fixed = this.statements.map((s) => Object.freeze(this.decision(s, undefined)));
    this.noMatch = Object.freeze(this.denial(NO_STATEMENT));
    for (const identity of model.identities) {
      for (const hash of identity.tokenSha256) this.tokens.push({ digest: Buffer.from(hash.value, 'hex'), identity: Object.freeze({ name: identity.name, via: 'token' }) });
      const certificate = identity.certificate?.value;
      if (certificate) this.certificates.push({ attributes: certificate.attributes, identity: Object.freeze({ name: identity.name, via: 'certificate' }) });
    }
    this.certificates.sort((a, b) => b.attributes.length - a.attributes.length);
  }

  /** Every identity name statements can mean: `anonymous`, then the declared ones in file order. */
  get identityNames(): string[] {
    return [ANONYMOUS.name, ...this.model.identities.map((i) => i.name)];
  }

  /**
   * Who presented `credentials`. No credentials (nor a certificate subject with attributes) is
   * `anonymous`. A token, when given, decides alone: its SHA-256 is compared in constant time with every
   * stored hash. Otherwise the certificate subject must match an identity's (every attribute the policy
   * names; the most specific identity first; see certificate-subject.ts). `undefined`: credentials were
   * given but are unknown (an unparsable subject string included), and the caller refuses the peer.
   */
  identify(credentials: Credentials): Identity | undefined {
    if (credentials.token !== undefined) {
      const digest = createHash('sha256').update(credentials.token, 'utf8').digest();
      let found: Identity | undefined;
      // Every hash is compared, so the time taken does not tell which (or whether one) matched.
      for (const t of this.tokens) if (timingSafeEqual(digest, t.digest) && !found) found = t.identity;
      return found;
    }
    if (credentials.certificateSubject !== undefined) {
      const subject = credentials.certificateSubject;
      const given = subjectValues(subject);
      if (given.size === 0) return typeof subject === 'string' && subject.trim() !== '' ? undefined : ANONYMOUS;
      return this.certificates.find((c) => subjectMatches(c.attributes, given))?.identity;
    }
    return ANONYMOUS;
  }

  /**
   * Decides `action` by `identity` on `resource`: the last statement that applies (identity, service,
   * action, name, and its `when` conditions holding) decides. `register` and `describe` look at the
   * service only; `read` names are runtime-data paths (list indices ignored); a resource without a name
   * (every event) is decided only by statements covering all of the action. A condition that reads
   * missing data is false, and the reason says so.
   */
  authorize(identity: Identity, action: Action, resource: Resource): Decision {
    const name = action === 'read' && resource.name !== undefined ? policyPath(resource.name) : resource.name;
    const list = this.deciders(action, resource.service, identity.name, name);
    let skipped: CompiledStatement | undefined;
    for (let i = list.length - 1; i >= 0; i--) {
      const s = list[i];
      if (s.when.length > 0) {
        const outcome = evaluateConditions(s.when, this.reader);
        if (outcome === true) return this.decision(s, skipped);
        if (outcome === undefined) skipped ??= s;
        continue;
      }
      return skipped ? this.decision(s, skipped) : this.fixed[s.source.index - 1];
    }
    return skipped ? this.denial(`${NO_STATEMENT}; ${this.notApplied(skipped)}`) : this.noMatch;
  }

  /**
   * Whether `identity` may start a session with `definition`'s service: it needs at least one of `call`,
   * `subscribe`, `read` allowed on some method, event or runtime-data path (under the current data).
   */
  authorizeSession(identity: Identity, definition: ServiceDefinition): Decision {
    for (const [action, name] of members(definition)) {
      const d = this.authorize(identity, action, { service: definition.name, name });
      if (d.allowed && !d.wouldDeny) return { allowed: true, mode: this.mode, reason: `${action} ${name === '' ? 'of the whole runtime data' : name} is ${d.reason ?? 'allowed'}`, ...(d.statement ? { statement: d.statement } : {}) };
    }
    return this.denial('no statement allows call, subscribe or read on any of its methods, events or runtime data');
  }

  /**
   * Every decision a service needs to enforce the policy for one session on its direct links: each
   * method (call), event (subscribe) and runtime-data object or leaf path (read), under the current data.
   */
  decisionsFor(identity: Identity, definition: ServiceDefinition): SessionGrants {
    const denied: Record<string, string> = {};
    for (const [action, name] of members(definition)) {
      const resource = { service: definition.name, name };
      const d = this.authorize(identity, action, resource);
      if (!d.allowed || d.wouldDeny) denied[`${action}:${name}`] = refusalMessage(identity, action, resource, d);
    }
    return this.mode === 'enforced' ? { mode: this.mode, denied } : { mode: this.mode, denied: {}, wouldDeny: denied };
  }

  /**
   * The runtime data `when` conditions read, each (service, path) once: an update of that service at a
   * path overlapping one of these (`pathsOverlap`) can change decisions, and grants handed out.
   */
  dependencies(): { service: string; path: string }[] {
    const seen = new Map<string, { service: string; path: string }>();
    for (const s of this.statements) for (const c of s.when) seen.set(`${c.service}:${c.path}`, { service: c.service, path: c.path });
    return [...seen.values()];
  }

  /** Warnings (with positions) for names in the policy that no registered service, method, event or path matches. */
  unknownNames(definitions: Iterable<ServiceDefinition>): Diagnostic[] {
    return unknownNames(this.statements, definitions);
  }

  /** What no unconditional statement decides, per service; format with `formatCoverage`. */
  coverage(definitions: Iterable<ServiceDefinition>): CoverageGap[] {
    return coverage(this.statements, this.identityNames, definitions);
  }

  /**
   * The statements that can decide `action` on `name` for this identity and service, in file order:
   * the last unconditional one that covers the name (earlier ones can never decide) and the conditional
   * ones after it. Cached per (action, identity, service, name); lengths keep the key unambiguous.
   */
  private deciders(action: Action, service: string, identity: string, name: string | undefined): CompiledStatement[] {
    const key = `${action}:${identity.length}:${identity}${service.length}:${service}${name === undefined ? '-' : `+${name}`}`;
    let list = this.cache.get(key);
    if (!list) {
      const covering = this.statements.filter((s) => appliesTo(s, identity, action, service) && coversName(s, action, name));
      let from = covering.length - 1;
      while (from > 0 && covering[from].when.length > 0) from--;
      list = covering.slice(Math.max(0, from));
      if (this.cache.size >= MAX_CACHED) this.cache.clear();
      this.cache.set(key, list);
    }
    return list;
  }

  /** The decision of statement `s` (its conditions holding), noting a later one skipped for missing data. */
  private decision(s: CompiledStatement, skipped: CompiledStatement | undefined): Decision {
    const label = s.source.label;
    let reason = `${s.allow ? 'allowed' : 'denied'} by ${label}`;
    if (s.when.length > 0) reason += ` ${explainHolding(s.when, this.reader)}`;
    if (skipped) reason += `; ${this.notApplied(skipped)}`;
    if (s.allow) return { allowed: true, reason, statement: label, mode: this.mode };
    return { ...this.denial(reason), statement: label };
  }

  /** A denial: refused in enforced mode, allowed with `wouldDeny` in notify mode. */
  private denial(reason: string): Decision {
    return this.mode === 'enforced' ? { allowed: false, reason, mode: this.mode } : { allowed: true, wouldDeny: true, reason, mode: this.mode };
  }

  private notApplied(s: CompiledStatement): string {
    return `${s.source.label} did not apply: ${explainMissing(s.when, this.reader)}`;
  }
}

/** Every (action, name) of a definition a session can use: methods, events, runtime-data paths (root first). */
function* members(definition: ServiceDefinition): Generator<[NamedAction, string]> {
  for (const method of definition.methods.keys()) yield ['call', method];
  for (const event of definition.events.keys()) yield ['subscribe', event];
  for (const path of runtimeDataPaths(definition.runtimeData)) yield ['read', path];
}

/** The message `enforce` would throw for this decision: the same words on the server and on a direct link. */
function refusalMessage(identity: Identity, action: Action, resource: Resource, decision: Decision): string {
  try {
    enforce({ authorize: () => ({ ...decision, allowed: false }) }, identity, action, resource);
  } catch (err) {
    if (err instanceof PeerwayError) return err.message;
    throw err;
  }
  return decision.reason ?? NO_STATEMENT;
}
