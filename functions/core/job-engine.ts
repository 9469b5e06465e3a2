import { type ActionDef, actionDef } from './actions/catalogue';
import { config } from './config';
import { getItem, isConditionalCheckFailure, putItem, query } from './dynamo';
import type { DatasetRecord } from './entities/dataset';
import { datasetKey } from './entities/dataset';
import { executionNameOf, jobIdOfExecution, jobIndexKeys, jobKey, type JobRecord, type JobResult, type JobStatus, TERMINAL } from './entities/job';
import { type VersionRecord, versionKey } from './entities/version';
import { startExecution } from './orchestration';
import { headObject, putObject, readJsonObject, readObject } from './s3';
import { freezeVersion, storeVersion } from './versions';
import { NotRunnableInput, prepareModelInputs, recordModelJobOutput } from './model-jobs';

/**
 * The jobs engine's side of the workflow (functions/workflow/*, called by Step Functions) and of the
 * compute's events (functions/events/job-state.ts): every job state change is written here, guarded so
 * a terminal state never changes again and a job never claims a state its compute is not in.
 */
export const jobOutputPrefix = (jobId: string) => `jobs/${jobId}/`;

export async function loadJobRecord(jobId: string): Promise<JobRecord | undefined> {
  return (await getItem(jobKey(jobId), true)) as JobRecord | undefined;
}

/**
 * Move a job to `status` (with more fields) if it is in one of `from`; answers the job after, or
 * undefined when it was not in any of them (someone else moved it first).
 */
export async function transition(jobId: string, from: readonly JobStatus[], status: JobStatus, fields: Partial<JobRecord> = {}): Promise<JobRecord | undefined> {
  const current = await loadJobRecord(jobId);
  if (!current || !from.includes(current.status)) return undefined;
  const now = new Date().toISOString();
  const next: JobRecord = { ...current, ...fields, status, revision: current.revision + 1, lastModified: now };
  try {
    // The whole item is rewritten (its live-jobs index entry appears or goes with the status), guarded by the revision.
    await putItem(
      { ...jobKey(jobId), entity: 'job', ...jobIndexKeys(next), ...next },
      { ConditionExpression: '#revision = :expected', ExpressionAttributeNames: { '#revision': 'revision' }, ExpressionAttributeValues: { ':expected': current.revision } },
    );
    return next;
  } catch (error) {
    if (!isConditionalCheckFailure(error)) throw error;
    return transition(jobId, from, status, fields); // changed meanwhile: decide again on the fresh record
  }
}

/** Update fields of a job whatever its state (progress, attempts), unless it is terminal. */
async function amend(jobId: string, fields: Partial<JobRecord>): Promise<void> {
  const current = await loadJobRecord(jobId);
  if (!current || TERMINAL.includes(current.status)) return;
  await transition(jobId, [current.status], current.status, fields);
}

export interface Prepared {
  job_id: string;
  job_name: string;
  job_queue: string;
  job_definition: string;
  timeout_s: number;
  environment: { Name: string; Value: string }[];
}

export class NotRunnable extends Error {
  override name = 'Trainyard.NotRunnable';
}

/**
 * Prepare: the job must still be wanted (Pending); its input is pinned (a dataset job reads a version,
 * frozen now unless it named one), its spec written beside its outputs, and the compute chosen.
 */
