import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { startPeerway, type PeerwayProcess } from '../../src/cli/peerway-process.js';

/** One `<connectionadapter>`: its bearer id and attributes (name → value). */
export interface AdapterSpec {
  type: string;
  attributes?: Record<string, string>;
}

const esc = (v: string) => v.replace(/&/g, '&amp;').replace(/"/g, '&quot;').replace(/</g, '&lt;');

/** The text of a configuration file with these adapters and in-process services. */
export function configXml(adapters: AdapterSpec[], services: string[] = []): string {
  const lines = ['<configuration>'];
  for (const a of adapters) {
    lines.push(`  <connectionadapter type="${esc(a.type)}">`);
    for (const [name, value] of Object.entries(a.attributes ?? {})) lines.push(`    <attribute name="${esc(name)}" value="${esc(value)}"/>`);
    lines.push('  </connectionadapter>');
  }
  for (const s of services) lines.push(`  <service file="${esc(s)}"/>`);
  lines.push('</configuration>', '');
  return lines.join('\n');
}

/** Writes a configuration file into `dir` and returns its path. */
export async function writeConfig(dir: string, name: string, adapters: AdapterSpec[], services: string[] = []): Promise<string> {
  const file = path.join(dir, name);
  await writeFile(file, configXml(adapters, services));
  return file;
}

export interface ConfiguredServer {
  proc: PeerwayProcess;
  /** The `listening BEARER ADDRESS` lines in order, e.g. `{ bearer: 'connect.bearer.ssl', address: '127.0.0.1:40123' }`. */
  listeners: { bearer: string; address: string }[];
  /** `SCHEME://ADDRESS` of the n-th listener, ready for `--server`. */
  url(n: number): string;
  stop(): Promise<unknown>;
}

/**
 * Starts `peerway server ARGS` (e.g. `--config FILE`) and waits for `count` listening lines. The caller
 * stops it (tests register `stop` with `t.after` or a suite's `after`).
 */
export async function startServerWith(args: string[], count: number): Promise<ConfiguredServer> {
  const proc = startPeerway(['server', ...args]);
  try {
    await proc.waitFor(new RegExp(`(?:^listening \\S+ \\S+\\n){${count}}`, 'm'));
  } catch (err) {
    await proc.stop();
    throw err;
  }
  const listeners = [...proc.stdout().matchAll(/^listening (\S+) (\S+)$/gm)].map((m) => ({ bearer: m[1], address: m[2] }));
  return {
    proc,
    listeners,
    url: (n) => {
      const l = listeners[n];
      const scheme = l.bearer.replace('connect.bearer.', '');
      return scheme === 'local' ? `local://${l.address}` : `${scheme}://${l.address}`;
    },
    stop: () => proc.stop(),
  };
}
