import { Logger } from '@aws-lambda-powertools/logger';
import * as z from 'zod';
import { config } from './config';
import { getItem, isConditionalCheckFailure, updateItem } from './dynamo';
import { type DatasetRecord, datasetKey } from './entities/dataset';
import { type JobRecord, jobKey } from './entities/job';
import { type ModelArtifact, modelKey, type ModelRecord } from './entities/model';
import { sampleKey } from './entities/sample';
import { LabelName } from './schemas/sample';
import { type VersionRecord, versionKey } from './entities/version';
import { mapLimited } from './concurrency';
import { putObject, readJsonObject, readObject } from './s3';
import { freezeVersion } from './versions';

/**
 * The orchestrator's side of model jobs: which dataset versions and which trained model a job reads
 * (written for the worker as jobs/{id}/inputs.json, worker/ml/inputs.ts), and what a finished job leaves
 * behind: the trained or exported model recorded on the model resource, auto-labels written back to
 * samples as pending annotations.
 */
type Role = 'train' | 'eval' | 'inference';

/** The datasets each model action reads. export checks itself on the eval images, else the train ones. */
export const ROLES_OF: Record<string, Role[]> = {
  train: ['train'],
  retrain: ['train'],
  evaluate: ['eval'],
  prune: [],
  export: ['eval', 'train'],
  inference: ['inference'],
  generate: ['inference'],
};

/** Actions whose output (artifacts/model/) is a model later actions can start from. */
export const MODEL_MAKERS = ['train', 'retrain', 'prune'];

/** The datasets a model names for a role, with their pinned versions. */
function datasetsOf(model: ModelRecord, role: Role): { datasetId: string; versionId: string | null }[] {
  if (role === 'train') return model.trainDatasets.map((id) => ({ datasetId: id, versionId: model.trainDatasetVersions[id] ?? null }));
  const id = role === 'eval' ? model.evalDataset : model.inferenceDataset;
  const version = role === 'eval' ? model.evalDatasetVersion : model.inferenceDatasetVersion;
  return id ? [{ datasetId: id, versionId: version }] : [];
}

/** What a model must name before an action can run on it: a 422 at submission names what is missing. */
export function missingFor(model: ModelRecord, action: string): string | undefined {
  if (action === 'train' || action === 'retrain') return model.trainDatasets.length ? undefined : 'train_datasets';
  if (action === 'evaluate') return model.evalDataset ? undefined : 'eval_dataset';
  if (action === 'inference' || action === 'generate') return model.inferenceDataset ? undefined : 'inference_dataset';
  return undefined;
}

async function loadJob(id: string): Promise<JobRecord | undefined> {
  return (await getItem(jobKey(id), true)) as JobRecord | undefined;
}

/**
 * The model a job starts from: the nearest ancestor job that made one, else (when no ancestor makes
 * models) the one recorded on the model. An ancestor that is gone, or a maker that did not finish, is an
 * error rather than a quiet switch to some other model.
 */
async function sourceOf(job: JobRecord, model: ModelRecord): Promise<{ job_id: string; action: string; prefix: string } | null> {
  const seen = new Set<string>();
  for (let id = job.parentId; id && !seen.has(id); ) {
    seen.add(id);
    const ancestor = await loadJob(id);
    if (!ancestor) throw new NotRunnableInput(`its parent chain names job ${id}, which no longer exists`);
    if (ancestor.kind === 'model' && ancestor.resourceId === model.id && MODEL_MAKERS.includes(ancestor.action)) {
      if (ancestor.status !== 'Done') throw new NotRunnableInput(`the ${ancestor.action} job ${ancestor.id} it starts from is ${ancestor.status}, not Done`);
      return { job_id: ancestor.id, action: ancestor.action, prefix: `jobs/${ancestor.id}/artifacts/model/` };
    }
    id = ancestor.parentId;
  }
  const recorded = model.artifacts?.tfjs;
  return recorded ? { job_id: recorded.job_id, action: recorded.action, prefix: recorded.key } : null;
}

export class NotRunnableInput extends Error {}

const logger = new Logger({ serviceName: 'trainyard' });

export interface ModelInputs {
  model_id: string;
  network_arch: string;
  checkpoint_choose_method: string;
  datasets: { role: Role; dataset_id: string; version_id: string; prefix: string; manifest: string; manifest_sha256: string }[];
  source: { job_id: string; action: string; prefix: string } | null;
}

/**
 * Pin the inputs of a model job and write them at {out}inputs.json: each dataset at its pinned version
 * or, unless pinned, a version frozen now; the model to start from. They are kept on the job record too
 * (the worker can write under jobs/, so the server never reads them back from there): a resumed job
 * gets the inputs of its first run, and generate's write-back trusts only the record.
 */
