import type { EventBridgeEvent } from 'aws-lambda';
import { jobIdOfExecution } from '../core/entities/job';
import { removeIfOrphaned } from '../core/job-cleanup';
import { type BatchStateChange, recordBatchState, recordExecutionEnd } from '../core/job-engine';

/**
 * The compute's and the workflow's own word on a job (EventBridge: Batch "Job State Change" for
 * Trainyard's queues, Step Functions "Execution Status Change" for the job workflow; locally the
 * stand-ins send the same events): Running with its attempts, and Canceled once the compute stopped.
 */
type JobEvent =
  | EventBridgeEvent<'Batch Job State Change', BatchStateChange>
  | EventBridgeEvent<'Step Functions Execution Status Change', { name: string; status: string }>;

export async function handler(event: JobEvent): Promise<void> {
  const name = event['detail-type'] === 'Batch Job State Change' ? (event.detail as BatchStateChange).jobName : (event.detail as { name: string }).name;
  const jobId = jobIdOfExecution(name);
  if (event['detail-type'] === 'Batch Job State Change') await recordBatchState(event.detail as BatchStateChange);
  else await recordExecutionEnd(name, (event.detail as { status: string }).status);
  // A job that ended after its dataset or model was deleted goes now (the purge took the others).
  await removeIfOrphaned(jobId);
}
