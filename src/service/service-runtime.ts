import { PeerwayError } from '../errors.js';
import type { MethodDef, ServiceDefinition } from '../definition/model.js';
import { checkArguments, checkValue } from '../definition/values.js';
import { RuntimeDataTree } from '../definition/runtime-data-tree.js';
import type { Logger } from '../logger.js';
import type { CallContext, ServiceApi, ServiceImplementation } from './implementation.js';

/** Where a service's events and runtime-data changes go: the server hub, a runner connection, direct links. */
export interface ServiceOutput {
  event(name: string, args: Record<string, unknown>): void;
  data(path: string, value: unknown): void;
}

/**
 * One running service: its definition, its implementation, and the only writable copy of its runtime
 * data. Shared by in-process services (inside the server) and remote ones (inside a runner), so both
 * check arguments, results, events and runtime data the same way.
 */
export class ServiceRuntime {
  readonly name: string;
  readonly tree: RuntimeDataTree;
  readonly api: ServiceApi;
  private readonly outputs = new Set<ServiceOutput>();
  private started = false;

  constructor(
    readonly definition: ServiceDefinition,
    private readonly impl: ServiceImplementation,
    private readonly log: Logger,
  ) {
    this.name = definition.name;
    this.tree = new RuntimeDataTree(definition);
    // A bad emit or set is the implementation's bug, not its caller's: whatever the check raised
    // (EVENT_NOT_FOUND, BAD_ARGUMENT, PATH_NOT_FOUND) reaches a caller as IMPLEMENTATION_ERROR.
    this.api = {
      name: definition.name,
      definition,
      emit: (event, args) => {
        try {
          this.emit(event, args ?? {});
        } catch (err) {
          throw serviceApiError(this.name, `emit("${event}")`, err);
        }
      },
      set: (path, value) => {
        try {
          this.set(path, value);
        } catch (err) {
          throw serviceApiError(this.name, `set("${path}")`, err);
        }
      },
      get: (path) => this.tree.get(path ?? ''),
    };
  }

  addOutput(output: ServiceOutput): () => void {
    this.outputs.add(output);
    return () => this.outputs.delete(output);
  }

  async start(): Promise<void> {
    if (this.started) return;
    this.started = true;
    try {
      await this.impl.start?.(this.api);
    } catch (err) {
      throw new PeerwayError('IMPLEMENTATION_ERROR', `${this.name}: start() threw: ${(err as Error).message}`, { cause: err });
    }
  }

  async stop(): Promise<void> {
    if (!this.started) return;
    this.started = false;
    try {
      await this.impl.stop?.();
    } catch (err) {
      this.log.warn({ service: this.name, err }, 'stop() threw');
    }
  }

  /**
   * Checks the arguments, runs the method, checks its result. Errors are PeerwayErrors with stable codes.
   * A method that returns a plain value is answered without a promise (the channel replies at once); only a
   * method that returns a promise makes the result a promise. Errors are thrown either way.
   */
  invoke(method: string, args: Record<string, unknown> | undefined, ctx: Omit<CallContext, 'service'>): unknown {
    const def = this.definition.methods.get(method);
    if (!def) {
      const known = [...this.definition.methods.keys()].join(', ') || 'none';
      throw new PeerwayError('METHOD_NOT_FOUND', `service ${this.name} has no method "${method}" (methods: ${known})`);
    }
    const { where, resultWhere } = this.names(def);
    const checked = checkArguments(this.definition, def.arguments, args, where);
    const handler = this.impl.methods?.[method];
    if (!handler) {
      throw new PeerwayError('NOT_IMPLEMENTED', `${where} is declared in ${this.definition.file} but its implementation has no methods.${method}`);
    }
    let result: unknown;
    try {
      result = handler(checked, { session: ctx.session, route: ctx.route, identity: ctx.identity, service: this.api });
    } catch (err) {
      throw this.implementationError(err, method, ctx.session);
    }
    if (isThenable(result)) {
      // Promise.resolve also adopts thenables that are not native promises (another realm, a library's).
      return Promise.resolve(result).then(
        (value) => this.checkResult(def.returns, value, where, resultWhere),
        (err) => {
          throw this.implementationError(err, method, ctx.session);
        },
      );
    }
    return this.checkResult(def.returns, result, where, resultWhere);
  }

  /** How errors name a method and its result, made once per method rather than for every call. */
  private names(def: MethodDef): { where: string; resultWhere: string } {
    let names = this.methodNames.get(def);
    if (!names) {
      const where = `${this.name}.${def.name}`;
      names = { where, resultWhere: `${where} result` };
      this.methodNames.set(def, names);
    }
    return names;
  }

  private readonly methodNames = new Map<MethodDef, { where: string; resultWhere: string }>();

  private checkResult(returns: MethodDef['returns'], result: unknown, where: string, resultWhere: string): unknown {
    if (returns.name === 'void') return undefined;
    try {
      return checkValue(this.definition, returns, result, resultWhere);
    } catch (err) {
      throw new PeerwayError('BAD_RESULT', `${(err as Error).message} (fix the implementation of ${where})`);
    }
  }

  private implementationError(err: unknown, method: string, session: string): PeerwayError {
    if (isServiceApiError(err)) {
      this.log.warn({ service: this.name, method, session, reason: err.message }, 'method broke its definition');
      return new PeerwayError('IMPLEMENTATION_ERROR', `${this.name}.${method}: ${err.message}`, { cause: err, details: err.details });
    }
    if (err instanceof PeerwayError) return err; // thrown on purpose by the implementation: passed on as it is
    this.log.warn({ service: this.name, method, session, err }, 'method threw');
    return new PeerwayError('IMPLEMENTATION_ERROR', `${this.name}.${method} threw: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
  }

  emit(event: string, args: Record<string, unknown>): void {
    const def = this.definition.events.get(event);
    if (!def) {
      const known = [...this.definition.events.keys()].join(', ') || 'none';
      throw new PeerwayError('EVENT_NOT_FOUND', `service ${this.name} has no event "${event}" (events: ${known})`);
    }
    const checked = checkArguments(this.definition, def.arguments, args, `${this.name} event ${event}`);
    for (const out of this.outputs) out.event(event, checked);
  }

  set(path: string, value: unknown): void {
    const normalised = this.tree.set(path, value);
    for (const out of this.outputs) out.data(path, normalised);
  }
}

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return value instanceof Promise || (typeof value === 'object' && value !== null && typeof (value as { then?: unknown }).then === 'function');
}

/**
 * What `service.emit` / `service.set` throw when the implementation breaks its own definition: an
 * IMPLEMENTATION_ERROR marked as coming from the service API, so a host can tell it from anything else
 * (a method's caller gets IMPLEMENTATION_ERROR; outside a method, the CLI's guard logs it instead of
 * letting it end the process).
 */
function serviceApiError(service: string, call: string, err: unknown): PeerwayError {
  const reason = err instanceof Error ? err.message : String(err);
  return new PeerwayError('IMPLEMENTATION_ERROR', `service.${call} of ${service} failed: ${reason} (a bug in the implementation of ${service})`, {
    cause: err,
    details: { service, call, origin: SERVICE_API, ...(err instanceof PeerwayError ? { reasonCode: err.code } : {}) },
  });
}

const SERVICE_API = 'service-api';

/** Whether `err` is a service implementation breaking its definition through the service API. */
export function isServiceApiError(err: unknown): err is PeerwayError {
  return err instanceof PeerwayError && err.code === 'IMPLEMENTATION_ERROR' && err.details?.origin === SERVICE_API;
}
