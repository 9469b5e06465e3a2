import { removeIfOrphaned } from '../core/job-cleanup';
import { failJob } from '../core/job-engine';
import { packJobOutputs } from '../core/job-archive';

/** Workflow step: anything failed; the job is Error with the reason, or Canceled once its compute stopped. */
export async function handler(event: { job_id: string; error?: { Error?: string; Cause?: string } }): Promise<void> {
  await packJobOutputs(event.job_id).catch(() => undefined); // best effort: the state matters more than the archive
  await failJob(event.job_id, event.error);
  await removeIfOrphaned(event.job_id);
}
