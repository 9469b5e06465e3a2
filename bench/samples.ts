import { deflateSync } from 'node:zlib';
import * as tar from 'tar-stream';
import { median, post, progress, report, round, timeMs, withRuntime } from './common';

/**
 * Samples at scale, locally: 20,000 tiny PNGs in folder-per-class layout, in one .tar uploaded into a
 * dataset through an upload session, become samples by themselves (the archive's storage event → it
 * is unpacked, its images registered as they are stored → their own storage events find them done).
 *
 * 1. Registration rate: samples / seconds from the upload's complete call until the list's
 *    X-Pagination-Total reaches all of them. Budget: ≥ 300 samples/s. Beside it, how long the archive
 *    took to unpack (its import_status report's finished_on, from the same complete call) and when the
 *    first sample appeared. Should the samples not all appear (no progress for STALL_S after the
 *    archive was reported unpacked, or TIMEOUT_S in all), the figure is null and `timed_out` is true;
 *    the rest are then registered by the batch-add route (`registered_by` says so) so that the list
 *    figures are still measured over 20,000 samples.
 * 2. List depth: page 1 vs page 100 (size 100, path order, by X-Next-Cursor), alternated REPEATS times;
 *    medians. Budget: page 100 within 1.5× of page 1.
 *
 * The runtime runs in its own process (as `npm start`), so building the archive and polling do not
 * share its event loop. TRAINYARD_BENCH_SAMPLES overrides the count for a quick try.
 */
const SAMPLES = Number(process.env.TRAINYARD_BENCH_SAMPLES ?? 20_000);
const CLASSES = 10;
const PAGE_SIZE = 100;
/** Page 100, or the last page when a quick try has fewer samples. */
const DEEP_PAGE = Math.min(100, Math.ceil(SAMPLES / PAGE_SIZE));
const REPEATS = 20;
const POLL_MS = 200;
const STALL_S = 60;
const TIMEOUT_S = 900;
const BATCH = 1000;
const BUDGET_PER_S = 300;
const BUDGET_RATIO = 1.5;

// --- a valid 2x2 RGB PNG whose pixels encode its index --------------------------------------------

const CRC_TABLE = Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});

function crc32(bytes: Buffer): number {
  let c = 0xffffffff;
  for (const byte of bytes) c = CRC_TABLE[(c ^ byte) & 0xff]! ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

function chunk(type: string, data: Buffer): Buffer {
  const body = Buffer.concat([Buffer.from(type, 'ascii'), data]);
  const length = Buffer.alloc(4);
  length.writeUInt32BE(data.length);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(body));
  return Buffer.concat([length, body, crc]);
}

const PNG_SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
const IHDR = chunk('IHDR', Buffer.from([0, 0, 0, 2, 0, 0, 0, 2, 8, 2, 0, 0, 0])); // 2x2, 8-bit RGB
const IEND = chunk('IEND', Buffer.alloc(0));

function png(index: number): Buffer {
  // Two rows, each a filter byte (0) and two RGB pixels; the index spread over the pixel bytes.
  const raw = Buffer.alloc(2 * (1 + 6));
  for (let i = 0; i < 12; i++) raw[1 + i + (i >= 6 ? 1 : 0)] = ((index >>> ((i % 3) * 8)) ^ (i * 37)) & 0xff;
  return Buffer.concat([PNG_SIGNATURE, IHDR, chunk('IDAT', deflateSync(raw)), IEND]);
}

const pathOf = (i: number) => `class_${i % CLASSES}/img_${String(i).padStart(5, '0')}.png`;

async function buildTar(count: number): Promise<Buffer> {
  const pack = tar.pack();
  const parts: Buffer[] = [];
  pack.on('data', (data) => parts.push(data as Buffer));
  const ended = new Promise<void>((resolve, reject) => {
    pack.on('end', resolve);
    pack.on('error', reject);
  });
  const mtime = new Date();
  for (let c = 0; c < CLASSES; c++) pack.entry({ name: `class_${c}/`, type: 'directory', mtime });
  for (let i = 0; i < count; i++) {
    const image = png(i);
    pack.entry({ name: pathOf(i), size: image.length, mtime }, image);
  }
  pack.finalize();
  await ended;
  return Buffer.concat(parts);
}

// --- the bench -------------------------------------------------------------------------------------

interface UploadFile {
  url?: string;
  part_size?: number;
  parts?: { part_number: number; size: number; url: string }[];
}

interface ArchiveStatus {
  archive: string;
  status: string;
  files: number;
  refused: unknown[];
  error?: string;
  finished_on: string;
}

interface SampleItem {
  id: string;
  path: string;
  labels: string[];
  width?: number;
  height?: number;
}

progress(`building a .tar of ${SAMPLES} PNGs in ${CLASSES} class folders…`);
const archive = await buildTar(SAMPLES);
progress(`archive: ${round(archive.length / 1e6, 2)} MB`);

