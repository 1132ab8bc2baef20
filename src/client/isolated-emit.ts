import type { EventEmitter } from 'node:events';

/**
 * Calls every listener of `event` on `emitter`, each on its own: a listener that throws does not keep the
 * others from running, and does not unwind into the connection that delivered the message (that would
 * end every session on it). What was thrown goes to `report`.
 *
 * Node's own `emit` stops at the first listener that throws and rethrows into the caller.
 */
export function emitIsolated(emitter: EventEmitter, event: string, args: unknown[], report: (error: unknown, where: string) => void): boolean {
  const listeners = emitter.rawListeners(event) as ((...a: unknown[]) => unknown)[];
  for (const listener of listeners) {
    // rawListeners keeps `once` wrappers, which remove themselves when called.
    callIsolated(() => listener.apply(emitter, args), report, `a "${event}" listener`);
  }
  return listeners.length > 0;
}

/** Runs user code; a throw (or a rejected promise it returns) goes to `report` instead of up the stack. */
export function callIsolated(run: () => unknown, report: (error: unknown, where: string) => void, where: string): void {
  try {
    const result = run();
    if (result instanceof Promise) result.catch((err: unknown) => report(err, where));
  } catch (err) {
    report(err, where);
  }
}
