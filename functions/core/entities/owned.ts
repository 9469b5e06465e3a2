import type { QueryInput } from '../dynamo';

/**
 * Keys shared by every resource a user owns at the top of its namespace (`/user/{user_id}/dataset`,
 * `/user/{user_id}/model`): the item's own key, its two list orders and the namespace's exact count.
 * One scheme for all of them (see the key-scheme table in table.ts); `kind` is the resource's noun.
 */
export type OwnedKind = 'dataset' | 'model';

/** What every owned record has; the rest is the kind's own. */
export interface OwnedRecord {
  id: string;
  ownerId: string;
  name: string;
  /** Optimistic-concurrency counter, served as the ETag. */
  revision: number;
  createdOn: string;
  lastModified: string;
}

export const ownedKey = (kind: OwnedKind, id: string) => ({ pk: `${kind}#${id}`, sk: kind });

const ownerPartition = (kind: OwnedKind, ownerId: string) => `user#${ownerId}#${kind}`;

/** The index attributes that follow from the record: date order (gsi1) and name order (gsi2). */
export function ownedIndexKeys(kind: OwnedKind, r: Pick<OwnedRecord, 'ownerId' | 'createdOn' | 'id' | 'name'>) {
  const partition = ownerPartition(kind, r.ownerId);
  return { gsi1pk: partition, gsi1sk: `${r.createdOn}#${r.id}`, gsi2pk: partition, gsi2sk: r.name.toLowerCase() };
}

/** The whole item: key, kind, index attributes, the lower-cased name (for the name filter) and the record. */
export function ownedItem(kind: OwnedKind, record: OwnedRecord): Record<string, unknown> {
  return { ...ownedKey(kind, record.id), entity: kind, ...ownedIndexKeys(kind, record), nameKey: record.name.toLowerCase(), ...record };
}

/** byOwnerDate / byOwnerName: a namespace's resources of one kind in date or name order. */
export function ownedByOwner(kind: OwnedKind, ownerId: string, order: 'date' | 'name', ascending: boolean): QueryInput {
  const index = order === 'date' ? 'gsi1' : 'gsi2';
  return {
    IndexName: index,
    KeyConditionExpression: `${index}pk = :owner`,
    ExpressionAttributeValues: { ':owner': ownerPartition(kind, ownerId) },
    ScanIndexForward: ascending,
  };
}

/** The exact number of resources of a kind in a namespace, kept beside them so unfiltered totals cost one read. */
export const ownedCounterKey = (kind: OwnedKind, ownerId: string) => ({ pk: `counter#${ownerPartition(kind, ownerId)}`, sk: 'counter' });

export const countOwned = (kind: OwnedKind, ownerId: string, delta: 1 | -1) => ({
  update: ownedCounterKey(kind, ownerId),
  UpdateExpression: 'SET #entity = :entity ADD #n :delta',
  ExpressionAttributeNames: { '#entity': 'entity', '#n': 'n' },
  ExpressionAttributeValues: { ':entity': 'counter', ':delta': delta },
});
