import * as z from 'zod';
import { Id, ListQuery, Tag, Timestamp } from './common';

/**
 * TAO's network architectures, spelled as TAO spells them: the 5.0 model API's `network_arch` values
 * (TensorFlow and PyTorch CV networks, DriveIX networks, and the data-service pseudo-networks its
 * clients create models for), plus the architectures later TAO releases added.
 */
export const NETWORK_ARCHS = [
  // Object detection (TensorFlow)
  'detectnet_v2',
  'faster_rcnn',
  'yolo_v3',
  'yolo_v4',
  'yolo_v4_tiny',
  'ssd',
  'dssd',
  'retinanet',
  'efficientdet_tf1',
  'efficientdet_tf2',
  'mask_rcnn',
  // Other TensorFlow networks
  'unet',
  'lprnet',
  'classification_tf1',
  'classification_tf2',
  'multitask_classification',
  // DriveIX networks
  'bpnet',
  'fpenet',
  // PyTorch CV networks
  'action_recognition',
  'classification_pyt',
  'mal',
  'ml_recog',
  'ocdnet',
  'ocrnet',
  'optical_inspection',
  'pointpillars',
  'pose_classification',
  're_identification',
  'deformable_detr',
  'dino',
  'grounding_dino',
  'mask_grounding_dino',
  'rtdetr',
  'segformer',
  'mask2former',
  'oneformer',
  'visual_changenet',
  'visual_changenet_classify',
  'visual_changenet_segment',
  'centerpose',
  'mae',
  'nvdinov2',
  'depth_net_mono',
  'depth_net_stereo',
  'bevfusion',
  'sparse4d',
  'stylegan_xl',
  // Trainyard's reference network (trained by the reference worker, worker/ml/tiny-cnn.ts)
  'tiny_cnn',
  // Data services
  'annotations',
  'analytics',
  'augmentation',
  'auto_label',
] as const;

export const NetworkArch = z.enum(NETWORK_ARCHS);

/** TAO's choice of the checkpoint a later action (evaluate, prune, export…) starts from. */
export const CHECKPOINT_CHOOSE_METHODS = ['best_model', 'latest_model', 'from_epoch_number'] as const;

const MAX_TRAIN_DATASETS = 100;

const DatasetId = Id.describe('A dataset of the same namespace');
const VersionId = Id.describe('A version of that dataset (GET …/dataset/{id}/version)');

const editable = {
  name: z.string().trim().min(1).max(200),
  description: z.string().max(4000),
  version: z.string().trim().min(1).max(64).describe("The user's version label (TAO), e.g. 1.0.0"),
  logo: z.string().max(2048).describe('URL of a logo'),
  tags: z.array(Tag).max(50),
  network_arch: NetworkArch.describe("TAO's network architecture"),
  encryption_key: z
    .string()
    .min(1)
    .max(256)
    .nullable()
    .describe("TAO's model key. Accepted, never answered (see encryption_key_set); null removes it"),
  ptm: z.array(z.string().trim().min(1).max(512)).max(20).describe("TAO's pretrained weights to start from"),
  read_only: z.boolean().describe('A read-only model refuses PUT, PATCH and DELETE until a PATCH sets read_only false'),
  checkpoint_choose_method: z.enum(CHECKPOINT_CHOOSE_METHODS).describe('Which checkpoint later actions start from (TAO)'),
  checkpoint_epoch_number: z
    .record(z.string().min(1).max(100), z.number().int().min(0))
    .refine((o) => Object.keys(o).length <= 100, 'at most 100 entries')
    .describe('For from_epoch_number: the epoch to take, keyed as TAO keys it'),
  train_datasets: z
    .array(DatasetId)
    .max(MAX_TRAIN_DATASETS)
    .refine((ids) => new Set(ids).size === ids.length, 'must not name a dataset twice'),
  train_dataset_versions: z
    .record(DatasetId, VersionId)
    .refine((o) => Object.keys(o).length <= MAX_TRAIN_DATASETS, `at most ${MAX_TRAIN_DATASETS} entries`)
    .describe('Pinned versions of train datasets: dataset id → version id; a train dataset not named here uses its current samples'),
  eval_dataset: DatasetId.nullable(),
  eval_dataset_version: VersionId.nullable().describe('Pins eval_dataset to a version'),
  inference_dataset: DatasetId.nullable(),
  inference_dataset_version: VersionId.nullable().describe('Pins inference_dataset to a version'),
  calibration_dataset: DatasetId.nullable(),
  calibration_dataset_version: VersionId.nullable().describe('Pins calibration_dataset to a version'),
};

