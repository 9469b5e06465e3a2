import { randomUUID } from 'node:crypto';
import { inject } from 'vitest';

/**
 * A tiny HTTP client for the API tests, and the few helpers every suite needs. Tests talk to the
 * embedded runtime only over HTTP, as a client would.
 */
export const apiUrl = (): string => inject('apiUrl');

/** A JSON body as the tests read it: whatever the API sent, asserted on field by field. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- bodies are checked by the assertions, not the compiler
export type Json = any;

export interface Reply<T = Json> {
  status: number;
  headers: Headers;
  /** The parsed JSON body, or undefined when the body is not JSON. */
  body: T;
  text: string;
}

export interface RequestOptions {
  headers?: Record<string, string>;
  /** The raw body to send as is (no JSON encoding, no Content-Type unless given in headers). */
  raw?: string | Uint8Array;
  /** Send the JSON body without a Content-Type header, as TAO clients do. */
  noContentType?: boolean;
}

export type Api = ReturnType<typeof client>;

export function client(token?: string) {
  async function request<T = Json>(method: string, path: string, json?: unknown, options: RequestOptions = {}): Promise<Reply<T>> {
    const headers: Record<string, string> = {};
    if (token) headers.authorization = `Bearer ${token}`;
    let body: string | Uint8Array | undefined;
    if (options.raw !== undefined) {
      // A Uint8Array body makes fetch send no Content-Type of its own.
      body = typeof options.raw === 'string' ? new TextEncoder().encode(options.raw) : options.raw;
    } else if (json !== undefined) {
      const text = JSON.stringify(json);
      if (options.noContentType) body = new TextEncoder().encode(text);
      else {
        body = text;
        headers['content-type'] = 'application/json';
      }
    }
    Object.assign(headers, options.headers);
    const url = path.startsWith('http') ? path : `${apiUrl()}${path}`;
    const response = await fetch(url, { method, headers, body });
    const text = await response.text();
    let parsed: unknown;
    try {
      parsed = text ? JSON.parse(text) : undefined;
    } catch {
      parsed = undefined;
    }
    return { status: response.status, headers: response.headers, body: parsed as T, text };
  }
  return {
    token,
    request,
    get: <T = Json>(path: string, options?: RequestOptions) => request<T>('GET', path, undefined, options),
    post: <T = Json>(path: string, json?: unknown, options?: RequestOptions) => request<T>('POST', path, json, options),
    put: <T = Json>(path: string, json?: unknown, options?: RequestOptions) => request<T>('PUT', path, json, options),
    patch: <T = Json>(path: string, json?: unknown, options?: RequestOptions) => request<T>('PATCH', path, json, options),
    delete: <T = Json>(path: string, options?: RequestOptions) => request<T>('DELETE', path, undefined, options),
  };
}

export const admin = (): Api => client(inject('adminToken'));
export const anonymous = (): Api => client();

/** A unique, valid email for a fresh user. */
export const uniqueEmail = (label = 'user'): string => `${label}-${randomUUID()}@example.test`;

export interface TestUser {
  id: string;
  token: string;
  api: Api;
}

/** The admin creates a user with a unique email and a personal token (read+write unless `scopes` say otherwise). */
export async function newUser(options: { scopes?: ('read' | 'write')[]; label?: string } = {}): Promise<TestUser> {
  const created = await admin().post('/api/v1/admin/user', { email: uniqueEmail(options.label), name: options.label ?? 'Test user' });
  if (created.status !== 201) throw new Error(`creating a user answered ${created.status}: ${created.text}`);
  const id = created.body.id as string;
  const token = await tokenFor(id, options.scopes);
  return { id, token, api: client(token) };
}

/** The admin issues another token for a user. */
export async function tokenFor(userId: string, scopes?: ('read' | 'write')[]): Promise<string> {
  const made = await admin().post(`/api/v1/user/${userId}/token`, { name: 'test token', ...(scopes ? { scopes } : {}) });
  if (made.status !== 201) throw new Error(`creating a token answered ${made.status}: ${made.text}`);
  return made.body.token as string;
}

export const datasetsPath = (userId: string): string => `/api/v1/user/${userId}/dataset`;

export interface DatasetInput {
  type: string;
  format: string;
  name?: string;
  description?: string;
  version?: string;
  logo?: string;
  tags?: string[];
}

/** Run `work` over `items` with at most `concurrency` in flight; results keep the items' order. */
export async function mapLimit<T, R>(items: readonly T[], concurrency: number, work: (item: T, index: number) => Promise<R>): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  const lanes = Array.from({ length: Math.min(concurrency, items.length) }, async () => {
    while (next < items.length) {
      const index = next++;
      results[index] = await work(items[index]!, index);
    }
  });
  await Promise.all(lanes);
  return results;
}

/**
 * Create datasets for a user, 16 requests in flight. `inputs` is either a count (plain object-detection
 * datasets) or the bodies to post. Answers the created datasets in input order.
 */
export async function createDatasets(user: TestUser, inputs: number | DatasetInput[], concurrency = 16): Promise<Json[]> {
  const bodies = typeof inputs === 'number' ? Array.from({ length: inputs }, () => ({ type: 'object_detection', format: 'coco' })) : inputs;
  return mapLimit(bodies, concurrency, async (body) => {
    const created = await user.api.post(datasetsPath(user.id), body);
    if (created.status !== 201) throw new Error(`creating a dataset answered ${created.status}: ${created.text}`);
    return created.body;
  });
}

/** The flat error shape, exactly: these keys and no others. */
export const ERROR_KEYS = ['code', 'details', 'error_code', 'error_desc', 'request_id'];

export function errorShapeOf(body: unknown): { keys: string[]; types: Record<string, string> } {
  const record = (body ?? {}) as Record<string, unknown>;
  return {
    keys: Object.keys(record).sort(),
    types: Object.fromEntries(Object.entries(record).map(([k, v]) => [k, Array.isArray(v) ? 'array' : typeof v])),
  };
}

export const ERROR_TYPES = { code: 'string', details: 'array', error_code: 'number', error_desc: 'string', request_id: 'string' };

/**
 * GETs a presigned storage URL and returns the bytes. Retries a connection the storage stand-in closed
 * just as it was reused (keep-alive race, "other side closed"), as any HTTP client retries an idempotent GET.
 */
export async function fetchBytes(url: string): Promise<Buffer> {
  for (let attempt = 1; ; attempt++) {
    try {
      const response = await fetch(url);
      if (response.status !== 200) throw new Error(`GET answered ${response.status}`);
      return Buffer.from(await response.arrayBuffer());
    } catch (error) {
      if (attempt >= 3 || !String((error as { cause?: { code?: string } }).cause?.code ?? '').startsWith('UND_ERR_SOCKET')) throw error;
    }
  }
}

/** Read until `done` holds, every `intervalMs`; past `timeoutMs`, fail naming what was awaited and the last value read. */
export async function waitFor<T>(what: string, read: () => Promise<T>, done: (value: T) => boolean, timeoutMs = 60_000, intervalMs = 100): Promise<T> {
  let value = await read();
  for (const started = Date.now(); !done(value); value = await read()) {
    if (Date.now() - started > timeoutMs) throw new Error(`${what}: not reached after ${timeoutMs / 1000} s; last: ${JSON.stringify(value).slice(0, 800)}`);
    await new Promise((r) => setTimeout(r, intervalMs));
  }
  return value;
}
