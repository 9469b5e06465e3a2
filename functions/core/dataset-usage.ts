import { randomBytes } from 'node:crypto';
import { batchGetItems, deleteItem, isConditionalCheckFailure, query, updateItem } from './dynamo';
import { type DatasetRecord, datasetKey } from './entities/dataset';
import { datasetsOfModel, modelKey, type ModelRecord, modelRefKey, type ModelRefRecord, modelRefsOfDataset } from './entities/model';
import { versionKey, type VersionRecord } from './entities/version';
import { Conflict, type ErrorDetail, Unprocessable } from './errors';
import type { WriteCondition } from './resources';

/**
 * Which models use which datasets: "a dataset used by a model cannot be deleted (409 naming the model)".
 *
 * Every (dataset, model) pair has a reverse-reference row under the dataset (entities/model.ts), so a
 * dataset DELETE finds its candidates with one strongly consistent query of a small partition instead of
 * reading every model of the namespace (no index lists the elements of a list attribute, and indexes are
 * only eventually consistent). The model record stays the truth: a reference is a hint the DELETE checks
 * by reading the model.
 *
 * It stays exact without multi-item transactions (dynalite has none, and one model may name 103 datasets,
 * past a transaction's 100 items) by ordering the writes on both sides:
 * - a model write that starts using dataset D: add a pending mark (a lease) to the reference (1), check D
 *   exists and is not claimed by a DELETE (2), write the model (3), remove the mark (4);
 * - a DELETE of D: claim D (a), read D's references (b), read each referencing model (c), delete D only if
 *   the claim is still this DELETE's (d). A model that names D, or a live pending mark, refuses the DELETE.
 * If (1) came before (b), the DELETE sees the mark (3 may still come) or, the mark gone, reads a model that
 * already names D. If (1) came after (b), then (2) came after (a) and sees the claim: the model write is
 * refused. Leases bound what a crash leaves behind: a claim lasts CLAIM_MS and a DELETE acts only with
 * CLAIM_MARGIN_MS of it left; a pending mark lasts PENDING_MS and a model write goes ahead only with
 * PENDING_MARGIN_MS of it left. (The margins cover clock skew between functions and a slow request.)
 */

const CLAIM_MS = 60_000;
const CLAIM_MARGIN_MS = 20_000;
const PENDING_MS = 30_000;
const PENDING_MARGIN_MS = 10_000;
/** How long a DELETE waits for model writes in flight to land or give up, and how often it looks. */
const PENDING_WAIT_MS = 3_000;
const PENDING_POLL_MS = 50;
const IN_FLIGHT = 16;
/** How many using models a refusal names in its message (its details list up to 100). */
const MAX_NAMED = 20;

/** A field of a model request that names a dataset (and maybe one of its versions). */
export interface DatasetUse {
  /** Where the id is in the request, for the error details (e.g. ['body', 'train_datasets', 2]). */
  path: (string | number)[];
  datasetId: string;
  /** A version id to check belongs to the dataset, when this field pins one. */
  versionId?: string;
}

async function inBatches<T>(items: readonly T[], work: (item: T) => Promise<unknown>): Promise<void> {
  for (let i = 0; i < items.length; i += IN_FLIGHT) await Promise.all(items.slice(i, i + IN_FLIGHT).map(work));
}

const claimed = (d: DatasetRecord) => typeof d.deletingUntil === 'number' && d.deletingUntil > Date.now();

/** A pending mark is `{expires (epoch ms)}:{nonce}`: one per model write in flight. */
const isLive = (mark: string) => Number(mark.split(':')[0]) > Date.now();

interface Refusal {
  use: DatasetUse;
  detail: ErrorDetail;
}

