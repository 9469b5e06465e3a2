import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import type { HttpEvent } from '../../functions/api/http';
import { HANDLER_GROUPS, type HandlerGroup, routeEntries } from '../../functions/routes';
import { type ApiHandler, type AuthorizerHandler, createApiServer } from '../../local/server';

/**
 * The local API Gateway stand-in, with recording handlers and a fake authorizer in place of
 * Trainyard's: which route a request reaches, and the payload v2 event the handler gets.
 */
let server: Server;
let base: string;
const seen: { group: HandlerGroup; event: HttpEvent }[] = [];
const authorizer = vi.fn<AuthorizerHandler>(async (event) => ({
  isAuthorized: true,
  context: event.headers?.authorization ? { authenticated: true, userId: 'u1', role: 'user', scopes: 'read', tokenId: 't1' } : { authenticated: false, reason: 'missing bearer token' },
}));

function recorder(group: HandlerGroup): ApiHandler {
  return async (event) => {
    seen.push({ group, event });
    return { statusCode: 200, headers: { 'X-Handled-By': group, etag: '"3"' }, body: JSON.stringify({ ok: true }) };
  };
}

beforeAll(async () => {
  const handlers = Object.fromEntries(HANDLER_GROUPS.map((g) => [g, recorder(g)])) as Record<HandlerGroup, ApiHandler>;
  server = createApiServer(handlers, authorizer);
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  server.closeAllConnections();
  await new Promise((done) => server.close(done));
});

beforeEach(() => {
  seen.length = 0;
  authorizer.mockClear();
});

const lastEvent = () => {
  expect(seen).toHaveLength(1);
  return seen[0]!;
};

describe('routing', () => {
  it.each(routeEntries())('%s reaches its group with its route key and path parameters', async (_, route) => {
    // Prepare
    const params = [...route.path.matchAll(/\{(\w+)(\+?)\}/g)].map((m) => ({ name: m[1]!, value: m[2] ? `v-${m[1]}/deeper` : `v-${m[1]}` }));
    // A greedy `{name+}` takes the rest of the path: give it a value with a slash to prove it.
    const path = route.path.replace(/\{(\w+)(\+?)\}/g, (_m, name: string, greedy: string) => (greedy ? `v-${name}/deeper` : `v-${name}`));

    // Act
    const response = await fetch(`${base}${path}`, { method: route.method });

    // Assess
    expect(response.status).toBe(200);
    expect(response.headers.get('x-handled-by')).toBe(route.group);
    const { event } = lastEvent();
    expect(event.routeKey).toBe(`${route.method} ${route.path}`);
    expect(event.requestContext.routeKey).toBe(event.routeKey);
    expect(event.pathParameters).toEqual(Object.fromEntries(params.map((p) => [p.name, p.value])));
    expect(authorizer).toHaveBeenCalledTimes(route.access === 'public' ? 0 : 1);
  });

  it.each([
    ['an unknown path', 'GET', '/api/v1/nothing'],
    ['a trailing slash', 'GET', '/api/v1/health/liveness/'],
    ['an extra segment', 'GET', '/api/v1/user/a/dataset/b/c'],
    ['a parameter that spans segments', 'GET', '/api/v1/user/a/b/dataset'],
    ['a method the path does not have', 'PATCH', '/api/v1/user/a/dataset'],
    ['the right path in another case', 'GET', '/API/v1/health/liveness'],
  ])('%s answers the flat "no route" 404 without calling a handler', async (_, method, path) => {
    // Act
    const response = await fetch(`${base}${path}`, { method });
    const body = (await response.json()) as Record<string, unknown>;

    // Assess
    expect(response.status).toBe(404);
    expect(Object.keys(body).sort()).toEqual(['code', 'details', 'error_code', 'error_desc', 'request_id']);
    expect(body.error_desc).toMatch(/^no route/);
    expect(seen).toHaveLength(0);
  });

  it('decodes percent-encoded path parameters', async () => {
    // Act
    await fetch(`${base}/api/v1/user/a%20b%2Fc/dataset`);

    // Assess
    expect(lastEvent().event.pathParameters).toEqual({ user_id: 'a b/c' });
  });

  it('malformed percent-encoding in a parameter is a 400', async () => {
    // Act
    const response = await fetch(`${base}/api/v1/user/%E0%A4%A/dataset`);

    // Assess
    expect(response.status).toBe(400);
    expect(((await response.json()) as { code: string }).code).toBe('bad_request');
    expect(seen).toHaveLength(0);
  });
});

