import type { QueryInput } from '../dynamo';

/** A frozen snapshot of a dataset's samples: its manifest is written once to S3 and never again. */
export interface VersionRecord {
  id: string;
  datasetId: string;
  ownerId: string;
  name: string;
  description: string;
  sampleCount: number;
  labeledCount: number;
  labels: string[];
  /** Where the manifest is, and its size and hash as written (so any change to it would show). */
  manifestKey: string;
  manifestBytes: number;
  manifestSha256: string;
  createdOn: string;
}

const versionPartition = (datasetId: string) => `dataset#${datasetId}#version`;

export const versionKey = (datasetId: string, id: string) => ({ pk: versionPartition(datasetId), sk: id });

export function versionItem(version: VersionRecord) {
  return { ...versionKey(version.datasetId, version.id), entity: 'version', gsi1pk: versionPartition(version.datasetId), gsi1sk: `${version.createdOn}#${version.id}`, ...version };
}

/** byDate: a dataset's versions, newest first unless asked otherwise. */
export const versionsByDate = (datasetId: string, ascending = false): QueryInput => ({
  IndexName: 'gsi1',
  KeyConditionExpression: 'gsi1pk = :pk',
  ExpressionAttributeValues: { ':pk': versionPartition(datasetId) },
  ScanIndexForward: ascending,
});

/** all: every version row of a dataset (what the purge removes). */
export const versionsOfDataset = (datasetId: string): QueryInput => ({
  KeyConditionExpression: 'pk = :pk',
  ExpressionAttributeValues: { ':pk': versionPartition(datasetId) },
});

/** How many versions a dataset has ever had: default names (v1, v2, …) never repeat after a delete. */
export const versionCounterKey = (datasetId: string) => ({ pk: `counter#dataset#${datasetId}#version`, sk: 'counter' });
