import type { BenchContext } from './context.js';
import type { ScenarioOutput } from './model.js';

/** One bench scenario: a Peerway figure and the baseline it is compared with, measured side by side. */
export interface Scenario {
  /** Stable id (JSON key, `--only` matches it): `direct-rtt`. */
  id: string;
  /** Table heading: `direct call RTT`. */
  title: string;
  /** One line on what is measured against what (for `--help` and the README). */
  summary: string;
  run(ctx: BenchContext, out: ScenarioOutput): Promise<void>;
}

/** Throws when an echo came back different: a bench that measures a broken path must not report a number. */
export function checkEcho(got: unknown, sent: Buffer, what: string): void {
  const bytes = got instanceof Uint8Array ? Buffer.from(got.buffer, got.byteOffset, got.byteLength) : undefined;
  if (!bytes || !bytes.equals(sent)) throw new Error(`${what} returned something other than its payload`);
}
