import type { Caller } from './caller';
import { type DatasetHold, datasetUsesOf, releaseDatasets, useDatasets } from './dataset-usage';
import { datasetsOfModel, type ModelRecord } from './entities/model';
import type { OwnedRecord } from './entities/owned';
import { isConditionalCheckFailure } from './dynamo';
import { Conflict, type ErrorDetail, Forbidden, Unprocessable } from './errors';
import type { Page } from './pagination';
import { removeEndedJobsOf } from './job-cleanup';
import { cancelLiveJobs } from './jobs';
import { changeOwned, createOwned, deleteOwned, listOwned, loadOwned } from './resources';
import type { Model, ModelCreate, ModelListQuery, ModelPatch, ModelReplace } from './schemas/model';

/**
 * Models (TAO): the same machinery as datasets (resources.ts), plus what a model adds: the datasets it
 * names (checked to be the caller's, and recorded so that a dataset in use cannot be deleted:
 * dataset-usage.ts), TAO's read_only, and an encryption_key that is accepted but never kept or answered.
 */
type ModelFields = Omit<ModelRecord, keyof OwnedRecord> & Pick<ModelRecord, 'name'>;

const DEFAULT_VERSION = '1.0.0';
const ROLES = ['eval', 'inference', 'calibration'] as const;

const datasetField = { eval: 'evalDataset', inference: 'inferenceDataset', calibration: 'calibrationDataset' } as const;
const versionField = { eval: 'evalDatasetVersion', inference: 'inferenceDatasetVersion', calibration: 'calibrationDatasetVersion' } as const;

function toModel(r: ModelRecord): Model {
  return {
    id: r.id,
    user_id: r.ownerId,
    name: r.name,
    description: r.description,
    version: r.version,
    logo: r.logo,
    network_arch: r.networkArch as Model['network_arch'],
    encryption_key_set: r.encryptionKeySet,
    ptm: r.ptm,
    checkpoint_choose_method: r.checkpointChooseMethod as Model['checkpoint_choose_method'],
    checkpoint_epoch_number: r.checkpointEpochNumber,
    train_datasets: r.trainDatasets,
    train_dataset_versions: r.trainDatasetVersions,
    eval_dataset: r.evalDataset,
    eval_dataset_version: r.evalDatasetVersion,
    inference_dataset: r.inferenceDataset,
    inference_dataset_version: r.inferenceDatasetVersion,
    calibration_dataset: r.calibrationDataset,
    calibration_dataset_version: r.calibrationDatasetVersion,
    read_only: r.readOnly,
    tags: r.tags,
    artifacts: r.artifacts ?? {},
    revision: r.revision,
    created_on: r.createdOn,
    last_modified: r.lastModified,
  };
}

/** A new model's fields before the request's: what POST, and PUT for what it omits, start from. */
function defaults(id: string, networkArch: string): ModelFields {
  return {
    name: `model-${id.slice(0, 8)}`,
    description: '',
    version: DEFAULT_VERSION,
    logo: '',
    networkArch,
    encryptionKeySet: false,
    ptm: [],
    checkpointChooseMethod: 'best_model',
    checkpointEpochNumber: {},
    trainDatasets: [],
    trainDatasetVersions: {},
    evalDataset: null,
    evalDatasetVersion: null,
    inferenceDataset: null,
    inferenceDatasetVersion: null,
    calibrationDataset: null,
    calibrationDatasetVersion: null,
    readOnly: false,
    tags: [],
  };
}

/**
 * `base` with the fields `input` names. A dataset field keeps its pinned version while it names the same
 * dataset, and drops it when it names another (unless the request pins one too); train_dataset_versions
 * keeps only the train datasets that remain.
 */
