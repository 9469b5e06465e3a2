import { prepareJob, type Prepared } from '../core/job-engine';

/** Workflow step: pin the job's input, write its spec, choose its compute (job-engine.ts). */
export const handler = (event: { job_id: string }): Promise<Prepared> => prepareJob(event.job_id);
