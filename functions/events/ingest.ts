import { Logger } from '@aws-lambda-powertools/logger';
import type { SQSBatchResponse, SQSEvent } from 'aws-lambda';
import { ingestObjects, type LandedObject } from '../core/ingest';

/**
 * Files landing in datasets: S3 "Object Created" events go to EventBridge, a rule puts them on a queue,
 * and this function takes them from the queue in batches (locally, the storage stand-in's events arrive
 * the same way). Each record's body is the EventBridge event; a record whose dataset's work failed is
 * handed back to the queue alone (batch item failures) and retried, then dead-lettered.
 */
const logger = new Logger({ serviceName: 'trainyard' });

interface ObjectCreatedDetail {
  object?: { key?: string; size?: number; etag?: string };
}

export async function handler(event: SQSEvent): Promise<SQSBatchResponse> {
  const byKey = new Map<string, string[]>();
  const objects: LandedObject[] = [];
  const malformed: string[] = [];
  for (const record of event.Records) {
    let detail: ObjectCreatedDetail | undefined;
    try {
      detail = (JSON.parse(record.body) as { detail?: ObjectCreatedDetail }).detail;
    } catch {
      malformed.push(record.messageId);
    }
    // EventBridge carries the key as stored (unlike classic S3 notifications, which URL-encode it).
    const key = detail?.object?.key;
    if (!key) continue;
    byKey.set(key, [...(byKey.get(key) ?? []), record.messageId]);
    objects.push({ key, size: detail?.object?.size, etag: detail?.object?.etag });
  }
  if (malformed.length) logger.warn('records that are not EventBridge events were dropped', { count: malformed.length });
  const summary = await ingestObjects(objects);
  logger.info('files ingested', { records: event.Records.length, samples: summary.samples, archives: summary.archives, annotationFiles: summary.annotationFiles, failed: summary.failedKeys.length });
  return { batchItemFailures: summary.failedKeys.flatMap((key) => byKey.get(key) ?? []).map((itemIdentifier) => ({ itemIdentifier })) };
}
