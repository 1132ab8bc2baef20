import { existsSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { PeerwayError } from '../errors.js';
import type { ServiceDefinition } from '../definition/model.js';
import type { Identity } from '../policy/authorizer.js';

/** What a method implementation receives besides its arguments. */
export interface CallContext {
  /** The session the call belongs to. */
  session: string;
  /** How the call arrived: relayed by the server, or over a peer-to-peer link. */
  route: 'server' | 'direct';
  /**
   * Who is calling, as the server authenticated the session's client (`anonymous` without credentials).
   * Never what the client says about itself.
   */
  identity: Identity;
  /** The service itself, to emit events or update runtime data from inside a method. */
  service: ServiceApi;
}

/** The handle a service implementation gets in `start(service)` and in every call context. */
export interface ServiceApi {
  readonly name: string;
  readonly definition: ServiceDefinition;
  /** Sends an event to every subscriber; arguments are checked against the definition. */
  emit(event: string, args?: Record<string, unknown>): void;
  /** Writes runtime data at a dot path; the value is checked against the definition and published. */
  set(path: string, value: unknown): void;
  /** Reads runtime data at a dot path ('' = the whole tree). */
  get(path?: string): unknown;
}

// `any` on purpose: arguments were checked against the definition before the call, and handlers
// destructure them (`({ a, b }) => a + b`); `peerway codegen` gives typed handlers instead (the generated
// service interface, README "Typed code from definitions").
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type MethodHandler = (args: Record<string, any>, ctx: CallContext) => unknown;

/**
 * The implementation contract: the default export of the module next to the XML (same base name,
 * `.js`/`.mjs`/`.ts`) or given with `--impl`.
 */
export interface ServiceImplementation {
  methods?: Record<string, MethodHandler>;
  start?(service: ServiceApi): void | Promise<void>;
  stop?(): void | Promise<void>;
}

/** Identity helper that gives a TypeScript implementation full type checking of its shape. */
export function defineService(impl: ServiceImplementation): ServiceImplementation {
  return impl;
}

/** Where an implementation is looked for next to its XML, in this order. */
export const IMPLEMENTATION_EXTENSIONS = ['.js', '.mjs', '.cjs', '.ts', '.mts', '.cts'];

/** Kanzi Connect names a service's file `MyService.xml` or `MyService_interface.xml`. */
const KANZI_INTERFACE_SUFFIX = /_interface$/i;

/**
 * The files an implementation is looked for in, in order, next to `xmlFile`: its base name with each of
 * {@link IMPLEMENTATION_EXTENSIONS}, then, for `MyService_interface.xml`, `MyService` with each (so the
 * implementation of a Kanzi Connect interface file is `MyService.mjs` or `MyService.ts`).
 */
export function implementationCandidates(xmlFile: string): string[] {
  const base = xmlFile.replace(/\.xml$/i, '');
  const bases = [base];
  if (KANZI_INTERFACE_SUFFIX.test(base) && !/[\\/]$/.test(base.replace(KANZI_INTERFACE_SUFFIX, ''))) bases.push(base.replace(KANZI_INTERFACE_SUFFIX, ''));
  return bases.flatMap((b) => IMPLEMENTATION_EXTENSIONS.map((ext) => b + ext));
}

/** The implementation file for a definition: the explicit one, or the first of {@link implementationCandidates} that exists. */
export function findImplementation(xmlFile: string, explicit?: string): string | undefined {
  if (explicit) return path.resolve(explicit);
  const found = implementationCandidates(xmlFile).find((file) => existsSync(file));
  return found === undefined ? undefined : path.resolve(found);
}

let tsxRegistered = false;

/**
 * The default export, also when the module was compiled to CommonJS (a .ts file in a package without
 * "type": "module"): importing it then gives `module.exports`, which holds `default` and `__esModule`.
 */
function unwrapDefault(value: unknown): unknown {
  const cjs = value as { __esModule?: unknown; default?: unknown } | null | undefined;
  return cjs && typeof cjs === 'object' && cjs.__esModule === true && 'default' in cjs ? cjs.default : value;
}

/**
 * Imports an implementation module and checks its shape, so a typo (`method:` instead of `methods:`, a
 * method the XML does not declare) is reported at start-up with the file name, not at the first call.
 */
export async function loadImplementation(file: string, definition: ServiceDefinition): Promise<ServiceImplementation> {
  if (!existsSync(file)) {
    throw new PeerwayError('CONFIG_INVALID', `implementation ${file} does not exist (check the --impl path)`);
  }
  if (/\.[mc]?ts$/.test(file) && !tsxRegistered) {
    // TypeScript implementations are loaded through tsx, registered only when one is actually used. Both
    // loaders: a .ts file in a package without "type": "module" (npm's default) is loaded as CommonJS.
    const [esm, cjs] = await Promise.all([import('tsx/esm/api'), import('tsx/cjs/api')]);
    esm.register();
    cjs.register();
    tsxRegistered = true;
  }
  let mod: { default?: unknown };
  try {
    mod = (await import(pathToFileURL(file).href)) as { default?: unknown };
  } catch (err) {
    throw new PeerwayError('CONFIG_INVALID', `cannot load implementation ${file}: ${(err as Error).message}`, { cause: err });
  }
  const impl = unwrapDefault(mod.default);
  if (typeof impl !== 'object' || impl === null) {
    throw new PeerwayError('CONFIG_INVALID', `${file} must have a default export object { methods?, start?, stop? } (found ${impl === undefined ? 'no default export' : typeof impl})`);
  }
  const allowed = new Set(['methods', 'start', 'stop']);
  for (const key of Object.keys(impl)) {
    if (!allowed.has(key)) {
      throw new PeerwayError('CONFIG_INVALID', `${file}: unknown key "${key}" in the default export; allowed: methods, start, stop`);
    }
  }
  const shaped = impl as ServiceImplementation;
  for (const key of ['start', 'stop'] as const) {
    if (shaped[key] !== undefined && typeof shaped[key] !== 'function') {
      throw new PeerwayError('CONFIG_INVALID', `${file}: "${key}" must be a function`);
    }
  }
  if (shaped.methods !== undefined) {
    if (typeof shaped.methods !== 'object' || shaped.methods === null) {
      throw new PeerwayError('CONFIG_INVALID', `${file}: "methods" must be an object of functions`);
    }
    for (const [name, fn] of Object.entries(shaped.methods)) {
      if (!definition.methods.has(name)) {
        const declared = [...definition.methods.keys()].join(', ') || 'none';
        throw new PeerwayError('CONFIG_INVALID', `${file}: method "${name}" is not declared in ${definition.file} (declared: ${declared})`);
      }
      if (typeof fn !== 'function') throw new PeerwayError('CONFIG_INVALID', `${file}: methods.${name} must be a function`);
    }
  }
  return shaped;
}
