import middy from '@middy/core';
import httpCors from '@middy/http-cors';
import { Logger } from '@aws-lambda-powertools/logger';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import type { APIGatewayProxyEventV2WithLambdaAuthorizer, APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
import type * as z from 'zod';
import { type Caller, callerFromContext, requireAccess } from '../core/caller';
import { BadRequest, DomainError, type ErrorCode, type ErrorDetail } from '../core/errors';
import { runIdempotently, type StoredResponse } from '../core/idempotency';
import type { FormFile, readFormFile } from './form';
import { PLATFORM, recordChange } from '../core/audit';
import type { Page } from '../core/pagination';
import { etagOf } from '../core/revision';
import { type HandlerGroup, type OperationId, type RouteDef, type Routes, routeEntries, routeKeyOf } from '../routes';

/**
 * The one HTTP middleware stack. Every API handler is `httpHandler(group, implementations)`:
 * route lookup → access check → zod parsing of path, query and body → the use case → the response
 * (ETag, pagination headers) → errors in the one flat shape. Only this module knows HTTP status codes.
 */
export const logger = new Logger({ serviceName: 'trainyard' });

export type HttpEvent = APIGatewayProxyEventV2WithLambdaAuthorizer<Record<string, unknown>>;
export type HttpResult = APIGatewayProxyStructuredResultV2;

type Output<S> = S extends z.ZodType ? z.output<S> : Record<string, never>;

export interface HttpRequest<R> {
  params: R extends { params: infer S } ? Output<S> : Record<string, never>;
  query: R extends { query: infer S } ? Output<S> : Record<string, never>;
  body: R extends { body: infer S } ? Output<S> : undefined;
  caller: R extends { access: 'public' } ? Caller | undefined : Caller;
  ifMatch?: string;
  requestId: string;
  /** The file of a multipart/form-data request, on routes that take one (then `body` is undefined). */
  form?: FormFile;
}

type Implementations<G extends HandlerGroup> = {
  [K in OperationId as Routes[K]['group'] extends G ? K : never]: (request: HttpRequest<Routes[K]>) => Promise<unknown>;
};

const STATUS: Record<ErrorCode, number> = {
  bad_request: 400,
  unauthorized: 401,
  forbidden: 403,
  not_found: 404,
  conflict: 409,
  precondition_failed: 412,
  too_large: 413,
  unprocessable: 422,
  too_many_requests: 429,
  internal: 500,
};

const MAX_IDEMPOTENCY_KEY = 255;

export interface HandlerOptions {
  /**
   * The multipart/form-data reader (./form.ts), given only by groups with form routes, so that busboy
   * is bundled into those functions alone.
   */
  readForm?: typeof readFormFile;
}

export function httpHandler<G extends HandlerGroup>(group: G, implementations: Implementations<G>, options: HandlerOptions = {}) {
  const table = new Map<string, { operationId: OperationId; route: RouteDef; run: (request: HttpRequest<RouteDef>) => Promise<unknown> }>();
  for (const [operationId, route] of routeEntries()) {
    if (route.group !== group) continue;
    const run = (implementations as Record<string, (request: HttpRequest<RouteDef>) => Promise<unknown>>)[operationId];
    if (!run) throw new Error(`route ${operationId} of group ${group} has no implementation`);
    if (route.form && !options.readForm) throw new Error(`route ${operationId} takes a form: its group must pass readForm`);
    table.set(routeKeyOf(route), { operationId, route, run });
  }

  async function respond(event: HttpEvent): Promise<HttpResult> {
    const entry = table.get(event.routeKey);
    if (!entry) throw new DomainError('not_found', `no route ${event.routeKey}`);
    const { operationId, route, run } = entry;
    const authorizer = event.requestContext.authorizer?.lambda;
    const caller = requireAccess(route.access, callerFromContext(authorizer), typeof authorizer?.reason === 'string' ? authorizer.reason : undefined);
    const isForm = /^multipart\/form-data/i.test(header(event, 'content-type') ?? '');
    const form = route.form && isForm ? await options.readForm!(event, route.form.field, route.form.maxBytes, route.form.tooLarge) : undefined;
    const request: HttpRequest<RouteDef> = {
      params: parseInput(route.params, event.pathParameters ?? {}, 'path') as never,
      query: parseInput(route.query, event.queryStringParameters ?? {}, 'query') as never,
      body: (route.body && !form ? parseInput(route.body, jsonBody(event), 'body') : undefined) as never,
      form,
      caller: caller as Caller,
      ifMatch: route.ifMatch ? header(event, 'if-match') : undefined,
      requestId: event.requestContext.requestId,
    };
    const result = await run(request);
    if (route.method !== 'GET' && caller) {
      // The change is made: a failed audit write is logged loudly (it alarms) rather than turned into a
      // 500 that would make the client retry a change that already happened.
      await recordChange({
        namespace: (request.params as { user_id?: string }).user_id ?? PLATFORM,
        at: new Date().toISOString(),
        requestId: request.requestId,
        actorId: caller.userId,
        action: operationId,
        method: route.method,
        path: event.rawPath,
        resourceId: route.status === 201 ? (result as { id?: string })?.id : undefined,
      }).catch((error: unknown) => logger.error('audit write failed', { error: error as Error, requestId: request.requestId }));
    }
    return toResponse(route, result, event);
  }

  async function dispatch(event: HttpEvent): Promise<HttpResult> {
    const route = table.get(event.routeKey)?.route;
    const key = header(event, 'idempotency-key');
    if (!route?.idempotent || key === undefined) return respond(event);
    if (key.length === 0 || key.length > MAX_IDEMPOTENCY_KEY) {
      throw new BadRequest(`Idempotency-Key must be 1 to ${MAX_IDEMPOTENCY_KEY} characters`);
    }
    // Check access first, so a key is only ever remembered for an authenticated caller.
    const caller = requireAccess(route.access, callerFromContext(event.requestContext.authorizer?.lambda));
    // Scoped to the caller, the route and the resource path; the body must match the first request's.
    const scope = `${caller?.userId} ${event.routeKey} ${event.rawPath}`;
    const { response, replayed } = await runIdempotently(scope, key, event.body, () => respond(event) as Promise<StoredResponse>);
    return replayed ? { ...response, headers: { ...response.headers, 'idempotent-replayed': 'true' } } : response;
  }

  return middy<HttpEvent, HttpResult>()
    .use(injectLambdaContext(logger, { resetKeys: true }))
    .use(
      httpCors({
        origin: '*',
        exposeHeaders: 'ETag, X-Pagination-Total, X-Next-Cursor, Link, X-Request-Id, Idempotent-Replayed',
      }),
    )
    .use(accessLog())
    .use(errorResponses())
    .handler(dispatch);
}

function header(event: HttpEvent, name: string): string | undefined {
  return event.headers?.[name];
}

function jsonBody(event: HttpEvent): unknown {
  if (event.body === undefined || event.body === null || event.body === '') return undefined;
  const text = event.isBase64Encoded ? Buffer.from(event.body, 'base64').toString('utf8') : event.body;
  try {
    return JSON.parse(text);
  } catch {
    throw new BadRequest('the request body is not valid JSON', [{ path: ['body'], message: 'malformed JSON' }]);
  }
}

function parseInput(schema: z.ZodType | undefined, value: unknown, where: 'path' | 'query' | 'body'): unknown {
  if (!schema) return {};
  const parsed = schema.safeParse(value);
  if (parsed.success) return parsed.data;
  const details: ErrorDetail[] = parsed.error.issues.map((issue) => {
    return { path: [where, ...issue.path.map((p) => (typeof p === 'symbol' ? String(p) : p))], message: issue.message, code: issue.code };
  });
  const first = details[0];
  const summary = first ? `${first.path?.join('.')}: ${first.message}` : 'invalid input';
  throw new BadRequest(`invalid ${where === 'path' ? 'path parameter' : where}: ${summary}`, details);
}

function toResponse(route: RouteDef, result: unknown, event: HttpEvent): HttpResult {
  const headers: Record<string, string> = { 'x-request-id': event.requestContext.requestId };
  if (route.redirect) {
    // The answer is elsewhere (a presigned storage URL): clients follow it, and HEAD and Range work there.
    const { location } = result as { location: string };
    return { statusCode: 302, headers: { ...headers, location, 'content-type': 'application/json' }, body: JSON.stringify({ location }) };
  }
  if (route.contentType) {
    return { statusCode: route.status, headers: { ...headers, 'content-type': route.contentType }, body: String(result) };
  }
  headers['content-type'] = 'application/json';
  let body: unknown = result;
  if (route.list) {
    const page = result as Page<unknown>;
    body = page.items;
    headers['x-pagination-total'] = String(page.total);
    if (page.nextCursor) {
      headers['x-next-cursor'] = page.nextCursor;
      headers.link = `<${nextPageUrl(event, page.nextCursor)}>; rel="next"`;
    }
  }
  if (route.etag && typeof (result as { revision?: unknown })?.revision === 'number') {
    headers.etag = etagOf((result as { revision: number }).revision);
  }
  return { statusCode: route.status, headers, body: JSON.stringify(body) };
}

/** The next page's URL: the same query with `cursor` set and `skip` dropped (the cursor already skips). */
function nextPageUrl(event: HttpEvent, cursor: string): string {
  const query = new URLSearchParams(event.rawQueryString ?? '');
  query.delete('skip');
  query.set('cursor', cursor);
  const host = event.headers?.host ?? event.requestContext.domainName;
  const scheme = event.headers?.['x-forwarded-proto'] ?? 'https';
  return `${scheme}://${host}${event.rawPath}?${query.toString()}`;
}

function errorResponses(): middy.MiddlewareObj<HttpEvent, HttpResult> {
  return {
    onError: async (request) => {
      const error = request.error as unknown;
      const requestId = request.event?.requestContext?.requestId ?? 'unknown';
      let code: ErrorCode = 'internal';
      let message = 'internal error; quote the request id when reporting it';
      let details: ErrorDetail[] = [];
      if (error instanceof DomainError) {
        ({ code, message, details } = error);
      } else {
        logger.error('unhandled error', { error: error as Error, requestId });
      }
      const status = STATUS[code];
      request.response = {
        statusCode: status,
        headers: { 'content-type': 'application/json', 'x-request-id': requestId },
        body: JSON.stringify({ error_desc: message, error_code: status, code, details, request_id: requestId }),
      };
    },
  };
}

function accessLog(): middy.MiddlewareObj<HttpEvent, HttpResult> {
  const started = new WeakMap<object, number>();
  const log = (request: middy.Request<HttpEvent, HttpResult>) => {
    const began = started.get(request) ?? Date.now();
    logger.info('request', {
      routeKey: request.event?.routeKey,
      status: request.response?.statusCode,
      durationMs: Date.now() - began,
      requestId: request.event?.requestContext?.requestId,
    });
  };
  return {
    before: async (request) => {
      started.set(request, Date.now());
    },
    after: async (request) => log(request),
    onError: async (request) => {
      if (request.response) log(request);
    },
  };
}
