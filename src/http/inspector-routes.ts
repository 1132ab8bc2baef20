import fastifyStatic from '@fastify/static';
import { fileURLToPath } from 'node:url';
import type { GatewayModule } from './gateway.js';

/** The inspector page and the browser client, shipped in the package's `web/` folder (beside `dist/`). */
export const WEB_ROOT = fileURLToPath(new URL('../../web/', import.meta.url));

/**
 * What the inspector's pages may do: only this origin's scripts, styles and WebSocket (the page needs
 * nothing from a CDN and works offline), and no framing by other sites.
 */
const CONTENT_SECURITY_POLICY = "default-src 'self'; connect-src 'self'; img-src 'self' data:; frame-ancestors 'none'; base-uri 'none'; form-action 'none'";

/**
 * The inspector page at `/` (`web/index.html`, `inspector.js`, `inspector.css`) and the browser client at
 * `/peerway-client.js` (with its `.d.ts`). Only the files in `web/` when the gateway starts are served
 * (no wildcard route, so every other path still gets the gateway's JSON 404), with ETag and
 * Last-Modified from @fastify/static. Everything live on the page comes over the WebSocket `/ws`.
 */
export const inspectorRoutes: GatewayModule = (app) => {
  void app.register(fastifyStatic, {
    root: WEB_ROOT,
    prefix: '/',
    wildcard: false,
    index: 'index.html',
    // Types are for the package's TypeScript users (peerway/browser), not for pages.
    globIgnore: ['**/*.d.ts'],
    // Another gateway module may serve files too; this one needs no reply.sendFile of its own.
    decorateReply: false,
    cacheControl: true,
    maxAge: 0,
    setHeaders: (reply) => {
      reply.header('content-security-policy', CONTENT_SECURITY_POLICY);
      reply.header('x-content-type-options', 'nosniff');
      reply.header('referrer-policy', 'no-referrer');
    },
  });
};
