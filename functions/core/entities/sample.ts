import { createHash } from 'node:crypto';
import type { QueryInput } from '../dynamo';
import type { Annotation } from '../schemas/sample';

/** A sample: one item of a dataset (an image, usually) with its annotations. Its file lives in S3. */
export interface SampleRecord {
  id: string;
  datasetId: string;
  ownerId: string;
  /** The file, relative to the dataset's files. */
  path: string;
  size: number;
  /** The stored object's ETag when registered: an event for the same bytes needs no work. */
  etag?: string;
  contentType: string;
  width?: number;
  height?: number;
  annotations: Annotation[];
  /** The distinct labels of `annotations`, sorted: what label filters and stats read. */
  labels: string[];
  tags: string[];
  reviewState: 'unreviewed' | 'accepted' | 'rejected';
  /** A model's guesses (generate, auto-label), waiting for a person to accept or reject them. */
  pendingAnnotations?: { label: string; confidence: number }[];
  /** The generate job they came from. */
  pendingFromJob?: string;
  revision: number;
  createdOn: string;
  lastModified: string;
}

/**
 * A sample's id follows from its dataset and path (a name-based UUID, RFC 9562 v5 layout over SHA-256):
 * the same file registered twice (its upload event and an archive, a retry) is one sample, and an
 * annotation file finds its samples without a lookup.
 */
export function sampleIdFor(datasetId: string, path: string): string {
  const hash = createHash('sha256').update(`${datasetId}\0${path}`).digest();
  hash[6] = (hash[6]! & 0x0f) | 0x50;
  hash[8] = (hash[8]! & 0x3f) | 0x80;
  const hex = hash.subarray(0, 16).toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

const samplePartition = (datasetId: string) => `dataset#${datasetId}#sample`;

export const sampleKey = (datasetId: string, id: string) => ({ pk: samplePartition(datasetId), sk: id });

/** Index attributes: gsi1 orders a dataset's samples by path. */
export const sampleIndexKeys = (s: Pick<SampleRecord, 'datasetId' | 'path'>) => ({ gsi1pk: samplePartition(s.datasetId), gsi1sk: s.path });

export function sampleItem(sample: SampleRecord) {
  return { ...sampleKey(sample.datasetId, sample.id), entity: 'sample', ...sampleIndexKeys(sample), ...sample };
}

/** byPath: a dataset's samples in path order (what lists page through). */
export const samplesByPath = (datasetId: string): QueryInput => ({
  IndexName: 'gsi1',
  KeyConditionExpression: 'gsi1pk = :pk',
  ExpressionAttributeValues: { ':pk': samplePartition(datasetId) },
});

/** all: a dataset's samples in id order, strongly consistent (stats, versions, label changes, purge). */
export const samplesOfDataset = (datasetId: string): QueryInput => ({
  KeyConditionExpression: 'pk = :pk',
  ExpressionAttributeValues: { ':pk': samplePartition(datasetId) },
  ConsistentRead: true,
});

/** The exact number of samples in a dataset, kept beside them so unfiltered totals cost one read. */
export const sampleCounterKey = (datasetId: string) => ({ pk: `counter#dataset#${datasetId}#sample`, sk: 'counter' });

export const countSamples = (datasetId: string, delta: number) => ({
  update: sampleCounterKey(datasetId),
  UpdateExpression: 'SET #entity = :entity ADD #n :delta',
  ExpressionAttributeNames: { '#entity': 'entity', '#n': 'n' },
  ExpressionAttributeValues: { ':entity': 'counter', ':delta': delta },
});

/** The distinct labels of some annotations, sorted. */
export const labelsOf = (annotations: Annotation[]): string[] => [...new Set(annotations.map((a) => a.label))].sort();
