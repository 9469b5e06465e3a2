import { Logger } from '@aws-lambda-powertools/logger';
import { unmarshall } from '@aws-sdk/util-dynamodb';
import type { DynamoDBBatchResponse, DynamoDBStreamEvent } from 'aws-lambda';
import type { PurgeRecord } from '../core/entities/purge';
import { purgeDataset } from '../core/purge';

/**
 * Consumes new purge records from the table's stream (filtered to them by the event source in AWS; fed
 * by a poller locally) and removes the deleted datasets' remains. A failed record is reported back, so
 * the stream retries it and only it.
 */
const logger = new Logger({ serviceName: 'trainyard' });

export async function handler(event: DynamoDBStreamEvent): Promise<DynamoDBBatchResponse> {
  const batchItemFailures: DynamoDBBatchResponse['batchItemFailures'] = [];
  for (const record of event.Records) {
    const image = record.dynamodb?.NewImage;
    if (record.eventName !== 'INSERT' || !image) continue;
    const purge = unmarshall(image as never) as PurgeRecord & { entity?: string };
    if (purge.entity !== 'purge') continue;
    try {
      const removed = await purgeDataset(purge);
      logger.info('dataset purged', { datasetId: purge.datasetId, ...removed });
    } catch (error) {
      logger.error('purge failed; the stream will retry it', { datasetId: purge.datasetId, error: error as Error });
      batchItemFailures.push({ itemIdentifier: record.dynamodb?.SequenceNumber ?? '' });
    }
  }
  return { batchItemFailures };
}
