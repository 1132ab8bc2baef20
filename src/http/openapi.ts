import { readFileSync } from 'node:fs';
import type { MethodDef, ServiceDefinition, TypeRef } from '../definition/model.js';
import { typeName } from '../definition/definition-json.js';
import { ERROR_CODES } from '../errors.js';

/**
 * The OpenAPI 3.1 document of the gateway (`GET /api/openapi.json`), generated from the definitions the
 * caller may describe at the time it asks: one path per method with its arguments as the request body and
 * its return type as the result, struct types as components, and the fixed endpoints.
 */

type Schema = Record<string, unknown>;

const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };

const ref = (name: string): Schema => ({ $ref: `#/components/schemas/${name}` });

/** Component names allow `[A-Za-z0-9._-]`; a struct is named `Service.Type` so services never clash. */
export function componentName(service: string, type: string): string {
  return `${service}.${type}`.replace(/[^A-Za-z0-9._-]/g, '_');
}

const SCALARS: Record<string, Schema> = {
  bool: { type: 'boolean' },
  int: { type: 'integer', format: 'int32', minimum: -2147483648, maximum: 2147483647 },
  int64: {
    type: ['integer', 'string'],
    format: 'int64',
    pattern: '^[+-]?\\d+$',
    description: 'a JSON number when exact (up to 2^53 - 1 in magnitude), else a decimal string; both are accepted',
  },
  float: { type: 'number', format: 'float' },
  double: { type: 'number', format: 'double' },
  string: { type: 'string' },
  binary: { type: 'string', contentEncoding: 'base64', description: 'base64 (arguments may also be written hex: followed by hex digits)' },
  void: { type: 'null' },
};

/** The JSON Schema of a value of `type` as the HTTP API writes and reads it. */
export function typeSchema(service: string, type: TypeRef): Schema {
  const one = SCALARS[type.name] ?? ref(componentName(service, type.name));
  return type.repeated ? { type: 'array', items: one } : one;
}

function argumentsSchema(definition: ServiceDefinition, method: MethodDef): Schema {
  return {
    type: 'object',
    properties: Object.fromEntries(method.arguments.map((a) => [a.name, typeSchema(definition.name, a.type)])),
    required: method.arguments.map((a) => a.name),
    additionalProperties: false,
  };
}

const json = (schema: Schema) => ({ 'application/json': { schema } });
const errorResponses = {
  '400': { $ref: '#/components/responses/BadRequest' },
  '401': { $ref: '#/components/responses/Unauthorized' },
  '403': { $ref: '#/components/responses/Forbidden' },
  '404': { $ref: '#/components/responses/NotFound' },
  '503': { $ref: '#/components/responses/Unavailable' },
  default: { $ref: '#/components/responses/Error' },
};
const serviceParam = { name: 'service', in: 'path', required: true, schema: { type: 'string' } };
const methodParam = { name: 'method', in: 'path', required: true, schema: { type: 'string' } };
const sse = (description: string) => ({ description, content: { 'text/event-stream': { schema: { type: 'string' } } } });

function methodOperation(definition: ServiceDefinition, method: MethodDef): Schema {
  return {
    operationId: `${definition.name}.${method.name}`,
    tags: [definition.name],
    summary: `Call ${definition.name}.${method.name}(${method.arguments.map((a) => `${a.name}: ${typeName(a.type)}`).join(', ')}) → ${typeName(method.returns)}`,
    requestBody: { required: method.arguments.length > 0, content: json(argumentsSchema(definition, method)) },
    responses: {
      '200': { description: 'the result', content: json({ type: 'object', required: ['value'], properties: { value: typeSchema(definition.name, method.returns) } }) },
      ...errorResponses,
    },
  };
}

