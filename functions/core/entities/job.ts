import type { QueryInput } from '../dynamo';
import type { ModelInputs } from '../model-jobs';

/** The states of DESIGN.md (Jobs). Terminal ones never change again. */
export const JOB_STATES = ['Pending', 'Running', 'Done', 'Error', 'Canceling', 'Canceled', 'Pausing', 'Paused', 'Resuming'] as const;
export type JobStatus = (typeof JOB_STATES)[number];
export const TERMINAL: readonly JobStatus[] = ['Done', 'Error', 'Canceled'];

/** What the worker reported (status.json), as the job's `result` carries it. */
export interface JobResult {
  detailed_status: { date: string; time: string; message: string; status: string };
  epoch?: number;
  max_epoch?: number;
  time_per_epoch?: string;
  cur_iter?: number;
  eta?: string;
  kpi?: unknown[];
  graphical?: unknown[];
  categorical?: unknown[];
  stats?: unknown[];
}

export interface JobRecord {
  id: string;
  ownerId: string;
  kind: 'dataset' | 'model';
  resourceId: string;
  action: string;
  parentId: string | null;
  status: JobStatus;
  spec: Record<string, unknown>;
  queue: 'cpu' | 'gpu';
  timeoutS: number;
  /** The dataset version the job reads (frozen when it starts, unless given). */
  versionId?: string;
  result?: JobResult;
  statusReason?: string;
  attempts: number;
  executionStarted?: boolean;
  /** How many times it was resumed; its current execution is named `{id}` or `{id}-r{resumes}`. */
  resumes?: number;
  batchJobId?: string;
  startedOn?: string;
  finishedOn?: string;
  /** A model job's pinned inputs (model-jobs.ts), set when it first starts. */
  modelInputs?: ModelInputs;
  /** Estimated compute cost in USD (instance price × run time), once it ran. */
  cost?: number;
  revision: number;
  createdOn: string;
  lastModified: string;
}

export const jobKey = (id: string) => ({ pk: `job#${id}`, sk: 'job' });

const resourcePartition = (kind: string, resourceId: string) => `${kind}#${resourceId}#job`;

/** Index keys: gsi1 lists a resource's jobs by date; gsi2 holds live jobs only (what a restart checks). */
export function jobIndexKeys(job: Pick<JobRecord, 'kind' | 'resourceId' | 'createdOn' | 'id' | 'status'>) {
  const live = !TERMINAL.includes(job.status);
  return {
    gsi1pk: resourcePartition(job.kind, job.resourceId),
    gsi1sk: `${job.createdOn}#${job.id}`,
    ...(live ? { gsi2pk: 'job#live', gsi2sk: `${job.createdOn}#${job.id}` } : {}),
  };
}

export function jobItem(job: JobRecord) {
  return { ...jobKey(job.id), entity: 'job', ...jobIndexKeys(job), ...job };
}

/** byResource: a dataset's or model's jobs, newest first unless asked otherwise. */
export const jobsOfResource = (kind: string, resourceId: string, ascending = false): QueryInput => ({
  IndexName: 'gsi1',
  KeyConditionExpression: 'gsi1pk = :pk',
  ExpressionAttributeValues: { ':pk': resourcePartition(kind, resourceId) },
  ScanIndexForward: ascending,
});

/** live: every job not yet terminal, oldest first. */
export const liveJobs = (): QueryInput => ({
  IndexName: 'gsi2',
  KeyConditionExpression: 'gsi2pk = :live',
  ExpressionAttributeValues: { ':live': 'job#live' },
});

/** A saved spec of one action on one resource (TAO's specs routes). */
export const specKey = (kind: string, resourceId: string, action: string) => ({ pk: `${kind}#${resourceId}#spec`, sk: action });

/** The name of a job's current workflow execution (one per run: the first, then one per resume). */
export const executionNameOf = (job: Pick<JobRecord, 'id' | 'resumes'>) => (job.resumes ? `${job.id}-r${job.resumes}` : job.id);

/** The job an execution runs, from the execution's name. */
export const jobIdOfExecution = (name: string) => name.replace(/-r\d+$/, '');
