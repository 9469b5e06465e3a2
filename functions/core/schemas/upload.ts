import * as z from 'zod';
import { Id, Timestamp } from './common';

/** A file name as a client may give it: a relative path inside the dataset, nothing that could escape. */
export const FilePath = z
  .string()
  .min(1)
  .max(1024)
  .refine((name) => !/[\p{Cc}\\]/u.test(name), 'must not contain control characters or backslashes')
  .refine((name) => !name.startsWith('/'), 'must be a relative path')
  .refine((name) => name.split('/').every((segment) => segment !== '' && segment !== '.' && segment !== '..'), 'must not contain empty, "." or ".." segments');

/** The largest file: 10,000 parts of 64 MiB (S3's part count limit at Trainyard's largest part size). */
export const MAX_FILE_BYTES = 10_000 * 64 * 1024 * 1024;

export const UploadStart = z.strictObject({
  files: z
    .array(
      z.strictObject({
        name: FilePath,
        size: z.number().int().min(0).max(MAX_FILE_BYTES),
        content_type: z.string().min(1).max(255).optional(),
        sha256: z.string().regex(/^[0-9a-f]{64}$/, 'hex SHA-256').optional(),
      }),
    )
    .min(1)
    .max(500)
    .refine((files) => new Set(files.map((f) => f.name)).size === files.length, 'file names must be unique'),
});
export type UploadStart = z.infer<typeof UploadStart>;

export const UploadComplete = z.strictObject({
  files: z
    .array(
      z.strictObject({
        name: FilePath,
        parts: z
          .array(z.strictObject({ part_number: z.number().int().min(1).max(10_000), etag: z.string().min(1).max(200) }))
          .max(10_000)
          .optional(),
      }),
    )
    .max(500)
    .optional()
    .describe('Files to complete (all pending files when omitted); multipart files list every part with the ETag S3 answered'),
});
export type UploadComplete = z.infer<typeof UploadComplete>;

const PartUrl = z.object({ part_number: z.number().int(), size: z.number().int(), url: z.url() });

export const UploadFile = z.object({
  name: z.string(),
  size: z.number().int(),
  content_type: z.string().optional(),
  mode: z.enum(['single', 'multipart']),
  status: z.enum(['pending', 'uploaded']),
  url: z.url().optional().describe('single: PUT exactly `size` bytes here'),
  part_size: z.number().int().optional().describe('multipart: every part but the last has this size'),
  part_count: z.number().int().optional(),
  parts: z.array(PartUrl).optional().describe('multipart: PUT each part to its URL and keep the ETag header S3 answers'),
});

export const UploadSession = z
  .object({
    id: Id,
    dataset_id: Id,
    status: z.enum(['open', 'completed', 'aborted']),
    files: z.array(UploadFile),
    created_on: Timestamp,
    urls_expire_on: Timestamp.optional().describe('When the URLs in this answer stop working; renew for new ones'),
  })
  .meta({ id: 'UploadSession' });
export type UploadSession = z.infer<typeof UploadSession>;

export const UploadPathParams = z.object({ user_id: Id, dataset_id: Id, upload_id: Id });

export const StoredFile = z
  .object({ path: z.string(), size: z.number().int(), last_modified: Timestamp })
  .meta({ id: 'StoredFile' });

export const FileDownload = StoredFile.extend({ url: z.url(), urls_expire_on: Timestamp }).meta({ id: 'FileDownload' });

export const FilePathParams = z.object({ user_id: Id, dataset_id: Id, path: FilePath });
