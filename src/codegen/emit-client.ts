import type { MethodDef, ServiceDefinition } from '../definition/model.js';
import { byName, fieldsType, signature } from './emit-types.js';
import { clientMethodNames, type ModuleNames } from './naming.js';
import { tsType, type CodegenTarget } from './type-mapping.js';

/**
 * The typed client of a generated module: an interface with one async method per definition method plus
 * `on`, `get`, `watch` and `stop`, and `open<Service>(client)` / `as<Service>(session)` that make one over
 * the Node client's `Session` or the browser client's. The object only forwards to the session, which
 * checks arguments and results against the definition it received (the types here cannot see a service
 * that changed since), and keeps doing so across reconnects.
 */

function methodLines(definition: ServiceDefinition, target: CodegenTarget): { method: MethodDef; member: string; params: string; result: string }[] {
  const members = clientMethodNames(byName(definition.methods.values()).map((m) => m.name));
  return byName(definition.methods.values()).map((method) => {
    const member = members.get(method.name) ?? method.name;
    const params = method.arguments.length === 0 ? 'options?: RequestOptions' : `args: ${fieldsType(method.arguments, target, '  ')}, options?: RequestOptions`;
    return { method, member, params, result: tsType(method.returns, target) };
  });
}

export function emitClient(definition: ServiceDefinition, names: ModuleNames, target: CodegenTarget): string[] {
  const n = names;
  const value = `${n.dataPaths}[P]`;
  const browser = target === 'browser';
  const methods = methodLines(definition, target);
  const watchResult = browser ? `Watch<${value}>` : `Subscription & { readonly snapshot: ${value} }`;
  const subOptions = browser ? ', options?: RequestOptions' : '';

  const out = [
    `/** A session with ${definition.name}: its methods, events and runtime data, typed by the definition. */`,
    `export interface ${n.client} {`,
    `  /** The session underneath: its id, its state and its \`ended\`${browser ? '' : ' and `restored`'} events. */`,
    '  readonly session: Session;',
  ];
  for (const m of methods) {
    const renamed = m.member === m.method.name ? '' : ` (as \`${m.member}\`: \`${m.method.name}\` is taken by the client)`;
    out.push(`  /** \`${signature(m.method)}\`${renamed} */`);
    out.push(`  ${m.member}(${m.params}): Promise<${m.result}>;`);
  }
  out.push(
    '  /** Calls `listener` with the arguments of each `event` the service sends from now on, until closed. */',
    `  on<E extends ${n.eventName}>(event: E, listener: (args: ${n.events}[E], event: ServiceEvent) => void${subOptions}): Promise<Subscription>;`,
    '  /** The runtime data at `path` now. */',
    `  get<P extends ${n.dataPath}>(path: P${subOptions}): Promise<${value}>;`,
    '  /**',
    '   * Resolves with the runtime data at `path` now (`snapshot`), then calls `listener` with the value at',
    '   * `path` after each change that touches it, until closed.',
    '   */',
    `  watch<P extends ${n.dataPath}>(path: P, listener: (value: ${value}, change: DataChange) => void${subOptions}): Promise<${watchResult}>;`,
    '  /** Ends the session. */',
    '  stop(options?: RequestOptions): Promise<void>;',
    '}',
    '',
    `/** Starts a session with ${definition.name} and resolves with its typed client. */`,
    `export async function ${n.open}(client: PeerwayClient, options?: ${browser ? 'RequestOptions' : 'StartSessionOptions'}): Promise<${n.client}> {`,
    `  return ${n.wrap}(await client.startSession(${JSON.stringify(definition.name).replace(/"/g, "'")}, options));`,
    '}',
    '',
    `/** The typed client over a session with ${definition.name} that was started otherwise. */`,
    `export function ${n.wrap}(session: Session): ${n.client} {`,
    '  return {',
    '    session,',
  );
  for (const m of methods) {
    const call = `'${m.method.name}'`;
    out.push(
      m.method.arguments.length === 0
        ? `    ${m.member}: (options) => session.call<${m.result}>(${call}, {}, options),`
        : `    ${m.member}: (args, options) => session.call<${m.result}>(${call}, args, options),`,
    );
  }
  out.push(...(browser ? browserMembers(n) : nodeMembers(n)), '    stop: (options) => session.stop(options),', '  };', '}', '');
  return out;
}

/** `on`, `get`, `watch` over the Node client's session, whose `data` is its copy of the runtime data. */
function nodeMembers(n: ModuleNames): string[] {
  const value = `${n.dataPaths}[P]`;
  return [
    `    on<E extends ${n.eventName}>(event: E, listener: (args: ${n.events}[E], event: ServiceEvent) => void): Promise<Subscription> {`,
    `      return session.onEvent(event, (e) => listener(e.args as ${n.events}[E], e));`,
    '    },',
    `    async get<P extends ${n.dataPath}>(path: P): Promise<${value}> {`,
    '      const watch = await session.watch(path, () => undefined);',
    '      await watch.close();',
    `      return watch.snapshot as ${value};`,
    '    },',
    `    async watch<P extends ${n.dataPath}>(path: P, listener: (value: ${value}, change: DataChange) => void): Promise<Subscription & { readonly snapshot: ${value} }> {`,
    '      const watch = await session.watch(path, (change) => {',
    "        // The session's copy is current when watchers are called; a change may be above or below `path`.",
    '        let value: unknown;',
    '        try {',
    '          value = session.data.get(path);',
    '        } catch {',
    '          return; // the watched element of a list is gone',
    '        }',
    `        listener(value as ${value}, change);`,
    '      });',
    `      return { snapshot: watch.snapshot as ${value}, close: () => watch.close() };`,
    '    },',
  ];
}

