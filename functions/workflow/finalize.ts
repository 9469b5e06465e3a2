import { finalizeJob } from '../core/job-engine';
import { packJobOutputs } from '../core/job-archive';

/** Workflow step: the compute ended well; the job is Done and its dependents may start. */
export async function handler(event: { job_id: string }): Promise<{ job_id: string }> {
  await packJobOutputs(event.job_id);
  await finalizeJob(event.job_id);
  return { job_id: event.job_id };
}
