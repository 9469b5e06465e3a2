import * as z from 'zod';
import { Id, PageQuery, Tag, Timestamp } from './common';
import { FilePath } from './upload';

/**
 * Samples, labels, versions and stats of a dataset: the data plane's wire shapes.
 * Boxes are normalised to the image (0..1, top-left origin) so they hold whatever the image's size, and
 * COCO (pixels with the image size beside them), YOLO (normalised centres) and KITTI (pixel corners) all
 * land in one shape.
 */
export const LabelName = z
  .string()
  .trim()
  .min(1)
  .max(128)
  .regex(/^[^/\p{Cc}]+$/u, 'must not contain slashes or control characters');

const Fraction = z.number().min(0).max(1);

export const Box = z
  .strictObject({ x: Fraction, y: Fraction, w: Fraction, h: Fraction })
  .refine((b) => b.x + b.w <= 1 + 1e-6 && b.y + b.h <= 1 + 1e-6, 'the box must lie inside the image')
  .describe('Top-left corner and size, as fractions of the image width and height');

export const Annotation = z
  .strictObject({
    label: LabelName,
    box: Box.optional().describe('Detection: where the object is; absent for a whole-image (classification) label'),
  })
  .meta({ id: 'Annotation' });
export type Annotation = z.infer<typeof Annotation>;

export const REVIEW_STATES = ['unreviewed', 'accepted', 'rejected'] as const;
export const ReviewState = z.enum(REVIEW_STATES);

const Annotations = z.array(Annotation).max(1000);
const Tags = z.array(Tag).max(50);

export const Sample = z
  .object({
    id: Id,
    dataset_id: Id,
    path: z.string().describe("The sample's file, relative to the dataset (GET …/file/{path} downloads it)"),
    size: z.number().int(),
    content_type: z.string(),
    width: z.number().int().optional(),
    height: z.number().int().optional(),
    annotations: z.array(Annotation),
    labels: z.array(z.string()).describe('The distinct labels of its annotations'),
    tags: z.array(z.string()),
    review_state: ReviewState,
    pending_annotations: z
      .array(z.object({ label: z.string(), confidence: z.number().min(0).max(1) }))
      .optional()
      .describe("A model's auto-labels (a generate job), waiting for review: PATCH review_state accepted makes them the annotations, rejected drops them"),
    pending_from_job: Id.optional().describe('The generate job the pending annotations came from'),
    revision: z.number().int(),
    created_on: Timestamp,
    last_modified: Timestamp,
  })
  .meta({ id: 'Sample' });
export type Sample = z.infer<typeof Sample>;

const Flag = z.enum(['true', 'false']).transform((v) => v === 'true');

export const SampleListQuery = PageQuery.extend({
  labeled: Flag.optional().describe('true: samples with at least one annotation; false: samples with none'),
  label: LabelName.optional().describe('Samples with an annotation of this label'),
  tag: Tag.optional().describe('Samples with this tag'),
  review_state: ReviewState.optional(),
  pending: Flag.optional().describe('true: samples with auto-labels waiting for review; false: samples without'),
});
export type SampleListQuery = z.infer<typeof SampleListQuery>;

export const SamplePathParams = z.object({ user_id: Id, dataset_id: Id, sample_id: Id });

export const SamplePatch = z
  .strictObject({ annotations: Annotations.optional(), tags: Tags.optional(), review_state: ReviewState.optional() })
  .refine((p) => Object.keys(p).length > 0, 'name at least one field to change');
export type SamplePatch = z.infer<typeof SamplePatch>;

const BATCH_MAX = 1000;
const uniqueBy = <T>(key: (item: T) => string, what: string) => [
  (items: T[]) => new Set(items.map(key)).size === items.length,
  `${what} must be unique within a batch`,
] as const;

export const SampleBatchAdd = z.strictObject({
  samples: z
    .array(z.strictObject({ path: FilePath.describe('A file already stored in the dataset'), annotations: Annotations.optional(), tags: Tags.optional() }))
    .min(1)
    .max(BATCH_MAX)
    .refine(...uniqueBy((s: { path: string }) => s.path, 'paths')),
});
export type SampleBatchAdd = z.infer<typeof SampleBatchAdd>;

export const SampleBatchDelete = z.strictObject({
  sample_ids: z.array(Id).min(1).max(BATCH_MAX),
  delete_source: z.boolean().default(false).describe("Also delete the samples' files from storage"),
});
export type SampleBatchDelete = z.infer<typeof SampleBatchDelete>;

