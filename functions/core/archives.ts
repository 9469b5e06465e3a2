import { createHash } from 'node:crypto';
import { PassThrough, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGunzip } from 'node:zlib';
import * as tar from 'tar-stream';
import * as yauzl from 'yauzl';
import { getItem, updateItem } from './dynamo';
import { type ArchiveReport, type DatasetRecord, datasetKey } from './entities/dataset';
import { getObjectStream, headObject, putObject } from './s3';
import { dimensionsOf, forgetSamples, isSampleFile, registerSamples } from './samples';
import { FilePath } from './schemas/upload';

/**
 * Archives uploaded into a dataset are unpacked, by streaming, into the dataset's files beside them:
 * `files/a/train.tar.gz` holding `cats/1.jpg` gives `files/a/cats/1.jpg`. The archive is never whole in
 * memory (each entry is, up to MAX_ENTRY_BYTES): tar is read as one stream, zip through ranged reads
 * (its directory is at its end), by yauzl. Entries whose names could escape (absolute, `..`,
 * control characters) are refused, and the outcome is reported on the dataset (`import_status`).
 */
const ARCHIVE = /\.(tar|tar\.gz|tgz|zip)$/i;
const MAX_ENTRY_BYTES = 64 * 1024 * 1024;
const KEPT_REPORTS = 20;
const KEPT_REFUSALS = 20;
const IN_FLIGHT = 16;
const IN_FLIGHT_BYTES = 128 * 1024 * 1024;
const ANNOTATION_LIKE = /\.(json|jsonl|ndjson|manifest|txt|ya?ml|names|xml)$/i;
const MAX_DEFERRED_BYTES = 256 * 1024 * 1024;
const IMAGE_BATCH = 100;
const IMAGE_BATCH_BYTES = 64 * 1024 * 1024;

/** `u/{owner}/dataset/{id}/files/{path}` → its parts, or undefined for any other key. */
export function datasetFileOf(key: string): { ownerId: string; datasetId: string; path: string } | undefined {
  const match = /^u\/([0-9a-f-]{36})\/dataset\/([0-9a-f-]{36})\/files\/(.+)$/.exec(key);
  return match ? { ownerId: match[1]!, datasetId: match[2]!, path: match[3]! } : undefined;
}

export function isArchive(path: string): boolean {
  return ARCHIVE.test(path);
}

