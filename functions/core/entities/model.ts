import type { QueryInput } from '../dynamo';
import { countOwned, ownedByOwner, ownedCounterKey, ownedItem, ownedKey, type OwnedRecord } from './owned';

/**
 * A model (TAO): a network architecture, its pretrained weights and the datasets it trains, evaluates,
 * infers and calibrates on. Its checkpoints and artifacts will live under jobs/{job_id}/.
 */
export interface ModelRecord extends OwnedRecord {
  description: string;
  /** The user's own version label (TAO's `version`, e.g. "1.0.0"); not the concurrency revision. */
  version: string;
  logo: string;
  /** TAO's `network_arch`, as TAO spells it (detectnet_v2, dino, …). */
  networkArch: string;
  /** Whether the client gave TAO's `encryption_key`. The key itself is never stored, answered nor logged. */
  encryptionKeySet: boolean;
  /** TAO's `ptm`: the pretrained weights to start from. */
  ptm: string[];
  /** TAO's choice of the checkpoint later actions start from, and the epochs for `from_epoch_number`. */
  checkpointChooseMethod: string;
  checkpointEpochNumber: Record<string, number>;
  trainDatasets: string[];
  /** Pinned versions of train datasets: dataset id → version id (a dataset not named uses its current samples). */
  trainDatasetVersions: Record<string, string>;
  evalDataset: string | null;
  evalDatasetVersion: string | null;
  inferenceDataset: string | null;
  inferenceDatasetVersion: string | null;
  calibrationDataset: string | null;
  calibrationDatasetVersion: string | null;
  /** TAO's read_only: the model refuses changes (PUT, PATCH, DELETE) until a PATCH sets it false. */
  readOnly: boolean;
  tags: string[];
  /** The newest trained (tfjs) and exported (onnx) model, recorded when their jobs end Done. */
  artifacts?: Partial<Record<'tfjs' | 'onnx', ModelArtifact>>;
}

/** A model a job made, as later jobs and the registry find it. */
export interface ModelArtifact {
  format: 'tfjs' | 'onnx';
  framework: string;
  /** s3://bucket/key of the model file (model.json, model.onnx). */
  uri: string;
  /** Its key (or key prefix, for tfjs) in the bucket. */
  key: string;
  job_id: string;
  action: string;
  /** The job whose model this one was made from (retrain, prune, export), if any. */
  parent_job_id: string | null;
  network_arch: string;
  /** Class index → label. */
  labels: string[];
  image_size: number;
  metrics: Record<string, number>;
  created_on: string;
}

/** Every dataset a model uses, in any role, once each. */
export function datasetsOfModel(m: Pick<ModelRecord, 'trainDatasets' | 'evalDataset' | 'inferenceDataset' | 'calibrationDataset'>): Set<string> {
  const ids = new Set(m.trainDatasets);
  for (const id of [m.evalDataset, m.inferenceDataset, m.calibrationDataset]) if (id) ids.add(id);
  return ids;
}

export const modelKey = (id: string) => ownedKey('model', id);

export const modelItem = (model: ModelRecord) => ownedItem('model', model);

/** byOwnerDate / byOwnerName: a namespace's models in date or name order. */
export const modelsByOwner = (ownerId: string, order: 'date' | 'name', ascending: boolean): QueryInput => ownedByOwner('model', ownerId, order, ascending);

export const modelCounterKey = (ownerId: string) => ownedCounterKey('model', ownerId);

export const countModels = (ownerId: string, delta: 1 | -1) => countOwned('model', ownerId, delta);

/**
 * A reverse reference: "model `modelId` may use dataset `datasetId`", kept under the dataset so that a
 * dataset DELETE finds the models to check with one strongly consistent query of its own partition
 * (functions/core/dataset-usage.ts). Made before a model write names the dataset, removed after the model
 * stops naming it. A reference can outlive its use (a failed write, a crash): a DELETE reads the model
 * before believing it.
 */
export interface ModelRefRecord {
  datasetId: string;
  modelId: string;
  /** The newest model revision a write that added the dataset aimed at: a removal after an older write leaves it. */
  revision: number;
  /** One mark per model write in flight that adds the dataset: `{expires (epoch ms)}:{nonce}`. */
  pending?: Set<string>;
}

const modelRefPartition = (datasetId: string) => `dataset#${datasetId}#model`;

export const modelRefKey = (datasetId: string, modelId: string) => ({ pk: modelRefPartition(datasetId), sk: modelId });

/** all: the references to one dataset (strongly consistent: this is the table's own key). */
export const modelRefsOfDataset = (datasetId: string): QueryInput => ({
  KeyConditionExpression: 'pk = :pk',
  ExpressionAttributeValues: { ':pk': modelRefPartition(datasetId) },
  ConsistentRead: true,
});