describe('the event', () => {
  it('carries the query as API Gateway does: raw, and repeated keys joined with commas', async () => {
    // Act
    await fetch(`${base}/api/v1/user/u1/dataset?tag=a&tag=b&size=5&name=x%20y`);

    // Assess
    const { event } = lastEvent();
    expect(event.rawQueryString).toBe('tag=a&tag=b&size=5&name=x%20y');
    expect(event.queryStringParameters).toEqual({ tag: 'a,b', size: '5', name: 'x y' });
    expect(event.rawPath).toBe('/api/v1/user/u1/dataset');
  });

  it('has no query parameters object when there is no query', async () => {
    await fetch(`${base}/api/v1/health/liveness`);
    expect(lastEvent().event.queryStringParameters).toBeUndefined();
  });

  it('lower-cases header names and says the scheme is http', async () => {
    // Act
    await fetch(`${base}/api/v1/health/liveness`, { headers: { 'X-Custom-Thing': 'Yes', 'If-Match': '"2"' } });

    // Assess
    const { headers } = lastEvent().event;
    expect(headers['x-custom-thing']).toBe('Yes');
    expect(headers['if-match']).toBe('"2"');
    expect(headers['x-forwarded-proto']).toBe('http');
  });

  it('passes a JSON body sent without Content-Type as text (TAO clients send none)', async () => {
    // Act
    await fetch(`${base}/api/v1/login`, { method: 'POST', body: new TextEncoder().encode('{"api_key":"k"}') });

    // Assess
    const { event } = lastEvent();
    expect(event.headers['content-type']).toBeUndefined();
    expect(event.body).toBe('{"api_key":"k"}');
    expect(event.isBase64Encoded).toBe(false);
  });

  it('passes a binary body base64-encoded', async () => {
    // Prepare
    const bytes = new Uint8Array([0, 1, 2, 250, 255]);

    // Act
    await fetch(`${base}/api/v1/login`, { method: 'POST', body: bytes, headers: { 'content-type': 'application/octet-stream' } });

    // Assess
    const { event } = lastEvent();
    expect(event.isBase64Encoded).toBe(true);
    expect(Buffer.from(event.body!, 'base64')).toEqual(Buffer.from(bytes));
  });

  it('has no body when the request has none', async () => {
    await fetch(`${base}/api/v1/login`, { method: 'POST' });
    expect(lastEvent().event.body).toBeUndefined();
  });

  it("puts the authorizer's context where API Gateway does, and none on public routes", async () => {
    // Act
    await fetch(`${base}/api/v1/user/u1/dataset`, { headers: { authorization: 'Bearer x' } });
    const guarded = lastEvent().event;
    seen.length = 0;
    await fetch(`${base}/api/v1/health/liveness`, { headers: { authorization: 'Bearer x' } });
    const open = lastEvent().event;

    // Assess
    expect(guarded.requestContext.authorizer.lambda).toMatchObject({ authenticated: true, userId: 'u1' });
    expect(open.requestContext.authorizer.lambda).toEqual({});
  });

  it('gives every request its own request id', async () => {
    await fetch(`${base}/api/v1/health/liveness`);
    await fetch(`${base}/api/v1/health/liveness`);
    const [a, b] = seen.map((s) => s.event.requestContext.requestId);
    expect(a).toMatch(/^[0-9a-f-]{36}$/);
    expect(a).not.toBe(b);
  });
});

describe('responses and limits', () => {
  it("sends the handler's status and headers", async () => {
    const response = await fetch(`${base}/api/v1/health/liveness`);
    expect(response.status).toBe(200);
    expect(response.headers.get('etag')).toBe('"3"');
    expect(response.headers.get('content-type')).toBe('application/json');
  });

  it('answers a CORS preflight without calling a handler', async () => {
    // Act
    const response = await fetch(`${base}/api/v1/user/u1/dataset`, { method: 'OPTIONS' });

    // Assess
    expect(response.status).toBe(204);
    expect(response.headers.get('access-control-allow-origin')).toBe('*');
    expect(response.headers.get('access-control-allow-headers')).toMatch(/idempotency-key/);
    expect(seen).toHaveLength(0);
  });

  it('refuses a body over 10 MB with a 413 and closes that connection', async () => {
    // Act
    const response = await fetch(`${base}/api/v1/login`, { method: 'POST', body: new Uint8Array(10 * 1024 * 1024 + 1) });
    const after = await fetch(`${base}/api/v1/health/liveness`);

    // Assess
    expect(response.status).toBe(413);
    expect(response.headers.get('connection')).toBe('close');
    expect(((await response.json()) as { code: string }).code).toBe('too_large');
    expect(after.status).toBe(200);
  });
});
