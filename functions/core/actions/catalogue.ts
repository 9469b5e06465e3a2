import * as z from 'zod';

/**
 * The action catalogue, as data: per action, the kind of resource it applies to, its spec schema (with
 * every default, so `{}` is a complete spec), where it runs and for how long at most. The API serves it
 * (`GET /api/v1/action`, the spec routes), the workflow's prepare step reads the compute needs from it,
 * and the worker (worker/) implements each `available` action.
 */
export type ResourceKind = 'dataset' | 'model';
export type QueueKind = 'cpu' | 'gpu';

export interface ActionDef {
  kind: ResourceKind;
  description: string;
  spec: z.ZodObject;
  queue: QueueKind;
  resources: { vcpus: number; memoryMiB: number; gpus: number };
  /** Default time limit of one job (seconds); a job's `timeout` may set another. */
  timeLimitS: number;
  /** False: the worker cannot run it yet; submitting answers 422 rather than pretend. */
  available: boolean;
}

const FORMATS = ['coco', 'yolo', 'kitti', 'manifest'] as const;
/** A job's default time limit (Dioptra's default; `timeout` on submission sets another). */
const DAY = 24 * 3600;

const cpu = { queue: 'cpu' as const, resources: { vcpus: 2, memoryMiB: 4096, gpus: 0 } };
const gpu = { queue: 'gpu' as const, resources: { vcpus: 4, memoryMiB: 16384, gpus: 1 } };

const TrainSpec = z.strictObject({
  epochs: z.number().int().min(1).max(1000).default(10),
  batch_size: z.number().int().min(1).max(1024).default(32),
  learning_rate: z.number().positive().max(1).default(0.003),
  image_size: z.number().int().min(8).max(128).default(16).describe('Side of the square greyscale input in pixels (train only: retrain keeps its model\'s)'),
  seed: z.number().int().min(0).max(2 ** 31 - 1).default(42).describe('Seeds the weights, the shuffling, the augmentation and the validation split'),
  val_split: z.number().min(0).max(0.5).default(0.2).describe('Fraction of the labelled images held out for validation'),
  checkpoint_interval: z.number().int().min(1).default(1).describe('Epochs between checkpoints'),
  augmentation: z
    .strictObject({ horizontal_flip: z.boolean().default(true), vertical_flip: z.boolean().default(false) })
    .default({ horizontal_flip: true, vertical_flip: false })
    .describe('Random flips of training images, each with probability 0.5'),
});

const PredictSpec = {
  batch_size: z.number().int().min(1).max(4096).default(256),
};

export const actions = {
  validate: {
    kind: 'dataset', ...cpu, timeLimitS: DAY, available: true,
    description: 'Check every sample: its file is there whole, its image reads with the recorded size, its boxes lie inside it',
    spec: z.strictObject({ max_problems: z.number().int().min(1).max(100_000).default(1000).describe('Problems listed in the report at most') }),
  },
  analyze: {
    kind: 'dataset', ...cpu, timeLimitS: DAY, available: true,
    description: 'Class distribution, image sizes, box sizes and unlabeled samples',
    spec: z.strictObject({ top_labels: z.number().int().min(1).max(10_000).default(100).describe('Labels listed by count at most') }),
  },
  dataset_convert: {
    kind: 'dataset', ...cpu, timeLimitS: DAY, available: true,
    description: 'Convert the annotations to another format (coco, yolo, kitti, manifest); the result becomes a new dataset version',
    spec: z.strictObject({ target_format: z.enum(FORMATS).default('coco') }),
  },
  augment: {
    kind: 'dataset', ...cpu, timeLimitS: DAY, available: true,
    description: 'Flipped copies of the images (PNG) with their boxes flipped to match',
    spec: z.strictObject({ flip_horizontal: z.boolean().default(true), flip_vertical: z.boolean().default(false) }),
  },
  train: {
    kind: 'model', ...gpu, timeLimitS: DAY, available: true,
    description: 'Train the model (tiny_cnn) on the labelled images of its train datasets, with a checkpoint every checkpoint_interval epochs',
    spec: TrainSpec,
  },
  retrain: {
    kind: 'model', ...gpu, timeLimitS: DAY, available: true,
    description: 'Fine-tune a (pruned) model from its parent job on the train datasets; pruned weights stay zero',
    spec: TrainSpec,
  },
  evaluate: {
    kind: 'model', ...gpu, timeLimitS: DAY, available: true,
    description: 'Accuracy, per-class precision and recall and the confusion matrix on the eval dataset',
    spec: z.strictObject(PredictSpec),
  },
  prune: {
    kind: 'model', ...gpu, timeLimitS: DAY, available: true,
    description: 'Magnitude pruning: the smallest weights of every kernel, to the given ratio, become zero',
    spec: z.strictObject({ ratio: z.number().min(0).max(0.99).default(0.5).describe('Fraction of each kernel\'s weights set to zero') }),
  },
  export: {
    kind: 'model', ...gpu, timeLimitS: DAY, available: true,
    description: 'Export the model as ONNX, checked against the trained model in onnxruntime on the eval images',
    spec: z.strictObject({ opset: z.number().int().min(13).max(21).default(13) }),
  },
  inference: {
    kind: 'model', ...gpu, timeLimitS: DAY, available: true,
    description: 'Predictions for every image of the inference dataset, as JSON lines',
    spec: z.strictObject(PredictSpec),
  },
  generate: {
    kind: 'model', ...gpu, timeLimitS: DAY, available: true,
    description: 'Auto-label: predictions for the unlabelled images of the inference dataset become pending annotations with their confidence',
    spec: z.strictObject({ ...PredictSpec, threshold: z.number().min(0).max(1).default(0.5).describe('Only predictions at least this confident are written back') }),
  },
  sleep: {
    kind: 'dataset', ...cpu, timeLimitS: DAY, available: true,
    description: 'Test action: sleeps, logging as it goes (used to test cancel and timeouts)',
    spec: z.strictObject({
      seconds: z.number().min(0).max(3600).default(5),
      honour_sigterm: z.boolean().default(true),
      exit_code: z.number().int().min(0).max(255).default(0).describe('End with this exit code (a failing job)'),
    }),
  },
} as const satisfies Record<string, ActionDef>;

export type ActionName = keyof typeof actions;
export const ACTION_NAMES = Object.keys(actions) as ActionName[];

export function actionDef(name: string): ActionDef | undefined {
  return (actions as Record<string, ActionDef>)[name];
}

/** The JSON Schema of an action's spec, with the complete default spec as its top-level `default` (TAO). */
export function specSchemaOf(name: ActionName): Record<string, unknown> {
  const def = actions[name] as ActionDef;
  const { $schema: _dialect, ...schema } = z.toJSONSchema(def.spec, { io: 'input' }) as Record<string, unknown>;
  return { title: `${name} spec`, ...schema, default: def.spec.parse({}) };
}
