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
  epochs: z.number().int().min(1).max(10_000).default(10),
  batch_size: z.number().int().min(1).max(4096).default(32),
  learning_rate: z.number().positive().max(10).default(0.001),
  checkpoint_interval: z.number().int().min(1).default(1).describe('Epochs between checkpoints'),
});

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
  train: { kind: 'model', ...gpu, timeLimitS: DAY, available: false, description: 'Train the model on its train datasets', spec: TrainSpec },
  retrain: { kind: 'model', ...gpu, timeLimitS: DAY, available: false, description: 'Train again from a pruned model', spec: TrainSpec },
  evaluate: {
    kind: 'model', ...gpu, timeLimitS: DAY, available: false, description: 'Evaluate the model on its eval dataset',
    spec: z.strictObject({ batch_size: z.number().int().min(1).max(4096).default(32) }),
  },
  prune: {
    kind: 'model', ...gpu, timeLimitS: DAY, available: false, description: 'Prune the trained model',
    spec: z.strictObject({ threshold: z.number().min(0).max(1).default(0.1) }),
  },
  export: {
    kind: 'model', ...gpu, timeLimitS: DAY, available: false, description: 'Export the model (ONNX)',
    spec: z.strictObject({ opset: z.number().int().min(7).max(21).default(13) }),
  },
  inference: {
    kind: 'model', ...gpu, timeLimitS: DAY, available: false, description: 'Run the model on its inference dataset',
    spec: z.strictObject({ batch_size: z.number().int().min(1).max(4096).default(32), threshold: z.number().min(0).max(1).default(0.5) }),
  },
  generate: {
    kind: 'model', ...gpu, timeLimitS: DAY, available: false, description: 'Auto-label a dataset with the model',
    spec: z.strictObject({ threshold: z.number().min(0).max(1).default(0.5) }),
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