/** The uses a model of `ownerId` may not make, each with its error detail. */
async function refusals(ownerId: string, uses: readonly DatasetUse[], checkVersions = true): Promise<Refusal[]> {
  if (uses.length === 0) return [];
  const datasetIds = [...new Set(uses.map((u) => u.datasetId))];
  const pinned = checkVersions ? [...new Map(uses.filter((u) => u.versionId).map((u) => [`${u.datasetId}/${u.versionId}`, u])).values()] : [];
  const [datasets, versions] = await Promise.all([
    batchGetItems(datasetIds.map(datasetKey)),
    batchGetItems(pinned.map((u) => versionKey(u.datasetId, u.versionId!))),
  ]);
  const byId = new Map((datasets as unknown as DatasetRecord[]).map((d) => [d.id, d]));
  const versionIds = new Set((versions as unknown as VersionRecord[]).filter((v) => v.ownerId === ownerId).map((v) => `${v.datasetId}/${v.id}`));
  return uses.flatMap((use) => {
    const dataset = byId.get(use.datasetId);
    const refusal = (message: string, code: string): Refusal[] => [{ use, detail: { path: use.path, message, code } }];
    if (!dataset || dataset.ownerId !== ownerId) return refusal(`no dataset ${use.datasetId} in this namespace`, 'unknown_dataset');
    if (claimed(dataset)) return refusal(`dataset ${use.datasetId} is being deleted`, 'dataset_deleting');
    if (checkVersions && use.versionId && !versionIds.has(`${use.datasetId}/${use.versionId}`)) {
      return refusal(`dataset ${use.datasetId} has no version ${use.versionId}`, 'unknown_version');
    }
    return [];
  });
}

function refuse(refused: readonly Refusal[]): never {
  const details = refused.map((r) => r.detail);
  const first = details[0]!;
  throw new Unprocessable(`${first.path?.join('.')}: ${first.message}`, details);
}

/** A model write's hold on the datasets it starts using: end it once the write succeeded or failed. */
export interface DatasetHold {
  /** Remove the pending marks (never fails: a mark left behind runs out). */
  end(): Promise<void>;
}

const NO_HOLD: DatasetHold = { end: async () => undefined };

/**
 * Before model `modelId` of `ownerId` is written at `revision` naming what `uses` name: check every use
 * (a refused one is a 422 naming its field, and nothing is written), then mark the reference of each
 * dataset in `added` (those the model did not use before) as pending and check those again, now that a
 * DELETE that has not read the references yet will see the marks (the module comment says why this is
 * exact). The caller writes the model at once, then ends the hold whatever became of the write.
 */
export async function useDatasets(
  ownerId: string,
  modelId: string,
  revision: number,
  uses: readonly DatasetUse[],
  added: readonly string[],
): Promise<DatasetHold> {
  const refused = await refusals(ownerId, uses);
  if (refused.length) refuse(refused);
  if (added.length === 0) return NO_HOLD;
  const expires = Date.now() + PENDING_MS;
  const mark = `${expires}:${randomBytes(8).toString('hex')}`;
  const marked: string[] = [];
  let ended = false;
  const hold: DatasetHold = {
    end: async () => {
      if (ended) return;
      ended = true;
      await inBatches(marked, (datasetId) => unmark(datasetId, modelId, mark).catch(() => undefined));
    },
  };
  try {
    await inBatches(added, async (datasetId) => {
      await updateItem(modelRefKey(datasetId, modelId), {
        UpdateExpression: 'SET #entity = :entity, #datasetId = :datasetId, #modelId = :modelId, #revision = if_not_exists(#revision, :revision) ADD #pending :mark',
        ExpressionAttributeNames: { '#entity': 'entity', '#datasetId': 'datasetId', '#modelId': 'modelId', '#revision': 'revision', '#pending': 'pending' },
        ExpressionAttributeValues: { ':entity': 'modelref', ':datasetId': datasetId, ':modelId': modelId, ':revision': revision, ':mark': new Set([mark]) },
      });
      marked.push(datasetId);
      // The newest writer's revision stays: a removal after an older write must not take its reference.
      await updateItem(modelRefKey(datasetId, modelId), {
        UpdateExpression: 'SET #revision = :revision',
        ConditionExpression: '#revision < :revision',
        ExpressionAttributeNames: { '#revision': 'revision' },
        ExpressionAttributeValues: { ':revision': revision },
      }).catch((error: unknown) => {
        if (!isConditionalCheckFailure(error)) throw error;
      });
    });
    const again = await refusals(
      ownerId,
      uses.filter((u) => added.includes(u.datasetId)),
      false,
    );
    if (again.length) {
      await hold.end();
      // Lost the race with a DELETE. A reference to a dataset that is gone is litter: take it back. One to a
      // dataset still being deleted stays (that DELETE may yet refuse, and another write may need it).
      const gone = [...new Set(again.filter((r) => r.detail.code === 'unknown_dataset').map((r) => r.use.datasetId))];
      await inBatches(gone, (datasetId) => dropReference(datasetId, modelId, revision).catch(() => undefined));
      refuse(again);
    }
    if (Date.now() > expires - PENDING_MARGIN_MS) throw new Conflict('checking the datasets took too long; retry');
  } catch (error) {
    await hold.end();
    throw error;
  }
  return hold;
}

