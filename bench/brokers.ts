import { execFileSync } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import { PeerwayError } from '../src/errors.js';
import type { BenchContext } from './context.js';
import { sleep } from './measure.js';
import { DRAIN_MS, type FanoutSide } from './scenarios/fanout-round.js';
import type { RawPeer } from './raw-peer.js';

/**
 * nats-server and mosquitto as outside references for the fan-out: used only when already installed
 * (found with `which`); this bench never installs anything. They listen on 127.0.0.1 only and are driven
 * by bench/peers/broker-clients.mjs (minimal NATS and MQTT 3.1.1 QoS 0 clients, no library).
 */

export interface OutsideBroker {
  name: 'nats-server' | 'mosquitto';
  proto: 'nats' | 'mqtt';
  port: number;
  publisher: RawPeer;
  /** pid of the broker process. */
  pid: number;
}

/** Where `program` is installed, or undefined. */
export function which(program: string): string | undefined {
  try {
    return execFileSync('which', [program], { encoding: 'utf8' }).trim() || undefined;
  } catch {
    return undefined; // `which` exits 1 when the program is not on PATH
  }
}

/** Starts an installed broker on a free loopback port and connects the publisher process to it. */
export async function startBroker(ctx: BenchContext, name: OutsideBroker['name'], program: string): Promise<OutsideBroker> {
  const port = await freePort();
  let child;
  if (name === 'nats-server') {
    child = ctx.external(program, ['-a', '127.0.0.1', '-p', String(port)]);
  } else {
    const conf = path.join(ctx.tmp, 'mosquitto.conf');
    await writeFile(conf, `listener ${port} 127.0.0.1\nallow_anonymous true\n`);
    child = ctx.external(program, ['-c', conf]);
  }
  await waitForPort(port, 10_000, name);
  const proto = name === 'nats-server' ? 'nats' : 'mqtt';
  const { peer: publisher } = await ctx.rawPeer('broker-clients.mjs', ['--proto', proto, '--port', String(port), '--role', 'pub']);
  return { name, proto, port, publisher, pid: child.pid ?? -1 };
}

/** N subscribers of the broker in one process (one process per side, as for the raw hub); `cpu`: measure CPU per update of the subscriber, broker and publisher processes. */
export async function brokerSide(ctx: BenchContext, broker: OutsideBroker, n: number, updates: number, bodyBytes: number, counter: { value: number }, cpu = false): Promise<FanoutSide> {
  const { peer: subs } = await ctx.rawPeer('broker-clients.mjs', ['--proto', broker.proto, '--port', String(broker.port), '--role', 'sub', '--subscribers', String(n)]);
  const batch = ctx.plan.fanout.batch;
  return {
    close: () => subs.stop(),
    series: {
      key: `${broker.name} ×${n}`,
      deadlineMs: DRAIN_MS + 60_000,
      ...(cpu ? { processes: { subscribers: subs.pid, [broker.name]: broker.pid, publisher: broker.publisher.pid } } : {}),
      round: async () => {
        const from = counter.value;
        counter.value += updates;
        const mark = subs.mark();
        await subs.command(`expect ${from + updates} ${DRAIN_MS}`, /expecting/, 5000);
        const t0 = performance.now();
        await broker.publisher.command(`publish ${from} ${updates} ${batch} ${bodyBytes}`, /published \d+/, 60_000);
        const m = await subs.waitFor(/done (\d+)( incomplete)?/, DRAIN_MS + 5000, mark);
        return { count: Number(m[1]), seconds: (performance.now() - t0) / 1000, extra: { subscribers: n, incomplete: m[2] ? 1 : 0 } };
      },
    },
  };
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

export async function waitForPort(port: number, timeoutMs: number, name: string): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    const ok = await new Promise<boolean>((resolve) => {
      const s = net.connect({ host: '127.0.0.1', port }, () => {
        s.destroy();
        resolve(true);
      });
      s.once('error', () => resolve(false));
    });
    if (ok) return;
    await sleep(50);
  }
  throw new PeerwayError('TIMEOUT', `${name} did not listen on 127.0.0.1:${port} within ${timeoutMs} ms`);
}
