import { randomBytes } from 'node:crypto';
import { batchGetItems, deleteItem, isConditionalCheckFailure, putItem, query, updateItem } from './dynamo';
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
 * by reading the model. Every read here is strongly consistent.
 *
 * It stays exact without multi-item transactions (dynalite has none, and one model may name 103 datasets,
 * past a transaction's 100 items) by ordering the writes on both sides, and by making each side's last
 * write conditional on an item the other side writes, so that no correctness rests on a clock:
 * - a model write that starts using dataset D: read the model (0: its revision and its `datasetFence`),
 *   add a pending mark to the reference (1), check D exists and is not claimed by a DELETE (2: a claim
 *   that ran out is broken, by a conditional write, before going on), write the model on condition that
 *   its revision and its fence are still those read at (0) (3; a new model: that its key is still free),
 *   remove the mark (4);
 * - a DELETE of D: claim D (a), read D's references (b), read each referencing model (c), fence each one
 *   that does not name D (c': set a new `datasetFence` on condition that the revision is still the one
 *   read at (c); a model that does not exist yet gets a tombstone at its key), delete D only if the claim
 *   is still this DELETE's (d). A model that names D refuses the DELETE.
 * If (1) came before (b), the DELETE sees the reference: either (3) came before (c) and the model names D,
 * or (0) came before (c') and (3) fails on the fence (or the revision) and is computed again, now meeting
 * the claim. If (1) came after (b), then (2) came after (a) and sees the claim: the model write is refused,
 * or, if the claim had run out, breaks it, and then (d) fails. Timers only choose who gives up: a DELETE
 * waits PENDING_WAIT_MS for writes in flight (live pending marks) to land, then answers 409 rather than
 * fence them; a mark that ran out (a crashed or stalled write) is fenced; a claim that ran out may be
 * broken; a DELETE acts only with CLAIM_MARGIN_MS of its claim left and a model write only with
 * PENDING_MARGIN_MS of its mark left, answering 409 otherwise.
 */

const CLAIM_MS = 60_000;
const CLAIM_MARGIN_MS = 20_000;
const PENDING_MS = 30_000;
const PENDING_MARGIN_MS = 10_000;
/** How long a DELETE waits for model writes in flight to land or give up, and how often it looks. */
const PENDING_WAIT_MS = 3_000;
const PENDING_POLL_MS = 50;
const IN_FLIGHT = 16;
/** How many times a DELETE reads the references again after a model changed under its fence. */
const FENCE_ROUNDS = 3;
/** The model attribute a dataset DELETE changes to stop writes in flight computed before it (c'). */
const FENCE = 'datasetFence';
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
async function refusals(ownerId: string, uses: readonly DatasetUse[], checkVersions = true, breakLapsedClaims = false): Promise<Refusal[]> {
  if (uses.length === 0) return [];
  const datasetIds = [...new Set(uses.map((u) => u.datasetId))];
  const pinned = checkVersions ? [...new Map(uses.filter((u) => u.versionId).map((u) => [`${u.datasetId}/${u.versionId}`, u])).values()] : [];
  const [datasets, versions] = await Promise.all([
    batchGetItems(datasetIds.map(datasetKey)),
    batchGetItems(pinned.map((u) => versionKey(u.datasetId, u.versionId!))),
  ]);
  const byId = new Map((datasets as unknown as DatasetRecord[]).map((d) => [d.id, d]));
  const broken = new Set<string>();
  if (breakLapsedClaims) {
    // A claim that ran out is broken before a write goes ahead: its DELETE, if it still runs, then fails at (d).
    const lapsed = [...byId.values()].filter((d) => d.ownerId === ownerId && typeof d.deletingUntil === 'number' && !claimed(d));
    await inBatches(lapsed, async (d) => {
      try {
        await updateItem(datasetKey(d.id), {
          UpdateExpression: 'REMOVE #deletingUntil',
          ConditionExpression: '#deletingUntil = :seen',
          ExpressionAttributeNames: { '#deletingUntil': 'deletingUntil' },
          ExpressionAttributeValues: { ':seen': d.deletingUntil },
        });
      } catch (error) {
        if (!isConditionalCheckFailure(error)) throw error;
        broken.add(d.id); // claimed again, or gone: refuse
      }
    });
  }
  const versionIds = new Set((versions as unknown as VersionRecord[]).filter((v) => v.ownerId === ownerId).map((v) => `${v.datasetId}/${v.id}`));
  return uses.flatMap((use) => {
    const dataset = byId.get(use.datasetId);
    const refusal = (message: string, code: string): Refusal[] => [{ use, detail: { path: use.path, message, code } }];
    if (!dataset || dataset.ownerId !== ownerId) return refusal(`no dataset ${use.datasetId} in this namespace`, 'unknown_dataset');
    if (claimed(dataset) || broken.has(dataset.id)) return refusal(`dataset ${use.datasetId} is being deleted`, 'dataset_deleting');
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
  /** What the model write must also meet (3): the model's fence is still the one the write started from. */
  condition?: WriteCondition;
  /** Remove the pending marks (never fails: a mark left behind is read past once the DELETE fenced the model). */
  end(): Promise<void>;
}

const NO_HOLD: DatasetHold = { end: async () => undefined };

/** The fence a stored model carries (none until a dataset DELETE set one). */
const fenceOf = (model: object): string | undefined => (model as { [FENCE]?: string })[FENCE];

/** The condition (3) of a write computed from `current`: no dataset DELETE fenced the model since it was read. */
function fenceCondition(current: object): WriteCondition {
  const fence = fenceOf(current);
  return fence === undefined
    ? { expression: 'attribute_not_exists(#datasetFence)', ExpressionAttributeNames: { '#datasetFence': FENCE } }
    : { expression: '#datasetFence = :datasetFence', ExpressionAttributeNames: { '#datasetFence': FENCE }, ExpressionAttributeValues: { ':datasetFence': fence } };
}

/**
 * Before model `modelId` of `ownerId` is written at `revision` naming what `uses` name: check every use
 * (a refused one is a 422 naming its field, and nothing is written), then mark the reference of each
 * dataset in `added` (those the model did not use before) as pending and check those again, now that a
 * DELETE that has not read the references yet will see the marks (the module comment says why this is
 * exact). The caller writes the model at once, on the hold's condition (a new model: on its key being
 * free), then ends the hold whatever became of the write. `current` is the model as read (strongly
 * consistent) that the write is computed from, undefined for a new one.
 */
export async function useDatasets(
  ownerId: string,
  modelId: string,
  revision: number,
  uses: readonly DatasetUse[],
  added: readonly string[],
  current?: object,
): Promise<DatasetHold> {
  const refused = await refusals(ownerId, uses);
  if (refused.length) refuse(refused);
  if (added.length === 0) return NO_HOLD;
  const expires = Date.now() + PENDING_MS;
  const mark = `${expires}:${randomBytes(8).toString('hex')}`;
  const marked: string[] = [];
  let ended = false;
  const hold: DatasetHold = {
    condition: current ? fenceCondition(current) : undefined,
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
      true,
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

/** A reference whose model does not name the dataset and has no write in flight that is still on time. */
interface Idle {
  modelId: string;
  /** The model's revision as read; undefined when there is no such model (yet). */
  revision?: number;
}

/** The models that use `datasetId`, or are being written to use it, from its references, checked. */
async function modelsUsing(datasetId: string): Promise<{ users: User[]; idle: Idle[] }> {
  const refs: ModelRefRecord[] = [];
  let start: Record<string, unknown> | undefined;
  do {
    const page = await query({ ...modelRefsOfDataset(datasetId), ExclusiveStartKey: start });
    refs.push(...(page.items as unknown as ModelRefRecord[]));
    start = page.lastKey;
  } while (start);
  if (refs.length === 0) return { users: [], idle: [] };
  const models = new Map(((await batchGetItems(refs.map((r) => modelKey(r.modelId)))) as unknown as ModelRecord[]).map((m) => [m.id, m]));
  const users: User[] = [];
  const idle: Idle[] = [];
  for (const ref of refs) {
    const model = models.get(ref.modelId);
    // A model that names the dataset uses it. One being created (no model yet, a live mark) or changed to
    // use it is waited for. Anything else (a failed write, a later one that dropped the dataset, a model
    // deleted, a mark that ran out) is fenced before the DELETE goes ahead: a write still in flight then fails.
    if (model && datasetsOfModel(model).has(datasetId)) users.push({ model, pending: false });
    else if ([...(ref.pending ?? [])].some(isLive)) users.push({ model: model ?? ({ id: ref.modelId, name: ref.modelId } as ModelRecord), pending: true });
    else idle.push({ modelId: ref.modelId, revision: model?.revision });
  }
  return { users, idle };
}

/**
 * Fence the models of idle references (c'): answer false if one changed meanwhile (read them again).
 */
async function fence(idle: readonly Idle[]): Promise<boolean> {
  let held = true;
  const nonce = randomBytes(8).toString('hex');
  await inBatches(idle, async ({ modelId, revision }) => {
    try {
      if (revision === undefined) {
        // No such model: a tombstone at its key, so that a creation still in flight can never be written.
        await putItem({ ...modelKey(modelId), entity: 'modelfence', [FENCE]: nonce }, { ConditionExpression: 'attribute_not_exists(pk)' });
      } else {
        await updateItem(modelKey(modelId), {
          UpdateExpression: 'SET #fence = :fence',
          ConditionExpression: '#revision = :revision',
          ExpressionAttributeNames: { '#fence': FENCE, '#revision': 'revision' },
          ExpressionAttributeValues: { ':fence': nonce, ':revision': revision },
        });
      }
    } catch (error) {
      if (!isConditionalCheckFailure(error)) throw error;
      held = false;
    }
  });
  return held;
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
    for (let round = 0; ; round++) {
      let { users, idle } = await modelsUsing(dataset.id);
      // Only writes in flight: they see the claim and give up (or land, and then they are users), so wait
      // for them a moment rather than refuse on their account. Waiting out the time is giving up: a 409.
      const deadline = Date.now() + PENDING_WAIT_MS;
      while (users.length && users.every((u) => u.pending) && Date.now() < deadline) {
        await new Promise((resolve) => setTimeout(resolve, PENDING_POLL_MS));
        ({ users, idle } = await modelsUsing(dataset.id));
      }
      if (users.length) throw usedBy(users);
      if (await fence(idle)) break;
      if (round + 1 >= FENCE_ROUNDS) throw new Conflict('the models that named the dataset kept changing; retry');
    }
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
