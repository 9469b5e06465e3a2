import type { ActionRun } from '../context';
import type { Action } from '../env';

/**
 * Which function does each action's work, loaded on demand: a run imports only its own action's code
 * (TensorFlow.js and onnxruntime cost start-up time a dataset action or a `sleep` has no use for).
 */
export const ACTION_RUNS: Record<Action, () => Promise<ActionRun>> = {
  validate: async () => (await import('./validate')).validate,
  analyze: async () => (await import('./analyze')).analyze,
  dataset_convert: async () => (await import('./dataset-convert')).datasetConvert,
  augment: async () => (await import('./augment')).augment,
  sleep: async () => (await import('./sleep')).sleep,
  train: async () => (await import('./train')).train,
  retrain: async () => (await import('./train')).retrain,
  evaluate: async () => (await import('./evaluate')).evaluate,
  prune: async () => (await import('./prune')).prune,
  export: async () => (await import('./export')).exportModel,
  inference: async () => (await import('./predict')).inference,
  generate: async () => (await import('./predict')).generate,
};
