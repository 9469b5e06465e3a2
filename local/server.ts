import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { APIGatewayProxyStructuredResultV2, APIGatewayRequestAuthorizerEventV2, Context } from 'aws-lambda';
import type { HttpEvent } from '../functions/api/http';
import { type HandlerGroup, type RouteDef, routeEntries, routeKeyOf } from '../functions/routes';

/**
 * The local stand-in for API Gateway (HTTP API, payload v2): matches a request against the route
 * table, runs the Lambda authorizer for protected routes exactly as API Gateway would, and hands the
 * group's handler an `APIGatewayProxyEventV2`. No logic of Trainyard lives here.
 */
export type ApiHandler = (event: HttpEvent, context: Context) => Promise<APIGatewayProxyStructuredResultV2>;
export type AuthorizerHandler = (event: APIGatewayRequestAuthorizerEventV2) => Promise<{ isAuthorized: boolean; context?: Record<string, unknown> }>;

/** API Gateway HTTP APIs refuse payloads over 10 MB; so does the local server. */
const MAX_PAYLOAD = 10 * 1024 * 1024;

interface CompiledRoute {
  route: RouteDef;
  pattern: RegExp;
  names: string[];
}

function compile(route: RouteDef): CompiledRoute {
  const names: string[] = [];
  const source = route.path
    .split('/')
    .map((segment) => {
      const param = /^\{(\w+)(\+?)\}$/.exec(segment);
      if (!param?.[1]) return segment.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
      names.push(param[1]);
      // `{name+}` is API Gateway's greedy variable: the rest of the path, slashes included.
      return param[2] ? '(.+)' : '([^/]+)';
    })
    .join('/');
  return { route, pattern: new RegExp(`^${source}$`), names };
}

export interface ApiServer extends Server {
  /** Resolves once no request is being handled (a client that hung up does not stop its handler). */
  drained(): Promise<void>;
}

export function createApiServer(handlers: Record<HandlerGroup, ApiHandler>, authorizer: AuthorizerHandler): ApiServer {
  const compiled = routeEntries().map(([, route]) => compile(route));
  let inFlight = 0;
  const idle: (() => void)[] = [];
  const server = createServer((req, res) => {
    inFlight++;
    serve(req, res, compiled, handlers, authorizer)
      .catch((error: unknown) => {
        console.error('local server error', error);
        if (!res.headersSent) reply(res, { statusCode: 500, body: errorBody(500, 'internal', 'local server error', randomUUID()) });
        else res.end();
      })
      .finally(() => {
        if (--inFlight === 0) for (const done of idle.splice(0)) done();
      });
  }) as ApiServer;
  // API Gateway keeps idle client connections for minutes; Node's default (5 s) closes them under clients
  // that pooled the socket a moment earlier, which they see as "other side closed" on their next request.
  server.keepAliveTimeout = 65_000;
  server.headersTimeout = 66_000;
  server.drained = () => (inFlight === 0 ? Promise.resolve() : new Promise((done) => idle.push(done)));
  return server;
}