export async function prepareModelInputs(job: JobRecord, out: string): Promise<{ key: string; inputs: ModelInputs }> {
  const key = `${out}inputs.json`;
  const inputs = job.modelInputs ?? (await pinModelInputs(job));
  await putObject(key, Buffer.from(JSON.stringify(inputs, null, 2)), 'application/json');
  return { key, inputs };
}

async function pinModelInputs(job: JobRecord): Promise<ModelInputs> {
  const model = (await getItem(modelKey(job.resourceId), true)) as ModelRecord | undefined;
  if (!model) throw new NotRunnableInput('its model was deleted');
  const datasets: ModelInputs['datasets'] = [];
  const roles = ROLES_OF[job.action] ?? [];
  // export reads the first role that the model names (eval, else train).
  const wanted = job.action === 'export' ? roles.filter((r) => datasetsOf(model, r).length).slice(0, 1) : roles;
  for (const role of wanted) {
    for (const { datasetId, versionId } of datasetsOf(model, role)) {
      const dataset = (await getItem(datasetKey(datasetId))) as DatasetRecord | undefined;
      if (!dataset || dataset.ownerId !== model.ownerId) throw new NotRunnableInput(`its ${role} dataset ${datasetId} no longer exists`);
      const version = versionId
        ? ((await getItem(versionKey(datasetId, versionId), true)) as VersionRecord | undefined)
        : await freezeVersion(dataset, { name: `for job ${job.id.slice(0, 8)} (${job.action})`, description: `frozen when model job ${job.id} started` });
      if (!version) throw new NotRunnableInput(`the pinned version ${versionId} of its ${role} dataset ${datasetId} no longer exists`);
      datasets.push({ role, dataset_id: datasetId, version_id: version.id, prefix: `u/${dataset.ownerId}/dataset/${dataset.id}/`, manifest: version.manifestKey, manifest_sha256: version.manifestSha256 });
    }
  }
  const source = job.action === 'train' ? null : await sourceOf(job, model);
  if (job.action !== 'train' && !source) throw new NotRunnableInput(`${job.action} needs a trained model: run train first (or give a parent job that made one)`);
  return { model_id: model.id, network_arch: model.networkArch, checkpoint_choose_method: model.checkpointChooseMethod, datasets, source };
}

/** The fields of a model's trainyard.json that the server records (the file is the worker's: checked, never trusted). */
const ModelMetaFile = z.object({
  labels: z.array(LabelName).min(1).max(10_000),
  image_size: z.number().int().positive(),
  network_arch: z.string().min(1).max(64),
  metrics: z.record(z.string().max(64), z.number()),
  sparsity: z.number().min(0).max(1).optional(),
  epochs_trained: z.number().int().nonnegative(),
});

/** The fields of an export's export.json that the server records. */
const ExportReportFile = z.object({
  labels: z.array(LabelName).min(1).max(10_000),
  image_size: z.number().int().positive(),
  bytes: z.number().int().positive(),
  check: z.object({ top1_agreement: z.number().min(0).max(1), max_probability_difference: z.number().nonnegative(), images: z.number().int().nonnegative() }),
});

/** After a model job is Done: record its model on the model resource, or write its auto-labels back. */
export async function recordModelJobOutput(job: JobRecord): Promise<void> {
  const out = `jobs/${job.id}/`;
  const now = new Date().toISOString();
  const { bucketName } = config();
  if (MODEL_MAKERS.includes(job.action)) {
    const parsed = ModelMetaFile.safeParse(await readJsonObject(`${out}artifacts/model/trainyard.json`));
    if (!parsed.success) {
      logger.warn('model not recorded: its trainyard.json is missing or malformed', { jobId: job.id });
      return;
    }
    const meta = parsed.data;
    await recordArtifact(job.resourceId, 'tfjs', {
      format: 'tfjs', framework: 'tensorflow.js', uri: `s3://${bucketName}/${out}artifacts/model/model.json`, key: `${out}artifacts/model/`,
      job_id: job.id, action: job.action, parent_job_id: job.modelInputs?.source?.job_id ?? null, network_arch: meta.network_arch, labels: meta.labels, image_size: meta.image_size,
      metrics: { ...meta.metrics, epochs: meta.epochs_trained, ...(meta.sparsity !== undefined ? { sparsity: meta.sparsity } : {}) }, created_on: now,
    });
  } else if (job.action === 'export') {
    const parsed = ExportReportFile.safeParse(await readJsonObject(`${out}artifacts/export.json`));
    const model = (await getItem(modelKey(job.resourceId), true)) as ModelRecord | undefined;
    if (!parsed.success) logger.warn('export not recorded: its export.json is missing or malformed', { jobId: job.id });
    if (!parsed.success || !model) return;
    const report = parsed.data;
    await recordArtifact(job.resourceId, 'onnx', {
      format: 'onnx', framework: 'onnx', uri: `s3://${bucketName}/${out}artifacts/model.onnx`, key: `${out}artifacts/model.onnx`,
      job_id: job.id, action: job.action, parent_job_id: job.modelInputs?.source?.job_id ?? null, network_arch: model.networkArch, labels: report.labels, image_size: report.image_size,
      metrics: { bytes: report.bytes, top1_agreement: report.check.top1_agreement, max_probability_difference: report.check.max_probability_difference, checked_images: report.check.images }, created_on: now,
    });
  } else if (job.action === 'generate') {
    await writePendingAnnotations(job);
  }
}