function apply(base: ModelFields, input: ModelPatch): ModelFields {
  const trainDatasets = input.train_datasets ?? base.trainDatasets;
  const next: ModelFields = {
    name: input.name ?? base.name,
    description: input.description ?? base.description,
    version: input.version ?? base.version,
    logo: input.logo ?? base.logo,
    networkArch: input.network_arch ?? base.networkArch,
    encryptionKeySet: input.encryption_key === undefined ? base.encryptionKeySet : input.encryption_key !== null,
    ptm: input.ptm ?? base.ptm,
    checkpointChooseMethod: input.checkpoint_choose_method ?? base.checkpointChooseMethod,
    checkpointEpochNumber: input.checkpoint_epoch_number ?? base.checkpointEpochNumber,
    trainDatasets,
    trainDatasetVersions: input.train_dataset_versions ?? Object.fromEntries(Object.entries(base.trainDatasetVersions).filter(([id]) => trainDatasets.includes(id))),
    evalDataset: base.evalDataset,
    evalDatasetVersion: base.evalDatasetVersion,
    inferenceDataset: base.inferenceDataset,
    inferenceDatasetVersion: base.inferenceDatasetVersion,
    calibrationDataset: base.calibrationDataset,
    calibrationDatasetVersion: base.calibrationDatasetVersion,
    readOnly: input.read_only ?? base.readOnly,
    tags: input.tags ?? base.tags,
  };
  for (const role of ROLES) {
    const dataset = input[`${role}_dataset`];
    const version = input[`${role}_dataset_version`];
    if (dataset !== undefined) {
      next[versionField[role]] = version !== undefined ? version : dataset === base[datasetField[role]] ? base[versionField[role]] : null;
      next[datasetField[role]] = dataset;
    } else if (version !== undefined) {
      next[versionField[role]] = version;
    }
  }
  return next;
}

/** What the fields say together: a version pins a dataset the model names. 422 otherwise (nothing is stored). */
function checkConsistent(fields: ModelFields): void {
  const details: ErrorDetail[] = [];
  for (const datasetId of Object.keys(fields.trainDatasetVersions)) {
    if (!fields.trainDatasets.includes(datasetId)) {
      details.push({ path: ['body', 'train_dataset_versions', datasetId], message: `dataset ${datasetId} is not one of train_datasets`, code: 'not_a_train_dataset' });
    }
  }
  for (const role of ROLES) {
    if (fields[versionField[role]] && !fields[datasetField[role]]) {
      details.push({ path: ['body', `${role}_dataset_version`], message: `pins a version of ${role}_dataset, which is not set`, code: 'no_dataset' });
    }
  }
  if (details.length) throw new Unprocessable(`${details[0]!.path!.join('.')}: ${details[0]!.message}`, details);
}

/**
 * Check what `fields` newly names (datasets `current` did not use, versions it did not pin) and hold the
 * datasets it starts using until the model write is done (dataset-usage.ts).
 */
async function holdDatasets(ownerId: string, modelId: string, revision: number, fields: ModelFields, current?: ModelRecord): Promise<DatasetHold> {
  checkConsistent(fields);
  const before = current ? datasetsOfModel(current) : new Set<string>();
  const pinnedBefore = new Set(current ? datasetUsesOf(current).filter((u) => u.versionId).map((u) => `${u.datasetId}/${u.versionId}`) : []);
  const fresh = datasetUsesOf(fields).filter((u) => (u.versionId ? !pinnedBefore.has(`${u.datasetId}/${u.versionId}`) : !before.has(u.datasetId)));
  const added = [...datasetsOfModel(fields)].filter((id) => !before.has(id));
  return useDatasets(ownerId, modelId, revision, fresh, added, current);
}

/**
 * Create a model in a user's namespace: `network_arch` is enough. The datasets it names must be the
 * namespace's own (422 naming each field that is not; nothing is stored then).
 */
export async function createModel(caller: Caller, ownerId: string, input: ModelCreate): Promise<Model> {
  const holds: DatasetHold[] = [];
  try {
    const record = await createOwned<ModelRecord>('model', caller, ownerId, async (id, now) => {
      const fields = apply(defaults(id, input.network_arch), input);
      holds.push(await holdDatasets(ownerId, id, 1, fields));
      return { id, ownerId, ...fields, revision: 1, createdOn: now, lastModified: now };
    });
    return toModel(record);
  } catch (error) {
    // The fresh id's key was taken: a dataset DELETE fenced this creation out (dataset-usage.ts).
    if (isConditionalCheckFailure(error)) throw new Conflict('a dataset the model names was being deleted meanwhile; retry');
    throw error;
  } finally {
    await Promise.all(holds.map((h) => h.end()));
  }
}

