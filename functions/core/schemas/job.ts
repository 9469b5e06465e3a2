import * as z from 'zod';
import { ACTION_NAMES } from '../actions/catalogue';
import { Id, PageQuery, Timestamp } from './common';
import { JOB_STATES } from '../entities/job';

export const ActionName = z.enum(ACTION_NAMES as [string, ...string[]]);

/** Dioptra's durations ("90m", "24h", "2d", "45s") or plain seconds; at most 7 days. */
export const Timeout = z
  .union([z.number().int().min(1), z.string().regex(/^\d+[smhd]?$/, 'a duration such as "90m", "24h" or seconds')])
  .transform((value) => {
    if (typeof value === 'number') return value;
    const unit = value.at(-1)!;
    const n = Number.parseInt(value, 10);
    return n * ({ s: 1, m: 60, h: 3600, d: 86_400 }[unit] ?? 1);
  })
  .refine((s) => s >= 1 && s <= 7 * 86_400, 'between 1 second and 7 days');

export const JobSubmit = z
  .strictObject({
    actions: z.array(ActionName).min(1).max(20).describe('Run in order: each after the one before is Done'),
    job: Id.nullable().optional().describe("The parent job (TAO's key): the first action starts after it is Done"),
    parent_job_id: Id.nullable().optional().describe('Same as `job`'),
    specs: z.record(z.string(), z.record(z.string(), z.unknown())).optional().describe('Per action, the spec to use instead of the saved one'),
    queue: z.enum(['cpu', 'gpu']).optional().describe("Where to run (default: the action's)"),
    timeout: Timeout.optional().describe('Per job; default 24h or the action\'s limit'),
    version_id: Id.optional().describe('Dataset jobs: the dataset version to read (default: one frozen when the job starts)'),
  })
  .refine((b) => !(b.job && b.parent_job_id && b.job !== b.parent_job_id), 'job and parent_job_id name different parents');
export type JobSubmit = z.infer<typeof JobSubmit>;

export const Job = z
  .object({
    id: Id,
    parent_id: Id.nullable(),
    action: z.string(),
    status: z.enum(JOB_STATES),
    created_on: Timestamp,
    last_modified: Timestamp,
    result: z.record(z.string(), z.unknown()).describe('TAO 5.0: detailed_status, epoch, max_epoch, time_per_epoch, cur_iter, eta, kpi, graphical, categorical, stats'),
    specs: z.record(z.string(), z.unknown()),
    dataset_id: Id.optional(),
    model_id: Id.optional(),
    version_id: Id.optional(),
    queue: z.string(),
    timeout: z.number().int().describe('seconds'),
    attempts: z.number().int(),
    status_reason: z.string().optional(),
    cost: z.number().optional().describe('Estimated compute cost in USD'),
    started_on: Timestamp.optional(),
    finished_on: Timestamp.optional(),
  })
  .meta({ id: 'Job' });
export type Job = z.infer<typeof Job>;

export const JobListQuery = PageQuery.extend({
  status: z.enum(JOB_STATES).optional(),
  action: ActionName.optional(),
});
export type JobListQuery = z.infer<typeof JobListQuery>;

export const JobLogsQuery = z.object({
  cursor: z.string().regex(/^\d+:\d+$/, 'a cursor from next_cursor').optional(),
  since: z.iso.datetime().optional().describe('Only lines logged at or after this time'),
  limit: z.coerce.number().int().min(1).max(5000).default(1000),
});

export const JobLogs = z
  .object({
    lines: z.array(z.object({ attempt: z.number().int(), number: z.number().int(), text: z.string() })),
    next_cursor: z.string().optional().describe('Pass as cursor for the lines after these (also once more arrive)'),
  })
  .meta({ id: 'JobLogs' });

export const JobFile = z.object({ path: z.string(), size: z.number().int(), last_modified: Timestamp, url: z.url(), urls_expire_on: Timestamp }).meta({ id: 'JobFile' });

export const ActionInfo = z
  .object({ name: z.string(), kind: z.enum(['dataset', 'model']), description: z.string(), queue: z.string(), time_limit: z.number().int(), available: z.boolean() })
  .meta({ id: 'Action' });

export const QueueInfo = z.object({ name: z.string(), description: z.string(), compute: z.string() }).meta({ id: 'Queue' });

export const SpecPathParams = (resource: 'dataset' | 'model') =>
  z.object({ user_id: Id, [`${resource}_id`]: Id, action: ActionName } as Record<string, z.ZodType>) as z.ZodObject;
