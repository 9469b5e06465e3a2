import { createHash } from 'node:crypto';
import { deleteItem, getItem, isConditionalCheckFailure, putItem, updateItem } from './dynamo';
import { Conflict, Unprocessable } from './errors';

/**
 * Idempotency-Key (DESIGN.md): the first request with a key runs; a repeat with the same body within
 * 24 h gets the first response back; the same key with another body is a 422. A repeat that arrives
 * while the first still runs waits for it (up to a few seconds), so 20 concurrent identical submissions
 * create one resource and all answer it. Failed requests are forgotten, so a retry can succeed.
 * Records are spread over partitions by their hash (no hot "idempotency" partition).
 */
export interface StoredResponse {
  statusCode: number;
  headers?: Record<string, string | number | boolean>;
  body?: string;
}

const RETENTION_MS = 24 * 3600_000;
/** How long a running first request holds its key before a repeat may take over (> function timeout). */
const LEASE_MS = 30_000;
const WAIT_FOR_FIRST_MS = 8_000;
const POLL_MS = 50;

const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');

export async function runIdempotently(
  scope: string,
  key: string,
  body: string | undefined,
  run: () => Promise<StoredResponse>,
): Promise<{ response: StoredResponse; replayed: boolean }> {
  const recordKey = { pk: `idempotency#${sha256(`${scope}\n${key}`)}`, sk: 'idempotency' };
  const bodyHash = sha256(body ?? '');
  const deadline = Date.now() + WAIT_FOR_FIRST_MS;
  for (;;) {
    if (await claim(recordKey, bodyHash)) break;
    const existing = await getItem(recordKey, true);
    if (!existing) continue; // the first request failed and let go: claim again
    if (existing.bodyHash !== bodyHash) throw new Unprocessable('this Idempotency-Key was used with a different body');
    if (existing.status === 'done') return { response: JSON.parse(String(existing.response)) as StoredResponse, replayed: true };
    if (Date.now() > deadline) throw new Conflict('a request with this Idempotency-Key is still in progress; retry shortly');
    await new Promise((resolve) => setTimeout(resolve, POLL_MS));
  }
  let response: StoredResponse;
  try {
    response = await run();
  } catch (error) {
    await deleteItem(recordKey).catch(() => undefined);
    throw error;
  }
  await updateItem(recordKey, {
    UpdateExpression: 'SET #status = :done, #response = :response',
    ExpressionAttributeNames: { '#status': 'status', '#response': 'response' },
    ExpressionAttributeValues: { ':done': 'done', ':response': JSON.stringify(response) },
  });
  return { response, replayed: false };
}

/** Take the key: free, expired (TTL deletion lags), or abandoned by a first request that died. */
async function claim(recordKey: { pk: string; sk: string }, bodyHash: string): Promise<boolean> {
  const now = Date.now();
  try {
    await putItem(
      { ...recordKey, status: 'running', bodyHash, leaseUntil: now + LEASE_MS, ttl: Math.floor((now + RETENTION_MS) / 1000) },
      {
        ConditionExpression: 'attribute_not_exists(pk) OR #ttl < :nowSeconds OR (#status = :running AND leaseUntil < :now)',
        ExpressionAttributeNames: { '#ttl': 'ttl', '#status': 'status' },
        ExpressionAttributeValues: { ':nowSeconds': Math.floor(now / 1000), ':running': 'running', ':now': now },
      },
    );
    return true;
  } catch (error) {
    if (isConditionalCheckFailure(error)) return false;
    throw error;
  }
}
