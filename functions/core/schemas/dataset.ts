import * as z from 'zod';
import { Id, ListQuery, Tag, Timestamp } from './common';

/** TAO's dataset types, plus the common computer-vision task names. */
export const DATASET_TYPES = [
  'object_detection',
  'image_classification',
  'semantic_segmentation',
  'instance_segmentation',
  'character_recognition',
  'action_recognition',
  'pose_classification',
  'ocdnet',
  'ocrnet',
  'ml_recog',
  'optical_inspection',
  're_identification',
  'visual_changenet',
  'centerpose',
  'bpnet',
  'fpenet',
] as const;

/** TAO's formats (`default` is its folder-per-class format for classification) and common exchange formats. */
export const DATASET_FORMATS = [
  'default',
  'coco',
  'coco_raw',
  'kitti',
  'yolo',
  'voc',
  'raw',
  'unet',
  'custom',
  'manifest',
  'lprnet',
  'medical',
] as const;

export const DatasetType = z.enum(DATASET_TYPES);
export const DatasetFormat = z.enum(DATASET_FORMATS);

const editable = {
  name: z.string().trim().min(1).max(200),
  description: z.string().max(4000),
  version: z.string().trim().min(1).max(64).describe("The user's version label (TAO), e.g. 1.0.0"),
  logo: z.string().max(2048).describe('URL of a logo'),
  tags: z.array(Tag).max(50),
  type: DatasetType,
  format: DatasetFormat,
};

/** POST: `type` and `format` are enough; everything else has a default. Unknown fields are a 400. */
export const DatasetCreate = z.strictObject({
  type: editable.type,
  format: editable.format,
  name: editable.name.optional(),
  description: editable.description.optional(),
  version: editable.version.optional(),
  logo: editable.logo.optional(),
  tags: editable.tags.optional(),
});
export type DatasetCreate = z.infer<typeof DatasetCreate>;

/** PUT replaces the editable fields: omitted optional fields go back to their defaults. */
export const DatasetReplace = DatasetCreate;
export type DatasetReplace = z.infer<typeof DatasetReplace>;

/** PATCH changes only the fields it names. */
export const DatasetPatch = z.strictObject({
  type: editable.type.optional(),
  format: editable.format.optional(),
  name: editable.name.optional(),
  description: editable.description.optional(),
  version: editable.version.optional(),
  logo: editable.logo.optional(),
  tags: editable.tags.optional(),
});
export type DatasetPatch = z.infer<typeof DatasetPatch>;

export const Dataset = z
  .object({
    id: Id,
    user_id: Id,
    name: z.string(),
    description: z.string(),
    type: DatasetType,
    format: DatasetFormat,
    version: z.string(),
    logo: z.string(),
    tags: z.array(z.string()),
    revision: z.number().int().describe('Concurrency revision; also served as the ETag'),
    created_on: Timestamp,
    last_modified: Timestamp,
    import_status: z
      .object({
        archives: z.array(
          z.object({
            archive: z.string(),
            status: z.enum(['unpacked', 'failed']),
            files: z.number().int(),
            refused: z.array(z.object({ entry: z.string(), reason: z.string() })),
            error: z.string().optional(),
            finished_on: Timestamp,
          }),
        ),
        annotations: z
          .object({
            files_applied: z.number().int(),
            files_failed: z.number().int(),
            samples: z.number().int().describe('Samples the applied files annotated'),
            annotations: z.number().int(),
            failures: z.array(z.object({ file: z.string(), format: z.string(), errors: z.array(z.string()), finished_on: Timestamp })).describe('The first 20 failed files, each applied not at all'),
          })
          .optional()
          .describe('Annotation files imported (in answers about one dataset; lists leave it out)'),
      })
      .describe('What became of uploaded archives (unpacked into the dataset files, entries refused) and annotation files'),
  })
  .meta({ id: 'Dataset' });
export type Dataset = z.infer<typeof Dataset>;

export const DatasetListQuery = ListQuery.extend({
  name: z.string().min(1).max(200).optional().describe('Case-insensitive substring of the name'),
  type: DatasetType.optional(),
  format: DatasetFormat.optional(),
  tag: z.string().min(1).max(700).optional().describe('Comma-separated tags; a dataset must carry all of them'),
});
export type DatasetListQuery = z.infer<typeof DatasetListQuery>;

export const DatasetPathParams = z.object({ user_id: Id, dataset_id: Id });
