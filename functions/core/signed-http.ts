import { Agent as HttpAgent, request as httpRequest } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import type { AwsClient } from 'aws4fetch';

/**
 * POSTs a SigV4-signed request over keep-alive node:http(s), retrying what AWS asks to retry.
 * Why not `fetch`: measured here against dynalite, node:http moves 2-3x more requests per second than
 * the built-in fetch (about 1,300 vs 400-700 GetItem/s), and in Lambda every request is such a call.
 */
export interface SignedResponse {
  status: number;
  body: string;
}

const agents = { http: new HttpAgent({ keepAlive: true, maxSockets: 64 }), https: new HttpsAgent({ keepAlive: true, maxSockets: 64 }) };
const MAX_ATTEMPTS = 4;
const BASE_DELAY_MS = 25;

export async function postSigned(signer: AwsClient, url: string, init: { headers: Record<string, string>; body: string }): Promise<SignedResponse> {
  for (let attempt = 1; ; attempt++) {
    let response: SignedResponse;
    try {
      response = await send(signer, url, init);
    } catch (error) {
      if (attempt >= MAX_ATTEMPTS) throw error; // the connection failed: retry like any 5xx
      await backoff(attempt);
      continue;
    }
    if (!isRetryable(response) || attempt >= MAX_ATTEMPTS) return response;
    await backoff(attempt);
  }
}

async function send(signer: AwsClient, url: string, init: { headers: Record<string, string>; body: string }): Promise<SignedResponse> {
  const signed = await signer.sign(url, { method: 'POST', headers: init.headers, body: init.body });
  const headers: Record<string, string> = {};
  signed.headers.forEach((value, name) => {
    headers[name] = value;
  });
  const secure = url.startsWith('https:');
  return new Promise((resolve, reject) => {
    const req = (secure ? httpsRequest : httpRequest)(url, { method: 'POST', headers, agent: secure ? agents.https : agents.http }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(init.body);
  });
}

/** 5xx, throttling and "try again" answers, as the AWS SDKs' standard retry mode treats them. */
function isRetryable({ status, body }: SignedResponse): boolean {
  if (status >= 500) return true;
  if (status === 429) return true;
  return status === 400 && /ThrottlingException|ProvisionedThroughputExceeded|RequestLimitExceeded|TransactionConflict/.test(body);
}

function backoff(attempt: number): Promise<void> {
  const delay = Math.random() * BASE_DELAY_MS * 2 ** attempt; // full jitter
  return new Promise((resolve) => setTimeout(resolve, delay));
}
