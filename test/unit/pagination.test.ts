import * as fc from 'fast-check';
import { beforeAll, describe, expect, it, vi } from 'vitest';
import type * as Errors from '../../functions/core/errors';
import type * as Pagination from '../../functions/core/pagination';

/**
 * readPage against an in-memory stand-in for DynamoDB's Query that behaves as the real one does where
 * pagination depends on it: Limit counts items *evaluated* (before the filter), LastEvaluatedKey is
 * given whenever Limit was reached or a response hit its size cap, and ExclusiveStartKey resumes after
 * that key. Cursor signing needs only the secret from the environment.
 */
type Item = { pk: string; sk: string; n: number };

const FILTERS: Record<string, (item: Item) => boolean> = {
  all: () => true,
  third: (i) => i.n % 3 === 0,
  sparse: (i) => i.n % 17 === 0,
  none: () => false,
};

interface QueryInput {
  Limit?: number;
  ExclusiveStartKey?: { pk: string; sk: string };
  Select?: 'COUNT';
  FilterExpression?: keyof typeof FILTERS;
  ScanIndexForward?: boolean;
}

let items: Item[] = [];
/** The most items one response evaluates, like DynamoDB's 1 MB cap. */
const RESPONSE_CAP = 50;

const fakeDynamo = {
  query: vi.fn(async (input: QueryInput) => {
    const { Limit, ExclusiveStartKey, Select, FilterExpression, ScanIndexForward } = input;
    const ordered = ScanIndexForward === false ? [...items].reverse() : items;
    const start = ExclusiveStartKey ? ordered.findIndex((i) => i.pk === ExclusiveStartKey.pk && i.sk === ExclusiveStartKey.sk) + 1 : 0;
    const budget = Math.min(Limit ?? Infinity, RESPONSE_CAP);
    const evaluated = ordered.slice(start, start + budget);
    const matching = evaluated.filter(FILTERS[FilterExpression ?? 'all']!);
    const stoppedEarly = evaluated.length === budget && evaluated.length > 0;
    const last = evaluated.at(-1);
    const LastEvaluatedKey = stoppedEarly && last ? { pk: last.pk, sk: last.sk } : undefined;
    return { count: matching.length, lastKey: LastEvaluatedKey, items: Select === 'COUNT' ? [] : matching.map((i) => ({ ...i })) };
  }),
};

vi.mock('../../functions/core/dynamo', () => ({ query: fakeDynamo.query }));

// Configuration is read from the environment on first use: set it before importing the module.
process.env.TRAINYARD_TABLE = 'unit-table';
process.env.TRAINYARD_BUCKET = 'unit-bucket';
process.env.TRAINYARD_CURSOR_SECRET = 'unit-test-cursor-secret-0123456789abcdef';

let readPage: typeof Pagination.readPage;
let BadRequest: typeof Errors.BadRequest;

beforeAll(async () => {
  ({ readPage } = await import('../../functions/core/pagination'));
  ({ BadRequest } = await import('../../functions/core/errors'));
});

function makeItems(count: number): Item[] {
  return Array.from({ length: count }, (_, n) => ({ pk: `p#${n}`, sk: `s#${String(n).padStart(4, '0')}`, n }));
}

/** A table query (no IndexName: an item's position is its pk and sk) with the named stand-in filter. */
function plan(filter: keyof typeof FILTERS, order: 'asc' | 'desc' = 'asc') {
  return { KeyConditionExpression: 'x', ScanIndexForward: order === 'asc', ...(filter === 'all' ? {} : { FilterExpression: filter }) };
}

const binding = (callerId = 'caller-a', query: Record<string, unknown> = { ns: 'a', sort: 'date-ascending' }) => ({ callerId, query });

async function walk(filter: keyof typeof FILTERS, size: number, order: 'asc' | 'desc' = 'asc') {
  const pages: { items: Item[]; total: number; nextCursor?: string }[] = [];
  let cursor: string | undefined;
  do {
    const page = (await readPage(plan(filter, order), { size, skip: 0, cursor }, binding())) as { items: Item[]; total: number; nextCursor?: string };
    pages.push(page);
    cursor = page.nextCursor;
    if (pages.length > 1000) throw new Error('the walk does not end');
  } while (cursor);
  return pages;
}

