import { STATUS_CODES } from 'node:http';
import formbody from '@fastify/formbody';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { typeName } from '../definition/definition-json.js';
import { PeerwayError } from '../errors.js';
import { errorReply, type GatewayModule } from './gateway.js';
import { kanziRuntimeData, kanziValue } from './kanzi-values.js';
import { argumentsFromText, describeService, findMethod, invokeMethod, readRuntimeData } from './service-access.js';

/** A Kanzi endpoint's error: `status` names it as HTTP does (Kanzi's success is `"OK"`), `code` is Peerway's. */
export interface KanziErrorBody {
  status: string;
  code: string;
  message: string;
  details?: Record<string, unknown>;
}

/** The status and Kanzi-shaped body of an error: the same status code the JSON API gives it. */
export function kanziErrorReply(err: unknown): { status: number; body: KanziErrorBody } {
  const { status, body } = errorReply(err);
  const { code, message, details } = body.error;
  return { status, body: { status: STATUS_CODES[status] ?? 'Error', code, message, ...(details ? { details } : {}) } };
}

interface ServiceParams {
  service: string;
}

interface InvokeParams extends ServiceParams {
  method: string;
}

/**
 * Kanzi Connect's stateless HTTP API, for tools written against it: `/servicedescriptions/<S>` (the
 * definition XML), `/serviceinvoke/<S>/method/<m>` (named arguments in the query string or a form body →
 * `{status: "OK", type, value}`), `/serviceruntimedata/<S>` (the server's copy of the runtime data). Values
 * are written as Kanzi writes them (kanzi-values.ts): scalars as strings, floats with six decimals,
 * booleans `"1"`/`"0"`; the JSON API keeps JSON types.
 */
export const kanziRoutes: GatewayModule = (app, context) => {
  // A scope of its own: the form parser and the Kanzi error shape apply to these routes only.
  void app.register(async (kanzi) => {
    await kanzi.register(formbody);
    kanzi.setErrorHandler((err, _request, reply) => {
      const { status, body } = kanziErrorReply(err);
      void reply.status(status).send(body);
    });

    // `?details` (Kanzi: include custom types) is accepted; the whole definition is always given.
    kanzi.get<{ Params: ServiceParams }>('/servicedescriptions/:service', (request, reply) => {
      const definition = describeService(context, context.identityOf(request), request.params.service);
      return reply.type('application/xml; charset=utf-8').send(definition.source);
    });

    const invoke = async (request: FastifyRequest<{ Params: InvokeParams }>, reply: FastifyReply) => {
      const identity = context.identityOf(request);
      const definition = describeService(context, identity, request.params.service);
      const method = findMethod(definition, request.params.method);
      if (typeof request.body === 'string' && request.body !== '') {
        // A text/plain body has no names: it cannot be told apart from a typo'd form.
        throw new PeerwayError('BAD_ARGUMENT', `send ${definition.name}.${method.name}'s arguments in the query string or as an application/x-www-form-urlencoded body (a=1&b=2)`);
      }
      const args = argumentsFromText(definition, method, request.query, request.body);
      const result = await invokeMethod(context, identity, definition, method, args);
      return reply.send({ status: 'OK', type: typeName(method.returns), value: kanziValue(result, method.returns, definition) ?? null });
    };
    kanzi.route<{ Params: InvokeParams }>({ method: ['GET', 'POST'], url: '/serviceinvoke/:service/method/:method', handler: invoke });

    kanzi.get<{ Params: ServiceParams }>('/serviceruntimedata/:service', async (request) => {
      const identity = context.identityOf(request);
      const definition = describeService(context, identity, request.params.service);
      return kanziRuntimeData(definition.runtimeData, await readRuntimeData(context, identity, definition, ''), definition);
    });
  });
};
