import type * as Http from 'node:http';
import type * as Https from 'node:https';
import aws4 from 'aws4';

/**
 * AWS requests without the SDK: SigV4 by aws4 (synchronous, node:crypto), sent over keep-alive
 * node:http(s), retrying what AWS asks to retry, and presigned URLs for clients.
 * Why not the SDK: see dynamo.ts. Why not fetch: measured here, node:http moves 2-3x more requests per
 * second against dynalite. The http modules are taken with process.getBuiltinModule on first use: a
 * static `import 'node:http'` in an ES module loads undici, http2 and zlib too (about 40 ms of cold start).
 */
export interface AwsRequest {
  url: string;
  service: 'dynamodb' | 's3' | 'secretsmanager' | 'states' | 'batch';
  region: string;
  method?: 'GET' | 'POST' | 'PUT' | 'DELETE' | 'HEAD';
  headers?: Record<string, string>;
  body?: string | Buffer;
}

export interface SignedResponse {
  status: number;
  body: string;
  headers: Record<string, string | undefined>;
}

const MAX_ATTEMPTS = 4;
const BASE_DELAY_MS = 25;

/** Lambda's (or the local runtime's) credentials, read from the environment on every signature. */
function credentials() {
  const { AWS_ACCESS_KEY_ID = '', AWS_SECRET_ACCESS_KEY = '', AWS_SESSION_TOKEN } = process.env;
  return { accessKeyId: AWS_ACCESS_KEY_ID, secretAccessKey: AWS_SECRET_ACCESS_KEY, sessionToken: AWS_SESSION_TOKEN };
}

/** Signs with aws4, which fills in `headers` (or, with signQuery, the query of `path`) in place. */
function sign(url: URL, request: Omit<AwsRequest, 'url'>, defaultMethod: string, signQuery = false) {
  const options = {
    host: url.host,
    path: url.pathname + url.search,
    method: request.method ?? defaultMethod,
    headers: { ...request.headers },
    body: request.body,
    service: request.service,
    region: request.region,
    signQuery,
  };
  aws4.sign(options, credentials());
  return options;
}

/** Signs a request: the headers to send (Authorization, X-Amz-Date, …). */
export function signRequest(request: AwsRequest): { url: URL; headers: Record<string, string> } {
  const url = new URL(request.url);
  const { headers } = sign(url, request, 'POST');
  return { url, headers: Object.fromEntries(Object.entries(headers).map(([k, v]) => [k, String(v)])) };
}

/**
 * A presigned URL valid for `seconds`. Headers given here are signed too, so the client must send them
 * exactly (e.g. a Content-Length binds a PUT to its declared size).
 */
export function presignUrl(request: Omit<AwsRequest, 'body'>, seconds: number): string {
  const url = new URL(request.url);
  url.searchParams.set('X-Amz-Expires', String(seconds));
  const { path } = sign(url, request, 'GET', true);
  return `${url.protocol}//${url.host}${path}`;
}

export async function sendSigned(request: AwsRequest): Promise<SignedResponse> {
  for (let attempt = 1; ; attempt++) {
    let response: SignedResponse;
    try {
      response = await send(request);
    } catch (error) {
      if (attempt >= MAX_ATTEMPTS) throw error; // the connection failed: retry like any 5xx
      await backoff(attempt);
      continue;
    }
    if (!isRetryable(response) || attempt >= MAX_ATTEMPTS) return response;
    await backoff(attempt);
  }
}

let transports: { http: typeof Http; https: typeof Https; agents: Record<'http:' | 'https:', Http.Agent> } | undefined;

function transport(protocol: string) {
  if (!transports) {
    const http = process.getBuiltinModule('node:http') as typeof Http;
    const https = process.getBuiltinModule('node:https') as typeof Https;
    transports = {
      http,
      https,
      agents: { 'http:': new http.Agent({ keepAlive: true, maxSockets: 64 }), 'https:': new https.Agent({ keepAlive: true, maxSockets: 64 }) },
    };
  }
  const secure = protocol === 'https:';
  return { request: secure ? transports.https.request : transports.http.request, agent: transports.agents[secure ? 'https:' : 'http:'] };
}

function send(request: AwsRequest): Promise<SignedResponse> {
  const { url, headers } = signRequest(request);
  const { request: open, agent } = transport(url.protocol);
  return new Promise((resolve, reject) => {
    const req = open(url, { method: request.method ?? 'POST', headers, agent }, (res: Http.IncomingMessage) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8'), headers: res.headers as Record<string, string | undefined> }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(request.body);
  });
}

/**
 * A signed request whose answer is read as a stream (large objects): the caller consumes `body`.
 * No retries once the answer has started; a refused answer is read whole and returned as `error`.
 */
export async function openSigned(request: AwsRequest): Promise<{ status: number; body: Http.IncomingMessage }> {
  const { url, headers } = signRequest(request);
  const { request: open, agent } = transport(url.protocol);
  return new Promise((resolve, reject) => {
    const req = open(url, { method: request.method ?? 'GET', headers, agent }, (res: Http.IncomingMessage) => resolve({ status: res.statusCode ?? 0, body: res }));
    req.on('error', reject);
    req.end(request.body);
  });
}

/** 5xx, throttling and "try again" answers, as the AWS SDKs' standard retry mode treats them. */
function isRetryable({ status, body }: SignedResponse): boolean {
  if (status >= 500 || status === 429) return true;
  return status === 400 && /ThrottlingException|ProvisionedThroughputExceeded|RequestLimitExceeded|TransactionConflict|SlowDown/.test(body);
}

function backoff(attempt: number): Promise<void> {
  const delay = Math.random() * BASE_DELAY_MS * 2 ** attempt; // full jitter
  return new Promise((resolve) => setTimeout(resolve, delay));
}
