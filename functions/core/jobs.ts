import { type ActionDef, actionDef, actions, type ActionName, specSchemaOf } from './actions/catalogue';
import { QUEUES } from './actions/queues';
import type { Caller } from './caller';
import { requireNamespace } from './caller';
import { loadDataset } from './datasets';
import { deleteItem, getItem, isConditionalCheckFailure, putItem, queryPages, writeTogether } from './dynamo';
import { executionNameOf, jobItem, jobKey, type JobRecord, jobsOfResource, specKey, TERMINAL } from './entities/job';
import { versionKey } from './entities/version';
import { BadRequest, Conflict, NotFound, Unprocessable } from './errors';
import { childLinkItem, failChildren, jobOutputPrefix, loadJobRecord, resultOf, transition, waitingDependent } from './job-engine';
import { loadModel } from './models';
import type { ModelRecord } from './entities/model';
import { missingFor } from './model-jobs';
import { startExecution, stopExecution, terminateBatchJob } from './orchestration';
import { type Page, readPage } from './pagination';
import { deleteObject, headObject, listObjects, PRESIGN_SECONDS, presignGet, putObject, readJsonObject, readObject } from './s3';
import type { Job, JobListQuery, JobSubmit } from './schemas/job';
import { newId } from './tokens';

/**
 * Jobs as the API serves them (TAO): submitted as a chain of actions on a dataset or model, listed,
 * read, canceled, deleted once ended, with their logs, files and archive. The workflow and the
 * compute's events move them through their states (job-engine.ts).
 */
export type JobKind = 'dataset' | 'model';

async function loadResource(caller: Caller, ownerId: string, kind: JobKind, id: string): Promise<ModelRecord | undefined> {
  if (kind === 'dataset') {
    await loadDataset(caller, ownerId, id);
    return undefined;
  }
  return loadModel(caller, ownerId, id);
}

export function toJob(r: JobRecord): Job {
  return {
    id: r.id,
    parent_id: r.parentId,
    action: r.action,
    status: r.status,
    created_on: r.createdOn,
    last_modified: r.lastModified,
    result: (r.result ?? resultOf(undefined, r.status, r.status === 'Pending' ? 'waiting to start' : r.status)) as unknown as Record<string, unknown>,
    specs: r.spec,
    ...(r.kind === 'dataset' ? { dataset_id: r.resourceId } : { model_id: r.resourceId }),
    ...(r.versionId ? { version_id: r.versionId } : {}),
    queue: r.queue,
    timeout: r.timeoutS,
    attempts: r.attempts,
    ...(r.statusReason ? { status_reason: r.statusReason } : {}),
    ...(r.cost !== undefined ? { cost: r.cost } : {}),
    ...(r.startedOn ? { started_on: r.startedOn } : {}),
    ...(r.finishedOn ? { finished_on: r.finishedOn } : {}),
  };
}

function parseSpec(action: ActionName, raw: unknown): Record<string, unknown> {
  const parsed = (actions[action] as ActionDef).spec.safeParse(raw ?? {});
  if (parsed.success) return parsed.data as Record<string, unknown>;
  const details = parsed.error.issues.map((i) => ({ path: ['specs', action, ...i.path.map((p) => (typeof p === 'symbol' ? String(p) : p))], message: i.message, code: i.code }));
  throw new BadRequest(`invalid spec for ${action}: ${details.map((d) => `${d.path.join('.')}: ${d.message}`).join('; ')}`, details);
}

