import type { GatewayModule } from './gateway.js';

/** The JSON API's listings: `/api/services` (what the caller may see) and `/api/stats`. */
export const apiRoutes: GatewayModule = (app, context) => {
  app.get('/api/services', (request) => context.callers.client(context.identityOf(request)).services());
  app.get('/api/stats', (request) => context.callers.client(context.identityOf(request)).stats());
};