export async function prepareJob(jobId: string): Promise<Prepared> {
  const job = await loadJobRecord(jobId);
  if (!job) throw new NotRunnable(`job ${jobId} does not exist`);
  if (job.status !== 'Pending' && job.status !== 'Resuming') throw new NotRunnable(`job ${jobId} is ${job.status}, not Pending or Resuming`);
  const def = actionDef(job.action) as ActionDef;
  const { jobQueues, jobDefinitions, bucketName } = config();
  if (!jobQueues || !jobDefinitions) throw new Error('TRAINYARD_JOB_QUEUES and TRAINYARD_JOB_DEFINITIONS must be set where jobs are prepared');
  const out = jobOutputPrefix(jobId);
  await putObject(`${out}spec.json`, Buffer.from(JSON.stringify(job.spec)), 'application/json');
  const environment: Record<string, string> = {
    TRAINYARD_JOB_ID: job.id,
    TRAINYARD_ACTION: job.action,
    TRAINYARD_BUCKET: bucketName,
    TRAINYARD_SPEC_KEY: `${out}spec.json`,
    TRAINYARD_OUTPUT_PREFIX: out,
    TRAINYARD_CHECKPOINT_PREFIX: `${out}checkpoints/`,
  };
  if (def.kind === 'dataset') {
    const dataset = (await getItem(datasetKey(job.resourceId))) as DatasetRecord | undefined;
    if (!dataset) throw new NotRunnable('its dataset was deleted');
    const version = job.versionId
      ? ((await getItem(versionKey(job.resourceId, job.versionId), true)) as VersionRecord | undefined)
      : await freezeVersion(dataset, { name: `for job ${job.id.slice(0, 8)} (${job.action})`, description: `frozen when job ${job.id} started` });
    if (!version) throw new NotRunnable('its dataset version was deleted');
    if (!job.versionId) await amend(jobId, { versionId: version.id });
    Object.assign(environment, {
      TRAINYARD_INPUT_PREFIX: `u/${dataset.ownerId}/dataset/${dataset.id}/`,
      TRAINYARD_INPUT_MANIFEST: version.manifestKey,
      TRAINYARD_INPUT_MANIFEST_SHA256: version.manifestSha256,
    });
  }
  if (def.kind === 'model') {
    try {
      const { key, inputs } = await prepareModelInputs(job, out);
      if (!job.modelInputs) await amend(jobId, { modelInputs: inputs });
      environment.TRAINYARD_MODEL_INPUTS = key;
    } catch (error) {
      if (error instanceof NotRunnableInput) throw new NotRunnable(error.message);
      throw error;
    }
  }
  return {
    job_id: job.id,
    job_name: job.id,
    job_queue: jobQueues[job.queue],
    job_definition: jobDefinitions[job.queue],
    timeout_s: job.timeoutS,
    environment: Object.entries(environment).map(([Name, Value]) => ({ Name, Value })),
  };
}

interface WorkerStatus {
  status?: string;
  message?: string;
  epoch?: number;
  max_epoch?: number;
  cur_iter?: number;
  eta?: number;
  time_per_epoch?: number;
  kpi?: unknown[];
  graphical?: unknown[];
  categorical?: unknown[];
  stats?: unknown[];
  updated_on?: string;
}

const seconds = (s?: number) => (s === undefined ? undefined : new Date(s * 1000).toISOString().slice(11, 19));

/** The job's `result` from the worker's status.json (TAO's shape), with this state's message. */
export function resultOf(worker: WorkerStatus | undefined, status: JobStatus, message: string): JobResult {
  const at = new Date();
  return {
    detailed_status: { date: at.toISOString().slice(0, 10), time: at.toISOString().slice(11, 19), message, status },
    ...(worker?.epoch !== undefined ? { epoch: worker.epoch } : {}),
    ...(worker?.max_epoch !== undefined ? { max_epoch: worker.max_epoch } : {}),
    ...(worker?.cur_iter !== undefined ? { cur_iter: worker.cur_iter } : {}),
    ...(worker?.eta !== undefined ? { eta: seconds(worker.eta) } : {}),
    ...(worker?.time_per_epoch !== undefined ? { time_per_epoch: seconds(worker.time_per_epoch) } : {}),
    kpi: worker?.kpi ?? [],
    graphical: worker?.graphical ?? [],
    categorical: worker?.categorical ?? [],
    stats: worker?.stats ?? [],
  };
}

/** USD per hour of each queue's compute, for the estimate on each job (on-demand list prices, us-east-1). */
const HOURLY_USD = { cpu: 0.0416, gpu: 1.006 } as const;

function costOf(job: JobRecord, finishedOn: string): number | undefined {
  if (!job.startedOn) return undefined;
  const hours = (Date.parse(finishedOn) - Date.parse(job.startedOn)) / 3_600_000;
  return Math.round(Math.max(0, hours) * HOURLY_USD[job.queue] * 10_000) / 10_000;
}

const FINALIZABLE: readonly JobStatus[] = ['Pending', 'Running', 'Canceling', 'Resuming', 'Pausing'];

/** Finalize: the compute ended well; the job is Done with the worker's result, and its children may start. */
export async function finalizeJob(jobId: string): Promise<void> {
  const job = await loadJobRecord(jobId);
  // Outputs are published only for a job that is becoming Done: one canceled while its compute finished
  // (or already ended) must not leave a dataset version or a model record behind.
  if (!job || !FINALIZABLE.includes(job.status)) return;
  const worker = await readJsonObject<WorkerStatus>(`${jobOutputPrefix(jobId)}status.json`);
  const finishedOn = new Date().toISOString();
  if (job.action === 'dataset_convert') await registerOutputVersion(job);
  if (job.kind === 'model') await recordModelJobOutput(job);
  const done = await transition(jobId, FINALIZABLE, 'Done', {
    result: resultOf(worker, 'Done', worker?.message ?? 'done'),
    finishedOn,
    cost: costOf(job, finishedOn),
    statusReason: undefined,
  });
  if (done) await startChildren(jobId);
}