export const SampleBatchAnnotate = z.strictObject({
  samples: z
    .array(z.strictObject({ sample_id: Id, annotations: Annotations.describe('Replaces the sample\'s annotations whole (an empty list clears them)'), review_state: ReviewState.optional() }))
    .min(1)
    .max(BATCH_MAX)
    .refine(...uniqueBy((s: { sample_id: string }) => s.sample_id, 'sample ids')),
});
export type SampleBatchAnnotate = z.infer<typeof SampleBatchAnnotate>;

/** One item of a batch call, in request order (ModelArts' per-item result, with the HTTP-style code). */
export const BatchItemResult = z.object({
  index: z.number().int(),
  success: z.boolean(),
  sample_id: Id.optional(),
  error_code: z.number().int().optional().describe('The status this item alone would have answered'),
  error_msg: z.string().optional(),
});
export type BatchItemResult = z.infer<typeof BatchItemResult>;

export const BatchResult = z
  .object({ succeeded: z.number().int(), failed: z.number().int(), results: z.array(BatchItemResult) })
  .meta({ id: 'BatchResult' });
export type BatchResult = z.infer<typeof BatchResult>;

// Labels: the dataset's class list.

export const Color = z.string().regex(/^#[0-9a-fA-F]{6}$/, 'a #rrggbb colour');

export const Label = z
  .object({ name: z.string(), color: z.string().optional(), created_on: Timestamp })
  .meta({ id: 'Label' });
export type Label = z.infer<typeof Label>;

export const LabelCreate = z.strictObject({ name: LabelName, color: Color.optional() });
export type LabelCreate = z.infer<typeof LabelCreate>;

export const LabelPatch = z
  .strictObject({ name: LabelName.optional().describe('A new name: every sample using the label is updated'), color: Color.optional() })
  .refine((p) => Object.keys(p).length > 0, 'name at least one field to change');
export type LabelPatch = z.infer<typeof LabelPatch>;

export const LabelPathParams = z.object({ user_id: Id, dataset_id: Id, name: LabelName });

export const LabelDeleteQuery = z.object({
  delete_samples: Flag.default(false).describe('Also delete the samples that carry the label (otherwise only their annotations of it go)'),
});

export const LabelBatchRename = z.strictObject({
  labels: z
    .array(z.strictObject({ name: LabelName, new_name: LabelName }))
    .min(1)
    .max(100)
    .refine(...uniqueBy((l: { name: string }) => l.name, 'names')),
});
export type LabelBatchRename = z.infer<typeof LabelBatchRename>;

export const LabelBatchDelete = z.strictObject({
  names: z.array(LabelName).min(1).max(100),
  delete_samples: z.boolean().default(false),
});
export type LabelBatchDelete = z.infer<typeof LabelBatchDelete>;

export const LabelBatchResult = z
  .object({
    results: z.array(z.object({ name: z.string(), success: z.boolean(), samples_changed: z.number().int(), error_code: z.number().int().optional(), error_msg: z.string().optional() })),
  })
  .meta({ id: 'LabelBatchResult' });
export type LabelBatchResult = z.infer<typeof LabelBatchResult>;

// Versions: frozen snapshots.

export const DatasetVersion = z
  .object({
    id: Id,
    dataset_id: Id,
    name: z.string(),
    description: z.string(),
    sample_count: z.number().int(),
    labeled_count: z.number().int(),
    labels: z.array(z.string()),
    manifest_bytes: z.number().int(),
    manifest_sha256: z.string(),
    created_on: Timestamp,
    manifest_url: z.url().optional().describe('Presigned download of the manifest (JSON lines, one sample a line), valid 15 minutes'),
  })
  .meta({ id: 'DatasetVersion' });
export type DatasetVersion = z.infer<typeof DatasetVersion>;

export const VersionCreate = z.strictObject({ name: z.string().trim().min(1).max(128).optional(), description: z.string().max(2000).optional() });
export type VersionCreate = z.infer<typeof VersionCreate>;

export const VersionPathParams = z.object({ user_id: Id, dataset_id: Id, version_id: Id });

// Stats.

export const DatasetStats = z
  .object({
    sample_count: z.number().int(),
    labeled_count: z.number().int(),
    unlabeled_count: z.number().int(),
    bytes: z.number().int(),
    labels: z.array(z.object({ name: z.string(), samples: z.number().int(), annotations: z.number().int() })),
    review_states: z.record(z.string(), z.number().int()),
  })
  .meta({ id: 'DatasetStats' });
export type DatasetStats = z.infer<typeof DatasetStats>;
