import type { BearerAttributes } from '../bearer/bearer.js';
import type { RoutingInstructions } from '../routing/instructions.js';
import type { Channel, ChannelHandlers } from '../wire/channel.js';
import { linkDialer, takenRoutes } from './link-opener.js';
import type { Session } from './session.js';

export interface LateLinkOptions {
  adapters: Record<string, BearerAttributes>;
  /** Deadline of each later attempt (longer than the session start's). */
  timeoutMs: number;
  /** Attempts, the first after `firstDelayMs`, each wait twice the one before. */
  attempts: number;
  firstDelayMs: number;
  handlersFor(link: string): ChannelHandlers;
  /** Configures a link that came up (limits, keepalive). */
  prepare(channel: Channel): void;
  /** The link came up and the session now takes these routes on it. */
  upgraded(link: string, resources: string[]): void;
  /** False once trying is pointless (the session ended, or was started again with other links). */
  stillWanted(): boolean;
}

/**
 * A link that did not answer within the session start's deadline (an unreachable address, a slow host),
 * or that dropped and was failed over, is tried again in the background, a bounded number of times: when
 * it comes up, the session takes the direct routes it was offered on it (it reports the new routes and
 * moves its subscriptions). The session never waits for it. Stops when it is no longer wanted.
 */
export function upgradeWhenUp(session: Session, instructions: RoutingInstructions, link: string, options: LateLinkOptions): void {
  let attempt = 0;
  let delay = options.firstDelayMs;
  const tryOnce = async () => {
    if (!options.stillWanted()) return;
    let channel: Channel;
    try {
      channel = await linkDialer(instructions, link, options).dial();
    } catch {
      if (++attempt < options.attempts && options.stillWanted()) schedule();
      return;
    }
    if (!options.stillWanted()) return channel.close('session ended or started again');
    channel.start(options.handlersFor(link));
    options.prepare(channel);
    const links = session.openLinks();
    links.set(link, channel);
    const { routes } = takenRoutes(instructions, new Set(links.keys()));
    const moved = Object.keys(routes).filter((k) => routes[k]?.link === link);
    if (moved.length === 0) return channel.close('not used by any route');
    try {
      await session.reroute(links, routes);
      options.upgraded(link, moved);
    } catch {
      channel.close('the session could not take the link');
    }
  };
  const schedule = () => {
    setTimeout(() => void tryOnce(), delay).unref();
    delay *= 2;
  };
  schedule();
}
