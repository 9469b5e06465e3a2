import type { QueryInput } from '../dynamo';

/** A dataset: metadata only (its files will live in S3 under u/{ownerId}/dataset/{id}/). */
export interface DatasetRecord {
  id: string;
  ownerId: string;
  name: string;
  description: string;
  type: string;
  format: string;
  /** The user's own version label (TAO's `version`, e.g. "1.0.0"); not the concurrency revision. */
  version: string;
  logo: string;
  tags: string[];
  /** Optimistic-concurrency counter, served as the ETag. */
  revision: number;
  createdOn: string;
  lastModified: string;
  /** What became of the archives uploaded into the dataset, newest first (the last 20). */
  archives?: ArchiveReport[];
}

export interface ArchiveReport {
  archive: string;
  status: 'unpacked' | 'failed';
  files: number;
  /** Entries refused (escaping the dataset, too large…): the first 20. */
  refused: { entry: string; reason: string }[];
  error?: string;
  finishedOn: string;
}

export const datasetKey = (id: string) => ({ pk: `dataset#${id}`, sk: 'dataset' });

/** The index attributes that follow from the record: date order (gsi1) and name order (gsi2). */
export function datasetIndexKeys(d: Pick<DatasetRecord, 'ownerId' | 'createdOn' | 'id' | 'name'>) {
  const partition = `user#${d.ownerId}#dataset`;
  return { gsi1pk: partition, gsi1sk: `${d.createdOn}#${d.id}`, gsi2pk: partition, gsi2sk: d.name.toLowerCase() };
}

export function datasetItem(dataset: DatasetRecord) {
  return { ...datasetKey(dataset.id), entity: 'dataset', ...datasetIndexKeys(dataset), nameKey: dataset.name.toLowerCase(), ...dataset };
}

/** byOwnerDate / byOwnerName: a namespace's datasets in date or name order. */
export function datasetsByOwner(ownerId: string, order: 'date' | 'name', ascending: boolean): QueryInput {
  const index = order === 'date' ? 'gsi1' : 'gsi2';
  return {
    IndexName: index,
    KeyConditionExpression: `${index}pk = :owner`,
    ExpressionAttributeValues: { ':owner': `user#${ownerId}#dataset` },
    ScanIndexForward: ascending,
  };
}

/** The exact number of datasets in a namespace, kept beside them so unfiltered totals cost one read. */
export const datasetCounterKey = (ownerId: string) => ({ pk: `counter#user#${ownerId}#dataset`, sk: 'counter' });

export const countDatasets = (ownerId: string, delta: 1 | -1) => ({
  update: datasetCounterKey(ownerId),
  UpdateExpression: 'SET #entity = :entity ADD #n :delta',
  ExpressionAttributeNames: { '#entity': 'entity', '#n': 'n' },
  ExpressionAttributeValues: { ':entity': 'counter', ':delta': delta },
});
