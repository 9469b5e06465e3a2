import { Logger } from '@aws-lambda-powertools/logger';
import type { EventBridgeEvent } from 'aws-lambda';
import { unpackArchive } from '../core/archives';

/**
 * S3 "Object Created" events (through EventBridge in AWS; from the storage stand-in's events locally)
 * for archives uploaded into datasets: each is unpacked into the dataset's files.
 */
const logger = new Logger({ serviceName: 'trainyard' });

export type ObjectCreated = EventBridgeEvent<'Object Created', { bucket: { name: string }; object: { key: string; size?: number } }>;

export async function handler(event: ObjectCreated): Promise<void> {
  // EventBridge carries the key as stored (unlike classic S3 notifications, which URL-encode it).
  const key = event.detail.object.key;
  const report = await unpackArchive(key);
  if (report) logger.info('archive unpacked', { key, status: report.status, files: report.files, refused: report.refused.length });
}
