import { type Caller } from './caller';
import { mapLimited } from './concurrency';
import { datasetPrefix, loadDataset } from './datasets';
import { getItem, isConditionalCheckFailure, putItem } from './dynamo';
import type { DatasetRecord } from './entities/dataset';
import { type UploadFileRecord, type UploadRecord, uploadItem, uploadKey } from './entities/upload';
import { BadRequest, Conflict, NotFound } from './errors';
import {
  abortMultipartUpload,
  completeMultipartUpload,
  createMultipartUpload,
  deleteObject,
  headObject,
  PRESIGN_SECONDS,
  presignPut,
  presignUploadPart,
  putObject,
} from './s3';
import { FilePath, type UploadComplete, type UploadSession, type UploadStart } from './schemas/upload';
import { newId } from './tokens';

const MiB = 1024 * 1024;
/** Files up to this size go up in one PUT; larger ones in parts. */
const SINGLE_PUT_MAX = 64 * MiB;
const MIN_PART = 8 * MiB;
const MAX_PART = 64 * MiB;
/** Part URLs handed out per file per answer; renew hands out the next ones. */
const PART_URLS_PER_ANSWER = 1000;

/** Where a dataset's files live in the bucket, under its prefix. */
export function datasetFilesPrefix(dataset: Pick<DatasetRecord, 'ownerId' | 'id'>): string {
  return `${datasetPrefix(dataset)}files/`;
}

/**
 * The part size for a file: the smallest whole number of MiB, from 8 to 64, that keeps the file within
 * 1,000 parts where it can (so one answer carries every part URL), and within S3's 10,000 always.
 */
export function partSizeFor(size: number): number {
  const wanted = Math.ceil(size / PART_URLS_PER_ANSWER / MiB) * MiB;
  return Math.min(MAX_PART, Math.max(MIN_PART, wanted));
}

/**
 * Start an upload session: plan each file (one PUT, or S3 multipart with server-chosen parts) and
 * answer presigned URLs bound to each file's (or part's) exact size. Bytes go from client to S3 only.
 */
export async function startUpload(caller: Caller, ownerId: string, datasetId: string, input: UploadStart): Promise<UploadSession> {
  const dataset = await loadDataset(caller, ownerId, datasetId);
  const prefix = datasetFilesPrefix(dataset);
  // Multipart uploads are opened a few at a time: one S3 call each, and a session may hold 500 files.
  const files = await mapLimited(input.files, 8, async (file): Promise<UploadFileRecord> => {
    const key = prefix + file.name;
    const declared = { name: file.name, size: file.size, contentType: file.content_type, sha256: file.sha256, key, status: 'pending' as const };
    if (file.size <= SINGLE_PUT_MAX) return { ...declared, mode: 'single' };
    const partSize = partSizeFor(file.size);
    return { ...declared, mode: 'multipart', uploadId: await createMultipartUpload(key), partSize, partCount: Math.ceil(file.size / partSize) };
  });
  const upload: UploadRecord = { id: newId(), datasetId, ownerId, status: 'open', files, revision: 1, createdOn: new Date().toISOString() };
  await putItem(uploadItem(upload), { ConditionExpression: 'attribute_not_exists(pk)' });
  return withUrls(upload);
}

/** The session as it stands (no URLs: renew for those). */
export async function getUpload(caller: Caller, ownerId: string, datasetId: string, uploadId: string): Promise<UploadSession> {
  return toSession(await loadUpload(caller, ownerId, datasetId, uploadId));
}

/** Fresh URLs for every file not yet uploaded (the earlier ones expire after 15 minutes). */
export async function renewUpload(caller: Caller, ownerId: string, datasetId: string, uploadId: string): Promise<UploadSession> {
  const upload = await loadUpload(caller, ownerId, datasetId, uploadId);
  if (upload.status !== 'open') throw new Conflict(`the upload is ${upload.status}`);
  return withUrls(upload);
}

/**
 * Complete files: a single PUT must have landed with exactly its declared size; a multipart file is
 * assembled from the parts and ETags the client lists. Files that are not there are named in a 409;
 * the ones that are, are kept. The session completes once every file is uploaded.
 */
export async function completeUpload(caller: Caller, ownerId: string, datasetId: string, uploadId: string, input: UploadComplete): Promise<UploadSession> {
  const upload = await loadUpload(caller, ownerId, datasetId, uploadId);
  if (upload.status !== 'open') throw new Conflict(`the upload is ${upload.status}`);
  const requested = input.files ?? upload.files.filter((f) => f.status === 'pending').map((f) => ({ name: f.name, parts: undefined }));
  const missing: string[] = [];
  for (const request of requested) {
    const file = upload.files.find((f) => f.name === request.name);
    if (!file) throw new BadRequest(`no file named ${request.name} in this upload`, [{ path: ['body', 'files'], message: `unknown file ${request.name}` }]);
    if (file.status === 'uploaded') continue;
    if (file.mode === 'multipart') {
      const parts = request.parts ?? [];
      const numbers = new Set(parts.map((p) => p.part_number));
      if (numbers.size !== file.partCount || parts.some((p) => p.part_number > file.partCount!)) {
        throw new BadRequest(`${file.name} needs exactly its ${file.partCount} parts, each with the ETag S3 answered`, [
          { path: ['body', 'files', request.name, 'parts'], message: `expected parts 1..${file.partCount}` },
        ]);
      }
      try {
        await completeMultipartUpload(file.key, file.uploadId!, [...parts].sort((a, b) => a.part_number - b.part_number).map((p) => ({ partNumber: p.part_number, etag: p.etag })));
      } catch (error) {
        missing.push(`${file.name} (${(error as Error).message})`);
        continue;
      }
    }
    const stored = await headObject(file.key);
    if (!stored) missing.push(`${file.name} (not uploaded)`);
    else if (stored.size !== file.size) missing.push(`${file.name} (${stored.size} bytes, ${file.size} declared)`);
    else file.status = 'uploaded';
  }
  if (upload.files.every((f) => f.status === 'uploaded')) upload.status = 'completed';
  await saveUpload(upload);
  if (missing.length) throw new Conflict(`not all files are uploaded: ${missing.join('; ')}`, missing.map((m) => ({ path: ['files'], message: m })));
  return toSession(upload);
}