/**
 * `on`, `get`, `watch` over the browser client's session. It keeps no copy of the runtime data, so each
 * watch follows its own value from the snapshot (see `valueAfter`, emitted by {@link emitBrowserHelpers}).
 */
function browserMembers(n: ModuleNames): string[] {
  const value = `${n.dataPaths}[P]`;
  return [
    `    on<E extends ${n.eventName}>(event: E, listener: (args: ${n.events}[E], event: ServiceEvent) => void, options?: RequestOptions): Promise<Subscription> {`,
    `      return session.onEvent(event, (e) => listener(e.args as ${n.events}[E], e), options);`,
    '    },',
    `    async get<P extends ${n.dataPath}>(path: P, options?: RequestOptions): Promise<${value}> {`,
    '      const watch = await session.watch(path, () => undefined, options);',
    '      await watch.close();',
    `      return watch.snapshot as ${value};`,
    '    },',
    `    async watch<P extends ${n.dataPath}>(path: P, listener: (value: ${value}, change: DataChange) => void, options?: RequestOptions): Promise<Watch<${value}>> {`,
    '      let current: unknown;',
    '      let ready = false; // a change before the snapshot is already in it',
    '      const watch = await session.watch(',
    '        path,',
    '        (change) => {',
    '          if (!ready) return;',
    '          const next = valueAfter(current, path, change.path, change.value);',
    '          if (next === UNCHANGED) return;',
    '          current = next;',
    `          listener(next as ${value}, change);`,
    '        },',
    '        options,',
    '      );',
    '      current = watch.snapshot;',
    '      ready = true;',
    `      return { snapshot: watch.snapshot as ${value}, close: () => watch.close() };`,
    '    },',
  ];
}

/** The browser module's private helpers: following one watched value through the gateway's changes. */
export function emitBrowserHelpers(): string[] {
  return [
    '/** What `valueAfter` answers when a change leaves the watched value as it was. */',
    "const UNCHANGED: unique symbol = Symbol('unchanged');",
    '',
    'function isObject(value: unknown): value is Record<string, unknown> {',
    "  return typeof value === 'object' && value !== null && !Array.isArray(value);",
    '}',
    '',
    '/**',
    ' * The value at `watched` after a change at `changed`: the gateway sends the value at the path the service',
    ' * wrote, which may be the watched path, above it (take the part below) or inside it (put it in place).',
    ' */',
    'function valueAfter(current: unknown, watched: string, changed: string, value: unknown): unknown {',
    '  if (changed === watched) return merged(current, value);',
    "  if (changed === '' || watched.startsWith(`${changed}.`)) {",
    '    let at = value;',
    "    for (const key of (changed === '' ? watched : watched.slice(changed.length + 1)).split('.')) {",
    '      if (Array.isArray(at) && Number(key) < at.length) at = at[Number(key)] as unknown;',
    '      else if (isObject(at) && Object.prototype.hasOwnProperty.call(at, key)) at = at[key];',
    '      else return UNCHANGED;',
    '    }',
    '    return merged(current, at);',
    '  }',
    "  if (watched === '' || changed.startsWith(`${watched}.`)) {",
    "    return withValueAt(current, (watched === '' ? changed : changed.slice(watched.length + 1)).split('.'), value);",
    '  }',
    '  return UNCHANGED;',
    '}',
    '',
    '/** `value` laid over `current`: objects child by child (a change may leave out what the policy hides), the rest replaced. */',
    'function merged(current: unknown, value: unknown): unknown {',
    '  if (!isObject(current) || !isObject(value)) return value;',
    '  const out: Record<string, unknown> = { ...current };',
    '  for (const [key, item] of Object.entries(value)) out[key] = merged(current[key], item);',
    '  return out;',
    '}',
    '',
    '/** A copy of `current` with `value` at `keys` below it, copying objects and lists on the way. */',
    'function withValueAt(current: unknown, keys: readonly string[], value: unknown): unknown {',
    '  if (keys.length === 0) return merged(current, value);',
    '  const [key, ...rest] = keys;',
    '  if (Array.isArray(current)) {',
    '    const index = Number(key);',
    '    if (!(index < current.length)) return UNCHANGED;',
    '    const inner = withValueAt(current[index], rest, value);',
    '    if (inner === UNCHANGED) return UNCHANGED;',
    '    const copy: unknown[] = current.slice();',
    '    copy[index] = inner;',
    '    return copy;',
    '  }',
    '  if (!isObject(current) || key === undefined) return UNCHANGED;',
    '  const inner = withValueAt(current[key], rest, value);',
    '  return inner === UNCHANGED ? UNCHANGED : { ...current, [key]: inner };',
    '}',
    '',
  ];
}
