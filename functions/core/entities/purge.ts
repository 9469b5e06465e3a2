import type { QueryInput } from '../dynamo';

/**
 * A dataset's remains to remove in the background: written in the same transaction that deletes the
 * dataset, consumed by functions/events/purge.ts (from the table's stream in AWS, a poller locally).
 */
export interface PurgeRecord {
  datasetId: string;
  ownerId: string;
  /** Every object under this prefix goes. */
  prefix: string;
  requestedOn: string;
}

export const purgeKey = (datasetId: string) => ({ pk: `purge#${datasetId}`, sk: 'purge' });

export function purgeItem(purge: PurgeRecord) {
  return { ...purgeKey(purge.datasetId), entity: 'purge', gsi1pk: 'purge', gsi1sk: `${purge.requestedOn}#${purge.datasetId}`, ...purge };
}

/** pending: purges not yet done, oldest first (what the local poller reads; AWS reads the stream). */
export const pendingPurges = (): QueryInput => ({
  IndexName: 'gsi1',
  KeyConditionExpression: 'gsi1pk = :purge',
  ExpressionAttributeValues: { ':purge': 'purge' },
});
