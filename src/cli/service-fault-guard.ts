import type { Logger } from '../logger.js';
import { isServiceApiError } from '../service/service-runtime.js';

/**
 * In a process that hosts services (runner, server with in-process services): a service that breaks its
 * own definition outside a method (a `service.set` with a wrong value in a timer) is logged with the
 * service and ignored, not allowed to end the process and every other service in it. Anything else
 * uncaught still ends the process, as Node would, with its stack.
 */
export function guardServiceFaults(log: Logger): void {
  const handle = (err: unknown, how: string) => {
    if (isServiceApiError(err)) {
      log.error({ service: err.details?.service, reason: err.message }, `a service broke its definition outside a method (${how}); ignored`);
      return;
    }
    process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exit(1);
  };
  process.on('uncaughtException', (err) => handle(err, 'uncaught exception'));
  process.on('unhandledRejection', (reason) => handle(reason, 'unhandled rejection'));
}
