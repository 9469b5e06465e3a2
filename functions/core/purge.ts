import { deleteItem, type Item, query, queryPages, type QueryInput } from './dynamo';
import { annotationImportsOfDataset } from './entities/annotation-import';
import { labelsOfDataset } from './entities/label';
import { modelRefsOfDataset } from './entities/model';
import { sampleCounterKey, samplesOfDataset } from './entities/sample';
import { versionCounterKey, versionsOfDataset } from './entities/version';
import type { PurgeRecord } from './entities/purge';
import { purgeKey } from './entities/purge';
import { type UploadRecord, uploadKey, uploadsByDataset } from './entities/upload';
import { removeEndedJobsOf } from './job-cleanup';
import { abortMultipartUpload, deleteObject, listObjects } from './s3';

const IN_FLIGHT = 16;

/** Delete every row a query finds (table keys only), IN_FLIGHT at a time; answers how many. */
async function deleteRows(input: QueryInput): Promise<number> {
  let count = 0;
  // Each query starts over: the rows it returned are gone by the next one.
  for (;;) {
    const page = await query({ ...input, ProjectionExpression: 'pk, sk', Limit: 500 });
    if (page.items.length === 0) return count;
    for (let i = 0; i < page.items.length; i += IN_FLIGHT) {
      await Promise.all(page.items.slice(i, i + IN_FLIGHT).map((row: Item) => deleteItem({ pk: row.pk, sk: row.sk })));
    }
    count += page.items.length;
  }
}

/**
 * Remove what a deleted dataset left behind: its samples, labels, versions and stale model references, every object under its
 * prefix, its upload sessions (open multipart uploads aborted), then the purge record itself. Safe to run again after a failure: each
 * step only removes what is still there.
 */
export async function purgeDataset(purge: PurgeRecord): Promise<{ objects: number; uploads: number; rows: number }> {
  let rows = await removeEndedJobsOf('dataset', purge.datasetId);
  for (const partition of [samplesOfDataset, labelsOfDataset, versionsOfDataset, annotationImportsOfDataset, modelRefsOfDataset]) rows += await deleteRows(partition(purge.datasetId));
  await deleteItem(sampleCounterKey(purge.datasetId));
  await deleteItem(versionCounterKey(purge.datasetId));
  let uploads = 0;
  for await (const page of queryPages(uploadsByDataset(purge.datasetId))) {
    for (const upload of page as unknown as UploadRecord[]) {
      for (const file of upload.files) {
        if (upload.status === 'open' && file.status === 'pending' && file.uploadId) await abortMultipartUpload(file.key, file.uploadId);
      }
      await deleteItem(uploadKey(upload.id));
      uploads++;
    }
  }
  let objects = 0;
  // Each listing starts over: the keys it returned are gone by the next one.
  for (;;) {
    const { objects: listed } = await listObjects(purge.prefix, 1000);
    if (listed.length === 0) break;
    for (let i = 0; i < listed.length; i += IN_FLIGHT) {
      await Promise.all(listed.slice(i, i + IN_FLIGHT).map((o) => deleteObject(o.key)));
    }
    objects += listed.length;
  }
  await deleteItem(purgeKey(purge.datasetId));
  return { objects, uploads, rows };
}