export async function unpackArchive(key: string): Promise<ArchiveReport | undefined> {
  const file = datasetFileOf(key);
  if (!file || !isArchive(file.path)) return undefined;
  const dataset = (await getItem(datasetKey(file.datasetId))) as DatasetRecord | undefined;
  if (!dataset || dataset.ownerId !== file.ownerId) return undefined; // deleted meanwhile: the purge takes the archive
  const folder = file.path.includes('/') ? file.path.slice(0, file.path.lastIndexOf('/') + 1) : '';
  const prefix = key.slice(0, key.length - file.path.length);
  const report: ArchiveReport = { archive: file.path, status: 'unpacked', files: 0, refused: [], finishedOn: '' };
  const refuse = (entry: string, reason: string) => {
    if (report.refused.length < KEPT_REFUSALS) report.refused.push({ entry, reason });
  };
  // Entries are stored IN_FLIGHT at a time while the archive reads on.
  const inFlight = new Set<Promise<void>>();
  let storeError: Error | undefined;
  const unstoredSamples: string[] = [];
  let inFlightBytes = 0;
  const put = async (path: string, bytes: Buffer, registered = false) => {
    // Bounded by count and by bytes: a few large entries must not hold the function's memory.
    while (inFlight.size >= IN_FLIGHT || (inFlight.size > 0 && inFlightBytes + bytes.length > IN_FLIGHT_BYTES)) await Promise.race(inFlight);
    if (storeError) {
      if (registered) unstoredSamples.push(folder + path);
      throw storeError;
    }
    inFlightBytes += bytes.length;
    const stored = putObject(prefix + folder + path, bytes).then(
      () => void report.files++,
      (error: unknown) => {
        storeError ??= error as Error;
        if (registered) unstoredSamples.push(folder + path);
      },
    );
    inFlight.add(stored);
    void stored.finally(() => {
      inFlight.delete(stored);
      inFlightBytes -= bytes.length;
    });
  };
  // Images become samples here, a batch at a time and just before they are stored, with their size read
  // from the bytes in hand; the storage event each one then raises finds its sample up to date (same ETag).
  let images: { path: string; bytes: Buffer }[] = [];
  let imageBytes = 0;
  const flushImages = async () => {
    const batch = images;
    images = [];
    imageBytes = 0;
    if (batch.length === 0) return;
    // Deleted meanwhile: stop here, so nothing is written after the purge.
    if (!(await getItem(datasetKey(dataset.id), true))) throw new Error('the dataset was deleted while its archive was being unpacked');
    const { createdPaths } = await registerSamples(
      dataset,
      batch.map(({ path, bytes }) => ({ path: folder + path, size: bytes.length, etag: createHash('md5').update(bytes).digest('hex'), ...dimensionsOf(bytes) })),
    );
    // Only samples this unpack created are forgotten if their file does not get stored.
    const created = new Set(createdPaths);
    for (const [i, { path, bytes }] of batch.entries()) {
      try {
        await put(path, bytes, created.has(folder + path));
      } catch (error) {
        for (const rest of batch.slice(i + 1)) if (created.has(folder + rest.path)) unstoredSamples.push(folder + rest.path);
        throw error;
      }
    }
  };
  // Small annotation-like entries (JSON, text, YAML) are held back and stored after everything else, class
  // lists first: whatever imports them then finds the images they name already stored.
  const deferred: { path: string; bytes: Buffer }[] = [];
  let deferredBytes = 0;
  /** One entry: stored when its name is safe and its size reasonable, refused and named otherwise. */
  const store = async (rawName: string, kind: 'file' | 'directory' | 'other', size: number, read: () => Promise<Buffer>) => {
    const name = rawName.replace(/^\.\//, '');
    if (kind === 'directory') return;
    if (kind === 'other') return refuse(name, 'not a regular file');
    const valid = FilePath.safeParse(name);
    if (!valid.success) return refuse(name, `refused: ${valid.error.issues[0]?.message ?? 'bad name'}`);
    if (size > MAX_ENTRY_BYTES) return refuse(name, `over ${MAX_ENTRY_BYTES / 1024 / 1024} MiB: upload it as a file instead`);
    // An archive inside an archive would be unpacked in turn, and again: upload it on its own instead.
    if (isArchive(valid.data)) return refuse(name, 'an archive inside an archive is not unpacked: upload it on its own');
    const bytes = await read();
    if (ANNOTATION_LIKE.test(valid.data) && deferredBytes + bytes.length <= MAX_DEFERRED_BYTES) {
      deferred.push({ path: valid.data, bytes });
      deferredBytes += bytes.length;
      return;
    }
    if (!isSampleFile(valid.data)) return put(valid.data, bytes);
    images.push({ path: valid.data, bytes });
    imageBytes += bytes.length;
    if (images.length >= IMAGE_BATCH || imageBytes >= IMAGE_BATCH_BYTES) await flushImages();
  };
  try {
    if (/\.zip$/i.test(file.path)) await readZip(key, store);
    else await readTar(key, /\.(gz|tgz)$/i.test(file.path), store);
    await flushImages();
    await Promise.all(inFlight);
    const isClassList = (d: { path: string }) => /(^|\/)(classes\.txt|obj\.names|data\.yaml|dataset\.yaml)$/.test(d.path);
    for (const group of [deferred.filter(isClassList), deferred.filter((d) => !isClassList(d))]) {
      for (const entry of group) await put(entry.path, entry.bytes);
      await Promise.all(inFlight);
    }
    if (storeError) throw storeError;
  } catch (error) {
    report.status = 'failed';
    report.error = (error as Error).message;
  }
  await Promise.all(inFlight);
  if (unstoredSamples.length) await forgetSamples(dataset.id, unstoredSamples);
  report.finishedOn = new Date().toISOString();
  await recordReport(file.datasetId, report);
  return report;
}

async function recordReport(datasetId: string, report: ArchiveReport): Promise<void> {
  const dataset = (await getItem(datasetKey(datasetId), true)) as DatasetRecord | undefined;
  if (!dataset) return;
  const archives = [report, ...(dataset.archives ?? []).filter((a) => a.archive !== report.archive)].slice(0, KEPT_REPORTS);
  await updateItem(datasetKey(datasetId), {
    UpdateExpression: 'SET archives = :archives',
    ConditionExpression: 'attribute_exists(pk)',
    ExpressionAttributeValues: { ':archives': archives },
  }).catch(() => undefined); // deleted meanwhile: nothing to report on
}

type StoreEntry = (name: string, kind: 'file' | 'directory' | 'other', size: number, read: () => Promise<Buffer>) => Promise<void>;

/** The zip's next entry, or undefined at its end (yauzl's lazy mode, as a promise). */
function nextEntry(zip: yauzl.ZipFile): Promise<yauzl.Entry | undefined> {
  return new Promise((resolve, reject) => {
    const cleanup = () => {
      zip.off('entry', onEntry);
      zip.off('end', onEnd);
      zip.off('error', onError);
    };
    const onEntry = (entry: yauzl.Entry) => (cleanup(), resolve(entry));
    const onEnd = () => (cleanup(), resolve(undefined));
    const onError = (error: Error) => (cleanup(), reject(error));
    zip.once('entry', onEntry).once('end', onEnd).once('error', onError);
    zip.readEntry();
  });
}

async function readAll(stream: AsyncIterable<unknown>): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

async function readTar(key: string, gzipped: boolean, store: StoreEntry): Promise<void> {
  const extract = tar.extract();
  extract.on('entry', (header, stream, next) => {
    const kind = header.type === 'file' ? 'file' : header.type === 'directory' ? 'directory' : 'other';
    let read: Promise<Buffer> | undefined;
    store(header.name, kind, header.size ?? 0, () => (read ??= readAll(stream))).then(
      async () => {
        if (!read) stream.resume(); // not read: drain it so the archive goes on
        await read?.catch(() => undefined);
        next();
      },
      (error: unknown) => next(error as Error),
    );
  });
  const source = await getObjectStream(key);
  await (gzipped ? pipeline(source, createGunzip(), extract) : pipeline(source, extract));
}

/** yauzl reads a zip through this: every range is a ranged GET on the object, streamed. */
class ObjectRangeReader extends yauzl.RandomAccessReader {
  constructor(private readonly key: string) {
    super();
  }
  override _readStreamForRange(start: number, end: number): Readable {
    const out = new PassThrough();
    getObjectStream(this.key, { start, end }).then(
      (body) => body.pipe(out),
      (error: unknown) => out.destroy(error as Error),
    );
    return out;
  }
}

async function readZip(key: string, store: StoreEntry): Promise<void> {
  const size = (await headObject(key))?.size ?? 0;
  // decodeStrings off: names come as bytes and are judged by our own rules, entry by entry, instead of
  // yauzl stopping the whole archive at the first unsafe name.
  const zip = await yauzl.fromRandomAccessReaderPromise(new ObjectRangeReader(key), size, { lazyEntries: true, decodeStrings: false });
  try {
    for (let entry = await nextEntry(zip); entry; entry = await nextEntry(zip)) {
      const name = (entry.fileName as unknown as Buffer).toString('utf8');
      const kind = name.endsWith('/') ? 'directory' : 'file';
      await store(name, kind, entry.uncompressedSize, async () => readAll(await zip.openReadStreamPromise(entry)));
    }
  } finally {
    zip.close();
  }
}
