import type { TestContext } from 'node:test';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

const run = promisify(execFile);
let serial = 0;

/** `ip …`, with the command line in the error. */
async function ip(...args: string[]): Promise<string> {
  try {
    return (await run('ip', args, { timeout: 10_000 })).stdout;
  } catch (err) {
    throw new Error(`ip ${args.join(' ')}: ${(err as { stderr?: string }).stderr?.trim() || (err as Error).message}`, { cause: err });
  }
}

/** Why network namespaces cannot be made here (not root, no `ip`, a sandbox without CAP_SYS_ADMIN), or undefined. */
export async function netnsUnavailable(): Promise<string | undefined> {
  const probe = `pwprobe${process.pid}`;
  try {
    await ip('netns', 'add', probe);
    await ip('netns', 'del', probe);
    return undefined;
  } catch (err) {
    return `network namespaces cannot be created here (${(err as Error).message}); run as root with iproute2 installed`;
  }
}

/**
 * A small network of hosts in namespaces this test makes (names unique per test run: test files run in
 * parallel), joined by switches (bridges in a namespace of their own). Everything is removed when the test
 * ends. Only the addresses given here are used.
 */
export class NetLab {
  private readonly tag = `pw${process.pid % 100000}x${++serial}`;
  private readonly namespaces: string[] = [];
  private readonly switchNs: string;
  private ports = 0;

  private constructor(private readonly t: TestContext) {
    this.switchNs = `${this.tag}sw`;
  }

  static async create(t: TestContext): Promise<NetLab> {
    const lab = new NetLab(t);
    // Registered first, so it runs after the processes the test starts later are stopped.
    t.after(() => lab.remove());
    await lab.namespace(lab.switchNs);
    return lab;
  }

  /** The namespace name of a host. */
  ns(host: string): string {
    return `${this.tag}${host}`;
  }

  /** Runs a process in the host's namespace (pass as `prefix` to startPeerway). */
  prefix(host: string): string[] {
    return ['ip', 'netns', 'exec', this.ns(host)];
  }

  async host(host: string): Promise<void> {
    await this.namespace(this.ns(host));
  }

  /** A switch (bridge) named `net` in the switch namespace. */
  async network(net: string): Promise<void> {
    await ip('-n', this.switchNs, 'link', 'add', 'name', net, 'type', 'bridge');
    await ip('-n', this.switchNs, 'link', 'set', 'dev', net, 'up');
  }

  /** Plugs `host` into `net` with `address` (CIDR) on an interface named `ifname` in the host. */
  async plug(host: string, net: string, ifname: string, address: string): Promise<void> {
    const port = `p${++this.ports}`;
    await ip('-n', this.ns(host), 'link', 'add', 'name', ifname, 'type', 'veth', 'peer', 'name', port, 'netns', this.switchNs);
    await ip('-n', this.switchNs, 'link', 'set', 'dev', port, 'master', net);
    await ip('-n', this.switchNs, 'link', 'set', 'dev', port, 'up');
    await ip('-n', this.ns(host), 'addr', 'add', address, 'dev', ifname);
    await ip('-n', this.ns(host), 'link', 'set', 'dev', ifname, 'up');
  }

  /** Cuts (`down`) or restores (`up`) a host's interface, as a pulled cable would. */
  async setLink(host: string, ifname: string, state: 'up' | 'down'): Promise<void> {
    await ip('-n', this.ns(host), 'link', 'set', 'dev', ifname, state);
  }

  private async namespace(name: string): Promise<void> {
    await ip('netns', 'add', name);
    this.namespaces.push(name);
    await ip('-n', name, 'link', 'set', 'dev', 'lo', 'up');
  }

  private async remove(): Promise<void> {
    for (const name of this.namespaces.reverse()) await ip('netns', 'del', name).catch(() => undefined);
  }
}
