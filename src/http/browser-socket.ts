import fastifyWebsocket from '@fastify/websocket';
import type { FastifyRequest } from 'fastify';
import { PeerwayError } from '../errors.js';
import { DEFAULT_PUSH_LIMITS } from '../wire/push-outbox.js';
import { BrowserConnection, type BrowserSocketLimits } from './browser-connection.js';
import { checkOrigin } from './browser-origin.js';
import { ListingWatch } from './browser-watch.js';
import type { GatewayModule } from './gateway.js';

/** Where browsers connect, on the gateway's own port. */
export const BROWSER_SOCKET_PATH = '/ws';

/** The bounds of each browser socket (README, "Limits and guarantees"; docs/browser.md). */
export const DEFAULT_BROWSER_SOCKET_LIMITS: BrowserSocketLimits = {
  push: DEFAULT_PUSH_LIMITS,
  maxMessageBytes: 1024 * 1024,
  maxInFlight: 256,
  keepaliveMs: 30_000,
};

/**
 * The browser WebSocket `/ws`: JSON messages (docs/browser.md) over the broker API, with the same
 * identities and policy as every other route, and an Origin allow-list checked before the upgrade.
 *
 * On @fastify/websocket rather than `ws` on a raw `upgrade` listener: the upgrade request then goes through
 * fastify's router and hooks like any request, so the gateway's identity hook (an unknown Bearer token is a
 * 401), the Origin check (a 403 with the JSON error) and the logging apply before anything is upgraded,
 * other paths get fastify's 404, and open sockets are closed when the gateway stops.
 */
export const browserSocket: GatewayModule = (app, context) => {
  // The server's bounds on slow subscribers (--soft-queued-bytes, --max-held-bytes) hold for browsers too.
  const push = context.options.pushLimits ?? DEFAULT_PUSH_LIMITS;
  const limits: BrowserSocketLimits = { ...DEFAULT_BROWSER_SOCKET_LIMITS, push: { softQueuedBytes: push.softQueuedBytes, maxHeldBytes: push.maxHeldBytes } };
  const listings = new ListingWatch(context.broker);
  const allowed = context.options.origins ?? [];
  app.addHook('onClose', (_app, done) => {
    listings.close();
    done();
  });
  void app.register(fastifyWebsocket, {
    options: { maxPayload: limits.maxMessageBytes, perMessageDeflate: false },
    // A socket error after the upgrade (a tab killed mid-frame) concerns that socket only.
    errorHandler: (error, socket, request) => {
      context.log.info({ peer: peerOf(request), reason: error.message }, 'browser socket error');
      socket.terminate();
    },
    // Pages learn why, as a typed error (4503 SERVICE_GONE), instead of a bare close.
    preClose: (done) => {
      for (const socket of app.websocketServer.clients) socket.close(4503, 'SERVICE_GONE: the server is shutting down');
      app.websocketServer.close();
      done();
    },
  });
  void app.register((scope, _options, done) => {
    scope.get(
      BROWSER_SOCKET_PATH,
      {
        websocket: true,
        onRequest: (request, _reply, next) => {
          const origin = request.headers.origin;
          const refusal = checkOrigin(origin, request.headers.host, context.options.host, allowed);
          if (refusal === undefined) {
            next();
            return;
          }
          context.log.warn({ peer: peerOf(request), origin, host: request.headers.host }, `browser WebSocket refused: ${refusal}`);
          next(
            new PeerwayError('POLICY_DENIED', `the browser WebSocket refuses this page: ${refusal}; the operator allows an origin with peerway server --http-origin ORIGIN`, {
              details: { origin: origin ?? null },
            }),
          );
        },
      },
      (socket, request) => {
        const origin = request.headers.origin;
        const label = `browser ${peerOf(request)}${origin ? ` from ${origin}` : ''}`;
        new BrowserConnection(socket, context, listings, context.identityOf(request), label, peerOf(request), limits);
        context.log.info({ peer: label, identity: context.identityOf(request).name }, 'browser socket opened');
      },
    );
    done();
  });
};

function peerOf(request: FastifyRequest): string {
  return `${request.ip}:${request.socket.remotePort ?? 0}`;
}
