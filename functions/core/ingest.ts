import { annotationFormatOf, importAnnotations, isAnnotationFile, readHeader } from './annotations';
import { datasetFileOf, isArchive, unpackArchive } from './archives';
import { mapLimited } from './concurrency';
import { batchGetItems, getItem } from './dynamo';
import { type DatasetRecord, datasetKey } from './entities/dataset';
import { sampleIdFor, sampleKey } from './entities/sample';
import { headObject, S3Error } from './s3';
import { dimensionsOf, isSampleFile, registerSamples, type SampleFile } from './samples';

/**
 * What becomes of files that land in a dataset (S3 "Object Created", in batches): archives are unpacked
 * (their entries land as files in turn), images become samples (with width and height from their first
 * bytes), annotation files of the dataset's format are imported. Keys outside datasets are ignored.
 */
export interface LandedObject {
  key: string;
  size?: number;
  etag?: string;
}

export interface IngestSummary {
  samples: number;
  archives: number;
  annotationFiles: number;
  /** Keys whose dataset's work failed: the caller retries them (SQS batch item failures). */
  failedKeys: string[];
}

export async function ingestObjects(objects: LandedObject[]): Promise<IngestSummary> {
  const byDataset = new Map<string, { ownerId: string; files: LandedFile[] }>();
  for (const object of objects) {
    const file = datasetFileOf(object.key);
    if (!file) continue;
    const group = byDataset.get(file.datasetId) ?? { ownerId: file.ownerId, files: [] };
    group.files.push({ path: file.path, key: object.key, size: object.size, etag: object.etag?.replace(/"/g, '') });
    byDataset.set(file.datasetId, group);
  }
  const summary: IngestSummary = { samples: 0, archives: 0, annotationFiles: 0, failedKeys: [] };
  for (const [datasetId, group] of byDataset) {
    try {
      const dataset = (await getItem(datasetKey(datasetId))) as DatasetRecord | undefined;
      if (!dataset || dataset.ownerId !== group.ownerId) continue; // deleted meanwhile: the purge takes its files
      const done = await ingestIntoDataset(dataset, group.files);
      summary.samples += done.samples;
      summary.archives += done.archives;
      summary.annotationFiles += done.annotationFiles;
    } catch (error) {
      console.error('ingest failed', { datasetId, error: (error as Error).message });
      summary.failedKeys.push(...group.files.map((f) => f.key));
    }
  }
  return summary;
}

interface LandedFile {
  path: string;
  key: string;
  size?: number;
  etag?: string;
}

async function ingestIntoDataset(dataset: DatasetRecord, files: LandedFile[]) {
  const format = annotationFormatOf(dataset);
  // Images already registered with these very bytes (an archive's entries, registered as it unpacked
  // them; a redelivered event) need nothing: one read per 100 answers that.
  const known = new Map(
    (await batchGetItems(files.filter((f) => isSampleFile(f.path)).map((f) => sampleKey(dataset.id, sampleIdFor(dataset.id, f.path))))).map((s) => [String(s.path), s.etag]),
  );
  const images = files.filter((f) => isSampleFile(f.path) && !(f.etag && known.get(f.path) === f.etag));
  const archives = files.filter((f) => isArchive(f.path));
  const annotationFiles = files.filter((f) => !isSampleFile(f.path) && isAnnotationFile(format, f.path));

  const samples = await mapLimited(images, 16, async (image): Promise<SampleFile | undefined> => {
    const header = await readHeader(image.key).catch((error: unknown) => {
      if (error instanceof S3Error && error.status === 404) return undefined; // gone since it landed
      throw error; // storage trouble: the batch item fails and is retried
    });
    if (!header) return undefined;
    const size = image.size ?? (await headObject(image.key))?.size;
    if (size === undefined) return undefined;
    return { path: image.path, size, ...(image.etag ? { etag: image.etag } : {}), ...dimensionsOf(header) };
  });
  const found = samples.filter((s): s is SampleFile => s !== undefined);
  await registerSamples(dataset, found);
  // Annotations after their images, so a batch holding both sees the images as samples.
  if (annotationFiles.length) await importAnnotations(dataset, annotationFiles.map((f) => f.path));
  for (const archive of archives) await unpackArchive(archive.key);
  return { samples: found.length, archives: archives.length, annotationFiles: annotationFiles.length };
}
