import Fastify, { LogController, type FastifyBaseLogger, type FastifyError, type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import { ERROR_CODES, PeerwayError } from '../errors.js';
import type { Logger } from '../logger.js';
import { ANONYMOUS, type Identity } from '../policy/authorizer.js';
import type { Authenticator } from '../server/authentication.js';
import type { Broker } from '../server/broker.js';
import type { PushLimits } from '../wire/push-outbox.js';
import { checkHostName } from './browser-origin.js';
import { HttpCallers } from './http-callers.js';

export interface GatewayOptions {
  /** Where to listen: 127.0.0.1 unless the operator says otherwise. */
  host: string;
  port: number;
  broker: Broker;
  authenticator: Authenticator;
  log: Logger;
  /** Origins (besides the page's own) allowed to open the browser WebSocket `/ws`. */
  origins?: string[];
  /** How far a slow subscriber (an event stream, a browser socket) may fall behind; the server's `--soft-queued-bytes`, `--max-held-bytes`. */
  pushLimits?: PushLimits;
}

/** How long stop() lets requests in progress finish before it cuts their connections. */
const STOP_GRACE_MS = 1000;

/** Largest HTTP request body accepted; a bigger one is answered 400 BAD_ARGUMENT (README, "Limits and guarantees"). */
export const MAX_BODY_BYTES = 1024 * 1024;

/** What the route modules get: the broker API, who is calling, and the shared pieces. */
export interface GatewayContext {
  broker: Broker;
  callers: HttpCallers;
  log: Logger;
  options: GatewayOptions;
  /** The identity of a request (its `Authorization: Bearer` token; anonymous without one). */
  identityOf: (request: FastifyRequest) => Identity;
}

/** A part of the gateway: registers its routes (and maybe an upgrade handler) on the app. */
export type GatewayModule = (app: FastifyInstance, context: GatewayContext) => void;

declare module 'fastify' {
  interface FastifyRequest {
    peerwayIdentity?: Identity;
  }
}

/** The JSON error every `/api` route answers with: the Peerway code, its message, and its details. */
export interface ApiErrorBody {
  error: { code: string; message: string; details?: Record<string, unknown> };
}

/** The HTTP status and body of an error (`PeerwayError`, a fastify validation error, anything thrown). */
export function errorReply(err: unknown): { status: number; body: ApiErrorBody } {
  const fastifyError = err as Partial<FastifyError>;
  const error =
    err instanceof PeerwayError
      ? err
      : fastifyError.validation || (fastifyError.statusCode !== undefined && fastifyError.statusCode < 500)
        ? new PeerwayError('BAD_ARGUMENT', fastifyError.message ?? 'bad request')
        : PeerwayError.from(err);
  const status = error.code === 'BAD_ARGUMENT' && fastifyError.statusCode === 404 ? 404 : ERROR_CODES[error.code].http;
  return { status, body: { error: { code: error.code, message: error.message, ...(error.details ? { details: error.details } : {}) } } };
}

/**
 * The HTTP and WebSocket front end (`peerway server --http HOST:PORT`): a thin adapter over the broker
 * API, on fastify. Every request is identified (an `Authorization: Bearer` token through the same
 * identities as the binary protocol, anonymous without one) and every action passes the broker's
 * authorization point, so the policy holds here as on every other route.
 */
export class HttpGateway {
  readonly app: FastifyInstance;
  readonly callers: HttpCallers;
  private address: { host: string; port: number } | undefined;

  constructor(
    private readonly options: GatewayOptions,
    modules: readonly GatewayModule[],
  ) {
    this.callers = new HttpCallers(options.broker);
    // Typed as fastify's logger: a pino logger is one, but fastify's generics would otherwise take pino's own type.
    const logger: FastifyBaseLogger = options.log.child({ component: 'http' });
    // No per-request log lines: the gateway logs what matters (refusals, dropped streams) itself.
    this.app = Fastify({ loggerInstance: logger, logController: new LogController({ disableRequestLogging: true }), bodyLimit: MAX_BODY_BYTES });
    this.app.addHook('onRequest', async (request) => {
      const refusal = checkHostName(request.headers.host, options.host, options.origins ?? []);
      if (refusal !== undefined) {
        this.options.log.warn({ component: 'http', peer: request.ip, host: request.headers.host, reason: refusal }, 'http request refused');
        throw new PeerwayError('POLICY_DENIED', refusal);
      }
      request.peerwayIdentity = await this.identify(request);
    });
    this.app.setErrorHandler((err, _request, reply) => {
      const { status, body } = errorReply(err);
      void reply.status(status).send(body);
    });
    this.app.setNotFoundHandler((request, reply) => {
      void reply.status(404).send({ error: { code: 'USAGE', message: `no route ${request.method} ${request.url.split('?')[0]}; the API is described at /api/openapi.json` } });
    });
    const context: GatewayContext = {
      broker: options.broker,
      callers: this.callers,
      log: options.log,
      options,
      identityOf: (request) => request.peerwayIdentity ?? ANONYMOUS,
    };
    for (const register of modules) register(this.app, context);
  }

  /** Listens; resolves with the bound address. */
  async start(): Promise<{ host: string; port: number }> {
    await this.app.listen({ host: this.options.host, port: this.options.port });
    const bound = this.app.server.address();
    this.address = typeof bound === 'object' && bound ? { host: this.options.host, port: bound.port } : { host: this.options.host, port: this.options.port };
    return this.address;
  }

  /** Where it listens (after start). */
  get boundAddress(): { host: string; port: number } {
    if (!this.address) throw new PeerwayError('INTERNAL', 'the HTTP gateway has not started');
    return this.address;
  }

  async stop(): Promise<void> {
    this.callers.close();
    // close() waits for every connection, and one that never sent a request (the spare connection fetch
    // opens after an abort, a browser's preconnect) is not idle to Node: it would hold the stop until its
    // headers timeout. What is still open after a short grace is cut.
    const cut = setTimeout(() => this.app.server.closeAllConnections(), STOP_GRACE_MS);
    cut.unref();
    await this.app.close();
    clearTimeout(cut);
  }

  /** `Authorization: Bearer TOKEN` names the identity; none is anonymous; an unknown one is refused (401). */
  private async identify(request: FastifyRequest): Promise<Identity> {
    const header = request.headers.authorization;
    if (header === undefined) return ANONYMOUS;
    const match = /^Bearer\s+(\S+)$/i.exec(header);
    if (!match) throw new PeerwayError('UNAUTHORIZED', 'the Authorization header must be "Bearer TOKEN"');
    return this.options.authenticator.identify({ token: match[1] }, `${request.ip}:${request.socket.remotePort ?? 0}`, 'http');
  }
}

/** Sends a PeerwayError (or anything thrown) as the `/api` JSON error with its status. */
export function sendError(reply: FastifyReply, err: unknown): FastifyReply {
  const { status, body } = errorReply(err);
  return reply.status(status).send(body);
}
