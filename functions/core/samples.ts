import { imageSize } from 'image-size';
import type { Caller } from './caller';
import { mapLimited } from './concurrency';
import { loadDataset } from './datasets';
import { getItem, isConditionalCheckFailure, updateItem, writeTogether } from './dynamo';
import type { DatasetRecord } from './entities/dataset';
import { countSamples, labelsOf, sampleCounterKey, sampleIdFor, sampleKey, samplesByPath, type SampleRecord } from './entities/sample';
import { Conflict, type DomainError, NotFound, PreconditionFailed } from './errors';
import { ensureLabels } from './labels';
import { type Page, readPage } from './pagination';
import { checkIfMatch } from './revision';
import { deleteObject, headObject } from './s3';
import { FilePath } from './schemas/upload';
import type { Annotation, BatchItemResult, BatchResult, Sample, SampleBatchAdd, SampleBatchAnnotate, SampleBatchDelete, SampleListQuery, SamplePatch } from './schemas/sample';
import { datasetFilesPrefix } from './uploads';

/** Calls in flight at once when a batch touches many samples. */
const IN_FLIGHT = 16;

const IMAGE_TYPES: Record<string, string> = {
  jpg: 'image/jpeg',
  jpeg: 'image/jpeg',
  png: 'image/png',
  gif: 'image/gif',
  bmp: 'image/bmp',
  webp: 'image/webp',
  tif: 'image/tiff',
  tiff: 'image/tiff',
};

const extensionOf = (path: string) => path.slice(path.lastIndexOf('.') + 1).toLowerCase();

/** Which stored files are samples: images. (Archives, annotation files and the rest stay files.) */
export const isSampleFile = (path: string): boolean => extensionOf(path) in IMAGE_TYPES;

export const contentTypeOf = (path: string): string => IMAGE_TYPES[extensionOf(path)] ?? 'application/octet-stream';

/** How many leading bytes are enough to read an image's size in the common formats. */
export const HEADER_BYTES = 64 * 1024;

