import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startRuntime } from '../local/runtime';
import { median, medianMs, newAdminToken, pool, progress, report, round, timeMs, userWithToken } from './common';

/**
 * List latency deep into 10,000 datasets of one user: page 1 vs page 100 (size 100, default sort), by
 * cursor and by skip. Budget: cursor page 100 within 1.5× of page 1.
 *
 * The runtime runs in this process, so the datasets are made by the core use case `createDataset`
 * directly (its write path, without HTTP; about twice the rate of POSTs to a runtime in another
 * process on this machine). The lists go over HTTP one at a time.
 *
 * Where a list's time goes, timed on their own against the same table:
 * - `page_query_ms`: the one Query of a page (Limit 101: the page and one item of look-ahead);
 * - `total_counter_ms`: what an unfiltered list pays for X-Pagination-Total, one GetItem of the counter;
 * - `total_count_query_ms`: an exact COUNT Query over all 10,000, what the total cost before the counter
 *   and what a filtered list still pays;
 * - `filtered_empty_ms`: a list whose filter matches nothing, which reads all 10,000 twice (the page
 *   keeps reading to fill itself, the count counts).
 */
const DATASETS = 10_000;
const SIZE = 100;
const SAMPLES = 25;
const CONCURRENCY = 32;

const dataDir = await mkdtemp(join(tmpdir(), 'trainyard-bench-'));
const runtime = await startRuntime({ port: 0, dataDir, adminToken: newAdminToken() });
try {
  // Imported only now: the runtime has set the configuration these modules read.
  const { createDataset } = await import('../functions/core/datasets');
  const { getItem, query } = await import('../functions/core/dynamo');
  const { datasetCounterKey, datasetsByOwner } = await import('../functions/core/entities/dataset');
  const { DatasetCreate } = await import('../functions/core/schemas/dataset');

  const { userId, token } = await userWithToken(runtime.url, runtime.adminToken);
  const owner = { userId, role: 'user' as const, scopes: ['read', 'write'], tokenId: 'bench' };
  const started = performance.now();
  await pool(DATASETS, CONCURRENCY, async (i) => {
    const input = DatasetCreate.parse({ type: 'image_classification', format: 'default', name: `dataset ${String(i).padStart(5, '0')}` });
    await createDataset(owner, userId, input);
    if (i % 2000 === 1999) progress(`created ${i + 1} datasets`);
  });
  const createPerS = round(DATASETS / ((performance.now() - started) / 1000));
  progress(`created ${DATASETS} datasets at ${createPerS}/s (createDataset, ${CONCURRENCY} at a time)`);

  const base = `${runtime.url}/api/v1/user/${userId}/dataset`;
  const list = async (query: string) => {
    const response = await fetch(`${base}?${query}`, { headers: { authorization: `Bearer ${token}` } });
    const items = (await response.json()) as unknown[];
    if (response.status !== 200) throw new Error(`GET ${query} answered ${response.status}`);
    return { items, next: response.headers.get('x-next-cursor') ?? undefined, total: Number(response.headers.get('x-pagination-total')) };
  };

  // Walk to page 100 by cursor, checking that the pages add up.
  let cursor: string | undefined;
  let seen = 0;
  for (let page = 1; page < 100; page++) {
    const result = await list(`size=${SIZE}${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`);
    if (result.total !== DATASETS || result.items.length !== SIZE || !result.next) throw new Error(`page ${page} is not a full page of ${DATASETS}`);
    seen += result.items.length;
    cursor = result.next;
  }
  const page100Query = `size=${SIZE}&cursor=${encodeURIComponent(cursor!)}`;
  const last = await list(page100Query);
  if (seen + last.items.length !== DATASETS || last.next) throw new Error(`the cursor walk saw ${seen + last.items.length} of ${DATASETS}`);

  progress('timing page 1, page 100 by cursor, page 100 by skip…');
  // Page 1 and page 100 alternate, so drift in the machine's load weighs on both alike.
  const firstTimes: number[] = [];
  const deepTimes: number[] = [];
  for (let i = 0; i < SAMPLES; i++) {
    firstTimes.push(await timeMs(() => list(`size=${SIZE}`)));
    deepTimes.push(await timeMs(() => list(page100Query)));
  }
  const page1 = round(median(firstTimes));
  const page100Cursor = round(median(deepTimes));
  const page100Skip = await medianMs(SAMPLES, () => list(`size=${SIZE}&skip=${SIZE * 99}`));
  progress('timing the parts: one page Query, the counter, an exact COUNT, a filter that matches nothing…');
  const byDate = datasetsByOwner(userId, 'date', false);
  const pageQuery = await medianMs(SAMPLES, () => query({ ...byDate, Limit: SIZE + 1 }));
  const counter = await medianMs(SAMPLES, () => getItem(datasetCounterKey(userId)));
  let counted = 0;
  const countQuery = await medianMs(5, async () => {
    counted = 0;
    let startKey: Record<string, unknown> | undefined;
    do {
      const out = await query({ ...byDate, Select: 'COUNT', ExclusiveStartKey: startKey });
      counted += out.count;
      startKey = out.lastKey;
    } while (startKey);
  });
  if (counted !== DATASETS) throw new Error(`COUNT found ${counted} of ${DATASETS}`);
  const filteredEmpty = await medianMs(5, () => list(`size=${SIZE}&name=no-such-dataset`));

  report({
    bench: 'list-depth',
    datasets: DATASETS,
    size: SIZE,
    samples: SAMPLES,
    create_per_s: createPerS,
    page1_ms: page1,
    page100_cursor_ms: page100Cursor,
    ratio_cursor: round(page100Cursor / page1, 2),
    page100_skip_ms: page100Skip,
    ratio_skip: round(page100Skip / page1, 2),
    page_query_ms: pageQuery,
    total_counter_ms: counter,
    total_count_query_ms: countQuery,
    filtered_empty_ms: filteredEmpty,
    budget_ratio_cursor: 1.5,
    within_budget: page100Cursor / page1 <= 1.5,
  });
} finally {
  await runtime.stop();
  await rm(dataDir, { recursive: true, force: true });
}
