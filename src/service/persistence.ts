import { PeerwayError } from '../errors.js';
import type { RuntimeDataNode, RuntimeDataObject } from '../definition/model.js';
import { runtimeDataFromJson } from '../definition/runtime-data-json.js';
import { toJsonValue } from '../definition/value-text.js';
import type { Logger } from '../logger.js';
import type { PersistentStore } from './persistent-store.js';
import type { ServiceRuntime } from './service-runtime.js';

/**
 * Longest time a change to a persistent value waits before it is written. Changes in the meantime are
 * written together (a service that sets a value 1000 times a second writes its file 4 times a second).
 * With the write itself (milliseconds) this keeps the documented promise: durable within 1 s at most.
 */
export const DEFAULT_PERSIST_DELAY_MS = 250;

/** After a failed write, the next attempt waits this long (the disk may be full; no busy loop). */
const RETRY_DELAY_MS = 1000;

/**
 * The nodes of a runtime-data tree whose values are kept across restarts: those marked `persistent="1"`,
 * outermost only (a persistent object keeps everything inside it). The parser leaves nodes inside lists
 * unmarked (only a whole list has a path to keep it under).
 */
export function persistentNodes(root: RuntimeDataObject): RuntimeDataNode[] {
  const found: RuntimeDataNode[] = [];
  const pending: RuntimeDataNode[] = [...root.children];
  for (let node = pending.pop(); node; node = pending.pop()) {
    if (node.persistent) found.push(node);
    else if (node.kind === 'object' && !node.repeated) pending.push(...node.children);
  }
  return found.sort((a, b) => (a.path < b.path ? -1 : 1));
}

/** Whether a write at `changed` may change the value at `kept` (one path is the other or inside it). */
function touches(changed: string, kept: string): boolean {
  return changed === '' || changed === kept || kept.startsWith(`${changed}.`) || changed.startsWith(`${kept}.`);
}

export interface PersistenceOptions {
  store: PersistentStore;
  log: Logger;
  /** Longest wait before a change is written (default {@link DEFAULT_PERSIST_DELAY_MS}). */
  delayMs?: number;
}

/**
 * Keeps the persistent runtime data of one service in a {@link PersistentStore}: `restore()` puts the
 * saved values into the service before it starts serving, then every change that touches a persistent
 * value is written, coalesced, within `delayMs`. `close()` writes what is pending.
 */
export class PersistentData {
  readonly nodes: RuntimeDataNode[];
  private readonly log: Logger;
  private readonly delayMs: number;
  private detach: (() => void) | undefined;
  private timer: NodeJS.Timeout | undefined;
  private dirty = false;
  private writing: Promise<void> | undefined;
  private failing = false;
  private closed = false;

  constructor(
    private readonly runtime: ServiceRuntime,
    private readonly options: PersistenceOptions,
  ) {
    this.nodes = persistentNodes(runtime.definition.runtimeData);
    this.log = options.log.child({ service: runtime.name });
    this.delayMs = options.delayMs ?? DEFAULT_PERSIST_DELAY_MS;
  }

  get location(): string {
    return this.options.store.location(this.runtime.name);
  }

