import type { EntityItem } from 'electrodb';
import { type Caller, requireNamespace } from './caller';
import { datasetEntity, type DatasetEntity } from './entities/dataset';
import { Conflict, NotFound, PreconditionFailed } from './errors';
import { assertUserExists } from './identity';
import { type Page, type PageRequest, readPage } from './pagination';
import { checkIfMatch, isConditionalCheckFailure } from './revision';
import type { Dataset, DatasetCreate, DatasetListQuery, DatasetPatch, DatasetReplace } from './schemas/dataset';
import { newId } from './tokens';

type DatasetRecord = EntityItem<DatasetEntity>;
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
  const out = await datasetEntity()
    .create({ id, ownerId, ...fields, nameKey: fields.name.toLowerCase(), revision: 1, createdOn: now, lastModified: now })
    .go();
  return toDataset(out.data);
}

/**
 * Read one dataset. A dataset outside the caller's reach, or in another namespace than the path
 * names, is "not found".
 */
export async function getDataset(caller: Caller, ownerId: string, id: string): Promise<Dataset> {
  return toDataset(await loadDataset(caller, ownerId, id));
}

async function loadDataset(caller: Caller, ownerId: string, id: string): Promise<DatasetRecord> {
  requireNamespace(caller, ownerId);
  const out = await datasetEntity().get({ id }).go();
  if (!out.data || out.data.ownerId !== ownerId) throw new NotFound('dataset');
  return out.data;
}

/**
 * List datasets of a namespace with TAO's skip/size/sort, filters and a signed cursor.
 * Sorting by date reads gsi1, by name gsi2; filters run in DynamoDB and pages are always full.
 */
export async function listDatasets(caller: Caller, ownerId: string, query: DatasetListQuery): Promise<Page<Dataset>> {
  requireNamespace(caller, ownerId);
  const entity = datasetEntity();
  const byName = query.sort.startsWith('name');
  const order = query.sort.endsWith('ascending') ? 'asc' : 'desc';
  const tags = query.tag ? [...new Set(query.tag.split(',').map((t) => t.trim()).filter(Boolean))] : [];
  const hasFilter = Boolean(query.type || query.format || query.name || tags.length);
  const base = byName ? entity.query.byOwnerName({ ownerId }) : entity.query.byOwnerDate({ ownerId });
  const filtered = hasFilter
    ? base.where((attr, op) =>
        [
          query.type ? op.eq(attr.type, query.type as string) : '',
          query.format ? op.eq(attr.format, query.format as string) : '',
          query.name ? op.contains(attr.nameKey, query.name.toLowerCase()) : '',
          ...tags.map((tag) => op.contains(attr.tags, tag)),
        ]
          .filter(Boolean)
          .join(' AND '),
      )
    : base;
  const index = byName ? ['gsi2pk', 'gsi2sk'] : ['gsi1pk', 'gsi1sk'];
  const page = await readPage(
    { params: filtered.params({ order }), keyAttributes: ['pk', 'sk', ...index], filtered: hasFilter },
    { size: query.size, skip: query.skip, cursor: query.cursor } satisfies PageRequest,
    {
      callerId: caller.userId,
      query: { ns: ownerId, kind: 'dataset', sort: query.sort, type: query.type, format: query.format, name: query.name, tags: tags.sort().join(',') },
    },
  );
  const parsed = entity.parse({ Items: page.items }).data as DatasetRecord[];
  return { ...page, items: parsed.map(toDataset) };
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
      const out = await datasetEntity()
        .patch({ id })
        .set({ ...fields, nameKey: fields.name.toLowerCase(), revision: current.revision + 1, lastModified: new Date().toISOString() })
        .where((attr, op) => op.eq(attr.revision, current.revision))
        .go({ response: 'all_new' });
      return toDataset(out.data as DatasetRecord);
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
    await datasetEntity()
      .delete({ id })
      .where((attr, op) => op.eq(attr.revision, current.revision))
      .go();
  } catch (error) {
    if (!isConditionalCheckFailure(error)) throw error;
    throw ifMatch !== undefined ? new PreconditionFailed() : new Conflict('the dataset changed while it was being deleted; retry');
  }
  return toDataset(current);
}