const optionalFields = {
  name: editable.name.optional(),
  description: editable.description.optional(),
  version: editable.version.optional(),
  logo: editable.logo.optional(),
  tags: editable.tags.optional(),
  encryption_key: editable.encryption_key.optional(),
  ptm: editable.ptm.optional(),
  read_only: editable.read_only.optional(),
  checkpoint_choose_method: editable.checkpoint_choose_method.optional(),
  checkpoint_epoch_number: editable.checkpoint_epoch_number.optional(),
  train_datasets: editable.train_datasets.optional(),
  train_dataset_versions: editable.train_dataset_versions.optional(),
  eval_dataset: editable.eval_dataset.optional(),
  eval_dataset_version: editable.eval_dataset_version.optional(),
  inference_dataset: editable.inference_dataset.optional(),
  inference_dataset_version: editable.inference_dataset_version.optional(),
  calibration_dataset: editable.calibration_dataset.optional(),
  calibration_dataset_version: editable.calibration_dataset_version.optional(),
};

/** POST: `network_arch` is enough; everything else has a default. Unknown fields are a 400. */
export const ModelCreate = z.strictObject({ network_arch: editable.network_arch, ...optionalFields });
export type ModelCreate = z.infer<typeof ModelCreate>;

/**
 * PUT replaces the editable fields: omitted optional fields go back to their defaults, except
 * `encryption_key`, which is never answered and so could never be sent back: omitted, it is kept.
 */
export const ModelReplace = ModelCreate;
export type ModelReplace = z.infer<typeof ModelReplace>;

/** PATCH changes only the fields it names (datasets are attached and detached this way, as TAO clients do). */
export const ModelPatch = z.strictObject({ network_arch: editable.network_arch.optional(), ...optionalFields });
export type ModelPatch = z.infer<typeof ModelPatch>;

export const ModelArtifact = z
  .object({
    format: z.enum(['tfjs', 'onnx']),
    framework: z.string(),
    uri: z.string().describe('s3:// URI of the model file (model.json or model.onnx); the job\'s files route serves it'),
    key: z.string(),
    job_id: Id.describe('The job that made it'),
    action: z.string(),
    parent_job_id: Id.nullable().describe('The job whose model it was made from'),
    network_arch: z.string(),
    labels: z.array(z.string()).describe('Class index → label'),
    image_size: z.number().int(),
    metrics: z.record(z.string(), z.number()),
    created_on: Timestamp,
  })
  .meta({ id: 'ModelArtifact' });

export const Model = z
  .object({
    id: Id,
    user_id: Id,
    name: z.string(),
    description: z.string(),
    version: z.string(),
    logo: z.string(),
    network_arch: NetworkArch,
    encryption_key_set: z.boolean().describe('Whether an encryption_key was given (the key itself is never answered)'),
    ptm: z.array(z.string()),
    checkpoint_choose_method: z.enum(CHECKPOINT_CHOOSE_METHODS),
    checkpoint_epoch_number: z.record(z.string(), z.number().int()),
    train_datasets: z.array(Id),
    train_dataset_versions: z.record(Id, Id),
    eval_dataset: Id.nullable(),
    eval_dataset_version: Id.nullable(),
    inference_dataset: Id.nullable(),
    inference_dataset_version: Id.nullable(),
    calibration_dataset: Id.nullable(),
    calibration_dataset_version: Id.nullable(),
    read_only: z.boolean(),
    tags: z.array(z.string()),
    artifacts: z
      .object({ tfjs: ModelArtifact.optional(), onnx: ModelArtifact.optional() })
      .describe('The newest trained (tfjs: train, retrain, prune) and exported (onnx: export) model, recorded when their jobs end Done'),
    revision: z.number().int().describe('Concurrency revision; also served as the ETag'),
    created_on: Timestamp,
    last_modified: Timestamp,
  })
  .meta({ id: 'Model' });
export type Model = z.infer<typeof Model>;

const Flag = z.enum(['true', 'false']).transform((v) => v === 'true');

export const ModelListQuery = ListQuery.extend({
  name: z.string().min(1).max(200).optional().describe('Case-insensitive substring of the name'),
  arch: NetworkArch.optional().describe("Network architecture (TAO's filter name)"),
  network_arch: NetworkArch.optional().describe('The same filter under the field name'),
  read_only: Flag.optional().describe('true or false'),
  tag: z.string().min(1).max(700).optional().describe('Comma-separated tags; a model must carry all of them'),
}).refine((q) => !q.arch || !q.network_arch || q.arch === q.network_arch, { message: 'arch and network_arch differ', path: ['network_arch'] });
export type ModelListQuery = z.infer<typeof ModelListQuery>;

export const ModelPathParams = z.object({ user_id: Id, model_id: Id });