/** A converting action's output manifest becomes a new version of its dataset. */
async function registerOutputVersion(job: JobRecord): Promise<void> {
  const key = `${jobOutputPrefix(job.id)}artifacts/manifest.jsonl`;
  const dataset = (await getItem(datasetKey(job.resourceId))) as DatasetRecord | undefined;
  if (!dataset || !(await headObject(key))) return;
  const manifest = await readObject(key);
  const lines = manifest.toString('utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as { labels?: string[] });
  await storeVersion(dataset, manifest, {
    name: `${job.action} ${String(job.spec.target_format ?? '')}`.trim() + ` (job ${job.id.slice(0, 8)})`,
    description: `made by job ${job.id}`,
    sampleCount: lines.length,
    labeledCount: lines.filter((l) => l.labels?.length).length,
    labels: [...new Set(lines.flatMap((l) => l.labels ?? []))].sort(),
  });
}

/** Why Batch ended the job, from the workflow's error (its Cause is the Batch job, as JSON). */
function reasonOf(error: { Error?: string; Cause?: string } | undefined): string {
  if (!error) return 'failed';
  try {
    const cause = JSON.parse(error.Cause ?? '') as { StatusReason?: string; Attempts?: { Container?: { Reason?: string; ExitCode?: number } }[] };
    const last = cause.Attempts?.at(-1)?.Container;
    const exit = last?.ExitCode !== undefined ? ` (exit code ${last.ExitCode})` : '';
    if (cause.StatusReason) return `${cause.StatusReason}${exit}`;
  } catch {
    // not a Batch job: the error's own text
  }
  return `${error.Error ?? 'Error'}: ${error.Cause ?? ''}`.trim();
}

/**
 * Fail: the workflow ended badly. A job being canceled is Canceled (the Batch task only fails once its
 * compute has stopped); any other is Error with the reason. Its dependent jobs fail with it.
 */
export async function failJob(jobId: string, error?: { Error?: string; Cause?: string }): Promise<void> {
  const job = await loadJobRecord(jobId);
  if (!job) return;
  const worker = await readJsonObject<WorkerStatus>(`${jobOutputPrefix(jobId)}status.json`);
  const finishedOn = new Date().toISOString();
  // The worker's own account of a failure says more than Batch's exit code; a SIGTERM's "canceled" says less.
  const said = worker?.status === 'Error' && worker.message && worker.message !== 'canceled' ? worker.message : undefined;
  const reason = said ? `${said} (${reasonOf(error)})` : reasonOf(error);
  const canceled = await transition(jobId, ['Canceling'], 'Canceled', {
    result: resultOf(worker, 'Canceled', 'canceled; its compute has stopped'),
    finishedOn,
    cost: costOf(job, finishedOn),
  });
  // A job asked to pause that stopped at its checkpoint (the worker's exit 3) is Paused, to be resumed.
  const paused = !canceled && worker?.status === 'Paused' ? await transition(jobId, ['Pausing', 'Running'], 'Paused', { result: resultOf(worker, 'Paused', worker.message ?? 'paused') }) : undefined;
  if (paused) return;
  if (!canceled) {
    // (A Paused job has no compute: nothing of an earlier run can fail it.)
    await transition(jobId, ['Pending', 'Running', 'Pausing', 'Resuming'], 'Error', {
      result: resultOf(worker, 'Error', reason),
      statusReason: reason,
      finishedOn,
      cost: costOf(job, finishedOn),
    });
  }
  await failChildren(jobId, canceled ? 'canceled' : 'ended in Error');
}

/** Children of a job (its dependents), by the parent index. */
async function childrenOf(jobId: string): Promise<JobRecord[]> {
  const out = await query({
    IndexName: 'gsi1',
    KeyConditionExpression: 'gsi1pk = :pk',
    ExpressionAttributeValues: { ':pk': `job#${jobId}#child` },
  }).catch(() => ({ items: [] }));
  const ids = out.items.map((item) => String(item.childId));
  return (await Promise.all(ids.map(loadJobRecord))).filter((j): j is JobRecord => j !== undefined);
}

/**
 * The first job among a job's dependents, however deep, that has still to end: it will read what the
 * chain before it made (a model job starts from the model its chain trained), so the job must stay.
 */
export async function waitingDependent(jobId: string): Promise<JobRecord | undefined> {
  const seen = new Set([jobId]);
  for (let level = [jobId]; level.length; ) {
    const children = (await Promise.all(level.map(childrenOf))).flat().filter((child) => !seen.has(child.id));
    const waiting = children.find((child) => !TERMINAL.includes(child.status));
    if (waiting) return waiting;
    for (const child of children) seen.add(child.id);
    level = children.map((child) => child.id);
  }
  return undefined;
}

/** A pointer from a parent job to a dependent, so the parent's end can start or fail it. */
export const childLinkItem = (parentId: string, childId: string) => ({
  pk: `job#${childId}`,
  sk: 'parent',
  entity: 'job-link',
  gsi1pk: `job#${parentId}#child`,
  gsi1sk: childId,
  childId,
  parentId,
});

async function startChildren(jobId: string): Promise<void> {
  for (const child of await childrenOf(jobId)) {
    if (child.status !== 'Pending' || child.executionStarted) continue;
    await amend(child.id, { executionStarted: true });
    await startExecution(child.id);
  }
}

export async function failChildren(jobId: string, how: string): Promise<void> {
  for (const child of await childrenOf(jobId)) {
    const reason = `its parent job ${jobId} ${how}`;
    const failed = await transition(child.id, ['Pending'], 'Error', { statusReason: reason, result: resultOf(undefined, 'Error', reason), finishedOn: new Date().toISOString() });
    if (failed) await failChildren(child.id, 'ended in Error');
  }
}

/** What the compute reports (Batch "Job State Change"; the local Batch sends the same). */
export interface BatchStateChange {
  jobName: string;
  jobId: string;
  status: 'SUBMITTED' | 'PENDING' | 'RUNNABLE' | 'STARTING' | 'RUNNING' | 'SUCCEEDED' | 'FAILED';
  statusReason?: string;
  attempts?: unknown[];
  startedAt?: number;
}

export async function recordBatchState(change: BatchStateChange): Promise<void> {
  const job = await loadJobRecord(change.jobName);
  if (!job) return;
  const attempts = (change.attempts?.length ?? 0) + (change.status === 'RUNNING' ? 1 : 0);
  if (change.status === 'RUNNING') {
    await transition(job.id, ['Pending', 'Resuming'], 'Running', { batchJobId: change.jobId, startedOn: job.startedOn ?? new Date().toISOString(), attempts: Math.max(job.attempts, attempts) });
    await amend(job.id, { batchJobId: change.jobId, attempts: Math.max(job.attempts, attempts) });
  } else if (change.status === 'SUCCEEDED' || change.status === 'FAILED') {
    // The compute has stopped. A job being canceled is now truly Canceled (the workflow may have been stopped).
    const finishedOn = new Date().toISOString();
    await transition(job.id, ['Canceling'], 'Canceled', { batchJobId: change.jobId, result: resultOf(undefined, 'Canceled', 'canceled; its compute has stopped'), finishedOn, cost: costOf(job, finishedOn) });
  } else {
    await amend(job.id, { batchJobId: change.jobId });
  }
}

/** The workflow's execution ended without its Fail step (stopped): a job being canceled with no compute left is Canceled. */
export async function recordExecutionEnd(executionName: string, status: string): Promise<void> {
  const job = await loadJobRecord(jobIdOfExecution(executionName));
  // Ended already, Paused by its Fail step, or an earlier run's end: nothing to do.
  if (!job || TERMINAL.includes(job.status) || job.status === 'Paused' || executionNameOf(job) !== executionName) return;
  const jobId = job.id;
  if (status === 'ABORTED' && job.status === 'Canceling' && !job.batchJobId) {
    await transition(jobId, ['Canceling'], 'Canceled', { result: resultOf(undefined, 'Canceled', 'canceled before its compute started'), finishedOn: new Date().toISOString() });
    await failChildren(jobId, 'canceled');
  } else if (status === 'TIMED_OUT' || (status === 'FAILED' && job.status !== 'Canceling')) {
    await failJob(jobId, { Error: `Execution${status}`, Cause: `the workflow ended ${status}` });
  }
}

