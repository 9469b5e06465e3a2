import { randomUUID } from 'node:crypto';
import SwaggerParser from '@apidevtools/swagger-parser';
import { beforeAll, describe, expect, it } from 'vitest';
import { openApiPathOf, type RouteDef, routeEntries } from '../../functions/routes';
import { ERROR_KEYS, ERROR_TYPES, type Json, type Reply, type TestUser, admin, anonymous, errorShapeOf, newUser } from './helpers';

/**
 * DESIGN.md's API conventions, checked for every route of the route table, so a route added later is
 * held to them without anyone writing a test for it.
 */
const entries = routeEntries();
const protectedEntries = entries.filter(([, route]) => route.access !== 'public');
const listEntries = entries.filter(([, route]) => route.list);

type OpenApiDocument = {
  openapi: string;
  paths: Record<string, Record<string, { operationId?: string; security?: unknown[]; parameters?: { name: string; in: string }[]; responses: Record<string, Json> }>>;
};

let user: TestUser;
let datasetId: string;
let jobId: string;
let openapi: OpenApiDocument;

beforeAll(async () => {
  user = await newUser({ label: 'conventions' });
  datasetId = (await user.api.post(`/api/v1/user/${user.id}/dataset`, { type: 'object_detection', format: 'coco' })).body.id;
  jobId = (await user.api.post(`/api/v1/user/${user.id}/dataset/${datasetId}/job`, { actions: ['analyze'] })).body[0];
  const reply = await anonymous().get('/api/v1/openapi.json');
  expect(reply.status).toBe(200);
  openapi = reply.body;
});

/**
 * The route's path with the test user as `{user_id}` and fresh UUIDs elsewhere; reads also get the
 * test user's dataset as `{dataset_id}` (or `{kind}/{resource_id}`) and a job of it as `{job_id}`
 * (changes do not, so that a DELETE cannot take them away).
 */
function samplePath(route: RouteDef): string {
  const known: Record<string, string> =
    route.method === 'GET' ? { user_id: user.id, dataset_id: datasetId, kind: 'dataset', resource_id: datasetId, job_id: jobId } : { user_id: user.id, kind: 'dataset' };
  return route.path.replace(/\{(\w+)\+?\}/g, (_, name: string) => known[name] ?? randomUUID());
}

/** A call as the caller the route is for: the admin for admin routes, the test user otherwise. */
function callAsOwner(route: RouteDef): Promise<Reply> {
  const api = route.access === 'admin' ? admin() : route.access === 'public' ? anonymous() : user.api;
  return api.request(route.method, samplePath(route));
}

describe('the route table', () => {
  it('is not empty and has no duplicate method + path', () => {
    const keys = entries.map(([, r]) => `${r.method} ${r.path}`);
    expect(keys.length).toBeGreaterThan(0);
    expect(new Set(keys).size).toBe(keys.length);
  });

  it.each(entries)('%s follows the status conventions (creates 201, lists are GETs, bodies only where they belong)', (_, route) => {
    // POSTs create (201), except actions on things that exist (TAO's cancel/resume style, batch
    // delete/rename/annotate): 200.
    const action = /\/(renew|complete|cancel|resume|pause|delete|rename|annotations)$/.test(route.path);
    if (route.method === 'POST' && !action) expect(route.status).toBe(201);
    else expect(route.status).toBe(200);
    if (route.list) expect(route.method).toBe('GET');
    if (route.body) expect(['POST', 'PUT', 'PATCH']).toContain(route.method);
    if (route.ifMatch) expect(['PUT', 'PATCH', 'DELETE']).toContain(route.method);
    if (route.idempotent) expect(route.method).toBe('POST');
    for (const [, name] of route.path.matchAll(/\{(\w+)\+?\}/g)) expect(route.params?.shape).toHaveProperty(name!);
  });
});

describe('the local server', () => {
  it('answers an unknown path with its own "no route" 404 in the flat shape', async () => {
    // Act
    const reply = await anonymous().get('/api/v1/nothing-here');

    // Assess
    expect(reply.status).toBe(404);
    expect(errorShapeOf(reply.body)).toEqual({ keys: ERROR_KEYS, types: ERROR_TYPES });
    expect(reply.body.error_desc).toMatch(/^no route/);
  });

  it.each(entries)('serves %s', async (_, route) => {
    // Act
    const reply = await callAsOwner(route);

    // Assess
    expect(reply.status).toBeLessThan(500);
    if (reply.status === 404) expect(reply.body?.error_desc, reply.text).not.toMatch(/^no route/);
  });
});

