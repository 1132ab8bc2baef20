import type { ServiceDefinition } from '../definition/model.js';
import { byName, fieldsType, signature } from './emit-types.js';
import type { ModuleNames } from './naming.js';
import { tsType } from './type-mapping.js';

/**
 * The typed implementation side of a (Node) generated module: the service API with typed `emit`, `set`
 * and `get`, the call context that carries it, the implementation interface with one handler per method,
 * and `define<Service>Service`, the typed twin of `defineService`. At run time the object is an ordinary
 * implementation: the runner checks each call's arguments against the definition before the handler runs
 * and its result after, which is what makes the handler's parameter types true.
 */
export function emitService(definition: ServiceDefinition, names: ModuleNames, xmlBaseName: string): string[] {
  const n = names;
  const out = [
    `/** The service API ${definition.name}'s implementation gets: \`ServiceApi\` with \`emit\`, \`set\` and \`get\` typed. */`,
    `export interface ${n.serviceApi} extends Omit<ServiceApi, 'emit' | 'set' | 'get'> {`,
    '  /** Sends `event` to every subscriber. */',
    `  emit<E extends ${n.eventName}>(event: E, args: ${n.events}[E]): void;`,
    '  /** Writes the runtime data at `path` and publishes it. */',
    `  set<P extends ${n.dataPath}>(path: P, value: ${n.dataPaths}[P]): void;`,
    "  /** A copy of the runtime data at `path` ('' is the whole tree). */",
    `  get<P extends ${n.dataPath}>(path: P): ${n.dataPaths}[P];`,
    '}',
    '',
    `/** What each method of ${definition.name}'s implementation gets besides its arguments. */`,
    `export interface ${n.callContext} extends Omit<CallContext, 'service'> {`,
    `  readonly service: ${n.serviceApi};`,
    '}',
    '',
    `/** An implementation of ${definition.name}: the default export of its implementation module, found next to ${xmlBaseName}. */`,
    `export interface ${n.service} {`,
  ];
  const methods = byName(definition.methods.values());
  if (methods.length === 0) {
    out.push('  methods?: Record<never, never>;');
  } else {
    out.push('  methods: {');
    for (const m of methods) {
      const result = tsType(m.returns, 'node');
      out.push(`    /** \`${signature(m)}\` */`);
      out.push(`    ${m.name}: (args: ${fieldsType(m.arguments, 'node', '    ')}, ctx: ${n.callContext}) => ${result} | Promise<${result}>;`);
    }
    out.push('  };');
  }
  out.push(
    '  /** Runs once before the service is registered; keep `service` to emit events and write runtime data. */',
    `  start?(service: ${n.serviceApi}): void | Promise<void>;`,
    '  /** Runs when the process shuts down. */',
    '  stop?(): void | Promise<void>;',
    '}',
    '',
    '/**',
    ` * Gives an implementation of ${definition.name} its types:`,
    ` * \`export default ${n.define}({ methods: { … }, start(service) { … } })\`.`,
    ' * The result is also a `ServiceImplementation`, as the runner and `ServiceRuntime` take it.',
    ' */',
    `export function ${n.define}(impl: ${n.service}): ${n.service} & ServiceImplementation {`,
    `  return impl as ${n.service} & ServiceImplementation;`,
    '}',
    '',
  );
  return out;
}
