import type { Caller } from './caller';
import { mapLimited } from './concurrency';
import { loadDataset } from './datasets';
import { deleteItem, getItem, isConditionalCheckFailure, putItem, queryPages, updateItem, writeTogether } from './dynamo';
import { labelItem, labelKey, type LabelRecord, labelsOfDataset } from './entities/label';
import { countSamples, sampleKey, type SampleRecord, samplesOfDataset } from './entities/sample';
import { Conflict, type DomainError, NotFound } from './errors';
import { type Page, readPage } from './pagination';
import { changeSample } from './samples';
import type { Annotation, Label, LabelBatchDelete, LabelBatchRename, LabelBatchResult, LabelCreate, LabelPatch } from './schemas/sample';

/**
 * A dataset's labels (its class list). Annotations name labels; a label named by an annotation that
 * arrives (import, manual labeling, folders) joins the list by itself. Renaming or deleting a label
 * rewrites every sample that carries it, and the model guesses (pending annotations) that name it, so the
 * list and the samples never disagree.
 */
const IN_FLIGHT = 16;
const RETRIES = 3;

const toLabel = (r: LabelRecord): Label => ({ name: r.name, ...(r.color ? { color: r.color } : {}), created_on: r.createdOn });

/** Add the labels not yet on the list (a concurrent add of the same name is fine). */
export async function ensureLabels(datasetId: string, names: string[]): Promise<void> {
  if (names.length === 0) return;
  const known = new Set<string>();
  for await (const page of queryPages(labelsOfDataset(datasetId))) for (const item of page) known.add(String(item.name));
  const createdOn = new Date().toISOString();
  await mapLimited(
    names.filter((name) => !known.has(name)),
    IN_FLIGHT,
    (name) => putItem(labelItem({ datasetId, name, createdOn }), { ConditionExpression: 'attribute_not_exists(pk)' }).catch(ignoreExisting),
  );
}

function ignoreExisting(error: unknown): void {
  if (!isConditionalCheckFailure(error)) throw error;
}

export async function listLabels(caller: Caller, ownerId: string, datasetId: string, request: { size: number; skip: number; cursor?: string }): Promise<Page<Label>> {
  await loadDataset(caller, ownerId, datasetId);
  const page = await readPage(labelsOfDataset(datasetId), request, { callerId: caller.userId, query: { ns: ownerId, kind: 'label', dataset: datasetId } });
  return { ...page, items: (page.items as unknown as LabelRecord[]).map(toLabel) };
}

export async function createLabel(caller: Caller, ownerId: string, datasetId: string, input: LabelCreate): Promise<Label> {
  await loadDataset(caller, ownerId, datasetId);
  const record: LabelRecord = { datasetId, name: input.name, ...(input.color ? { color: input.color } : {}), createdOn: new Date().toISOString() };
  try {
    await putItem(labelItem(record), { ConditionExpression: 'attribute_not_exists(pk)' });
  } catch (error) {
    if (isConditionalCheckFailure(error)) throw new Conflict(`the dataset already has a label named ${input.name}`);
    throw error;
  }
  return toLabel(record);
}

async function loadLabel(datasetId: string, name: string): Promise<LabelRecord> {
  const record = (await getItem(labelKey(datasetId, name), true)) as LabelRecord | undefined;
  if (!record) throw new NotFound('label');
  return record;
}

/** Rename (every sample carrying the label follows) and/or recolour a label. */
export async function updateLabel(caller: Caller, ownerId: string, datasetId: string, name: string, patch: LabelPatch): Promise<Label> {
  await loadDataset(caller, ownerId, datasetId);
  const current = await loadLabel(datasetId, name);
  const color = patch.color ?? current.color;
  if (!patch.name || patch.name === name) {
    if (color === undefined) return toLabel(current); // its own name and no colour: nothing to change
    const updated = await updateItem(labelKey(datasetId, name), {
      UpdateExpression: 'SET #color = :color',
      ConditionExpression: 'attribute_exists(pk)',
      ExpressionAttributeNames: { '#color': 'color' },
      ExpressionAttributeValues: { ':color': color },
    });
    return toLabel(updated as unknown as LabelRecord);
  }
  return toLabel((await renameLabel(datasetId, current, patch.name, color)).label);
}

async function renameLabel(datasetId: string, current: LabelRecord, newName: string, color?: string): Promise<{ label: LabelRecord; samples: number }> {
  // Only the record's own fields: the stored item's pk/sk would otherwise put the new label at the old key.
  const renamed: LabelRecord = { datasetId, name: newName, ...(color ? { color } : {}), createdOn: current.createdOn };
  try {
    await putItem(labelItem(renamed), { ConditionExpression: 'attribute_not_exists(pk)' });
  } catch (error) {
    if (isConditionalCheckFailure(error)) throw new Conflict(`the dataset already has a label named ${newName}`);
    throw error;
  }
  const samples = await rewriteSamplesWith(datasetId, current.name, (annotations) =>
    annotations.map((a) => (a.label === current.name ? { ...a, label: newName } : a)),
  );
  await rewritePendingWith(datasetId, current.name, (pending) => pending.map((p) => (p.label === current.name ? { ...p, label: newName } : p)));
  await deleteItem(labelKey(datasetId, current.name));
  return { label: renamed, samples };
}

/** Delete a label: its annotations leave every sample, or with `deleteSamples` those samples go. */
export async function deleteLabel(caller: Caller, ownerId: string, datasetId: string, name: string, deleteSamples: boolean): Promise<Label> {
  await loadDataset(caller, ownerId, datasetId);
  const current = await loadLabel(datasetId, name);
  await removeLabel(datasetId, current, deleteSamples);
  return toLabel(current);
}

