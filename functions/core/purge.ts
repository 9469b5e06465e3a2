import { deleteItem, query } from './dynamo';
import type { PurgeRecord } from './entities/purge';
import { purgeKey } from './entities/purge';
import { type UploadRecord, uploadKey, uploadsByDataset } from './entities/upload';
import { abortMultipartUpload, deleteObject, listObjects } from './s3';

const IN_FLIGHT = 16;

/**
 * Remove what a deleted dataset left behind: every object under its prefix, its upload sessions (open
 * multipart uploads aborted), then the purge record itself. Safe to run again after a failure: each
 * step only removes what is still there.
 */
export async function purgeDataset(purge: PurgeRecord): Promise<{ objects: number; uploads: number }> {
  let uploads = 0;
  for (let start: Record<string, unknown> | undefined, first = true; first || start; first = false) {
    const page = await query({ ...uploadsByDataset(purge.datasetId), ExclusiveStartKey: start });
    for (const upload of page.items as unknown as UploadRecord[]) {
      for (const file of upload.files) {
        if (upload.status === 'open' && file.status === 'pending' && file.uploadId) await abortMultipartUpload(file.key, file.uploadId);
      }
      await deleteItem(uploadKey(upload.id));
      uploads++;
    }
    start = page.lastKey;
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
  return { objects, uploads };
}