async function unmark(datasetId: string, modelId: string, mark: string): Promise<void> {
  await updateItem(modelRefKey(datasetId, modelId), {
    UpdateExpression: 'DELETE #pending :mark',
    // Not on a reference the dataset's purge already removed: that would write it back.
    ConditionExpression: 'attribute_exists(pk)',
    ExpressionAttributeNames: { '#pending': 'pending' },
    ExpressionAttributeValues: { ':mark': new Set([mark]) },
  });
}

/**
 * After model `modelId` stopped using `datasetIds` (its write at `revision` succeeded, or it was deleted:
 * then `revision` is undefined): remove their references, unless a write is pending on one or a newer
 * write made it again. Failing here leaves only a stale reference, which a dataset DELETE reads past; so
 * it never fails the change that already happened.
 */
export async function releaseDatasets(modelId: string, revision: number | undefined, datasetIds: readonly string[]): Promise<void> {
  await inBatches(datasetIds, (datasetId) => dropReference(datasetId, modelId, revision).catch(() => undefined));
}

async function dropReference(datasetId: string, modelId: string, revision: number | undefined): Promise<void> {
  try {
    await deleteItem(modelRefKey(datasetId, modelId), {
      ConditionExpression: `attribute_not_exists(#pending)${revision === undefined ? '' : ' AND #revision <= :revision'}`,
      ExpressionAttributeNames: { '#pending': 'pending', ...(revision === undefined ? {} : { '#revision': 'revision' }) },
      ...(revision === undefined ? {} : { ExpressionAttributeValues: { ':revision': revision } }),
    });
  } catch (error) {
    if (!isConditionalCheckFailure(error)) throw error;
  }
}

interface User {
  model: ModelRecord;
  /** A write that would make the model use the dataset is in flight. */
  pending: boolean;
}

/** The models that use `datasetId`, or are being written to use it, from its references, checked. */
async function modelsUsing(datasetId: string): Promise<User[]> {
  const refs: ModelRefRecord[] = [];
  let start: Record<string, unknown> | undefined;
  do {
    const page = await query({ ...modelRefsOfDataset(datasetId), ExclusiveStartKey: start });
    refs.push(...(page.items as unknown as ModelRefRecord[]));
    start = page.lastKey;
  } while (start);
  if (refs.length === 0) return [];
  const models = new Map(((await batchGetItems(refs.map((r) => modelKey(r.modelId)))) as unknown as ModelRecord[]).map((m) => [m.id, m]));
  return refs.flatMap((ref): User[] => {
    const model = models.get(ref.modelId);
    if (!model) return []; // the model is gone: the reference is stale
    if (datasetsOfModel(model).has(datasetId)) return [{ model, pending: false }];
    if ([...(ref.pending ?? [])].some(isLive)) return [{ model, pending: true }];
    return []; // the write that made it failed, or a later one dropped the dataset
  });
}

/**
 * The dataset DELETE's hook (resources.ts): claim the dataset, refuse with a 409 naming the models that
 * use it, or answer the condition the delete must meet (the claim is still this DELETE's) and how to let
 * the claim go if the delete fails after all.
 */
