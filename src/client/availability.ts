import { PeerwayError } from '../errors.js';

/**
 * Something that is unavailable for a while (the server connection while the client reconnects, a
 * session while it is restored) and the callers waiting for it: each waits at most its own deadline,
 * and all are released together when it is back or fails with the error when it is gone for good.
 */
export class Availability {
  private waiters = new Set<{ resolve: () => void; reject: (error: PeerwayError) => void }>();

  /**
   * Resolves when `open()` is called, rejects with `timeoutError()` after `timeoutMs`, with ABORTED when
   * `signal` aborts, or with the error given to `fail()`.
   */
  wait(timeoutMs: number, timeoutError: () => PeerwayError, signal?: AbortSignal): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const waiter = {
        resolve: () => {
          done();
          resolve();
        },
        reject: (error: PeerwayError) => {
          done();
          reject(error);
        },
      };
      const timer = setTimeout(() => waiter.reject(timeoutError()), timeoutMs);
      const onAbort = () => waiter.reject(new PeerwayError('ABORTED', 'aborted while waiting for the connection to come back'));
      const done = () => {
        clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
        this.waiters.delete(waiter);
      };
      if (signal?.aborted) return onAbort();
      signal?.addEventListener('abort', onAbort, { once: true });
      this.waiters.add(waiter);
    });
  }

  /** It is back: every waiter goes on. */
  open(): void {
    for (const w of [...this.waiters]) w.resolve();
  }

  /** It is gone for good: every waiter fails with `error`. */
  fail(error: PeerwayError): void {
    for (const w of [...this.waiters]) w.reject(error);
  }

  get waiting(): number {
    return this.waiters.size;
  }
}
