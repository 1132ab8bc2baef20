/**
 * Peerway's public API: the client library, the pieces to embed a server or a runner, and what a new
 * bearer (transport) needs to plug in.
 */

// Client
export { connect, PeerwayClient, offeredBearers } from './client/client.js';
export type { ClientOptions, StartSessionOptions } from './client/client.js';
export { Session } from './client/session.js';
export type { ServiceEvent, DataChange, DataWatch, Subscription, Route } from './client/session.js';
export type { RequestOptions } from './wire/channel.js';

// Errors
export { PeerwayError, ERROR_CODES } from './errors.js';
export type { ErrorCode, WireError } from './errors.js';

// Services
export { defineService } from './service/implementation.js';
export type { ServiceImplementation, ServiceApi, CallContext, MethodHandler } from './service/implementation.js';
export { ServiceRuntime } from './service/service-runtime.js';
export type { ServiceOutput } from './service/service-runtime.js';
export { loadService } from './service/load-service.js';
export { FilePersistentStore, defaultDataDir } from './service/persistent-store.js';
export type { PersistentStore } from './service/persistent-store.js';
export type { ServiceDefinition } from './definition/model.js';

// Embedding a server or a runner
export { PeerwayServer } from './server/server.js';
export type { ServerOptions, ListenSpec } from './server/server.js';
export { Broker } from './server/broker.js';
export type { BrokerOptions, Caller } from './server/broker.js';
export { BrokerClient } from './server/broker-client.js';
export type { SessionSink } from './server/broker-session.js';
export { PeerwayRunner } from './runner/runner.js';
export type { RunnerOptions } from './runner/runner.js';

// Access control
export { ANONYMOUS, allowAll } from './policy/authorizer.js';
export type { Action, Authorizer, Decision, Identity, Resource } from './policy/authorizer.js';

// Bearers and addresses
export { parseBearerUrl, formatBearerUrl, registerBearer, getBearer, availableBearerIds } from './bearer/registry.js';
export type {
  Bearer,
  BearerAddress,
  BearerAttributes,
  BearerOptions,
  BearerOffer,
  BearerReach,
  AttributeKind,
  ConnectOptions,
  Listener,
  LinkListenContext,
  MessageConnection,
  ConnectionHandlers,
  CloseInfo,
} from './bearer/bearer.js';

// Protocol reply types
export { PROTOCOL_VERSION } from './wire/messages.js';
export type {
  ServiceListing,
  SessionStarted,
  SessionAttached,
  RelayStats,
  RelayCounters,
  ChosenRoute,
  ClientProfile,
} from './wire/messages.js';
