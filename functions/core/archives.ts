import { pipeline } from 'node:stream/promises';
import { createGunzip } from 'node:zlib';
import * as tar from 'tar-stream';
import { getItem, updateItem } from './dynamo';
import { type ArchiveReport, type DatasetRecord, datasetKey } from './entities/dataset';
import { getObjectStream, putObject } from './s3';
import { FilePath } from './schemas/upload';

/**
 * Archives uploaded into a dataset are unpacked, by streaming, into the dataset's files beside them:
 * `files/a/train.tar.gz` holding `cats/1.jpg` gives `files/a/cats/1.jpg`. The archive is never whole in
 * memory (each entry is, up to MAX_ENTRY_BYTES). Entries whose names could escape (absolute, `..`,
 * control characters) are refused, and the outcome is reported on the dataset (`import_status`).
 */
const ARCHIVE = /\.(tar|tar\.gz|tgz)$/i;
const MAX_ENTRY_BYTES = 64 * 1024 * 1024;
const KEPT_REPORTS = 20;
const KEPT_REFUSALS = 20;

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
  try {
    const extract = tar.extract();
    extract.on('entry', (header, stream, next) => {
      const name = header.name.replace(/^\.\//, '');
      const done = (error?: unknown) => (error ? next(error as Error) : next());
      if (header.type !== 'file') {
        if (header.type !== 'directory') refuse(name, `not a regular file (${header.type})`);
        stream.resume();
        stream.on('end', done);
        return;
      }
      const valid = FilePath.safeParse(name);
      if (!valid.success) {
        refuse(name, `refused: ${valid.error.issues[0]?.message ?? 'bad name'}`);
        stream.resume();
        stream.on('end', done);
        return;
      }
      if ((header.size ?? 0) > MAX_ENTRY_BYTES) {
        refuse(name, `over ${MAX_ENTRY_BYTES / 1024 / 1024} MiB: upload it as a file instead`);
        stream.resume();
        stream.on('end', done);
        return;
      }
      const chunks: Buffer[] = [];
      stream.on('data', (chunk: unknown) => chunks.push(chunk as Buffer));
      stream.on('end', () => {
        putObject(prefix + folder + valid.data, Buffer.concat(chunks)).then(() => {
          report.files++;
          done();
        }, done);
      });
    });
    const source = await getObjectStream(key);
    await (/\.(gz|tgz)$/i.test(file.path) ? pipeline(source, createGunzip(), extract) : pipeline(source, extract));
  } catch (error) {
    report.status = 'failed';
    report.error = (error as Error).message;
  }
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
