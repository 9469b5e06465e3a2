import { randomBytes } from 'node:crypto';
import { post, progress, report, round, withRuntime } from './common';

/**
 * Upload throughput through presigned multipart parts, locally: a 512 MB file in 8 MiB parts, 4 in
 * flight, from the client's memory to the storage stand-in, then completed. Budget: ≥ 100 MB/s through
 * the parts. The completion is reported apart: s3rver copies every part into one file to complete an
 * upload (S3 does not), so it says more about the stand-in than about the upload path.
 */
const SIZE = 512 * 1024 * 1024;
const CONCURRENCY = 4;
const BUDGET_MBPS = 100;

interface Part {
  part_number: number;
  size: number;
  url: string;
}

const figures = await withRuntime(async ({ url, userId, token }) => {
  const auth = { authorization: `Bearer ${token}` };
  const dataset = await post(`${url}/api/v1/user/${userId}/dataset`, auth, { type: 'image_classification', format: 'default' });
  const base = `${url}/api/v1/user/${userId}/dataset/${dataset.id}/upload`;
  const data = randomBytes(SIZE);
  const session = (await post(base, auth, { files: [{ name: 'bench.bin', size: SIZE }] })) as { id: string; files: { part_size: number; parts: Part[] }[] };
  const file = session.files[0]!;
  const queue = [...file.parts];
  const etags: { part_number: number; etag: string }[] = [];
  const started = performance.now();
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      for (let part = queue.shift(); part; part = queue.shift()) {
        const start = (part.part_number - 1) * file.part_size;
        const response = await fetch(part.url, { method: 'PUT', body: data.subarray(start, start + part.size) });
        if (!response.ok) throw new Error(`part ${part.part_number}: ${response.status}`);
        etags.push({ part_number: part.part_number, etag: response.headers.get('etag') ?? '' });
      }
    }),
  );
  const partsSeconds = (performance.now() - started) / 1000;
  const completed = await fetch(`${base}/${session.id}/complete`, { method: 'POST', headers: auth, body: JSON.stringify({ files: [{ name: 'bench.bin', parts: etags }] }) });
  if (completed.status !== 200) throw new Error(`complete answered ${completed.status}: ${await completed.text()}`);
  const totalSeconds = (performance.now() - started) / 1000;
  progress(`${file.parts.length} parts of ${file.part_size / 1024 / 1024} MiB in ${round(partsSeconds, 2)} s; with completion ${round(totalSeconds, 2)} s`);
  return { parts: file.parts.length, part_mib: file.part_size / 1024 / 1024, parts_mb_per_s: round(SIZE / 1e6 / partsSeconds), with_complete_mb_per_s: round(SIZE / 1e6 / totalSeconds) };
});
report({ bench: 'upload', bytes: SIZE, concurrency: CONCURRENCY, ...figures, budget_mb_per_s: BUDGET_MBPS, within_budget: figures.parts_mb_per_s >= BUDGET_MBPS });
