import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import { query, type QueryInput } from './dynamo';
import { type IndexName, positionAttributes } from './entities/table';
import { BadRequest } from './errors';
import { cursorSigningKey } from './secrets';

/**
 * Honest pagination over DynamoDB queries (DESIGN.md, API conventions):
 * - a page is never silently short: when a filter drops items, reading goes on until the page is full
 *   or the data ends;
 * - `X-Next-Cursor` is only given when at least one more matching item exists (one item of look-ahead);
 * - the total is exact (a COUNT query with the same key condition and filter);
 * - cursors are opaque, HMAC-signed and bound to the caller and to the query (sort and filters), so a
 *   cursor cannot be forged, replayed by someone else, or used with another filter.
 * `skip` reads and discards (O(skip)); `cursor` starts where the last page ended (O(page)).
 */
export type Key = Record<string, unknown>;

export interface PageRequest {
  size: number;
  skip: number;
  cursor?: string;
}

export interface Page<T> {
  items: T[];
  total: number;
  nextCursor?: string;
}

export interface CursorBinding {
  /** The caller the cursor is issued to. */
  callerId: string;
  /** Everything that shapes the result order and membership: namespace, sort, filters. */
  query: Record<string, unknown>;
}

/** One page of `params` (a complete Query without Limit/ExclusiveStartKey) for `request`. */
export async function readPage(
  params: QueryInput,
  request: PageRequest,
  binding: CursorBinding,
  /** A cheaper exact total than counting the query's matches, where the caller keeps one. */
  countAll?: () => Promise<number>,
): Promise<Page<Record<string, unknown>>> {
  const fingerprint = fingerprintOf(binding.query);
  const startKey = request.cursor ? await openCursor(request.cursor, binding.callerId, fingerprint) : undefined;
  const [window, total] = await Promise.all([readWindow(params, request, startKey), countAll ? countAll() : countMatches(params)]);
  const nextCursor = window.lastKey ? await sealCursor(window.lastKey, binding.callerId, fingerprint) : undefined;
  return { items: window.items, total, nextCursor };
}

async function readWindow(params: QueryInput, request: PageRequest, startKey: Key | undefined) {
  const filtered = Boolean(params.FilterExpression);
  const items: Record<string, unknown>[] = [];
  let toSkip = request.skip;
  let exclusiveStartKey = startKey;
  let hasMore = false;
  do {
    const wanted = toSkip + (request.size - items.length) + 1;
    // Unfiltered, DynamoDB returns exactly what is asked; filtered, read wider to save round trips.
    const limit = Math.min(filtered ? Math.max(wanted * 4, 200) : wanted, 1000);
    const out = await query({ ...params, Limit: limit, ExclusiveStartKey: exclusiveStartKey });
    for (const item of out.items) {
      if (toSkip > 0) toSkip--;
      else if (items.length < request.size) items.push(item);
      else {
        hasMore = true;
        break;
      }
    }
    exclusiveStartKey = out.lastKey;
  } while (!hasMore && exclusiveStartKey);
  const last = items.at(-1);
  return { items, lastKey: hasMore && last ? pick(last, positionAttributes(params.IndexName as IndexName | undefined)) : undefined };
}

async function countMatches(params: QueryInput): Promise<number> {
  let total = 0;
  let exclusiveStartKey: Key | undefined;
  do {
    const out = await query({ ...params, Select: 'COUNT', ExclusiveStartKey: exclusiveStartKey });
    total += out.count;
    exclusiveStartKey = out.lastKey;
  } while (exclusiveStartKey);
  return total;
}

/**
 * Seal and open a cursor over any position (e.g. S3's continuation token), bound to the caller and
 * the query like every other cursor.
 */
export async function sealPosition(position: Key, binding: CursorBinding): Promise<string> {
  return sealCursor(position, binding.callerId, fingerprintOf(binding.query));
}

export async function openPosition(cursor: string, binding: CursorBinding): Promise<Key> {
  return openCursor(cursor, binding.callerId, fingerprintOf(binding.query));
}

function pick(item: Record<string, unknown>, attributes: readonly string[]): Key {
  return Object.fromEntries(attributes.map((a) => [a, item[a]]));
}

function fingerprintOf(query: Record<string, unknown>): string {
  const canonical = JSON.stringify(Object.entries(query).filter(([, v]) => v !== undefined).sort(([a], [b]) => a.localeCompare(b)));
  return createHash('sha256').update(canonical).digest('base64url').slice(0, 16);
}

async function sealCursor(key: Key, callerId: string, fingerprint: string): Promise<string> {
  const payload = Buffer.from(JSON.stringify({ k: key, c: callerId, q: fingerprint }), 'utf8').toString('base64url');
  return `${payload}.${await sign(payload)}`;
}

async function openCursor(cursor: string, callerId: string, fingerprint: string): Promise<Key> {
  const invalid = new BadRequest('cursor is not valid for this caller and query', [{ path: ['cursor'], message: 'invalid cursor' }]);
  const [payload, signature, extra] = cursor.split('.');
  if (!payload || !signature || extra !== undefined) throw invalid;
  const expected = Buffer.from(await sign(payload));
  const given = Buffer.from(signature);
  if (expected.length !== given.length || !timingSafeEqual(expected, given)) throw invalid;
  let decoded: { k?: unknown; c?: unknown; q?: unknown };
  try {
    decoded = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8'));
  } catch {
    throw invalid;
  }
  if (decoded.c !== callerId || decoded.q !== fingerprint || typeof decoded.k !== 'object' || decoded.k === null) throw invalid;
  return decoded.k as Key;
}

async function sign(payload: string): Promise<string> {
  return createHmac('sha256', await cursorSigningKey()).update(payload).digest('base64url');
}