/** The fixed endpoints: they are there whatever services are registered. */
function fixedPaths(): Record<string, Schema> {
  return {
    '/api/services': {
      get: { operationId: 'listServices', summary: 'The services the caller may see', responses: { '200': { description: 'services', content: json({ type: 'array', items: ref('ServiceListing') }) }, ...errorResponses } },
    },
    '/api/services/{service}': {
      get: { operationId: 'describeService', summary: 'A service definition as JSON', parameters: [serviceParam], responses: { '200': { description: 'the definition', content: json(ref('Definition')) }, ...errorResponses } },
    },
    '/api/services/{service}/runtime-data': {
      get: {
        operationId: 'readRuntimeData',
        summary: "The server's copy of the runtime data (or, with watch, a stream of it)",
        parameters: [
          serviceParam,
          { name: 'path', in: 'query', required: false, schema: { type: 'string' }, description: 'a dot path (cabin.temperature); the whole tree without it' },
          { name: 'watch', in: 'query', required: false, allowEmptyValue: true, schema: { type: 'string' }, description: 'answer Server-Sent Events: a snapshot, then each change' },
        ],
        responses: {
          '200': {
            description: 'the value at the path; with watch, `snapshot` then `change` events, each {path, value}',
            content: { ...json(ref('RuntimeDataValue')), 'text/event-stream': { schema: { type: 'string' } } },
          },
          ...errorResponses,
        },
      },
    },
    '/api/services/{service}/events': {
      get: {
        operationId: 'streamEvents',
        summary: "A service's events as Server-Sent Events (event: NAME, data: the arguments as JSON)",
        parameters: [serviceParam, { name: 'name', in: 'query', required: false, schema: { type: 'string' }, description: 'one event; all without it' }],
        responses: { '200': sse('the events, until the client closes or the service goes (then an `error` event)'), ...errorResponses },
      },
    },
    '/api/sessions': {
      get: { operationId: 'listSessions', summary: 'Sessions with the routes their clients took', responses: { '200': { description: 'sessions', content: json({ type: 'array', items: ref('Session') }) }, ...errorResponses } },
    },
    '/api/stats': {
      get: { operationId: 'stats', summary: 'Relay counters, limits and health', responses: { '200': { description: 'statistics', content: json({ type: 'object' }) }, ...errorResponses } },
    },
    '/api/openapi.json': {
      get: { operationId: 'openapi', summary: 'This document', responses: { '200': { description: 'OpenAPI 3.1', content: json({ type: 'object' }) } } },
    },
    '/servicedescriptions/{service}': {
      get: {
        operationId: 'kanziServiceDescription',
        tags: ['Kanzi'],
        summary: 'The definition XML (Kanzi Connect compatible)',
        parameters: [serviceParam],
        responses: { '200': { description: 'the XML', content: { 'application/xml': { schema: { type: 'string' } } } }, default: { $ref: '#/components/responses/KanziError' } },
      },
    },
    '/serviceinvoke/{service}/method/{method}': Object.fromEntries(
      (['get', 'post'] as const).map((verb) => [
        verb,
        {
          operationId: `kanziInvoke${verb === 'get' ? 'Get' : 'Post'}`,
          tags: ['Kanzi'],
          summary: 'Call a method with named arguments written as text (Kanzi Connect compatible)',
          parameters: [serviceParam, methodParam],
          ...(verb === 'post' ? { requestBody: { content: { 'application/x-www-form-urlencoded': { schema: { type: 'object', additionalProperties: { type: 'string' } } } } } } : {}),
          responses: { '200': { description: 'the result', content: json(ref('KanziResult')) }, default: { $ref: '#/components/responses/KanziError' } },
        },
      ]),
    ),
    '/serviceruntimedata/{service}': {
      get: {
        operationId: 'kanziRuntimeData',
        tags: ['Kanzi'],
        summary: "The server's copy of the runtime data as JSON (Kanzi Connect compatible)",
        parameters: [serviceParam],
        responses: { '200': { description: 'the runtime data tree', content: json({ type: 'object' }) }, default: { $ref: '#/components/responses/KanziError' } },
      },
    },
  };
}

const errorResponse = (description: string) => ({ description, content: json(ref('Error')) });