/** Submit a chain of actions: one job each, each after the one before; answers their ids in order (TAO). */
export async function submitJobs(caller: Caller, ownerId: string, kind: JobKind, resourceId: string, input: JobSubmit): Promise<string[]> {
  const model = await loadResource(caller, ownerId, kind, resourceId);
  const parentId = input.job ?? input.parent_job_id ?? null;
  let parent: JobRecord | undefined;
  if (parentId) {
    parent = await loadJobRecord(parentId);
    if (!parent || parent.ownerId !== ownerId) throw new Unprocessable('the parent job does not exist', [{ path: ['body', 'job'], message: 'no such job' }]);
    if (parent.status === 'Error' || parent.status === 'Canceled') throw new Conflict(`the parent job ended ${parent.status}: it cannot be a parent`);
  }
  if (input.version_id && kind === 'dataset' && !(await getItem(versionKey(resourceId, input.version_id)))) {
    throw new Unprocessable('no such version of the dataset', [{ path: ['body', 'version_id'], message: 'not a version of this dataset' }]);
  }
  const now = new Date().toISOString();
  const jobs: JobRecord[] = [];
  for (const [index, name] of input.actions.entries()) {
    const def = actionDef(name)!;
    if (def.kind !== kind) throw new Unprocessable(`${name} applies to ${def.kind}s, not ${kind}s`, [{ path: ['body', 'actions', index], message: `a ${def.kind} action` }]);
    if (!def.available) throw new Unprocessable(`${name} is not available yet`, [{ path: ['body', 'actions', index], message: 'not available' }]);
    const missing = model && missingFor(model, name);
    if (missing) throw new Unprocessable(`${name} needs the model's ${missing}: PATCH the model to set it first`, [{ path: ['body', 'actions', index], message: `the model has no ${missing}` }]);
    const saved = (await getItem(specKey(kind, resourceId, name)))?.spec;
    jobs.push({
      id: newId(),
      ownerId,
      kind,
      resourceId,
      action: name,
      parentId: index === 0 ? parentId : jobs[index - 1]!.id,
      status: 'Pending',
      spec: parseSpec(name as ActionName, input.specs?.[name] ?? saved),
      queue: input.queue ?? def.queue,
      timeoutS: input.timeout ?? def.timeLimitS,
      ...(input.version_id && index === 0 ? { versionId: input.version_id } : {}),
      attempts: 0,
      revision: 1,
      createdOn: now,
      lastModified: now,
    });
  }
  await writeTogether(
    jobs.flatMap((job) => [
      { put: jobItem(job), condition: { ConditionExpression: 'attribute_not_exists(pk)' } },
      ...(job.parentId ? [{ put: childLinkItem(job.parentId, job.id) }] : []),
    ]),
  );
  const first = jobs[0]!;
  if (!parent || parent.status === 'Done') {
    await transition(first.id, ['Pending'], 'Pending', { executionStarted: true });
    await startExecution(first.id);
  }
  return jobs.map((j) => j.id);
}

async function loadJob(caller: Caller, ownerId: string, kind: JobKind, resourceId: string, jobId: string): Promise<JobRecord> {
  await loadResource(caller, ownerId, kind, resourceId);
  const job = await loadJobRecord(jobId);
  if (!job || job.ownerId !== ownerId || job.kind !== kind || job.resourceId !== resourceId) throw new NotFound('job');
  return job;
}

/** One job; while it runs, its result is the worker's latest progress (status.json), read live. */
export async function getJob(caller: Caller, ownerId: string, kind: JobKind, resourceId: string, jobId: string): Promise<Job> {
  const job = await loadJob(caller, ownerId, kind, resourceId, jobId);
  if (['Running', 'Pausing'].includes(job.status)) {
    const worker = await readJsonObject<Parameters<typeof resultOf>[0]>(`${jobOutputPrefix(jobId)}status.json`);
    if (worker?.status === 'Running') return toJob({ ...job, result: resultOf(worker, job.status, worker.message ?? job.status) });
  }
  return toJob(job);
}

export async function listJobs(caller: Caller, ownerId: string, kind: JobKind, resourceId: string, query: JobListQuery): Promise<Page<Job>> {
  await loadResource(caller, ownerId, kind, resourceId);
  const base = jobsOfResource(kind, resourceId);
  const filters: string[] = [];
  const values: Record<string, unknown> = {};
  const names: Record<string, string> = {};
  for (const [attribute, value] of [['status', query.status], ['action', query.action]] as const) {
    if (value === undefined) continue;
    names[`#${attribute}`] = attribute;
    values[`:${attribute}`] = value;
    filters.push(`#${attribute} = :${attribute}`);
  }
  const params = filters.length
    ? { ...base, FilterExpression: filters.join(' AND '), ExpressionAttributeNames: names, ExpressionAttributeValues: { ...base.ExpressionAttributeValues, ...values } }
    : base;
  const page = await readPage(params, query, { callerId: caller.userId, query: { ns: ownerId, kind: `${kind}-job`, resource: resourceId, status: query.status, action: query.action } });
  return { ...page, items: (page.items as unknown as JobRecord[]).map(toJob) };
}