/** Read one model; one outside the caller's reach, or in another namespace than the path names, is "not found". */
export async function getModel(caller: Caller, ownerId: string, id: string): Promise<Model> {
  return toModel(await loadModel(caller, ownerId, id));
}

/** The model as stored, if the caller may reach it: what other use cases (specs, jobs) start from. */
export async function loadModel(caller: Caller, ownerId: string, id: string): Promise<ModelRecord> {
  return loadOwned<ModelRecord>('model', caller, ownerId, id);
}

/** List models with TAO's skip/size/sort and filters (name, arch, read_only, tag) and a signed cursor. */
export async function listModels(caller: Caller, ownerId: string, query: ModelListQuery): Promise<Page<Model>> {
  const page = await listOwned<ModelRecord>('model', caller, ownerId, query, {
    equals: { networkArch: query.arch ?? query.network_arch, readOnly: query.read_only },
    name: query.name,
    tag: query.tag,
  });
  return { ...page, items: page.items.map(toModel) };
}

/**
 * Replace a model's editable fields (PUT): omitted optional fields return to their defaults, except the
 * encryption key, which is kept unless the request gives one (or null): it is never answered, so a client
 * could not send it back.
 */
export async function replaceModel(caller: Caller, ownerId: string, id: string, input: ModelReplace, ifMatch?: string): Promise<Model> {
  return changeModel(caller, ownerId, id, ifMatch, (current) => {
    if (current.readOnly) throw readOnly();
    return apply({ ...defaults(id, input.network_arch), encryptionKeySet: current.encryptionKeySet }, input);
  });
}

/**
 * Change the fields a PATCH names, nothing else: how TAO clients attach datasets. A read-only model takes
 * only `{"read_only": false}`.
 */
export async function updateModel(caller: Caller, ownerId: string, id: string, input: ModelPatch, ifMatch?: string): Promise<Model> {
  return changeModel(caller, ownerId, id, ifMatch, (current) => {
    const unlocks = Object.keys(input).length === 1 && input.read_only === false;
    if (current.readOnly && !unlocks) throw readOnly();
    return apply(current, input);
  });
}

const readOnly = () => new Forbidden('the model is read-only: PATCH {"read_only": false} first');

/**
 * The shared revision-guarded change (resources.ts), with the datasets the new fields start using held
 * for the write, and the references of those they stop using released after it.
 */
async function changeModel(
  caller: Caller,
  ownerId: string,
  id: string,
  ifMatch: string | undefined,
  change: (current: ModelRecord) => ModelFields,
): Promise<Model> {
  const holds: DatasetHold[] = [];
  try {
    const updated = await changeOwned<ModelRecord>(
      'model',
      caller,
      ownerId,
      id,
      ifMatch,
      async (current) => {
        const fields = change(current);
        holds.push(await holdDatasets(ownerId, id, current.revision + 1, fields, current));
        return fields;
      },
      {
        // This attempt's hold: the model is written only if no dataset DELETE fenced it since it was read.
        condition: () => holds.at(-1)?.condition,
        after: async (before, after) => {
          const still = datasetsOfModel(after);
          await releaseDatasets(id, after.revision, [...datasetsOfModel(before)].filter((d) => !still.has(d)));
        },
      },
    );
    return toModel(updated);
  } finally {
    await Promise.all(holds.map((h) => h.end()));
  }
}

/**
 * Delete a model and answer it as it was; a read-only one answers 403. Its live jobs are canceled first;
 * its datasets' references go after it.
 */
export async function deleteModel(caller: Caller, ownerId: string, id: string, ifMatch?: string): Promise<Model> {
  const deleted = await deleteOwned<ModelRecord>('model', caller, ownerId, id, ifMatch, {
    prepare: async (current) => {
      if (current.readOnly) throw readOnly();
      await cancelLiveJobs('model', current.id, `its model ${current.id} was deleted`);
    },
    after: async (model) => {
      await releaseDatasets(id, undefined, [...datasetsOfModel(model)]);
      await removeEndedJobsOf('model', id); // those still stopping go when they end
    },
  });
  return toModel(deleted);
}
