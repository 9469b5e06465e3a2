import type { Caller } from './caller';
import { claimUnusedForDelete } from './dataset-usage';
import type { DatasetRecord } from './entities/dataset';
import { purgeItem } from './entities/purge';
import { annotationImportStatus } from './import-status';
import type { Page } from './pagination';
import { cancelLiveJobs } from './jobs';
import { changeOwned, createOwned, deleteOwned, listOwned, loadOwned } from './resources';
import type { Dataset, DatasetCreate, DatasetListQuery, DatasetPatch, DatasetReplace } from './schemas/dataset';

type EditableFields = Pick<DatasetRecord, 'name' | 'description' | 'type' | 'format' | 'version' | 'logo' | 'tags'>;

const DEFAULT_VERSION = '1.0.0';

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
  const record = await createOwned<DatasetRecord>('dataset', caller, ownerId, (id, now) => ({
    id,
    ownerId,
    ...editableFrom(input, id),
    revision: 1,
    createdOn: now,
    lastModified: now,
  }));
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
  return loadOwned<DatasetRecord>('dataset', caller, ownerId, id);
}

/**
 * List datasets of a namespace with TAO's skip/size/sort, filters and a signed cursor.
 * Sorting by date reads gsi1, by name gsi2; filters run in DynamoDB and pages are always full.
 */
export async function listDatasets(caller: Caller, ownerId: string, query: DatasetListQuery): Promise<Page<Dataset>> {
  const page = await listOwned<DatasetRecord>('dataset', caller, ownerId, query, {
    equals: { type: query.type, format: query.format },
    name: query.name,
    tag: query.tag,
  });
  return { ...page, items: page.items.map(toDataset) };
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

/** Read-modify-write guarded by the revision (resources.ts): If-Match → 412, retries without it. */
async function changeDataset(
  caller: Caller,
  ownerId: string,
  id: string,
  ifMatch: string | undefined,
  change: (current: DatasetRecord) => EditableFields,
): Promise<Dataset> {
  return withAnnotationStatus(toDataset(await changeOwned<DatasetRecord>('dataset', caller, ownerId, id, ifMatch, change)));
}

/**
 * Delete a dataset and answer it as it was: refused (409, naming them) while models use it. Its files,
 * rows and sessions go in the background (functions/events/purge.ts): the purge record is written with the
 * delete, and from then on nothing of it is reachable. (Cancelling its live jobs first comes with the jobs engine.)
 */
export async function deleteDataset(caller: Caller, ownerId: string, id: string, ifMatch?: string): Promise<Dataset> {
  const deleted = await deleteOwned<DatasetRecord>('dataset', caller, ownerId, id, ifMatch, {
    // Once no model holds it, its live jobs are canceled first (their compute stops), then it goes.
    prepare: async (current) => {
      const prepared = await claimUnusedForDelete(current);
      await cancelLiveJobs('dataset', current.id, `its dataset ${current.id} was deleted`);
      return prepared;
    },
    writes: (current) => [{ put: purgeItem({ datasetId: id, ownerId, prefix: datasetPrefix(current), requestedOn: new Date().toISOString() }) }],
  });
  return withAnnotationStatus(toDataset(deleted));
}
