import { OpenAPIRegistry, OpenApiGeneratorV31 } from '@asteasolutions/zod-to-openapi';
import * as z from 'zod';
import { openApiPathOf, routeEntries } from '../routes';
import { ErrorBody } from './schemas/common';

/**
 * The OpenAPI 3.1 document, generated from the route table (the same zod schemas that validate
 * requests), built once per process.
 */
let document: Record<string, unknown> | undefined;

const ERROR_STATUSES: Record<string, string> = {
  '400': 'Bad input; zod issues in `details`',
  '401': 'Missing, unknown or expired token',
  '403': 'The resource is visible but the token may not do this',
  '404': 'Not found (or not visible to the caller)',
  '409': 'The state does not allow it',
  '412': 'If-Match failed',
  '413': 'The body is too large for this route',
  '422': 'Well-formed but not valid here (for example an Idempotency-Key reused with another body)',
  '500': 'Internal error; the request id finds the log line',
};

export function openApiDocument(): Record<string, unknown> {
  if (document) return document;
  const registry = new OpenAPIRegistry();
  const bearer = registry.registerComponent('securitySchemes', 'bearer', {
    type: 'http',
    scheme: 'bearer',
    description: 'A personal access token (ty_…) or a Cognito JWT',
  });
  // `registry.register` needs zod extended with `.openapi()`; the `id` in zod 4 metadata makes the same $ref.
  const errorRef = ErrorBody.meta({ id: 'Error' });
  for (const [operationId, route] of routeEntries()) {
    const success = route.list
      ? z.array(route.response ?? z.unknown())
      : route.response;
    const headers: Record<string, { description: string; schema: { type: 'string' } }> = { 'X-Request-Id': { description: 'Request id', schema: { type: 'string' } } };
    if (route.list) {
      headers['X-Pagination-Total'] = { description: 'Exact number of matching items', schema: { type: 'string' } };
      headers['X-Next-Cursor'] = { description: 'Cursor of the next page, when there is one', schema: { type: 'string' } };
      headers.Link = { description: '<url>; rel="next"', schema: { type: 'string' } };
    }
    if (route.etag) headers.ETag = { description: 'The revision, for If-Match', schema: { type: 'string' } };
    const requestHeaders: z.ZodObject | undefined = route.ifMatch || route.idempotent
      ? z.object({
          ...(route.ifMatch ? { 'if-match': z.string().optional().describe('ETag the change requires') } : {}),
          ...(route.idempotent ? { 'idempotency-key': z.string().max(255).optional().describe('Same key and body within 24 h answer the first response') } : {}),
        })
      : undefined;
    registry.registerPath({
      operationId,
      method: route.method.toLowerCase() as 'get',
      path: openApiPathOf(route),
      summary: route.summary,
      tags: [route.tag],
      security: route.access === 'public' ? [] : [{ [bearer.name]: [] }],
      request: {
        params: route.params,
        query: route.query,
        headers: requestHeaders,
        body: route.body
          ? {
              content: {
                'application/json': { schema: route.body },
                ...(route.form
                  ? { 'multipart/form-data': { schema: z.object({ [route.form.field]: z.string().meta({ format: 'binary' }) }) } }
                  : {}),
              },
              required: true,
            }
          : undefined,
      },
      responses: {
        [route.status]: {
          description: route.summary,
          headers,
          content: route.contentType
            ? { [route.contentType]: { schema: z.string() } }
            : success
              ? { 'application/json': { schema: route.form ? z.union([success, route.form.response]) : success } }
              : undefined,
        },
        ...Object.fromEntries(
          Object.entries(ERROR_STATUSES).map(([status, description]) => [status, { description, content: { 'application/json': { schema: errorRef } } }]),
        ),
      },
    });
  }
  document = new OpenApiGeneratorV31(registry.definitions).generateDocument({
    openapi: '3.1.0',
    info: {
      title: 'Trainyard API',
      version: '1',
      description: 'Datasets, labeling and GPU jobs for computer-vision teams. Follows the NVIDIA TAO Toolkit API v1.',
    },
    servers: [{ url: '/' }],
  }) as unknown as Record<string, unknown>;
  return document;
}

/** A self-contained page that renders the OpenAPI document: no external scripts or styles. */
export function docsPage(): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Trainyard API</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
body{font:15px/1.5 system-ui,sans-serif;margin:0 auto;max-width:70rem;padding:1rem 2rem;color:#1b1f24}
h2{border-bottom:1px solid #ddd;margin-top:2rem}.op{border:1px solid #e3e3e3;border-radius:6px;margin:.6rem 0;padding:.4rem .8rem}
.m{display:inline-block;min-width:4.5rem;font-weight:700;font-family:monospace}.GET{color:#0a7}.POST{color:#06c}.PUT,.PATCH{color:#b70}.DELETE{color:#c22}
code{font-family:monospace}pre{background:#f6f8fa;padding:.5rem;overflow:auto;font-size:12px}summary{cursor:pointer}
</style></head><body>
<h1>Trainyard API</h1>
<p>Machine-readable: <a href="/api/v1/openapi.json"><code>/api/v1/openapi.json</code></a> (OpenAPI 3.1).
Send <code>Authorization: Bearer &lt;token&gt;</code> on every route but health, login and docs.</p>
<div id="ops">Loading…</div>
<script>
fetch('/api/v1/openapi.json').then(r=>r.json()).then(doc=>{
  const byTag={};
  for(const [path,item] of Object.entries(doc.paths))for(const [method,op] of Object.entries(item)){
    (byTag[op.tags?.[0]||'other']??=[]).push({path,method:method.toUpperCase(),op});}
  const esc=s=>String(s).replace(/[&<>]/g,c=>({'&':'&amp;','<':'&lt;','>':'&gt;'})[c]);
  document.getElementById('ops').innerHTML=Object.entries(byTag).map(([tag,ops])=>'<h2>'+esc(tag)+'</h2>'+ops.map(({path,method,op})=>
    '<details class="op"><summary><span class="m '+method+'">'+method+'</span> <code>'+esc(path)+'</code> — '+esc(op.summary||'')+'</summary>'+
    '<pre>'+esc(JSON.stringify({parameters:op.parameters,requestBody:op.requestBody,responses:op.responses},null,2))+'</pre></details>').join('')).join('');
});
</script></body></html>`;
}
