import type { PeerwayServer } from '../server/server.js';
import { apiRoutes } from './api-routes.js';
import { browserSocket } from './browser-socket.js';
import { inspectorRoutes } from './inspector-routes.js';
import { kanziRoutes } from './kanzi-routes.js';
import { HttpGateway, type GatewayModule } from './gateway.js';

/** Every part of the gateway, in registration order. */
export const GATEWAY_MODULES: readonly GatewayModule[] = [apiRoutes, kanziRoutes, browserSocket, inspectorRoutes];

export interface HttpOptions {
  /** Default 127.0.0.1: other machines only when the operator names another address. */
  host?: string;
  port: number;
  /** Origins, besides the page's own, allowed to open the browser WebSocket. */
  origins?: string[];
}

/** Starts the HTTP and WebSocket gateway over a started server's broker; stop it before the server. */
export async function startHttpGateway(server: PeerwayServer, options: HttpOptions): Promise<HttpGateway> {
  const gateway = new HttpGateway(
    {
      host: options.host ?? '127.0.0.1',
      port: options.port,
      broker: server.broker,
      authenticator: server.authenticator,
      log: server.log,
      pushLimits: server.limits,
      ...(options.origins ? { origins: options.origins } : {}),
    },
    GATEWAY_MODULES,
  );
  const bound = await gateway.start();
  server.log.info({ address: `http://${bound.host.includes(':') ? `[${bound.host}]` : bound.host}:${bound.port}` }, 'http gateway listening');
  return gateway;
}
