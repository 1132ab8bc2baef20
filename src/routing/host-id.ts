import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import os from 'node:os';

let cached: string | undefined;

/**
 * Identifies this machine in start-session requests, so a service can tell a same-host client (which may
 * use connect.bearer.local) from a remote one. The systemd machine id when there is one (stable, unique
 * per OS install), else the host name. PEERWAY_HOST_ID overrides it (tests use that to pose as another host).
 */
export function hostId(): string {
  if (process.env.PEERWAY_HOST_ID) return process.env.PEERWAY_HOST_ID;
  if (cached) return cached;
  for (const file of ['/etc/machine-id', '/var/lib/dbus/machine-id']) {
    try {
      const id = readFileSync(file, 'utf8').trim();
      if (id) return (cached = `machine:${id}`);
    } catch {
      // not on this system; try the next
    }
  }
  return (cached = `host:${os.hostname()}`);
}

const PROCESS_ID = `${process.pid}-${randomBytes(6).toString('hex')}`;

/**
 * Identifies this process in start-session requests, so a service can tell a client in its own process
 * (which may use a same-process bearer such as connect.bearer.memory). Random per process: a pid alone
 * repeats across hosts and restarts.
 */
export function processId(): string {
  return `${hostId()}/${PROCESS_ID}`;
}
