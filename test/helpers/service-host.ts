import { pino } from 'pino';
import { silentLogger, type Logger } from '../../src/logger.js';
import { allowAll } from '../../src/policy/authorizer.js';
import { ServiceHost } from '../../src/runner/service-host.js';
import type { ServiceRuntime } from '../../src/service/service-runtime.js';
import { resolveLimits } from '../../src/wire/limits.js';
import type { Push } from '../../src/wire/messages.js';

/** A ServiceHost in process as a runner makes one (tcp links on 127.0.0.1, no policy of its own). */
export function testServiceHost(runtime: ServiceRuntime, options: { log?: Logger; toServer?: (m: Push) => void } = {}): ServiceHost {
  return new ServiceHost(runtime, {
    reliableBearer: 'connect.bearer.tcp',
    p2pHost: '127.0.0.1',
    place: { host: 'h', process: 'p' },
    authorizer: allowAll,
    adapters: {},
    limits: resolveLimits(),
    toServer: options.toServer ?? (() => undefined),
    log: options.log ?? silentLogger(),
  });
}

/** A debug-level logger whose entries (the parsed JSON lines) the test reads. */
export function recordingLogger<E extends { level: number; msg: string } = { level: number; msg: string }>(): { log: Logger; entries: E[] } {
  const entries: E[] = [];
  const log = pino({ level: 'debug' }, { write: (line: string) => void entries.push(JSON.parse(line) as E) });
  return { log, entries };
}
