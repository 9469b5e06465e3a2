import type { ActionResult, ActionRun } from '../context';
import type { Action } from '../env';

/**
 * Which function does each action's work, loaded on demand: a run imports only its own action's code
 * (the converters and schemas cost start-up time a `sleep` or a model action has no use for).
 * The model actions come with the training worker.
 */
export const MODEL_ACTIONS_UNAVAILABLE: ActionResult = { status: 'Error', exitCode: 1, message: 'model actions are not available yet' };

const notYet = async (): Promise<ActionRun> => async () => MODEL_ACTIONS_UNAVAILABLE;

export const ACTION_RUNS: Record<Action, () => Promise<ActionRun>> = {
  validate: async () => (await import('./validate')).validate,
  analyze: async () => (await import('./analyze')).analyze,
  dataset_convert: async () => (await import('./dataset-convert')).datasetConvert,
  augment: async () => (await import('./augment')).augment,
  sleep: async () => (await import('./sleep')).sleep,
  train: notYet,
  evaluate: notYet,
  prune: notYet,
  retrain: notYet,
  export: notYet,
  inference: notYet,
  generate: notYet,
  convert: notYet,
};