  /**
   * Loads the saved values and writes them into the service (published like any change, so a copy the
   * server already holds follows), then starts watching for changes. A saved value that no longer fits
   * the definition (a changed type, a removed or no longer persistent node) is dropped with a warning.
   */
  async restore(): Promise<void> {
    const saved = (await this.options.store.load(this.runtime.name)) ?? {};
    let restored = 0;
    const dropped: string[] = [];
    for (const node of this.nodes) {
      if (!Object.prototype.hasOwnProperty.call(saved, node.path)) continue;
      const where = `persistent runtime data "${node.path}" of ${this.runtime.name}`;
      try {
        this.runtime.set(node.path, runtimeDataFromJson(this.runtime.definition, node, saved[node.path], where));
        restored++;
      } catch (err) {
        if (!(err instanceof PeerwayError)) throw err;
        dropped.push(node.path);
        this.log.warn({ file: this.location, path: node.path }, `the value saved in ${this.location} for "${node.path}" no longer fits the definition and is dropped (${err.message}); it starts from its default`);
      }
    }
    const kept = new Set(this.nodes.map((n) => n.path));
    for (const path of Object.keys(saved)) {
      if (kept.has(path)) continue;
      dropped.push(path);
      this.log.warn({ file: this.location, path }, `the value saved in ${this.location} for "${path}" is dropped: the definition no longer has a persistent node there`);
    }
    this.log.info({ file: this.location, persistent: this.nodes.map((n) => n.path) }, `persistent runtime data kept in ${this.location} (${restored} value(s) restored)`);
    this.detach = this.runtime.addOutput({ event: () => undefined, data: (path) => this.changed(path) });
    // Rewrite the file without what was dropped, so the warnings are not repeated at every start.
    if (dropped.length > 0) this.markDirty();
  }

  /** Writes pending changes now and waits until they are on disk (or the write failed and was logged). */
  async flush(): Promise<void> {
    clearTimeout(this.timer);
    this.timer = undefined;
    while (this.writing) await this.writing;
    if (!this.dirty) return;
    this.dirty = false;
    this.writing = this.write().finally(() => {
      this.writing = undefined;
    });
    await this.writing;
  }

  /** Stops watching and writes what is pending. */
  async close(): Promise<void> {
    this.closed = true;
    this.detach?.();
    this.detach = undefined;
    await this.flush();
  }

  private changed(path: string): void {
    if (this.nodes.some((n) => touches(path, n.path))) this.markDirty();
  }

  private markDirty(delayMs = this.delayMs): void {
    this.dirty = true;
    if (this.timer || this.closed) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      void this.flush();
    }, delayMs);
    // A pending write does not keep an embedding process alive; close() writes it.
    this.timer.unref();
  }

  private async write(): Promise<void> {
    const values: Record<string, unknown> = {};
    for (const node of this.nodes) values[node.path] = toJsonValue(this.runtime.tree.get(node.path));
    try {
      await this.options.store.save(this.runtime.name, values);
      if (this.failing) this.log.info({ file: this.location }, `persistent runtime data saved to ${this.location} again`);
      this.failing = false;
    } catch (err) {
      // One warning per run of failures; the values stay pending and are tried again.
      if (!this.failing) this.log.warn({ file: this.location, reason: (err as Error).message }, `persistent runtime data could not be saved: ${(err as Error).message}; retrying`);
      this.failing = true;
      if (!this.closed) this.markDirty(RETRY_DELAY_MS);
    }
  }
}

/**
 * Starts persistence for every service of `runtimes` that has persistent runtime data, restoring their
 * saved values; services without any get nothing (no file is written for them).
 */
export async function restorePersistentData(runtimes: readonly ServiceRuntime[], options: PersistenceOptions): Promise<PersistentData[]> {
  const kept: PersistentData[] = [];
  for (const runtime of runtimes) {
    const data = new PersistentData(runtime, options);
    if (data.nodes.length === 0) continue;
    await data.restore();
    kept.push(data);
  }
  return kept;
}

/**
 * Without a store nothing is kept: says so once per service that marks values persistent, so a missing
 * `--data-dir`/`persistence` option (or a `--no-persist`) is not discovered after a restart.
 */
export function noteNotPersisted(runtimes: readonly ServiceRuntime[], log: Logger): void {
  for (const runtime of runtimes) {
    const nodes = persistentNodes(runtime.definition.runtimeData);
    if (nodes.length === 0) continue;
    log.info({ service: runtime.name, persistent: nodes.map((n) => n.path) }, 'persistent="1" runtime data is not kept: persistence is off (--no-persist, or no persistence store given)');
  }
}
