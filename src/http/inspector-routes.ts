import type { GatewayModule } from './gateway.js';

/** The inspector page at `/` and the browser client at `/peerway-client.js`. */
export const inspectorRoutes: GatewayModule = () => undefined;