async function removeLabel(datasetId: string, label: LabelRecord, deleteSamples: boolean): Promise<number> {
  const samples = deleteSamples
    ? await forEachSampleWith(datasetId, label.name, async (sample) => {
        await writeTogether([{ delete: sampleKey(datasetId, sample.id), condition: { ConditionExpression: 'attribute_exists(pk)' } }, countSamples(datasetId, -1)]).catch(ignoreGone);
      })
    : await rewriteSamplesWith(datasetId, label.name, (annotations) => annotations.filter((a) => a.label !== label.name));
  await rewritePendingWith(datasetId, label.name, (pending) => pending.filter((p) => p.label !== label.name));
  await deleteItem(labelKey(datasetId, label.name));
  return samples;
}

function ignoreGone(error: unknown): void {
  if (!isConditionalCheckFailure(error)) throw error;
}

/** Batch rename (ModelArts "modify labels in batches"): each label answers alone. */
export async function renameLabels(caller: Caller, ownerId: string, datasetId: string, input: LabelBatchRename): Promise<LabelBatchResult> {
  await loadDataset(caller, ownerId, datasetId);
  const results = [];
  // One at a time: renames may chain (a → b, then b → c) and must see each other.
  for (const { name, new_name: newName } of input.labels) {
    results.push(
      await labelResult(name, async () => {
        const current = await loadLabel(datasetId, name);
        return newName === name ? 0 : (await renameLabel(datasetId, current, newName, current.color)).samples;
      }),
    );
  }
  return { results };
}

/** Batch delete: each label answers alone, with how many samples it changed (or deleted). */
export async function deleteLabels(caller: Caller, ownerId: string, datasetId: string, input: LabelBatchDelete): Promise<LabelBatchResult> {
  await loadDataset(caller, ownerId, datasetId);
  const results = [];
  for (const name of new Set(input.names)) {
    results.push(await labelResult(name, async () => removeLabel(datasetId, await loadLabel(datasetId, name), input.delete_samples)));
  }
  return { results };
}

async function labelResult(name: string, run: () => Promise<number>): Promise<LabelBatchResult['results'][number]> {
  try {
    return { name, success: true, samples_changed: await run() };
  } catch (error) {
    const status = { not_found: 404, conflict: 409 }[(error as DomainError).code as string];
    if (!status) throw error;
    return { name, success: false, samples_changed: 0, error_code: status, error_msg: (error as Error).message };
  }
}

/** Each sample the filter keeps, IN_FLIGHT at a time; answers how many there were. */
async function forEachSampleWhere(datasetId: string, filter: { expression: string; names: Record<string, string>; values: Record<string, unknown> }, fn: (sample: SampleRecord) => Promise<void>): Promise<number> {
  let count = 0;
  const base = samplesOfDataset(datasetId);
  const kept = queryPages({
    ...base,
    FilterExpression: filter.expression,
    ExpressionAttributeNames: filter.names,
    ExpressionAttributeValues: { ...base.ExpressionAttributeValues, ...filter.values },
  });
  for await (const page of kept) {
    await mapLimited(page as unknown as SampleRecord[], IN_FLIGHT, fn);
    count += page.length;
  }
  return count;
}

/** Each sample carrying `label`. */
const forEachSampleWith = (datasetId: string, label: string, fn: (sample: SampleRecord) => Promise<void>) =>
  forEachSampleWhere(datasetId, { expression: 'contains(#labels, :label)', names: { '#labels': 'labels' }, values: { ':label': label } }, fn);

/**
 * Change one sample at the revision it was read at; a sample edited meanwhile is re-read and, while it
 * still `needs` the change, redone.
 */
async function changeAtRevision(datasetId: string, found: SampleRecord, needs: (sample: SampleRecord) => boolean, change: (sample: SampleRecord) => Promise<unknown>): Promise<void> {
  let sample: SampleRecord | undefined = found;
  for (let attempt = 0; sample && needs(sample) && attempt < RETRIES; attempt++) {
    try {
      await change(sample);
      return;
    } catch (error) {
      if (!isConditionalCheckFailure(error)) throw error;
      sample = (await getItem(sampleKey(datasetId, sample.id), true)) as SampleRecord | undefined;
    }
  }
  if (sample && needs(sample)) throw new Conflict(`sample ${sample.id} kept changing while the label was changed; retry`);
}

/** Rewrite the annotations of each sample carrying `label`. */
function rewriteSamplesWith(datasetId: string, label: string, rewrite: (annotations: Annotation[]) => Annotation[]): Promise<number> {
  return forEachSampleWith(datasetId, label, (found) =>
    changeAtRevision(datasetId, found, () => true, (sample) => changeSample(datasetId, sample.id, { annotations: rewrite(sample.annotations) }, sample.revision)),
  );
}

type Pending = NonNullable<SampleRecord['pendingAnnotations']>;

/**
 * A model's guesses (pending annotations, on unlabelled samples, so the labels filter above does not find
 * them) follow a rename, or leave with a deleted label, so accepting one later never brings the old name
 * back. One labelled meanwhile has no guesses left, so needs nothing.
 */
async function rewritePendingWith(datasetId: string, label: string, rewrite: (pending: Pending) => Pending): Promise<void> {
  const naming = (sample: SampleRecord) => sample.pendingAnnotations?.some((p) => p.label === label) ?? false;
  await forEachSampleWhere(datasetId, { expression: 'size(#pending) > :none', names: { '#pending': 'pendingAnnotations' }, values: { ':none': 0 } }, (found) =>
    changeAtRevision(datasetId, found, naming, (sample) => changeSample(datasetId, sample.id, { pending: rewrite(sample.pendingAnnotations!) }, sample.revision)),
  );
}