describe('authentication', () => {
  it.each(protectedEntries)('%s without a token answers 401 in exactly the flat error shape', async (_, route) => {
    // Act
    const reply = await anonymous().request(route.method, samplePath(route), route.body ? {} : undefined);

    // Assess
    expect(reply.status).toBe(401);
    expect(reply.headers.get('content-type')).toMatch(/^application\/json/);
    expect(errorShapeOf(reply.body)).toEqual({ keys: ERROR_KEYS, types: ERROR_TYPES });
    expect(reply.body).toMatchObject({ error_code: 401, code: 'unauthorized', details: [] });
    expect(reply.body.request_id).toBe(reply.headers.get('x-request-id'));
  });

  it.each(entries.filter(([, route]) => route.access === 'public'))('%s needs no token', async (_, route) => {
    // Act
    const reply = await anonymous().request(route.method, samplePath(route));

    // Assess
    expect(reply.status).not.toBe(401);
    expect(reply.status).toBeLessThan(500);
  });
});

describe('lists', () => {
  it.each(listEntries)('%s answers a bare JSON array with X-Pagination-Total', async (_, route) => {
    // Act
    const reply = await callAsOwner(route);

    // Assess
    expect(reply.status, reply.text).toBe(200);
    expect(Array.isArray(reply.body)).toBe(true);
    const total = reply.headers.get('x-pagination-total');
    expect(total).toMatch(/^\d+$/);
    expect(Number(total)).toBeGreaterThanOrEqual(reply.body.length);
    expect(reply.headers.get('access-control-expose-headers')).toMatch(/X-Pagination-Total/i);
  });

  it.each(listEntries)('%s refuses size over 1000 with a 400', async (_, route) => {
    // Act
    const reply = await (route.access === 'admin' ? admin() : user.api).get(`${samplePath(route)}?size=1001`);

    // Assess
    expect(reply.status).toBe(400);
    expect(errorShapeOf(reply.body).keys).toEqual(ERROR_KEYS);
  });
});

describe('OpenAPI', () => {
  it('is a valid OpenAPI 3.1 document', async () => {
    // Act: the validator dereferences in place, so give it a copy.
    const validated = await SwaggerParser.validate(structuredClone(openapi) as never);

    // Assess
    expect(openapi.openapi).toMatch(/^3\.1\./);
    expect(validated).toBeTruthy();
  });

  it('documents exactly the routes of the route table', () => {
    const documented = Object.entries(openapi.paths).flatMap(([path, item]) => Object.keys(item).map((method) => `${method.toUpperCase()} ${path}`));
    expect(documented.sort()).toEqual(entries.map(([, r]) => `${r.method} ${openApiPathOf(r)}`).sort());
  });

  it.each(entries)('documents %s under the same path and method, with its parameters and security', (operationId, route) => {
    // Act
    const operation = openapi.paths[openApiPathOf(route)]?.[route.method.toLowerCase()];

    // Assess
    expect(operation).toBeDefined();
    expect(operation!.operationId).toBe(operationId);
    expect(operation!.security).toEqual(route.access === 'public' ? [] : [{ bearer: [] }]);
    const parameters = operation!.parameters ?? [];
    const pathParameters = parameters.filter((p) => p.in === 'path').map((p) => p.name).sort();
    expect(pathParameters).toEqual([...route.path.matchAll(/\{(\w+)\+?\}/g)].map((m) => m[1]).sort());
    const headerParameters = parameters.filter((p) => p.in === 'header').map((p) => p.name.toLowerCase());
    if (route.ifMatch) expect(headerParameters).toContain('if-match');
    if (route.idempotent) expect(headerParameters).toContain('idempotency-key');
    const success = operation!.responses[String(route.status)];
    expect(success).toBeDefined();
    if (route.list) {
      expect(success.content['application/json'].schema.type).toBe('array');
      expect(Object.keys(success.headers)).toEqual(expect.arrayContaining(['X-Pagination-Total', 'X-Next-Cursor', 'Link']));
    }
    if (route.etag) expect(Object.keys(success.headers)).toContain('ETag');
    if (route.access !== 'public') expect(operation!.responses['401']).toBeDefined();
  });
});

describe('docs', () => {
  it('/docs answers an HTML page that points at the OpenAPI document', async () => {
    // Act
    const reply = await anonymous().get('/docs');

    // Assess
    expect(reply.status).toBe(200);
    expect(reply.headers.get('content-type')).toMatch(/^text\/html/);
    expect(reply.text).toMatch(/^<!doctype html>/i);
    expect(reply.text).toContain('/api/v1/openapi.json');
  });
});
