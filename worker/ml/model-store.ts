import * as tf from '@tensorflow/tfjs';
import type { Storage } from '../storage';
import type { ModelMeta } from './tiny-cnn';

/**
 * Models as TensorFlow.js's own layers format (model.json + weights.bin, loadable with
 * tf.loadLayersModel) plus trainyard.json (ModelMeta), under a prefix in S3. Checkpoints add the
 * optimizer's state and the training state, so a resumed run continues exactly where it stopped.
 */
export interface SerializedModel {
  modelJson: Record<string, unknown>;
  weights: Buffer;
}

export async function serialize(model: tf.LayersModel): Promise<SerializedModel> {
  let saved: tf.io.ModelArtifacts | undefined;
  await model.save(
    tf.io.withSaveHandler(async (artifacts) => {
      saved = artifacts;
      return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } };
    }),
  );
  const artifacts = saved!;
  const weights = Buffer.from(tf.io.concatenateArrayBuffers([artifacts.weightData as ArrayBuffer]));
  return {
    modelJson: {
      format: 'layers-model',
      generatedBy: `TensorFlow.js tfjs-layers v${tf.version_layers}`,
      convertedBy: null,
      modelTopology: artifacts.modelTopology,
      weightsManifest: [{ paths: ['weights.bin'], weights: artifacts.weightSpecs }],
    },
    weights,
  };
}

export async function deserialize(serialized: SerializedModel): Promise<tf.LayersModel> {
  const manifest = serialized.modelJson.weightsManifest as { weights: tf.io.WeightsManifestEntry[] }[];
  const data = serialized.weights.buffer.slice(serialized.weights.byteOffset, serialized.weights.byteOffset + serialized.weights.byteLength) as ArrayBuffer;
  return tf.loadLayersModel(tf.io.fromMemory({ modelTopology: serialized.modelJson.modelTopology as object, weightSpecs: manifest.flatMap((m) => m.weights), weightData: data }));
}

export interface StoredModel {
  model: tf.LayersModel;
  meta: ModelMeta;
  serialized: SerializedModel;
}

export async function writeModel(storage: Storage, prefix: string, serialized: SerializedModel, meta: ModelMeta, signal?: AbortSignal): Promise<void> {
  await Promise.all([
    storage.put(`${prefix}weights.bin`, serialized.weights, 'application/octet-stream', { signal }),
    storage.put(`${prefix}trainyard.json`, JSON.stringify(meta, null, 2), 'application/json', { signal }),
  ]);
  // model.json last: a reader that finds it finds the rest.
  await storage.put(`${prefix}model.json`, JSON.stringify(serialized.modelJson), 'application/json', { signal });
}

export async function readModel(storage: Storage, prefix: string, signal?: AbortSignal): Promise<StoredModel | undefined> {
  const [modelText, weights, metaText] = await Promise.all([
    storage.getText(`${prefix}model.json`, { signal }),
    storage.get(`${prefix}weights.bin`, { signal }),
    storage.getText(`${prefix}trainyard.json`, { signal }),
  ]);
  if (!modelText || !weights || !metaText) return undefined;
  const serialized = { modelJson: JSON.parse(modelText) as Record<string, unknown>, weights };
  return { model: await deserialize(serialized), meta: JSON.parse(metaText) as ModelMeta, serialized };
}

/** What a checkpoint holds besides the weights: where training stood. */
export interface TrainingState {
  epoch: number;
  history: { epoch: number; loss: number; accuracy: number; val_loss: number; val_accuracy: number; seconds: number }[];
  best: { epoch: number; val_accuracy: number };
  images_seen: number;
}

const epochFolder = (epoch: number) => `epoch-${String(epoch).padStart(4, '0')}/`;

/** Save a checkpoint (weights, optimizer, state), then point `latest.json` at it: a reader never sees half of one. */
export async function writeCheckpoint(storage: Storage, root: string, model: tf.LayersModel, meta: ModelMeta, state: TrainingState, signal?: AbortSignal): Promise<SerializedModel> {
  const prefix = root + epochFolder(state.epoch);
  const serialized = await serialize(model);
  const optimizer = await tf.io.encodeWeights(await model.optimizer.getWeights());
  await Promise.all([
    writeModel(storage, prefix, serialized, meta, signal),
    storage.put(`${prefix}optimizer.bin`, Buffer.from(optimizer.data as ArrayBuffer), 'application/octet-stream', { signal }),
    storage.put(`${prefix}optimizer.json`, JSON.stringify(optimizer.specs), 'application/json', { signal }),
    storage.put(`${prefix}state.json`, JSON.stringify(state), 'application/json', { signal }),
  ]);
  await storage.put(`${root}latest.json`, JSON.stringify({ epoch: state.epoch, prefix, saved_on: new Date().toISOString() }), 'application/json', { signal });
  return serialized;
}

export interface Checkpoint extends StoredModel {
  state: TrainingState;
  prefix: string;
  /** Restores the optimizer's state into a model compiled for training. */
  restoreOptimizer: (model: tf.LayersModel) => Promise<void>;
}

/** The newest checkpoint under `root`, or undefined when there is none. */
export async function readLatestCheckpoint(storage: Storage, root: string, signal?: AbortSignal): Promise<Checkpoint | undefined> {
  const pointer = await storage.getText(`${root}latest.json`, { signal });
  if (!pointer) return undefined;
  const { prefix } = JSON.parse(pointer) as { prefix: string };
  const [stored, optimizerData, optimizerSpecs, stateText] = await Promise.all([
    readModel(storage, prefix, signal),
    storage.get(`${prefix}optimizer.bin`, { signal }),
    storage.getText(`${prefix}optimizer.json`, { signal }),
    storage.getText(`${prefix}state.json`, { signal }),
  ]);
  if (!stored || !optimizerData || !optimizerSpecs || !stateText) throw new Error(`the checkpoint at ${prefix} is incomplete`);
  const specs = JSON.parse(optimizerSpecs) as tf.io.WeightsManifestEntry[];
  return {
    ...stored,
    prefix,
    state: JSON.parse(stateText) as TrainingState,
    restoreOptimizer: async (model) => {
      const buffer = optimizerData.buffer.slice(optimizerData.byteOffset, optimizerData.byteOffset + optimizerData.byteLength) as ArrayBuffer;
      const tensors = tf.io.decodeWeights(buffer, specs);
      await model.optimizer.setWeights(specs.map((s) => ({ name: s.name, tensor: tensors[s.name]! })));
    },
  };
}
