import { type Caller, requireNamespace } from './caller';
import { getItem, isConditionalCheckFailure, updateItem, writeTogether } from './dynamo';
import {
  countDatasets,
  datasetCounterKey,
  type DatasetRecord,
  datasetIndexKeys,
  datasetItem,
  datasetKey,
  datasetsByOwner,
} from './entities/dataset';
import { purgeItem } from './entities/purge';
import { Conflict, NotFound, PreconditionFailed } from './errors';
import { assertUserExists } from './identity';
import { annotationImportStatus } from './import-status';
import { type Page, readPage } from './pagination';
import { checkIfMatch } from './revision';
import type { Dataset, DatasetCreate, DatasetListQuery, DatasetPatch, DatasetReplace } from './schemas/dataset';
import { newId } from './tokens';

type EditableFields = Pick<DatasetRecord, 'name' | 'description' | 'type' | 'format' | 'version' | 'logo' | 'tags'>;

const DEFAULT_VERSION = '1.0.0';
const MAX_CONCURRENT_RETRIES = 3;

function toDataset(r: DatasetRecord): Dataset {
  return {
    id: r.id,
    user_id: r.ownerId,
    name: r.name,
    description: r.description,
    type: r.type as Dataset['type'],
    format: r.format as Dataset['format'],
    version: r.version,
    logo: r.logo,
    tags: r.tags,
    revision: r.revision,
    created_on: r.createdOn,
    last_modified: r.lastModified,
    import_status: {
      archives: (r.archives ?? []).map((a) => ({
        archive: a.archive,
        status: a.status,
        files: a.files,
        refused: a.refused,
        ...(a.error ? { error: a.error } : {}),
        finished_on: a.finishedOn,
      })),
    },
  };
}

function editableFrom(input: DatasetCreate, id: string): EditableFields {
  return {
    name: input.name ?? `dataset-${id.slice(0, 8)}`,
    description: input.description ?? '',
    type: input.type,
    format: input.format,
    version: input.version ?? DEFAULT_VERSION,
    logo: input.logo ?? '',
    tags: input.tags ?? [],
  };
}

/**
 * Create a dataset in a user's namespace.
 * The caller must own the namespace (or be an admin, and then the user must exist).
 */
export async function createDataset(caller: Caller, ownerId: string, input: DatasetCreate): Promise<Dataset> {
  requireNamespace(caller, ownerId);
  if (caller.userId !== ownerId) await assertUserExists(ownerId);
  const id = newId();
  const now = new Date().toISOString();
  const fields = editableFrom(input, id);
  const record: DatasetRecord = { id, ownerId, ...fields, revision: 1, createdOn: now, lastModified: now };
  await writeTogether([{ put: datasetItem(record), condition: { ConditionExpression: 'attribute_not_exists(pk)' } }, countDatasets(ownerId, 1)]);
  return withAnnotationStatus(toDataset(record), true);
}

/**
 * Read one dataset. A dataset outside the caller's reach, or in another namespace than the path
 * names, is "not found".
 */
export async function getDataset(caller: Caller, ownerId: string, id: string): Promise<Dataset> {
  return withAnnotationStatus(toDataset(await loadDataset(caller, ownerId, id)));
}

/**
 * One dataset as every single-dataset answer gives it: with the sum of its annotation-file reports
 * (one more read; lists leave it out rather than pay it per dataset).
 */
async function withAnnotationStatus(dataset: Dataset, fresh = false): Promise<Dataset> {
  const annotations = fresh ? { files_applied: 0, files_failed: 0, samples: 0, annotations: 0, failures: [] } : await annotationImportStatus(dataset.id);
  return { ...dataset, import_status: { ...dataset.import_status, annotations } };
}

/** Where everything of a dataset lives in the bucket. Built from ids only: a client never names a key. */
export function datasetPrefix(dataset: Pick<DatasetRecord, 'ownerId' | 'id'>): string {
  return `u/${dataset.ownerId}/dataset/${dataset.id}/`;
}

/** The dataset as stored, if the caller may reach it: what other use cases (uploads, files) start from. */
export async function loadDataset(caller: Caller, ownerId: string, id: string): Promise<DatasetRecord> {
  requireNamespace(caller, ownerId);
  const record = (await getItem(datasetKey(id))) as DatasetRecord | undefined;
  if (!record || record.ownerId !== ownerId) throw new NotFound('dataset');
  return record;
}

/**
 * List datasets of a namespace with TAO's skip/size/sort, filters and a signed cursor.
 * Sorting by date reads gsi1, by name gsi2; filters run in DynamoDB and pages are always full.
 */
