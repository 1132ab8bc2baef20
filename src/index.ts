/**
 * Peerway's public API: the client library, plus the pieces needed to embed a server or a runner.
 */
export { connect, PeerwayClient } from './client/client.js';
export type { ClientOptions, RelayStats } from './client/client.js';
export { Session } from './client/session.js';
export type { ServiceEvent, DataChange, DataWatch, Subscription, Route } from './client/session.js';
export { PeerwayError, ERROR_CODES } from './errors.js';
export type { ErrorCode } from './errors.js';
export { defineService } from './service/implementation.js';
export type { ServiceImplementation, ServiceApi, CallContext, MethodHandler } from './service/implementation.js';
export { PeerwayServer } from './server/server.js';
export type { ServerOptions, ServiceListing } from './server/server.js';
export { PeerwayRunner } from './runner/runner.js';
export type { RunnerOptions } from './runner/runner.js';
export { loadService } from './service/load-service.js';
export { parseBearerUrl, formatBearerUrl } from './bearer/registry.js';