function fixedComponents(): Record<string, Schema> {
  const code = { type: 'string', enum: Object.keys(ERROR_CODES) };
  return {
    Error: {
      type: 'object',
      required: ['error'],
      properties: { error: { type: 'object', required: ['code', 'message'], properties: { code, message: { type: 'string' }, details: { type: 'object' } } } },
    },
    KanziResult: { type: 'object', required: ['status', 'type', 'value'], properties: { status: { const: 'OK' }, type: { type: 'string' }, value: {} } },
    KanziError: {
      type: 'object',
      required: ['status', 'code', 'message'],
      properties: { status: { type: 'string', description: 'the HTTP reason phrase (Not Found)' }, code, message: { type: 'string' }, details: { type: 'object' } },
    },
    RuntimeDataValue: { type: 'object', required: ['path', 'value'], properties: { path: { type: 'string' }, value: {} } },
    ServiceListing: {
      type: 'object',
      required: ['name', 'location', 'origin', 'sessions'],
      properties: { name: { type: 'string' }, fullname: { type: 'string' }, version: { type: 'string' }, location: { enum: ['in-process', 'remote'] }, origin: { type: 'string' }, server: { type: 'string', description: 'in a cluster of servers: the server it is registered with' }, sessions: { type: 'integer' } },
    },
    Definition: { type: 'object', required: ['name', 'types', 'methods', 'events', 'runtimeData'], description: 'definitionToJson: types, methods, events, runtime-data tree, routing' },
    Session: {
      type: 'object',
      required: ['session', 'service', 'identity', 'client', 'startedAt', 'attached', 'routes', 'warnings'],
      properties: {
        session: { type: 'string' },
        service: { type: 'string' },
        identity: { type: 'string' },
        client: { type: 'string' },
        startedAt: { type: 'string', format: 'date-time' },
        attached: { type: 'boolean' },
        routes: {
          type: 'object',
          additionalProperties: { type: 'object', required: ['linkType'], properties: { linkType: { enum: ['direct', 'server'] }, link: { type: 'string' }, bearer: { type: 'string' } } },
        },
        warnings: { type: 'array', items: { type: 'string' } },
      },
    },
  };
}

/** The OpenAPI 3.1 document for `definitions` (those the caller may describe). */
export function openApiDocument(definitions: readonly ServiceDefinition[]): Schema {
  const paths: Record<string, Schema> = fixedPaths();
  const schemas: Record<string, Schema> = fixedComponents();
  for (const definition of definitions) {
    for (const struct of definition.types.values()) {
      schemas[componentName(definition.name, struct.name)] = {
        type: 'object',
        properties: Object.fromEntries(struct.fields.map((f) => [f.name, typeSchema(definition.name, f.type)])),
        required: struct.fields.map((f) => f.name),
        additionalProperties: false,
      };
    }
    for (const method of definition.methods.values()) {
      paths[`/api/services/${encodeURIComponent(definition.name)}/methods/${encodeURIComponent(method.name)}`] = { post: methodOperation(definition, method) };
    }
  }
  return {
    openapi: '3.1.0',
    info: {
      title: 'Peerway HTTP API',
      version: pkg.version,
      description: 'The services registered with this Peerway server, as the caller may see them. Errors carry the Peerway error code (docs/errors.md).',
    },
    tags: [...definitions.map((d) => ({ name: d.name, ...(d.fullname ? { description: d.fullname } : {}) })), { name: 'Kanzi', description: 'Kanzi Connect compatible endpoints' }],
    // Anonymous, or a token: what the policy lets each do differs.
    security: [{}, { bearer: [] }],
    paths,
    components: {
      securitySchemes: { bearer: { type: 'http', scheme: 'bearer', description: 'a token the server policy knows (docs/policy.md); none is anonymous' } },
      schemas,
      responses: {
        BadRequest: errorResponse('a bad argument (BAD_ARGUMENT names it and the type it expects)'),
        Unauthorized: errorResponse('a token the server does not know (UNAUTHORIZED)'),
        Forbidden: errorResponse('the policy denies it (POLICY_DENIED)'),
        NotFound: errorResponse('no such service, method, event or runtime-data path (with a did-you-mean)'),
        Unavailable: errorResponse('the service went away (SERVICE_GONE)'),
        Error: errorResponse('any other Peerway error, with its code'),
        KanziError: { description: 'an error, with the status code the JSON API gives it', content: json(ref('KanziError')) },
      },
    },
  };
}