async function serve(
  req: IncomingMessage,
  res: ServerResponse,
  compiled: CompiledRoute[],
  handlers: Record<HandlerGroup, ApiHandler>,
  authorizer: AuthorizerHandler,
): Promise<void> {
  const requestId = randomUUID();
  const url = new URL(req.url ?? '/', 'http://localhost');
  const method = (req.method ?? 'GET').toUpperCase();
  if (method === 'OPTIONS') return reply(res, { statusCode: 204, headers: corsPreflightHeaders() });

  const body = await readBody(req);
  if (body === 'too large') {
    // The rest of the body stays unread, so this connection cannot carry another request: close it.
    return reply(res, { statusCode: 413, headers: { connection: 'close' }, body: errorBody(413, 'too_large', 'request body over 10 MB; use an upload session', requestId) });
  }
  let match: { route: RouteDef; pathParameters: Record<string, string> } | undefined;
  for (const { route, pattern, names } of compiled) {
    if (route.method !== method) continue;
    const found = pattern.exec(url.pathname);
    if (!found) continue;
    try {
      match = { route, pathParameters: Object.fromEntries(names.map((n, i) => [n, decodeURIComponent(found[i + 1] ?? '')])) };
    } catch {
      return reply(res, { statusCode: 400, body: errorBody(400, 'bad_request', 'malformed percent-encoding in the path', requestId) });
    }
    break;
  }
  if (!match) return reply(res, { statusCode: 404, body: errorBody(404, 'not_found', `no route ${method} ${url.pathname}`, requestId) });

  // API Gateway adds the X-Forwarded-* headers; locally the scheme is plain HTTP.
  const headers: Record<string, string> = { ...flattenHeaders(req), 'x-forwarded-proto': 'http' };
  const routeKey = routeKeyOf(match.route);
  const now = new Date();
  const event: HttpEvent = {
    version: '2.0',
    routeKey,
    rawPath: url.pathname,
    rawQueryString: url.search.slice(1),
    headers,
    queryStringParameters: queryParameters(url),
    pathParameters: match.pathParameters,
    requestContext: {
      accountId: 'local',
      apiId: 'local',
      domainName: headers.host ?? 'localhost',
      domainPrefix: 'local',
      http: { method, path: url.pathname, protocol: `HTTP/${req.httpVersion}`, sourceIp: req.socket.remoteAddress ?? '127.0.0.1', userAgent: headers['user-agent'] ?? '' },
      requestId,
      routeKey,
      stage: '$default',
      time: now.toISOString(),
      timeEpoch: now.getTime(),
      authorizer: { lambda: {} },
    },
    body: body.length ? (isText(headers['content-type']) ? body.toString('utf8') : body.toString('base64')) : undefined,
    isBase64Encoded: body.length > 0 && !isText(headers['content-type']),
  };
  if (match.route.access !== 'public') {
    const decision = await authorizer({
      version: '2.0',
      type: 'REQUEST',
      routeArn: `arn:aws:execute-api:local:local:local/$default/${method}${url.pathname}`,
      identitySource: [],
      routeKey,
      rawPath: event.rawPath,
      rawQueryString: event.rawQueryString,
      headers,
      queryStringParameters: event.queryStringParameters,
      pathParameters: event.pathParameters,
      requestContext: event.requestContext as never,
      cookies: [],
      stageVariables: {},
    });
    if (!decision.isAuthorized) return reply(res, { statusCode: 403, body: JSON.stringify({ message: 'Forbidden' }) });
    event.requestContext.authorizer = { lambda: decision.context ?? {}, principalId: '', integrationLatency: 0 } as never;
  }
  const result = await handlers[match.route.group](event, lambdaContext(match.route.group, requestId));
  reply(res, result);
}

function lambdaContext(group: HandlerGroup, requestId: string): Context {
  const deadline = Date.now() + 29_000;
  return {
    callbackWaitsForEmptyEventLoop: false,
    functionName: `trainyard-${group}`,
    functionVersion: '$LATEST',
    invokedFunctionArn: `arn:aws:lambda:local:000000000000:function:trainyard-${group}`,
    memoryLimitInMB: '1024',
    awsRequestId: requestId,
    logGroupName: `/local/trainyard-${group}`,
    logStreamName: 'local',
    getRemainingTimeInMillis: () => Math.max(0, deadline - Date.now()),
    done: () => undefined,
    fail: () => undefined,
    succeed: () => undefined,
  };
}

async function readBody(req: IncomingMessage): Promise<Buffer | 'too large'> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > MAX_PAYLOAD) return 'too large';
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}

/** API Gateway v2 lower-cases header names and joins repeated headers with commas. */
function flattenHeaders(req: IncomingMessage): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(req.headers)) {
    if (value === undefined) continue;
    out[name.toLowerCase()] = Array.isArray(value) ? value.join(',') : value;
  }
  return out;
}

/** API Gateway v2 joins repeated query parameters with commas. */
function queryParameters(url: URL): Record<string, string> | undefined {
  const out: Record<string, string> = {};
  for (const key of new Set(url.searchParams.keys())) out[key] = url.searchParams.getAll(key).join(',');
  return Object.keys(out).length ? out : undefined;
}

/** Text bodies reach the handler as strings (TAO clients send JSON with no Content-Type at all). */
function isText(contentType: string | undefined): boolean {
  if (!contentType) return true;
  return /^(application\/(json|.*\+json|x-www-form-urlencoded|xml)|text\/)/i.test(contentType);
}

function corsPreflightHeaders(): Record<string, string> {
  return {
    'access-control-allow-origin': '*',
    'access-control-allow-methods': 'GET,POST,PUT,PATCH,DELETE,OPTIONS',
    'access-control-allow-headers': 'authorization,content-type,if-match,idempotency-key',
    'access-control-max-age': '600',
  };
}

function errorBody(status: number, code: string, message: string, requestId: string): string {
  return JSON.stringify({ error_desc: message, error_code: status, code, details: [], request_id: requestId });
}

function reply(res: ServerResponse, result: APIGatewayProxyStructuredResultV2): void {
  const headers: Record<string, string | string[]> = { 'content-type': 'application/json' };
  for (const [k, v] of Object.entries(result.headers ?? {})) headers[k.toLowerCase()] = String(v);
  if (result.cookies?.length) headers['set-cookie'] = result.cookies;
  const body = result.body === undefined ? undefined : result.isBase64Encoded ? Buffer.from(result.body, 'base64') : result.body;
  res.writeHead(result.statusCode ?? 200, headers);
  res.end(body);
}