/** Width and height from an image's leading bytes, when they hold them (cheap, never fatal). */
export function dimensionsOf(bytes: Uint8Array): { width: number; height: number } | undefined {
  try {
    const { width, height } = imageSize(bytes);
    return width && height ? { width, height } : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The folder-per-class layout (`<class>/<image>`, TAO's `default` format for classification): an image's
 * folder names its label.
 */
export function classFolderLabel(dataset: Pick<DatasetRecord, 'type' | 'format'>, path: string): string | undefined {
  if (dataset.type !== 'image_classification' || dataset.format !== 'default') return undefined;
  const parts = path.split('/');
  return parts.length >= 2 ? parts.at(-2) : undefined;
}

export function toSample(r: SampleRecord): Sample {
  return {
    id: r.id,
    dataset_id: r.datasetId,
    path: r.path,
    size: r.size,
    content_type: r.contentType,
    ...(r.width ? { width: r.width } : {}),
    ...(r.height ? { height: r.height } : {}),
    annotations: r.annotations ?? [],
    labels: r.labels ?? [],
    tags: r.tags ?? [],
    review_state: r.reviewState ?? 'unreviewed',
    ...(r.pendingAnnotations?.length ? { pending_annotations: r.pendingAnnotations, ...(r.pendingFromJob ? { pending_from_job: r.pendingFromJob } : {}) } : {}),
    revision: r.revision,
    created_on: r.createdOn,
    last_modified: r.lastModified,
  };
}

/** What is known of a stored file when it becomes a sample. */
export interface SampleFile {
  path: string;
  size: number;
  /** The stored object's ETag (unquoted), when known. */
  etag?: string;
  width?: number;
  height?: number;
  /** Given: they replace the sample's annotations. Absent: a new sample gets its folder label, if any. */
  annotations?: Annotation[];
  tags?: string[];
}

/**
 * Register stored files as samples (an upsert per file, IN_FLIGHT at a time). A file registered again
 * keeps its sample's id, annotations, tags and review state unless new ones are given; its size and
 * dimensions follow the file. Labels the annotations name join the dataset's class list.
 */
export async function registerSamples(
  dataset: Pick<DatasetRecord, 'id' | 'ownerId' | 'type' | 'format'>,
  files: SampleFile[],
): Promise<{ created: number; createdPaths: string[]; ids: string[] }> {
  const labels = new Set<string>();
  let count = 0;
  const unsafe = files.find((file) => !FilePath.safeParse(file.path).success);
  if (unsafe) throw new Error(`refused to register a sample with an unsafe path: ${JSON.stringify(unsafe.path)}`);
  const created = await mapLimited(files, IN_FLIGHT, async (file) => {
    const folder = classFolderLabel(dataset, file.path);
    const annotations = file.annotations ?? (folder ? [{ label: folder }] : []);
    for (const a of annotations) labels.add(a.label);
    const now = new Date().toISOString();
    const set: [string, unknown, 'always' | 'if-new'][] = [
      ['entity', 'sample', 'always'],
      ['id', sampleIdFor(dataset.id, file.path), 'always'],
      ['datasetId', dataset.id, 'always'],
      ['ownerId', dataset.ownerId, 'always'],
      ['path', file.path, 'always'],
      ['size', file.size, 'always'],
      ['contentType', contentTypeOf(file.path), 'always'],
      ['gsi1pk', `dataset#${dataset.id}#sample`, 'always'],
      ['gsi1sk', file.path, 'always'],
      ['lastModified', now, 'always'],
      ['createdOn', now, 'if-new'],
      ['reviewState', 'unreviewed', 'if-new'],
      ['annotations', annotations, file.annotations ? 'always' : 'if-new'],
      ['labels', labelsOf(annotations), file.annotations ? 'always' : 'if-new'],
      ['tags', file.tags ?? [], file.tags ? 'always' : 'if-new'],
    ];
    if (file.width && file.height) set.push(['width', file.width, 'always'], ['height', file.height, 'always']);
    if (file.etag) set.push(['etag', file.etag, 'always']);
    const names: Record<string, string> = { '#revision': 'revision' };
    const values: Record<string, unknown> = { ':zero': 0, ':one': 1 };
    const actions = set.map(([attribute, value, when], i) => {
      names[`#a${i}`] = attribute;
      values[`:v${i}`] = value;
      return when === 'always' ? `#a${i} = :v${i}` : `#a${i} = if_not_exists(#a${i}, :v${i})`;
    });
    // Annotations given with the file replace the sample's, and settle any model guess waiting for review.
    const settle = file.annotations ? ' REMOVE #pending, #pendingFrom' : '';
    if (file.annotations) Object.assign(names, { '#pending': 'pendingAnnotations', '#pendingFrom': 'pendingFromJob' });
    const old = await updateItem(
      sampleKey(dataset.id, sampleIdFor(dataset.id, file.path)),
      { UpdateExpression: `SET ${actions.join(', ')}, #revision = if_not_exists(#revision, :zero) + :one${settle}`, ExpressionAttributeNames: names, ExpressionAttributeValues: values },
      'UPDATED_OLD',
    );
    if (old.revision === undefined) count++;
    return old.revision === undefined;
  }).finally(async () => {
    // Counted even when the batch fails partway (a retry then sees those rows as existing); only a
    // process dying between the rows and this one call can part them.
    if (count) await updateItem(countSamples(dataset.id, count).update, countSamples(dataset.id, count));
  });
  await ensureLabels(dataset.id, [...labels]);
  return { created: count, createdPaths: files.filter((_, i) => created[i]).map((f) => f.path), ids: files.map((f) => sampleIdFor(dataset.id, f.path)) };
}

/** List a dataset's samples in path order, with filters and a signed cursor. */
export async function listSamples(caller: Caller, ownerId: string, datasetId: string, query: SampleListQuery): Promise<Page<Sample>> {
  await loadDataset(caller, ownerId, datasetId);
  const filters: string[] = [];
  const names: Record<string, string> = {};
  const values: Record<string, unknown> = {};
  const filter = (attribute: string, expression: string, value?: [string, unknown]) => {
    names[`#${attribute}`] = attribute;
    if (value) values[value[0]] = value[1];
    filters.push(expression);
  };
  if (query.labeled !== undefined) filter('labels', query.labeled ? 'size(#labels) > :zero' : 'size(#labels) = :zero', [':zero', 0]);
  if (query.label) filter('labels', 'contains(#labels, :label)', [':label', query.label]);
  if (query.tag) filter('tags', 'contains(#tags, :tag)', [':tag', query.tag]);
  if (query.review_state) filter('reviewState', '#reviewState = :review', [':review', query.review_state]);
  if (query.pending !== undefined) filter('pendingAnnotations', query.pending ? 'size(#pendingAnnotations) > :none' : 'attribute_not_exists(#pendingAnnotations)', query.pending ? [':none', 0] : undefined);
  const base = samplesByPath(datasetId);
  const params = filters.length
    ? { ...base, FilterExpression: filters.join(' AND '), ExpressionAttributeNames: names, ExpressionAttributeValues: { ...base.ExpressionAttributeValues, ...values } }
    : base;
  const page = await readPage(
    params,
    { size: query.size, skip: query.skip, cursor: query.cursor },
    { callerId: caller.userId, query: { ns: ownerId, kind: 'sample', dataset: datasetId, labeled: query.labeled, label: query.label, tag: query.tag, review: query.review_state, pending: query.pending } },
    filters.length ? undefined : () => countOfSamples(datasetId),
  );
  return { ...page, items: (page.items as unknown as SampleRecord[]).map(toSample) };
}

export async function countOfSamples(datasetId: string): Promise<number> {
  return Math.max(0, Number((await getItem(sampleCounterKey(datasetId)))?.n ?? 0));
}

async function loadSample(caller: Caller, ownerId: string, datasetId: string, sampleId: string): Promise<SampleRecord> {
  await loadDataset(caller, ownerId, datasetId);
  const record = (await getItem(sampleKey(datasetId, sampleId), true)) as SampleRecord | undefined;
  if (!record) throw new NotFound('sample');
  return record;
}

export async function getSample(caller: Caller, ownerId: string, datasetId: string, sampleId: string): Promise<Sample> {
  return toSample(await loadSample(caller, ownerId, datasetId, sampleId));
}

/** Change a sample's annotations, tags or review state, guarded by its revision (If-Match: 412). */
export async function updateSample(caller: Caller, ownerId: string, datasetId: string, sampleId: string, patch: SamplePatch, ifMatch?: string): Promise<Sample> {
  const current = await loadSample(caller, ownerId, datasetId, sampleId);
  checkIfMatch(ifMatch, current.revision);
  // Reviewing auto-labels: accepted makes them the annotations (unless the patch gives its own, or a person
  // has labelled the sample since: their labels win), rejected drops them.
  const pending = current.pendingAnnotations?.length ? current.pendingAnnotations : undefined;
  const unlabelled = !current.labels?.length;
  const accepted = pending && unlabelled && patch.review_state === 'accepted' && !patch.annotations ? pending.map((p) => ({ label: p.label })) : undefined;
  const annotations = patch.annotations ?? accepted;
  const settles = pending && (annotations !== undefined || patch.review_state === 'accepted' || patch.review_state === 'rejected');
  if (annotations) await ensureLabels(datasetId, labelsOf(annotations));
  try {
    return toSample(await changeSample(datasetId, sampleId, { annotations, tags: patch.tags, reviewState: patch.review_state, clearPending: settles }, current.revision));
  } catch (error) {
    if (!isConditionalCheckFailure(error)) throw error;
    throw ifMatch !== undefined ? new PreconditionFailed() : new Conflict('the sample changed while this request ran; retry');
  }
}

/**
 * One sample's editable fields, in one conditional update: it must exist and, when `expectedRevision` is
 * given, still be at it. `pending` replaces the model's guesses waiting for review. Answers the sample as
 * it is after.
 */
export async function changeSample(
  datasetId: string,
  sampleId: string,
  change: { annotations?: Annotation[]; tags?: string[]; reviewState?: string; pending?: SampleRecord['pendingAnnotations']; clearPending?: boolean },
  expectedRevision?: number,
): Promise<SampleRecord> {
  const fields: Record<string, unknown> = { lastModified: new Date().toISOString() };
  // Annotations set by a person settle any model guess waiting for review; so does an empty list of guesses.
  const clearPending = change.clearPending || change.annotations !== undefined || change.pending?.length === 0;
  if (change.annotations) Object.assign(fields, { annotations: change.annotations, labels: labelsOf(change.annotations) });
  if (change.tags) fields.tags = change.tags;
  if (change.reviewState) fields.reviewState = change.reviewState;
  if (change.pending?.length && !clearPending) fields.pendingAnnotations = change.pending;
  const names = Object.fromEntries(Object.keys(fields).map((k) => [`#${k}`, k]));
  const values = Object.fromEntries(Object.entries(fields).map(([k, v]) => [`:${k}`, v]));
  return (await updateItem(sampleKey(datasetId, sampleId), {
    UpdateExpression: `SET ${Object.keys(fields).map((k) => `#${k} = :${k}`).join(', ')} ADD #revision :one${clearPending ? ' REMOVE #pending, #pendingFrom' : ''}`,
    ConditionExpression: expectedRevision === undefined ? 'attribute_exists(pk)' : 'attribute_exists(pk) AND #revision = :expected',
    ExpressionAttributeNames: { ...names, '#revision': 'revision', ...(clearPending ? { '#pending': 'pendingAnnotations', '#pendingFrom': 'pendingFromJob' } : {}) },
    ExpressionAttributeValues: { ...values, ':one': 1, ...(expectedRevision === undefined ? {} : { ':expected': expectedRevision }) },
  })) as unknown as SampleRecord;
}

/** Delete one sample (its file stays, unless `deleteSource`); answers it as it was. */
export async function deleteSample(caller: Caller, ownerId: string, datasetId: string, sampleId: string, ifMatch?: string, deleteSource = false): Promise<Sample> {
  const current = await loadSample(caller, ownerId, datasetId, sampleId);
  checkIfMatch(ifMatch, current.revision);
  try {
    await removeSample(current, deleteSource, current.revision);
  } catch (error) {
    if (!isConditionalCheckFailure(error)) throw error;
    throw ifMatch !== undefined ? new PreconditionFailed() : new Conflict('the sample changed while it was being deleted; retry');
  }
  return toSample(current);
}

async function removeSample(sample: SampleRecord, deleteSource: boolean, expectedRevision?: number): Promise<void> {
  await writeTogether([
    {
      delete: sampleKey(sample.datasetId, sample.id),
      condition:
        expectedRevision === undefined
          ? { ConditionExpression: 'attribute_exists(pk)' }
          : { ConditionExpression: '#revision = :expected', ExpressionAttributeNames: { '#revision': 'revision' }, ExpressionAttributeValues: { ':expected': expectedRevision } },
    },
    countSamples(sample.datasetId, -1),
  ]);
  if (deleteSource) await deleteObject(datasetFilesPrefix({ ownerId: sample.ownerId, id: sample.datasetId }) + sample.path);
}

function itemFailure(index: number, error: unknown, sampleId?: string): BatchItemResult {
  const domain = error as DomainError;
  const status = { not_found: 404, conflict: 409, bad_request: 400, precondition_failed: 412 }[domain.code as string];
  if (!status) throw error; // not the item's fault: the whole call fails and can be retried
  return { index, success: false, ...(sampleId ? { sample_id: sampleId } : {}), error_code: status, error_msg: domain.message };
}

function batchResult(results: BatchItemResult[]): BatchResult {
  const succeeded = results.filter((r) => r.success).length;
  return { succeeded, failed: results.length - succeeded, results };
}

/** Batch add (ModelArts-style): files already stored in the dataset become samples; each item answers alone. */
export async function addSamples(caller: Caller, ownerId: string, datasetId: string, input: SampleBatchAdd): Promise<BatchResult> {
  const dataset = await loadDataset(caller, ownerId, datasetId);
  const prefix = datasetFilesPrefix(dataset);
  const found = await mapLimited(input.samples, IN_FLIGHT, async (item) => ({ item, stored: await headObject(prefix + item.path) }));
  const present = found.filter((f) => f.stored);
  await registerSamples(dataset, present.map(({ item, stored }) => ({ path: item.path, size: stored!.size, annotations: item.annotations, tags: item.tags })));
  return batchResult(
    found.map(({ item, stored }, index) =>
      stored
        ? { index, success: true, sample_id: sampleIdFor(dataset.id, item.path) }
        : { index, success: false, error_code: 404, error_msg: `no file ${item.path} in the dataset: upload it first` },
    ),
  );
}

/** Batch delete: each sample answers alone (404 when it is not there). */
export async function deleteSamples(caller: Caller, ownerId: string, datasetId: string, input: SampleBatchDelete): Promise<BatchResult> {
  const dataset = await loadDataset(caller, ownerId, datasetId);
  const results = await mapLimited(input.sample_ids, IN_FLIGHT, async (sampleId, index): Promise<BatchItemResult> => {
    try {
      const sample = (await getItem(sampleKey(dataset.id, sampleId), true)) as SampleRecord | undefined;
      if (!sample) throw new NotFound('sample');
      await removeSample(sample, input.delete_source);
      return { index, success: true, sample_id: sampleId };
    } catch (error) {
      return itemFailure(index, isConditionalCheckFailure(error) ? new NotFound('sample') : error, sampleId);
    }
  });
  return batchResult(results);
}

/** Manual labeling in batches: each listed sample's annotations are replaced whole. */
export async function annotateSamples(caller: Caller, ownerId: string, datasetId: string, input: SampleBatchAnnotate): Promise<BatchResult> {
  const dataset = await loadDataset(caller, ownerId, datasetId);
  const results = await mapLimited(input.samples, IN_FLIGHT, async (item, index): Promise<BatchItemResult> => {
    try {
      // A person's annotations settle any auto-labels waiting for review.
      await changeSample(dataset.id, item.sample_id, { annotations: item.annotations, reviewState: item.review_state, clearPending: true });
      return { index, success: true, sample_id: item.sample_id };
    } catch (error) {
      return itemFailure(index, isConditionalCheckFailure(error) ? new NotFound('sample') : error, item.sample_id);
    }
  });
  // Only labels that samples now carry join the class list (a failed item adds none).
  await ensureLabels(dataset.id, [...new Set(input.samples.filter((_, i) => results[i]!.success).flatMap((s) => labelsOf(s.annotations)))]);
  return batchResult(results);
}

/** Drop the samples of files that did not get stored after all (an unpack that failed midway). */
export async function forgetSamples(datasetId: string, paths: string[]): Promise<void> {
  await mapLimited(paths, IN_FLIGHT, async (path) => {
    await writeTogether([
      { delete: sampleKey(datasetId, sampleIdFor(datasetId, path)), condition: { ConditionExpression: 'attribute_exists(pk)' } },
      countSamples(datasetId, -1),
    ]).catch((error: unknown) => {
      if (!isConditionalCheckFailure(error)) throw error;
    });
  });
}
