import { median, pool, post, progress, report, round, withRuntime } from './common';

/**
 * List latency deep into 10,000 datasets of one user: page 1 vs page 100 (size 100), by cursor and by
 * skip. Budget: cursor page 100 within 1.5× of page 1. Every list also counts its matches exactly
 * (X-Pagination-Total), which costs the same on every page; that count is timed on its own too.
 */
const DATASETS = 10_000;
const SIZE = 100;
const SAMPLES = 15;

async function timed(url: string, token: string): Promise<{ ms: number; next?: string; total: number }> {
  const started = performance.now();
  const response = await fetch(url, { headers: { authorization: `Bearer ${token}` } });
  await response.arrayBuffer();
  if (response.status !== 200) throw new Error(`${url} answered ${response.status}`);
  return { ms: performance.now() - started, next: response.headers.get('x-next-cursor') ?? undefined, total: Number(response.headers.get('x-pagination-total')) };
}

async function medianOf(url: string, token: string): Promise<number> {
  const samples: number[] = [];
  for (let i = 0; i < SAMPLES; i++) samples.push((await timed(url, token)).ms);
  return round(median(samples));
}

const figures = await withRuntime(async ({ url, userId, token }) => {
  const base = `${url}/api/v1/user/${userId}/dataset`;
  const auth = { authorization: `Bearer ${token}` };
  const started = performance.now();
  await pool(DATASETS, 32, async (i) => {
    await post(base, auth, { type: 'image_classification', format: 'default', name: `dataset ${String(i).padStart(5, '0')}` });
    if (i % 1000 === 999) progress(`created ${i + 1}`);
  });
  const createPerS = round(DATASETS / ((performance.now() - started) / 1000));

  let cursor: string | undefined;
  let total = 0;
  for (let page = 1; page < 100; page++) {
    const result = await timed(`${base}?size=${SIZE}${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`, token);
    cursor = result.next;
    total = result.total;
  }
  if (!cursor || total !== DATASETS) throw new Error(`expected a cursor to page 100 over ${DATASETS} datasets, total ${total}`);
  const page1 = await medianOf(`${base}?size=${SIZE}`, token);
  const page100Cursor = await medianOf(`${base}?size=${SIZE}&cursor=${encodeURIComponent(cursor)}`, token);
  const page100Skip = await medianOf(`${base}?size=${SIZE}&skip=${SIZE * 99}`, token);
  // A filter that matches nothing leaves only the exact count's cost (plus one empty page read).
  const countOnly = await medianOf(`${base}?size=${SIZE}&name=no-such-dataset`, token);
  return { create_per_s: createPerS, page1_ms: page1, page100_cursor_ms: page100Cursor, ratio_cursor: round(page100Cursor / page1, 2), page100_skip_ms: page100Skip, ratio_skip: round(page100Skip / page1, 2), filtered_empty_ms: countOnly };
});
report({ bench: 'list-depth', datasets: DATASETS, size: SIZE, samples: SAMPLES, ...figures, budget_ratio_cursor: 1.5, within_budget: figures.ratio_cursor <= 1.5 });