export async function claimUnusedForDelete(dataset: DatasetRecord): Promise<{ condition: WriteCondition; release: () => Promise<void> }> {
  const until = Date.now() + CLAIM_MS;
  const names = { '#deletingUntil': 'deletingUntil' };
  // A conditional-check failure here is the dataset changing meanwhile: the caller answers 412 / 409.
  await updateItem(datasetKey(dataset.id), {
    UpdateExpression: 'SET #deletingUntil = :until',
    ConditionExpression: '#revision = :expected',
    ExpressionAttributeNames: { ...names, '#revision': 'revision' },
    ExpressionAttributeValues: { ':until': until, ':expected': dataset.revision },
  });
  const release = () =>
    updateItem(datasetKey(dataset.id), {
      UpdateExpression: 'REMOVE #deletingUntil',
      ConditionExpression: '#deletingUntil = :until',
      ExpressionAttributeNames: names,
      ExpressionAttributeValues: { ':until': until },
      // Another DELETE's claim, or the dataset is gone: nothing of ours to let go; any other failure only
      // leaves the claim to run out.
    }).then(
      () => undefined,
      () => undefined,
    );
  try {
    let users = await modelsUsing(dataset.id);
    // Only writes in flight: they see the claim and give up (or land, and then they are users), so wait
    // for them a moment rather than refuse on their account.
    for (let waited = 0; users.length && users.every((u) => u.pending) && waited < PENDING_WAIT_MS; waited += PENDING_POLL_MS) {
      await new Promise((resolve) => setTimeout(resolve, PENDING_POLL_MS));
      users = await modelsUsing(dataset.id);
    }
    if (users.length) throw usedBy(users);
    if (Date.now() > until - CLAIM_MARGIN_MS) throw new Conflict('checking which models use the dataset took too long; retry');
  } catch (error) {
    await release();
    throw error;
  }
  return { condition: { expression: '#deletingUntil = :claim', ExpressionAttributeNames: names, ExpressionAttributeValues: { ':claim': until } }, release };
}

function usedBy(users: User[]): Conflict {
  const named = users.slice(0, MAX_NAMED).map(({ model }) => `"${model.name}" (${model.id})`);
  const more = users.length > MAX_NAMED ? ` and ${users.length - MAX_NAMED} more` : '';
  const message = users.length === 1 ? `the dataset is used by model ${named[0]}` : `the dataset is used by ${users.length} models: ${named.join(', ')}${more}`;
  return new Conflict(
    `${message}; take it out of ${users.length === 1 ? 'that model' : 'those models'} (or delete ${users.length === 1 ? 'it' : 'them'}) first`,
    users.slice(0, 100).map(({ model, pending }) => ({
      path: ['model', model.id],
      message: pending ? `model "${model.name}" is being changed to use this dataset` : `model "${model.name}" uses this dataset`,
      code: 'dataset_in_use',
    })),
  );
}

/** Every model field that names a dataset, with the paths clients wrote them at. */
export function datasetUsesOf(
  m: Pick<
    ModelRecord,
    | 'trainDatasets'
    | 'trainDatasetVersions'
    | 'evalDataset'
    | 'evalDatasetVersion'
    | 'inferenceDataset'
    | 'inferenceDatasetVersion'
    | 'calibrationDataset'
    | 'calibrationDatasetVersion'
  >,
): DatasetUse[] {
  const uses: DatasetUse[] = m.trainDatasets.map((datasetId, i) => ({ path: ['body', 'train_datasets', i], datasetId }));
  for (const [datasetId, versionId] of Object.entries(m.trainDatasetVersions)) {
    uses.push({ path: ['body', 'train_dataset_versions', datasetId], datasetId, versionId });
  }
  const roles = [
    ['eval', m.evalDataset, m.evalDatasetVersion],
    ['inference', m.inferenceDataset, m.inferenceDatasetVersion],
    ['calibration', m.calibrationDataset, m.calibrationDatasetVersion],
  ] as const;
  for (const [role, datasetId, versionId] of roles) {
    if (!datasetId) continue;
    uses.push({ path: ['body', `${role}_dataset`], datasetId });
    if (versionId) uses.push({ path: ['body', `${role}_dataset_version`], datasetId, versionId });
  }
  return uses;
}