/**
 * Cancel: a job not started yet is Canceled at once; a started one is Canceling until its compute is
 * confirmed stopped (the workflow's Fail step or the compute's own event writes Canceled).
 */
export async function cancelJob(caller: Caller, ownerId: string, kind: JobKind, resourceId: string, jobId: string): Promise<Job> {
  const job = await loadJob(caller, ownerId, kind, resourceId, jobId);
  if (TERMINAL.includes(job.status)) throw new Conflict(`the job already ended ${job.status}`);
  return toJob(await cancelJobRecord(job, `canceled by ${caller.userId}`));
}

async function cancelJobRecord(job: JobRecord, reason: string): Promise<JobRecord> {
  const jobId = job.id;
  if (job.status === 'Canceling' || TERMINAL.includes(job.status)) return job;
  if (job.status === 'Pending' && !job.executionStarted) {
    const canceled = await transition(jobId, ['Pending'], 'Canceled', { result: resultOf(undefined, 'Canceled', 'canceled before it started'), finishedOn: new Date().toISOString() });
    if (canceled) {
      await failChildren(jobId, 'was canceled');
      return canceled;
    }
  }
  const canceling = await transition(jobId, ['Pending', 'Running', 'Pausing', 'Paused', 'Resuming'], 'Canceling');
  if (!canceling) return (await loadJobRecord(jobId))!;
  if (canceling.batchJobId) await terminateBatchJob(canceling.batchJobId, reason);
  await stopExecution(executionNameOf(canceling), reason);
  return canceling;
}

/** Cancel every live job of a dataset or model (what deleting it does first). */
export async function cancelLiveJobs(kind: JobKind, resourceId: string, reason: string): Promise<number> {
  let canceled = 0;
  for await (const page of queryPages(jobsOfResource(kind, resourceId))) {
    for (const job of page as unknown as JobRecord[]) {
      if (TERMINAL.includes(job.status)) continue;
      await cancelJobRecord(job, reason);
      canceled++;
    }
  }
  return canceled;
}

/** What a checkpointing worker leaves once it has a checkpoint (CONTRACT.md): train's pointer, sleep's state. */
const CHECKPOINT_MARKERS = ['latest.json', 'sleep.json'];

/** Actions that keep checkpoints, so a run can pause and resume (TAO's train-like; `sleep` for tests). */
const RESUMABLE = ['train', 'retrain', 'sleep'];

/** Pause: the worker stops at its next checkpoint (Pausing, then Paused once it has). */
export async function pauseJob(caller: Caller, ownerId: string, kind: JobKind, resourceId: string, jobId: string): Promise<Job> {
  const job = await loadJob(caller, ownerId, kind, resourceId, jobId);
  if (!RESUMABLE.includes(job.action)) throw new Conflict(`${job.action} jobs keep no checkpoints: they cannot pause`);
  if (job.status !== 'Running') throw new Conflict(`only a Running job can pause; this one is ${job.status}`);
  await putObject(`${jobOutputPrefix(jobId)}control.json`, Buffer.from(JSON.stringify({ pause: true })), 'application/json');
  const pausing = await transition(jobId, ['Running'], 'Pausing');
  if (!pausing) throw new Conflict('the job changed state meanwhile; look again');
  return toJob(pausing);
}

/**
 * Resume: the same job id continues from its newest checkpoint, in a new run of the workflow. For
 * train-like jobs that are Paused, Canceled or Error and have a checkpoint; 409 otherwise.
 */
