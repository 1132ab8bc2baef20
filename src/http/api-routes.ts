import { definitionToJson } from '../definition/definition-json.js';
import type { ServiceDefinition } from '../definition/model.js';
import { toJsonValue } from '../definition/value-text.js';
import { PeerwayError } from '../errors.js';
import { EventStreams } from './event-stream.js';
import type { GatewayModule } from './gateway.js';
import { openApiDocument } from './openapi.js';
import { argumentsFromJson, describeService, findEvent, findMethod, invokeMethod, readRuntimeData } from './service-access.js';

interface ServiceParams {
  service: string;
}

const stringQuery = { type: 'string', maxLength: 4096 } as const;

/** `?watch`, `?watch=1`, `?watch=true` ask for the stream; `?watch=0`, `?watch=false` do not. */
const wantsWatch = (watch: string | undefined) => watch !== undefined && watch !== '0' && watch.toLowerCase() !== 'false';

/**
 * The JSON API under `/api`: listings, definitions, calls, runtime data (read, or watched as Server-Sent
 * Events), events as Server-Sent Events, sessions with their routes, stats and the OpenAPI document. Every
 * error is the gateway's JSON error with the Peerway code; every action goes through the broker, so the
 * policy decides here as on every other route.
 */
export const apiRoutes: GatewayModule = (app, context) => {
  const streams = new EventStreams(context);
  // An open stream would hold the server's close: end each with an error saying why.
  app.addHook('preClose', (done) => {
    streams.closeAll(new PeerwayError('SERVICE_GONE', 'the server is shutting down'));
    done();
  });

  // A scope of its own: the JSON parser below applies to these routes only.
  void app.register((api, _options, registered) => {
    // A POST with a JSON content type and no body means "no arguments", as one with no body at all does.
    const parseJson = api.getDefaultJsonParser('error', 'error');
    api.removeContentTypeParser('application/json');
    api.addContentTypeParser('application/json', { parseAs: 'string' }, (request, body, done) => {
      const text = typeof body === 'string' ? body : body.toString('utf8');
      if (text.trim() === '') done(null, undefined);
      // The default parser answers through `done` (its return value carries nothing).
      else void parseJson(request, text, done);
    });

    const client = (request: Parameters<typeof context.identityOf>[0]) => context.callers.client(context.identityOf(request));

    api.get('/api/services', (request) => client(request).services());
    api.get('/api/stats', (request) => client(request).stats());
    api.get('/api/sessions', (request) => context.broker.listSessions(context.identityOf(request)));

    // Built at each request from what the caller may describe now: services come and go.
    api.get('/api/openapi.json', (request) => {
      const definitions: ServiceDefinition[] = client(request)
        .services()
        .map((s) => context.broker.services.get(s.name)?.definition)
        .filter((d): d is ServiceDefinition => d !== undefined);
      return openApiDocument(definitions);
    });

    api.get<{ Params: ServiceParams }>('/api/services/:service', (request) =>
      definitionToJson(describeService(context, context.identityOf(request), request.params.service)),
    );

    api.post<{ Params: ServiceParams & { method: string }; Body: unknown }>('/api/services/:service/methods/:method', async (request) => {
      const identity = context.identityOf(request);
      const definition = describeService(context, identity, request.params.service);
      const method = findMethod(definition, request.params.method);
      const args = argumentsFromJson(definition, method, request.body);
      const result = await invokeMethod(context, identity, definition, method, args);
      return { value: toJsonValue(result) ?? null };
    });

    api.get<{ Params: ServiceParams; Querystring: { path?: string; watch?: string } }>(
      '/api/services/:service/runtime-data',
      { schema: { querystring: { type: 'object', properties: { path: stringQuery, watch: stringQuery } } } },
      async (request, reply) => {
        const identity = context.identityOf(request);
        const definition = describeService(context, identity, request.params.service);
        const path = request.query.path ?? '';
        if (wantsWatch(request.query.watch)) return streams.serve(request, reply, definition.name, { kind: 'data', path });
        return { path, value: toJsonValue(await readRuntimeData(context, identity, definition, path)) };
      },
    );

    api.get<{ Params: ServiceParams; Querystring: { name?: string } }>(
      '/api/services/:service/events',
      { schema: { querystring: { type: 'object', properties: { name: stringQuery } } } },
      async (request, reply) => {
        const definition = describeService(context, context.identityOf(request), request.params.service);
        const name = request.query.name || undefined;
        if (name !== undefined) findEvent(definition, name);
        return streams.serve(request, reply, definition.name, { kind: 'event', ...(name !== undefined ? { name } : {}) });
      },
    );
    registered();
  });
};