export async function listDatasets(caller: Caller, ownerId: string, query: DatasetListQuery): Promise<Page<Dataset>> {
  requireNamespace(caller, ownerId);
  const tags = query.tag ? [...new Set(query.tag.split(',').map((t) => t.trim()).filter(Boolean))].sort() : [];
  const filters: string[] = [];
  const names: Record<string, string> = {};
  const values: Record<string, unknown> = {};
  const filter = (attribute: string, value: unknown, make: (name: string, value: string) => string, slot = attribute) => {
    names[`#${attribute}`] = attribute;
    values[`:${slot}`] = value;
    filters.push(make(`#${attribute}`, `:${slot}`));
  };
  if (query.type) filter('type', query.type, (n, v) => `${n} = ${v}`);
  if (query.format) filter('format', query.format, (n, v) => `${n} = ${v}`);
  if (query.name) filter('nameKey', query.name.toLowerCase(), (n, v) => `contains(${n}, ${v})`);
  tags.forEach((tag, i) => filter('tags', tag, (n, v) => `contains(${n}, ${v})`, `tag${i}`));
  const base = datasetsByOwner(ownerId, query.sort.startsWith('name') ? 'name' : 'date', query.sort.endsWith('ascending'));
  const params = filters.length
    ? {
        ...base,
        FilterExpression: filters.join(' AND '),
        ExpressionAttributeNames: names,
        ExpressionAttributeValues: { ...base.ExpressionAttributeValues, ...values },
      }
    : base;
  const page = await readPage(
    params,
    { size: query.size, skip: query.skip, cursor: query.cursor },
    {
      callerId: caller.userId,
      query: { ns: ownerId, kind: 'dataset', sort: query.sort, type: query.type, format: query.format, name: query.name, tags: tags.join(',') },
    },
    // Unfiltered, the total is the namespace's counter: one read instead of counting every dataset.
    filters.length ? undefined : async () => Number((await getItem(datasetCounterKey(ownerId)))?.n ?? 0),
  );
  return { ...page, items: (page.items as unknown as DatasetRecord[]).map(toDataset) };
}

/** Replace a dataset's editable fields (PUT): omitted optional fields return to their defaults. */
export async function replaceDataset(caller: Caller, ownerId: string, id: string, input: DatasetReplace, ifMatch?: string): Promise<Dataset> {
  return changeDataset(caller, ownerId, id, ifMatch, () => editableFrom(input, id));
}

/** Change the fields a PATCH names, nothing else. */
export async function updateDataset(caller: Caller, ownerId: string, id: string, input: DatasetPatch, ifMatch?: string): Promise<Dataset> {
  return changeDataset(caller, ownerId, id, ifMatch, (current) => ({
    name: input.name ?? current.name,
    description: input.description ?? current.description,
    type: input.type ?? current.type,
    format: input.format ?? current.format,
    version: input.version ?? current.version,
    logo: input.logo ?? current.logo,
    tags: input.tags ?? current.tags,
  }));
}

/**
 * Read-modify-write guarded by the revision. With If-Match a lost race is a 412; without, the change
 * is re-applied to the fresh record a few times before giving up with a 409.
 */
async function changeDataset(
  caller: Caller,
  ownerId: string,
  id: string,
  ifMatch: string | undefined,
  change: (current: DatasetRecord) => EditableFields,
): Promise<Dataset> {
  for (let attempt = 0; attempt < MAX_CONCURRENT_RETRIES; attempt++) {
    const current = await loadDataset(caller, ownerId, id);
    checkIfMatch(ifMatch, current.revision);
    const fields = change(current);
    try {
      const next: DatasetRecord = { ...current, ...fields, revision: current.revision + 1, lastModified: new Date().toISOString() };
      const changes: Record<string, unknown> = { ...fields, nameKey: fields.name.toLowerCase(), revision: next.revision, lastModified: next.lastModified, ...datasetIndexKeys(next) };
      const names = Object.fromEntries(Object.keys(changes).map((k) => [`#${k}`, k]));
      const values = Object.fromEntries(Object.entries(changes).map(([k, v]) => [`:${k}`, v]));
      const updated = await updateItem(datasetKey(id), {
        UpdateExpression: `SET ${Object.keys(changes).map((k) => `#${k} = :${k}`).join(', ')}`,
        ConditionExpression: 'attribute_exists(pk) AND #revision = :expected',
        ExpressionAttributeNames: names,
        ExpressionAttributeValues: { ...values, ':expected': current.revision },
      });
      return await withAnnotationStatus(toDataset(updated as unknown as DatasetRecord));
    } catch (error) {
      if (!isConditionalCheckFailure(error)) throw error;
      // The revision moved under us: with If-Match that is the client's precondition failing.
      if (ifMatch !== undefined) throw new PreconditionFailed();
    }
  }
  throw new Conflict('the dataset kept changing while this request ran; retry');
}

/** Delete a dataset and answer it as it was. (Cancelling its live jobs first comes with the jobs engine.) */
export async function deleteDataset(caller: Caller, ownerId: string, id: string, ifMatch?: string): Promise<Dataset> {
  const current = await loadDataset(caller, ownerId, id);
  checkIfMatch(ifMatch, current.revision);
  try {
    await writeTogether([
      {
        delete: datasetKey(id),
        condition: {
          ConditionExpression: '#revision = :expected',
          ExpressionAttributeNames: { '#revision': 'revision' },
          ExpressionAttributeValues: { ':expected': current.revision },
        },
      },
      countDatasets(ownerId, -1),
      // Its files and sessions go in the background (functions/events/purge.ts); from now on nothing of it is reachable.
      { put: purgeItem({ datasetId: id, ownerId, prefix: datasetPrefix(current), requestedOn: new Date().toISOString() }) },
    ]);
  } catch (error) {
    if (!isConditionalCheckFailure(error)) throw error;
    throw ifMatch !== undefined ? new PreconditionFailed() : new Conflict('the dataset changed while it was being deleted; retry');
  }
  return withAnnotationStatus(toDataset(current));
}
