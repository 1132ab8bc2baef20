import type { RuntimeDataNode, ServiceDefinition } from '../definition/model.js';
import { PeerwayError } from '../errors.js';
import type { SessionGrants } from '../wire/messages.js';
import { enforce, type Action, type Authorizer, type Identity } from './authorizer.js';
import { policyPath } from './policy-globs.js';

/** Every object and leaf path of a runtime-data tree ('' for the root). */
export function dataPaths(node: RuntimeDataNode, out: string[] = []): string[] {
  out.push(node.path);
  if (node.kind === 'object') for (const child of node.children) dataPaths(child, out);
  return out;
}

/**
 * What `authorizer` decides for `identity` on every method, event and runtime-data path of `definition`,
 * as the denials a service enforces on a session's direct links (the server computes them; the service
 * never sees the policy). The policy computes them itself (decisionsFor); any other authorizer is asked
 * resource by resource. Each reason is the very message the server's own refusal carries, so a denied
 * call reads the same on both routes. Reads are decided per path: a path allowed under a denied parent
 * has no entry.
 */
export function computeGrants(authorizer: Authorizer, identity: Identity, definition: ServiceDefinition): SessionGrants {
  if (authorizer.decisionsFor) return { denied: authorizer.decisionsFor(identity, definition).denied };
  const denied: Record<string, string> = {};
  const service = definition.name;
  const check = (action: Action, name: string, key: string) => {
    try {
      enforce(authorizer, identity, action, { service, name });
    } catch (err) {
      if (err instanceof PeerwayError && err.code === 'POLICY_DENIED') denied[key] = err.message;
      else throw err;
    }
  };
  for (const method of definition.methods.keys()) check('call', method, `call:${method}`);
  for (const event of definition.events.keys()) check('subscribe', event, `subscribe:${event}`);
  for (const path of dataPaths(definition.runtimeData)) check('read', path, `read:${path}`);
  return { denied };
}

/**
 * The denials of two deciders together (a session relayed between two servers of a cluster: both policies
 * apply). Where both deny the same resource, `own`'s reason is kept.
 */
export function mergeGrants(own: SessionGrants, peer: SessionGrants | undefined): SessionGrants {
  if (!peer || Object.keys(peer.denied).length === 0) return own;
  return { denied: { ...peer.denied, ...own.denied } };
}

/** Whether two grants say the same (so nothing needs re-sending). */
export function sameGrants(a: SessionGrants, b: SessionGrants): boolean {
  const ka = Object.keys(a.denied);
  return ka.length === Object.keys(b.denied).length && ka.every((k) => a.denied[k] === b.denied[k]);
}

/**
 * One session's grants, asked on the service side: is this call, event or path denied, and why. Cheap
 * when nothing is denied (the common case): one property count.
 */
export class GrantCheck {
  private readonly any: boolean;

  /**
   * `nodePaths`: the definition's runtime-data paths (grants name only those); a path inside a
   * struct-typed leaf is decided as that leaf.
   */
  constructor(
    readonly grants: SessionGrants = { denied: {} },
    private readonly nodePaths: ReadonlySet<string> = new Set(),
  ) {
    this.any = Object.keys(grants.denied).length > 0;
  }

  /** The reason `action` on `name` is denied, or undefined. Paths are decided one by one (list indices ignored). */
  denial(action: Action, name: string): string | undefined {
    if (!this.any) return undefined;
    if (action !== 'read') return this.grants.denied[`${action}:${name}`];
    let p = policyPath(name);
    while (p !== '' && !this.nodePaths.has(p)) p = p.includes('.') ? p.slice(0, p.lastIndexOf('.')) : '';
    return this.grants.denied[`read:${p}`];
  }

  /** Throws POLICY_DENIED with the server's wording when `action` on `name` is denied. */
  enforce(action: Action, name: string): void {
    const reason = this.denial(action, name);
    if (reason !== undefined) throw new PeerwayError('POLICY_DENIED', reason, { details: { action, name } });
  }

  /** Denied paths strictly inside `path`: what a value at `path` must be shown without. */
  deniedInside(path: string): string[] {
    if (!this.any) return [];
    const out: string[] = [];
    const base = policyPath(path);
    for (const key of Object.keys(this.grants.denied)) {
      if (!key.startsWith('read:')) continue;
      const p = key.slice(5);
      if (p !== base && (base === '' || p.startsWith(`${base}.`))) out.push(p);
    }
    return out;
  }
}