/** Abort: drop every file not yet uploaded (multipart uploads aborted, stray single PUTs deleted). */
export async function abortUpload(caller: Caller, ownerId: string, datasetId: string, uploadId: string): Promise<UploadSession> {
  const upload = await loadUpload(caller, ownerId, datasetId, uploadId);
  if (upload.status !== 'open') throw new Conflict(`the upload is ${upload.status}`);
  for (const file of upload.files) {
    if (file.status === 'uploaded') continue;
    if (file.mode === 'multipart') await abortMultipartUpload(file.key, file.uploadId!);
    else await deleteObject(file.key);
  }
  upload.status = 'aborted';
  await saveUpload(upload);
  return toSession(upload);
}

async function loadUpload(caller: Caller, ownerId: string, datasetId: string, uploadId: string): Promise<UploadRecord> {
  await loadDataset(caller, ownerId, datasetId);
  const upload = (await getItem(uploadKey(uploadId), true)) as UploadRecord | undefined;
  if (!upload || upload.datasetId !== datasetId || upload.ownerId !== ownerId) throw new NotFound('upload');
  return upload;
}

/** Saves a changed session unless someone else changed it first (then 409: the client retries). */
async function saveUpload(upload: UploadRecord): Promise<void> {
  const expected = upload.revision;
  upload.revision = expected + 1;
  try {
    await putItem(uploadItem(upload), {
      ConditionExpression: '#revision = :expected',
      ExpressionAttributeNames: { '#revision': 'revision' },
      ExpressionAttributeValues: { ':expected': expected },
    });
  } catch (error) {
    if (isConditionalCheckFailure(error)) throw new Conflict('the upload changed while this request ran; retry');
    throw error;
  }
}

function toSession(upload: UploadRecord, urls?: Map<string, Pick<UploadSession['files'][number], 'url' | 'parts'>>, urlsExpireOn?: string): UploadSession {
  return {
    id: upload.id,
    dataset_id: upload.datasetId,
    status: upload.status,
    created_on: upload.createdOn,
    ...(urlsExpireOn ? { urls_expire_on: urlsExpireOn } : {}),
    files: upload.files.map((f) => ({
      name: f.name,
      size: f.size,
      ...(f.contentType ? { content_type: f.contentType } : {}),
      mode: f.mode,
      status: f.status,
      ...(f.mode === 'multipart' ? { part_size: f.partSize, part_count: f.partCount } : {}),
      ...urls?.get(f.name),
    })),
  };
}

async function withUrls(upload: UploadRecord): Promise<UploadSession> {
  const expires = new Date(Date.now() + PRESIGN_SECONDS * 1000).toISOString();
  const urls = new Map<string, Pick<UploadSession['files'][number], 'url' | 'parts'>>();
  for (const file of upload.files) {
    if (file.status !== 'pending') continue;
    if (file.mode === 'single') {
      urls.set(file.name, { url: await presignPut(file.key, file.size) });
      continue;
    }
    const count = Math.min(file.partCount!, PART_URLS_PER_ANSWER);
    const parts = [];
    for (let n = 1; n <= count; n++) {
      const size = n < file.partCount! ? file.partSize! : file.size - file.partSize! * (file.partCount! - 1);
      parts.push({ part_number: n, size, url: await presignUploadPart(file.key, file.uploadId!, n, size) });
    }
    urls.set(file.name, { parts });
  }
  return toSession(upload, urls, expires);
}

/**
 * TAO's form upload: a small archive posted as multipart/form-data (field `file`) is stored among the
 * dataset's files under its own name. Larger data goes through upload sessions.
 */
export async function saveFormUpload(caller: Caller, ownerId: string, datasetId: string, file: { filename: string; data: Buffer }) {
  const dataset = await loadDataset(caller, ownerId, datasetId);
  const name = FilePath.safeParse(file.filename.split(/[\\/]/).pop() ?? '');
  if (!name.success) throw new BadRequest('the uploaded file needs a plain file name', [{ path: ['form', 'file'], message: name.error.issues[0]?.message ?? 'bad name' }]);
  await putObject(datasetFilesPrefix(dataset) + name.data, file.data);
  return { message: 'Data successfully uploaded' };
}