const figures = await withRuntime(async ({ url, userId, token }) => {
  const auth = { authorization: `Bearer ${token}` };
  const dataset = await post(`${url}/api/v1/user/${userId}/dataset`, auth, { type: 'image_classification', format: 'default' });
  const datasetUrl = `${url}/api/v1/user/${userId}/dataset/${dataset.id}`;
  const getJson = async <T>(path: string) => {
    const response = await fetch(`${datasetUrl}${path}`, { headers: auth });
    if (response.status !== 200) throw new Error(`GET ${path} answered ${response.status}: ${await response.text()}`);
    return { body: (await response.json()) as T, headers: response.headers };
  };
  const samplePage = async (query: string) => {
    const { body, headers } = await getJson<SampleItem[]>(`/sample?${query}`);
    return { items: body, total: Number(headers.get('x-pagination-total')), next: headers.get('x-next-cursor') ?? undefined };
  };
  const archiveStatus = async () => (await getJson<{ import_status?: { archives?: ArchiveStatus[] } }>('')).body.import_status?.archives?.[0];

  // Upload the archive through a session: one PUT, or parts when it is large.
  const session = (await post(`${datasetUrl}/upload`, auth, { files: [{ name: 'all.tar', size: archive.length }] })) as { id: string; files: UploadFile[] };
  const file = session.files[0]!;
  const completeFile: { name: string; parts?: { part_number: number; etag: string }[] } = { name: 'all.tar' };
  const putStarted = performance.now();
  if (file.url) {
    const response = await fetch(file.url, { method: 'PUT', body: archive });
    if (!response.ok) throw new Error(`PUT answered ${response.status}: ${await response.text()}`);
  } else {
    completeFile.parts = [];
    for (const part of file.parts ?? []) {
      const start = (part.part_number - 1) * file.part_size!;
      const response = await fetch(part.url, { method: 'PUT', body: archive.subarray(start, start + part.size) });
      if (!response.ok) throw new Error(`part ${part.part_number} answered ${response.status}`);
      completeFile.parts.push({ part_number: part.part_number, etag: response.headers.get('etag') ?? '' });
    }
  }
  const putMs = performance.now() - putStarted;
  const completeAt = Date.now();
  const started = performance.now();
  const completed = await fetch(`${datasetUrl}/upload/${session.id}/complete`, { method: 'POST', headers: auth, body: JSON.stringify({ files: [completeFile] }) });
  if (completed.status !== 200) throw new Error(`complete answered ${completed.status}: ${await completed.text()}`);
  progress(`uploaded ${round(archive.length / 1e6, 2)} MB in ${round(putMs)} ms (${file.url ? 'one PUT' : `${file.parts?.length} parts`}); completed; waiting for samples…`);

  // Poll the total until it reaches SAMPLES, or stalls, or time runs out.
  const seconds = () => (performance.now() - started) / 1000;
  let registered = 0;
  let firstSampleS: number | undefined;
  let unpacked: ArchiveStatus | undefined;
  let lastProgressS = 0;
  let lastLogS = 0;
  let timedOut = false;
  for (;;) {
    const { total } = await samplePage('size=1');
    const now = seconds();
    if (total !== registered) {
      if (firstSampleS === undefined && total > 0) firstSampleS = now;
      registered = total;
      lastProgressS = now;
    }
    if (registered >= SAMPLES) break;
    if (!unpacked) {
      unpacked = await archiveStatus();
      if (unpacked) {
        lastProgressS = Math.max(lastProgressS, now);
        progress(`archive ${unpacked.status} at ${round(now, 1)} s: ${unpacked.files} files, ${unpacked.refused.length} refused${unpacked.error ? `, error: ${unpacked.error}` : ''}`);
        if (unpacked.status !== 'unpacked') {
          timedOut = true;
          break;
        }
      }
    }
    if (now - lastLogS >= 5) {
      progress(`${round(now, 1)} s: ${registered} of ${SAMPLES} samples`);
      lastLogS = now;
    }
    if ((unpacked && now - lastProgressS > STALL_S) || now > TIMEOUT_S) {
      timedOut = true;
      progress(`giving up at ${round(now, 1)} s with ${registered} of ${SAMPLES} samples (${unpacked ? `no new sample for ${STALL_S} s after the unpack` : `no unpack report within ${TIMEOUT_S} s`})`);
      break;
    }
    await new Promise((resolve) => setTimeout(resolve, POLL_MS));
  }
  const registrationS = seconds();
  // The report is written after the archive's last entry is stored, so it can trail the last sample.
  for (const waitUntil = seconds() + STALL_S; !unpacked && seconds() < waitUntil; ) {
    unpacked = await archiveStatus();
    if (!unpacked) await new Promise((resolve) => setTimeout(resolve, POLL_MS));
  }
  const unpackS = unpacked ? (Date.parse(unpacked.finished_on) - completeAt) / 1000 : undefined;
  if (!timedOut) progress(`${SAMPLES} samples in ${round(registrationS, 2)} s (${round(SAMPLES / registrationS)}/s); the archive unpacked at ${unpackS === undefined ? '?' : round(unpackS, 2)} s`);

  // Fallback, so the list figures are still over SAMPLES samples: register the rest by batch add.
  let registeredBy = 'storage_events';
  let batchAddPerS: number | undefined;
  if (registered < SAMPLES) {
    if (!unpacked || unpacked.files < SAMPLES) throw new Error(`only ${unpacked?.files ?? 0} of ${SAMPLES} files were unpacked; the list cannot be measured`);
    registeredBy = registered ? 'storage_events_then_batch_add' : 'batch_add_fallback';
    progress(`registering the samples through POST …/sample in batches of ${BATCH} instead…`);
    const batchStarted = performance.now();
    for (let from = 0; from < SAMPLES; from += BATCH) {
      const samples = Array.from({ length: Math.min(BATCH, SAMPLES - from) }, (_, k) => ({ path: pathOf(from + k) }));
      const result = await post(`${datasetUrl}/sample`, auth, { samples });
      if (result.failed !== 0) throw new Error(`batch add from ${from}: ${result.failed} failed: ${JSON.stringify((result.results as unknown[]).slice(0, 3))}`);
    }
    batchAddPerS = round(SAMPLES / ((performance.now() - batchStarted) / 1000));
    progress(`batch add: ${batchAddPerS} samples/s`);
  }

  // Walk every page once by cursor, checking that the pages add up; keep the cursor of page DEEP_PAGE.
  const ids = new Set<string>();
  let cursor: string | undefined;
  let deepCursor: string | undefined;
  let pages = 0;
  let first: SampleItem | undefined;
  do {
    const page = await samplePage(`size=${PAGE_SIZE}${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`);
    pages++;
    if (page.total !== SAMPLES) throw new Error(`page ${pages} says the total is ${page.total}, not ${SAMPLES}`);
    if (page.next && page.items.length !== PAGE_SIZE) throw new Error(`page ${pages} holds ${page.items.length} samples, not ${PAGE_SIZE}`);
    first ??= page.items[0];
    for (const item of page.items) ids.add(item.id);
    cursor = page.next;
    if (pages === DEEP_PAGE - 1) deepCursor = cursor;
  } while (cursor);
  if (ids.size !== SAMPLES) throw new Error(`the cursor walk saw ${ids.size} distinct samples of ${SAMPLES}`);
  if (!deepCursor) throw new Error(`${SAMPLES} samples do not fill ${DEEP_PAGE} pages of ${PAGE_SIZE}`);
  // The first sample in path order is image 0: labelled by its folder, and 2x2.
  const folderLabelOk = first?.path === pathOf(0) && first.labels.length === 1 && first.labels[0] === 'class_0';
  const dimensionsOk = first?.width === 2 && first.height === 2;
  if (!folderLabelOk || !dimensionsOk) progress(`the first sample is not as uploaded (class_0/img_00000.png labelled class_0, 2x2): ${JSON.stringify(first)}`);

  progress(`walked ${pages} pages; timing page 1 and page ${DEEP_PAGE}, ${REPEATS} times each, alternating…`);
  const deepQuery = `size=${PAGE_SIZE}&cursor=${encodeURIComponent(deepCursor)}`;
  const firstTimes: number[] = [];
  const deepTimes: number[] = [];
  for (let i = 0; i < REPEATS; i++) {
    firstTimes.push(await timeMs(() => samplePage(`size=${PAGE_SIZE}`)));
    deepTimes.push(await timeMs(() => samplePage(deepQuery)));
  }
  const page1 = median(firstTimes);
  const page100 = median(deepTimes);

  return {
    archive_mb: round(archive.length / 1e6, 2),
    upload_put_ms: round(putMs),
    registered,
    timed_out: timedOut,
    registered_by: registeredBy,
    samples_per_s: timedOut ? null : round(SAMPLES / registrationS),
    registration_s: round(registrationS, 2),
    unpack_s: unpackS === undefined ? null : round(unpackS, 2),
    first_sample_s: firstSampleS === undefined ? null : round(firstSampleS, 2),
    ...(batchAddPerS === undefined ? {} : { batch_add_per_s: batchAddPerS }),
    folder_label_ok: folderLabelOk,
    dimensions_ok: dimensionsOk,
    page1_ms: round(page1),
    page100_ms: round(page100),
    ratio: round(page100 / page1, 2),
  };
});

report({
  bench: 'samples',
  samples: SAMPLES,
  classes: CLASSES,
  ...figures,
  budget_samples_per_s: BUDGET_PER_S,
  budget_ratio: BUDGET_RATIO,
  holds: !figures.timed_out && (figures.samples_per_s ?? 0) >= BUDGET_PER_S && figures.ratio <= BUDGET_RATIO,
});