export async function resumeJob(caller: Caller, ownerId: string, kind: JobKind, resourceId: string, jobId: string): Promise<Job> {
  const job = await loadJob(caller, ownerId, kind, resourceId, jobId);
  if (!RESUMABLE.includes(job.action)) throw new Conflict(`${job.action} jobs keep no checkpoints: they cannot resume`);
  if (!['Paused', 'Canceled', 'Error'].includes(job.status)) throw new Conflict(`only a Paused, Canceled or Error job can resume; this one is ${job.status}`);
  const markers = await Promise.all(CHECKPOINT_MARKERS.map((name) => headObject(`${jobOutputPrefix(jobId)}checkpoints/${name}`)));
  if (!markers.some(Boolean)) throw new Conflict('the job has no checkpoint to resume from');
  await deleteObject(`${jobOutputPrefix(jobId)}control.json`);
  const resumes = (job.resumes ?? 0) + 1;
  const resuming = await transition(jobId, [job.status], 'Resuming', { resumes, statusReason: undefined, finishedOn: undefined, batchJobId: undefined });
  if (!resuming) throw new Conflict('the job changed state meanwhile; look again');
  await startExecution(jobId, executionNameOf(resuming));
  return toJob(resuming);
}

/** Delete an ended job with its outputs; a live one is a 409 (cancel it first). */
export async function deleteJob(caller: Caller, ownerId: string, kind: JobKind, resourceId: string, jobId: string): Promise<Job> {
  const job = await loadJob(caller, ownerId, kind, resourceId, jobId);
  if (!TERMINAL.includes(job.status)) throw new Conflict(`the job is ${job.status}: cancel it first`);
  // A Done job's outputs are recorded before it is Done: a model's recorded artifact cannot go from under it.
  const recorded = kind === 'model' ? Object.values((await loadModel(caller, ownerId, resourceId)).artifacts ?? {}).find((a) => a?.job_id === jobId) : undefined;
  if (recorded) throw new Conflict(`the model's ${recorded.format} artifact is this job's output: train or export again before deleting the job`);
  const waiting = await waitingDependent(jobId);
  if (waiting) throw new Conflict(`job ${waiting.id} (${waiting.action}) after it in its chain is ${waiting.status}: let it end or cancel it first`);
  try {
    await deleteItem(jobKey(jobId), { ConditionExpression: '#revision = :expected', ExpressionAttributeNames: { '#revision': 'revision' }, ExpressionAttributeValues: { ':expected': job.revision } });
  } catch (error) {
    if (isConditionalCheckFailure(error)) throw new Conflict('the job changed while it was being deleted; retry');
    throw error;
  }
  for (;;) {
    const { objects } = await listObjects(jobOutputPrefix(jobId), 1000);
    if (objects.length === 0) break;
    await Promise.all(objects.map((o) => deleteObject(o.key)));
  }
  return toJob(job);
}

/** Log lines, attempt by attempt; the cursor is `attempt:line` of the next line to read. */
export async function jobLogs(caller: Caller, ownerId: string, kind: JobKind, resourceId: string, jobId: string, query: { cursor?: string; since?: string; limit: number }) {
  const job = await loadJob(caller, ownerId, kind, resourceId, jobId);
  let [attempt, line] = (query.cursor ?? '1:0').split(':').map(Number) as [number, number];
  const lines: { attempt: number; number: number; text: string }[] = [];
  const lastAttempt = Math.max(1, job.attempts);
  for (; attempt <= lastAttempt && lines.length < query.limit; attempt++, line = 0) {
    const text = await readText(`${jobOutputPrefix(jobId)}logs/attempt-${attempt}.log`);
    if (text === undefined) continue;
    const all = text.split('\n');
    if (all.at(-1) === '') all.pop();
    for (; line < all.length && lines.length < query.limit; line++) {
      const entry = all[line]!;
      if (query.since && /^\d{4}-\d\d-\d\dT/.test(entry) && entry.slice(0, 24) < query.since) continue;
      lines.push({ attempt, number: line + 1, text: entry });
    }
    if (lines.length >= query.limit) return { lines, next_cursor: `${attempt}:${line}` };
  }
  return { lines, next_cursor: `${Math.max(1, attempt - 1)}:${lines.filter((l) => l.attempt === attempt - 1).at(-1)?.number ?? line}` };
}

async function readText(key: string): Promise<string | undefined> {
  if (!(await headObject(key))) return undefined;
  return (await readObject(key)).toString('utf8');
}

