import { PeerwayError } from '../errors.js';
import type { ServiceDefinition } from '../definition/model.js';

/**
 * Names in generated modules: the file name of a service's module, the identifiers declared for it, and
 * the renaming of definition methods whose names the client object already uses for something else.
 */

/**
 * The module's base name: the service name in kebab-case (`Climate` → `climate`, `ForkedRuntimeData` →
 * `forked-runtime-data`, `HTTPGateway` → `http-gateway`, `my_service` → `my-service`). Service names are
 * identifiers (`[A-Za-z_][A-Za-z0-9_]*`), so the result is a safe file name on every platform.
 */
export function kebabCase(name: string): string {
  const words = name
    .replace(/([a-z0-9])([A-Z])/g, '$1-$2')
    .replace(/([A-Z]+)([A-Z][a-z])/g, '$1-$2')
    .replace(/_+/g, '-')
    .replace(/^-+|-+$/g, '')
    .replace(/-+/g, '-')
    .toLowerCase();
  return words === '' ? 'service' : words;
}

/** `climate` → `Climate`: the prefix of every identifier a module declares for its service. */
export function pascalCase(name: string): string {
  return name.charAt(0).toUpperCase() + name.slice(1);
}

/**
 * What a generated module declares, named after the service. Struct types of the definition are declared
 * in the same module under their own names, so those must not clash with these (see {@link checkNames}).
 */
export type ModuleNames = {
  /** `openClimate(client, options?)`: starts a session and resolves with the typed client. */
  open: string;
  /** `asClimate(session)`: the typed client over a session started otherwise. */
  wrap: string;
  client: string;
  events: string;
  eventName: string;
  runtimeData: string;
  dataPaths: string;
  dataPath: string;
  service: string;
  serviceApi: string;
  callContext: string;
  define: string;
};

/**
 * The names for a service. One that would be a name the module imports or uses (service `Peerway` gives
 * `PeerwayClient`, which the module imports from 'peerway') gets a trailing `_` (`PeerwayClient_`), like
 * a method whose name the client uses.
 */
export function moduleNames(serviceName: string): ModuleNames {
  const names = plainModuleNames(serviceName);
  for (const key of Object.keys(names) as (keyof ModuleNames)[]) {
    while (USED_NAMES.includes(names[key])) names[key] += '_';
  }
  return names;
}

function plainModuleNames(serviceName: string): ModuleNames {
  const p = pascalCase(serviceName);
  return {
    open: `open${p}`,
    wrap: `as${p}`,
    client: `${p}Client`,
    events: `${p}Events`,
    eventName: `${p}EventName`,
    runtimeData: `${p}RuntimeData`,
    dataPaths: `${p}DataPaths`,
    dataPath: `${p}DataPath`,
    service: `${p}Service`,
    serviceApi: `${p}ServiceApi`,
    callContext: `${p}CallContext`,
    define: `define${p}Service`,
  };
}

/**
 * Names the generated code itself refers to: the types it imports (from `peerway` or `peerway/browser`),
 * the globals it uses in types, and TypeScript's own type names. A struct with one of these names would
 * shadow them inside the module.
 */
const USED_NAMES = [
  'CallContext', 'DataChange', 'PeerwayClient', 'RequestOptions', 'ServiceApi', 'ServiceEvent', 'ServiceImplementation', 'Session',
  'StartSessionOptions', 'Subscription', 'Watch',
  'Array', 'Omit', 'Promise', 'Record', 'Uint8Array', 'Object', 'String', 'Number', 'Boolean', 'BigInt', 'Symbol',
  'any', 'bigint', 'boolean', 'never', 'number', 'object', 'string', 'symbol', 'undefined', 'unknown', 'void', 'null',
];

/**
 * Members of the typed client object besides the definition's methods. A method with one of these names
 * gets a trailing `_` (`stop` → `stop_`). `then` is listed because an object with a `then` method is
 * taken for a promise by `await`, which would break `await openClimate(…)`; `__proto__` because in an
 * object literal it sets the prototype instead of a property.
 */
export const CLIENT_MEMBERS: readonly string[] = ['session', 'on', 'get', 'watch', 'stop', 'then', '__proto__'];

/**
 * The property name each definition method has on the typed client: its own name, or that name with
 * trailing underscores when it clashes with a client member or (after renaming) with another method.
 */
export function clientMethodNames(methods: readonly string[]): Map<string, string> {
  const taken = new Set<string>([...CLIENT_MEMBERS, ...methods.filter((m) => !CLIENT_MEMBERS.includes(m))]);
  const out = new Map<string, string>();
  for (const method of methods) {
    if (!CLIENT_MEMBERS.includes(method)) {
      out.set(method, method);
      continue;
    }
    let name = `${method}_`;
    while (taken.has(name)) name += '_';
    taken.add(name);
    out.set(method, name);
  }
  return out;
}

/**
 * Refuses a definition whose struct type names clash with what the module declares or uses: the module
 * would not compile, or would mean something else. The message names the type and the way out.
 * @throws PeerwayError `DEFINITION_INVALID`
 */
export function checkNames(definition: ServiceDefinition, names: ModuleNames): void {
  const reserved = new Map<string, string>();
  for (const used of USED_NAMES) reserved.set(used, 'a name the generated code uses');
  for (const declared of Object.values(names)) reserved.set(declared, `the name codegen declares for service ${definition.name}`);
  for (const struct of [...definition.types.values()].sort((a, b) => (a.name < b.name ? -1 : 1))) {
    const why = reserved.get(struct.name);
    if (why === undefined) continue;
    const { file, line, column } = struct.pos;
    throw new PeerwayError(
      'DEFINITION_INVALID',
      `${file}:${line}:${column}: type name "${struct.name}" is ${why} in the generated module; rename the type to generate code for this definition`,
      { details: { file, type: struct.name } },
    );
  }
}