describe('readPage: honest pages', () => {
  it('walking the cursor returns every matching item once, in order, in full pages, with the exact total', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 0, max: 130 }),
        fc.constantFrom(...(Object.keys(FILTERS) as (keyof typeof FILTERS)[])),
        fc.integer({ min: 1, max: 40 }),
        fc.constantFrom('asc' as const, 'desc' as const),
        async (count, filter, size, order) => {
          // Prepare
          items = makeItems(count);
          const ordered = order === 'asc' ? items : [...items].reverse();
          const expected = ordered.filter(FILTERS[filter]!).map((i) => i.n);

          // Act
          const pages = await walk(filter, size, order);

          // Assess
          expect(pages.flatMap((p) => p.items.map((i) => i.n))).toEqual(expected);
          for (const page of pages) expect(page.total).toBe(expected.length);
          for (const page of pages.slice(0, -1)) expect(page.items).toHaveLength(size);
          if (expected.length > 0) expect(pages.at(-1)!.items.length).toBeGreaterThan(0);
          expect(pages.at(-1)!.nextCursor).toBeUndefined();
        },
      ),
      { numRuns: 60 },
    );
  });

  it('skip/size answers exactly the slice it names, and a cursor only when more remains', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 0, max: 120 }),
        fc.constantFrom(...(Object.keys(FILTERS) as (keyof typeof FILTERS)[])),
        fc.integer({ min: 1, max: 30 }),
        fc.integer({ min: 0, max: 130 }),
        async (count, filter, size, skip) => {
          // Prepare
          items = makeItems(count);
          const expected = items.filter(FILTERS[filter]!).map((i) => i.n);

          // Act
          const page = await readPage(plan(filter), { size, skip }, binding());

          // Assess
          expect(page.items.map((i) => (i as Item).n)).toEqual(expected.slice(skip, skip + size));
          expect(page.total).toBe(expected.length);
          expect(page.nextCursor !== undefined).toBe(skip + size < expected.length);
        },
      ),
      { numRuns: 60 },
    );
  });
});

describe('readPage: cursors are signed and bound to the caller and the query', () => {
  let cursor: string;
  beforeAll(async () => {
    items = makeItems(30);
    const first = await readPage(plan('all'), { size: 10, skip: 0 }, binding());
    cursor = first.nextCursor!;
    expect(cursor).toBeTruthy();
  });

  it('the cursor continues where its page ended, for the caller and query it was issued to', async () => {
    // Act
    const next = await readPage(plan('all'), { size: 10, skip: 0, cursor }, binding());

    // Assess
    expect(next.items.map((i) => (i as Item).n)).toEqual([10, 11, 12, 13, 14, 15, 16, 17, 18, 19]);
  });

  it('another caller gets a BadRequest', async () => {
    await expect(readPage(plan('all'), { size: 10, skip: 0, cursor }, binding('caller-b'))).rejects.toBeInstanceOf(BadRequest);
  });

  it.each([
    ['another sort', { ns: 'a', sort: 'date-descending' }],
    ['another namespace', { ns: 'b', sort: 'date-ascending' }],
    ['an extra filter', { ns: 'a', sort: 'date-ascending', type: 'coco' }],
    ['no query at all', {}],
  ])('%s gets a BadRequest', async (_, query) => {
    await expect(readPage(plan('all'), { size: 10, skip: 0, cursor }, binding('caller-a', query))).rejects.toBeInstanceOf(BadRequest);
  });

  it('undefined filters do not change the binding (an absent filter is no filter)', async () => {
    const page = await readPage(plan('all'), { size: 10, skip: 0, cursor }, binding('caller-a', { ns: 'a', sort: 'date-ascending', type: undefined }));
    expect(page.items).toHaveLength(10);
  });

  it('a payload re-signed by nobody (claims another caller) gets a BadRequest', async () => {
    // Prepare
    const [payload, signature] = cursor.split('.') as [string, string];
    const claims = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8'));
    const forged = `${Buffer.from(JSON.stringify({ ...claims, c: 'caller-b' })).toString('base64url')}.${signature}`;

    // Act / Assess
    await expect(readPage(plan('all'), { size: 10, skip: 0, cursor: forged }, binding('caller-b'))).rejects.toBeInstanceOf(BadRequest);
  });

  it('any single-character change to a cursor gets a BadRequest', async () => {
    const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.';
    await fc.assert(
      fc.asyncProperty(fc.nat({ max: cursor.length - 1 }), fc.constantFrom(...alphabet), async (at, replacement) => {
        fc.pre(cursor[at] !== replacement);
        const tampered = cursor.slice(0, at) + replacement + cursor.slice(at + 1);
        await expect(readPage(plan('all'), { size: 10, skip: 0, cursor: tampered }, binding())).rejects.toBeInstanceOf(BadRequest);
      }),
      { numRuns: 100 },
    );
  });

  it('made-up cursors get a BadRequest, never another error', async () => {
    await fc.assert(
      fc.asyncProperty(fc.string({ minLength: 1, maxLength: 300 }), async (made) => {
        fc.pre(made !== cursor);
        await expect(readPage(plan('all'), { size: 10, skip: 0, cursor: made }, binding())).rejects.toBeInstanceOf(BadRequest);
      }),
      { numRuns: 200 },
    );
  });

  it('a validly signed cursor whose key is not an object gets a BadRequest', async () => {
    // A cursor for the same caller and query whose key was cut: only the signature protects this.
    const [payload] = cursor.split('.') as [string];
    const claims = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8'));
    const forged = `${Buffer.from(JSON.stringify({ ...claims, k: null })).toString('base64url')}.AAAA`;
    await expect(readPage(plan('all'), { size: 10, skip: 0, cursor: forged }, binding())).rejects.toBeInstanceOf(BadRequest);
  });
});