/** The job's artifacts, each with a presigned download (valid 15 minutes). */
export async function jobFiles(caller: Caller, ownerId: string, kind: JobKind, resourceId: string, jobId: string, request: { size: number; skip: number }) {
  await loadJob(caller, ownerId, kind, resourceId, jobId);
  const prefix = `${jobOutputPrefix(jobId)}artifacts/`;
  const all: { key: string; size: number; lastModified: string }[] = [];
  let token: string | undefined;
  do {
    const listed = await listObjects(prefix, 1000, { continuationToken: token });
    all.push(...listed.objects);
    token = listed.nextToken;
  } while (token);
  const page = all.slice(request.skip, request.skip + request.size);
  const expires = new Date(Date.now() + PRESIGN_SECONDS * 1000).toISOString();
  const items = await Promise.all(
    page.map(async (o) => ({ path: o.key.slice(prefix.length), size: o.size, last_modified: o.lastModified, url: await presignGet(o.key, o.key.split('/').pop()!), urls_expire_on: expires })),
  );
  return { items, total: all.length };
}

/** TAO's download: the job's outputs as a tar.gz whose top folder is the job id, through a presigned URL. */
export async function jobDownload(caller: Caller, ownerId: string, kind: JobKind, resourceId: string, jobId: string) {
  const job = await loadJob(caller, ownerId, kind, resourceId, jobId);
  const key = `${jobOutputPrefix(jobId)}download.tar.gz`;
  if (!(await headObject(key))) throw new Conflict(TERMINAL.includes(job.status) ? 'the job left no outputs to download' : `the job is ${job.status}: its archive is made when it ends`);
  return { location: await presignGet(key, `${jobId}.tar.gz`) };
}

export function listActions(): Page<{ name: string; kind: string; description: string; queue: string; time_limit: number; available: boolean }> {
  const items = Object.entries(actions).map(([name, def]) => ({ name, kind: def.kind, description: def.description, queue: def.queue, time_limit: def.timeLimitS, available: def.available }));
  return { items, total: items.length };
}

export function listQueues() {
  return { items: QUEUES.map((q) => ({ ...q })), total: QUEUES.length };
}

// Specs (TAO): per resource and action, saved whole (POST) or deep-merged (PUT); the schema carries the defaults.

export async function specSchema(caller: Caller, ownerId: string, kind: JobKind, resourceId: string, action: string) {
  await loadResource(caller, ownerId, kind, resourceId);
  return specSchemaOf(checkAction(kind, action));
}

function checkAction(kind: JobKind, action: string): ActionName {
  const def = actionDef(action);
  if (!def) throw new NotFound('action');
  if (def.kind !== kind) throw new Unprocessable(`${action} applies to ${def.kind}s, not ${kind}s`);
  return action as ActionName;
}

export async function getSpec(caller: Caller, ownerId: string, kind: JobKind, resourceId: string, action: string) {
  await loadResource(caller, ownerId, kind, resourceId);
  const name = checkAction(kind, action);
  return ((await getItem(specKey(kind, resourceId, name)))?.spec as Record<string, unknown> | undefined) ?? parseSpec(name, {});
}

export async function saveSpec(caller: Caller, ownerId: string, kind: JobKind, resourceId: string, action: string, body: unknown, merge: boolean) {
  requireNamespace(caller, ownerId);
  await loadResource(caller, ownerId, kind, resourceId);
  const name = checkAction(kind, action);
  const current = merge ? await getSpec(caller, ownerId, kind, resourceId, name) : {};
  const spec = parseSpec(name, merge ? deepMerge(current, body as Record<string, unknown>) : body);
  await putItem({ ...specKey(kind, resourceId, name), entity: 'spec', spec, savedOn: new Date().toISOString() });
  return spec;
}

function deepMerge(base: Record<string, unknown>, change: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...base };
  for (const [key, value] of Object.entries(change ?? {})) {
    const before = out[key];
    out[key] = value && typeof value === 'object' && !Array.isArray(value) && before && typeof before === 'object' && !Array.isArray(before)
      ? deepMerge(before as Record<string, unknown>, value as Record<string, unknown>)
      : value;
  }
  return out;
}

