import type { GatewayModule } from './gateway.js';

/** The browser WebSocket `/ws`: JSON messages, Origin allow-list, the same identities and policy. */
export const browserSocket: GatewayModule = () => undefined;