async function recordArtifact(modelId: string, format: 'tfjs' | 'onnx', artifact: ModelArtifact): Promise<void> {
  for (let attempt = 0; attempt < 10; attempt++) {
    const model = (await getItem(modelKey(modelId), true)) as ModelRecord | undefined;
    if (!model) return;
    try {
      await updateItem(modelKey(modelId), {
        UpdateExpression: 'SET #artifacts = :artifacts, #lastModified = :now ADD #revision :one',
        ConditionExpression: '#revision = :expected',
        ExpressionAttributeNames: { '#artifacts': 'artifacts', '#lastModified': 'lastModified', '#revision': 'revision' },
        ExpressionAttributeValues: { ':artifacts': { ...model.artifacts, [format]: artifact }, ':now': artifact.created_on, ':one': 1, ':expected': model.revision },
      });
      return;
    } catch (error) {
      if (!isConditionalCheckFailure(error)) throw error;
    }
  }
  throw new Error(`model ${modelId} kept changing: its ${format} artifact was not recorded`);
}

/** One line of generate's auto_labels.jsonl, as the server accepts it (the file is the worker's: checked, never trusted). */
const AutoLabelLine = z.object({
  sample_id: z.string().min(1).max(512),
  dataset_id: z.string().min(1).max(64),
  label: LabelName,
  confidence: z.number().min(0).max(1),
});
type AutoLabel = z.infer<typeof AutoLabelLine>;

function autoLabelOf(line: string): AutoLabel | undefined {
  try {
    const parsed = AutoLabelLine.safeParse(JSON.parse(line));
    return parsed.success ? parsed.data : undefined;
  } catch {
    return undefined;
  }
}

/**
 * generate's artifacts/auto_labels.jsonl becomes pending annotations on the samples still unlabelled,
 * only in the dataset the job was given (as its record says; the worker's files are not trusted for
 * that): a line naming anything else is ignored. A person accepts or rejects them later (PATCH the sample's review_state).
 */
async function writePendingAnnotations(job: JobRecord): Promise<void> {
  const out = `jobs/${job.id}/`;
  const allowed = new Set(job.modelInputs?.datasets.map((d) => d.dataset_id) ?? []);
  let text: string;
  try {
    text = (await readObject(`${out}artifacts/auto_labels.jsonl`)).toString('utf8');
  } catch {
    return;
  }
  const lines = text.split('\n').filter(Boolean).map(autoLabelOf);
  const wanted = lines.filter((l): l is AutoLabel => l !== undefined && allowed.has(l.dataset_id));
  const skipped = lines.length - wanted.length;
  if (skipped) logger.warn('auto-label lines skipped', { jobId: job.id, skipped, of: lines.length });
  const now = new Date().toISOString();
  await mapLimited(wanted, 16, async (line) => {
    try {
      await updateItem(sampleKey(line.dataset_id, line.sample_id), {
        UpdateExpression: 'SET #pending = :pending, #from = :job, #lastModified = :now ADD #revision :one',
        // Only samples still unlabelled: a person's labels always win over a model's guess.
        ConditionExpression: 'attribute_exists(pk) AND size(#labels) = :zero',
        ExpressionAttributeNames: { '#pending': 'pendingAnnotations', '#from': 'pendingFromJob', '#lastModified': 'lastModified', '#revision': 'revision', '#labels': 'labels' },
        ExpressionAttributeValues: { ':pending': [{ label: line.label, confidence: line.confidence }], ':job': job.id, ':now': now, ':one': 1, ':zero': 0 },
      });
    } catch (error) {
      if (!isConditionalCheckFailure(error)) throw error;
    }
  });
}
