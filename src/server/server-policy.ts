import { watch, type FSWatcher } from 'node:fs';
import type { ServiceDefinition } from '../definition/model.js';
import { formatDiagnostic } from '../definition/model.js';
import type { Logger } from '../logger.js';
import { loadPolicy } from '../policy/policy-file.js';
import { formatCoverage, Policy } from '../policy/policy.js';
import type { Broker } from './broker.js';
import type { Authenticator } from './authentication.js';

/**
 * The server's policy file: loaded at start (errors stop the server), reported on (unknown names and
 * uncovered operations, for each service as it registers), and reloaded on SIGHUP or when the file
 * changes, without dropping sessions; a reload with errors keeps the policy in force and says why.
 */
export class ServerPolicy {
  private policy: Policy | undefined;
  private watcher: FSWatcher | undefined;
  private reloadTimer: NodeJS.Timeout | undefined;
  /** The unknown-name warnings given for the policy in force (position and text), so each is given once. */
  private readonly warned = new Set<string>();
  private readonly onHangup = () => void this.reload('SIGHUP');

  constructor(
    readonly file: string,
    private readonly broker: Broker,
    private readonly authenticator: Authenticator,
    private readonly log: Logger,
  ) {}

  /** Loads the file; throws CONFIG_INVALID with every `file:line:col` problem. */
  async load(): Promise<Policy> {
    const model = await loadPolicy(this.file);
    for (const w of model.warnings) this.log.warn({ policy: this.file }, formatDiagnostic(w));
    const policy = new Policy(model, { runtimeData: { get: (service, path) => this.read(service, path) } });
    this.install(policy);
    this.log.info({ policy: this.file, mode: policy.mode, statements: model.statements.length }, 'policy loaded');
    return policy;
  }

  get current(): Policy | undefined {
    return this.policy;
  }

  /** Watches the file and SIGHUP for reloads. */
  watch(): void {
    process.on('SIGHUP', this.onHangup);
    try {
      this.watcher = watch(this.file, () => {
        // Editors write in several steps: reload once things settle.
        clearTimeout(this.reloadTimer);
        this.reloadTimer = setTimeout(() => void this.reload('file changed'), 200);
        this.reloadTimer.unref();
      });
      this.watcher.unref();
    } catch (err) {
      this.log.warn({ policy: this.file, reason: (err as Error).message }, 'cannot watch the policy file; reload with SIGHUP');
    }
  }

  stop(): void {
    process.off('SIGHUP', this.onHangup);
    this.watcher?.close();
    clearTimeout(this.reloadTimer);
  }

  /** Loads the file again; on errors the policy in force stays, and the log says why. */
  async reload(why: string): Promise<boolean> {
    try {
      const model = await loadPolicy(this.file);
      const policy = new Policy(model, { runtimeData: { get: (service, path) => this.read(service, path) } });
      this.install(policy);
      this.log.info({ policy: this.file, why, mode: policy.mode, statements: model.statements.length }, 'policy reloaded');
      for (const entry of this.broker.services.values()) this.report(entry.definition);
      return true;
    } catch (err) {
      this.log.error({ policy: this.file, why, reason: (err as Error).message }, 'policy reload failed; the policy in force stays');
      return false;
    }
  }

  /**
   * Warnings about a service as it registers: names the policy does not know, operations it does not decide.
   * Names are checked against every service registered (the new one included), not the new one alone: a
   * statement about another registered service is not about an unknown one. Each warning is given once per
   * policy loaded; it is given again only when it says something new (a "did you mean" a later service brings).
   */
  report(definition: ServiceDefinition): void {
    const policy = this.policy;
    if (!policy) return;
    const registered = [...this.broker.services.values()].map((e) => e.definition);
    if (!registered.includes(definition)) registered.push(definition);
    for (const w of policy.unknownNames(registered)) {
      const key = `${w.line}:${w.column}:${w.message.replace(/; registered: .*$/, '')}`;
      if (this.warned.has(key)) continue;
      this.warned.add(key);
      this.log.warn({ policy: this.file, service: definition.name }, formatDiagnostic(w));
    }
    for (const line of formatCoverage(policy.coverage([definition]))) this.log.info({ policy: this.file, service: definition.name }, `coverage: ${line}`);
  }

  private install(policy: Policy): void {
    this.policy = policy;
    this.warned.clear();
    this.authenticator.setResolver(policy);
    this.broker.setAuthorizer(policy);
  }

  /** The server's copy of runtime data, for the policy's conditions; undefined when there is none. */
  private read(service: string, path: string): unknown {
    try {
      return this.broker.services.get(service)?.runtimeData.get(path);
    } catch {
      return undefined; // a path the service does not have
    }
  }
}
