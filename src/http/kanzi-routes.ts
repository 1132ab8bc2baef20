import type { GatewayModule } from './gateway.js';

/** Kanzi Connect's stateless HTTP API: `/servicedescriptions`, `/serviceinvoke`, `/serviceruntimedata`. */
export const kanziRoutes: GatewayModule = () => undefined;
