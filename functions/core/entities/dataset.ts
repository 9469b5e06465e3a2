import type { QueryInput } from '../dynamo';
import { countOwned, ownedByOwner, ownedCounterKey, ownedIndexKeys, ownedItem, ownedKey, type OwnedRecord } from './owned';

/** A dataset: metadata only (its files will live in S3 under u/{ownerId}/dataset/{id}/). */
export interface DatasetRecord extends OwnedRecord {
  description: string;
  type: string;
  format: string;
  /** The user's own version label (TAO's `version`, e.g. "1.0.0"); not the concurrency revision. */
  version: string;
  logo: string;
  tags: string[];
  /** What became of the archives uploaded into the dataset, newest first (the last 20). */
  archives?: ArchiveReport[];
  /**
   * Set while a DELETE checks that no model uses the dataset (epoch ms until which the claim holds):
   * models may not start using it meanwhile (functions/core/dataset-usage.ts).
   */
  deletingUntil?: number;
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

export const datasetKey = (id: string) => ownedKey('dataset', id);

/** The index attributes that follow from the record: date order (gsi1) and name order (gsi2). */
export const datasetIndexKeys = (d: Pick<DatasetRecord, 'ownerId' | 'createdOn' | 'id' | 'name'>) => ownedIndexKeys('dataset', d);

export const datasetItem = (dataset: DatasetRecord) => ownedItem('dataset', dataset);

/** byOwnerDate / byOwnerName: a namespace's datasets in date or name order. */
export const datasetsByOwner = (ownerId: string, order: 'date' | 'name', ascending: boolean): QueryInput => ownedByOwner('dataset', ownerId, order, ascending);

/** The exact number of datasets in a namespace, kept beside them so unfiltered totals cost one read. */
export const datasetCounterKey = (ownerId: string) => ownedCounterKey('dataset', ownerId);

export const countDatasets = (ownerId: string, delta: 1 | -1) => countOwned('dataset', ownerId, delta);
