import { config } from './config';
import { sendSigned } from './signed-http';

/**
 * The two AWS services the jobs engine drives, in their own wire protocols (as dynamo.ts does for
 * DynamoDB): Step Functions (JSON 1.0: StartExecution, StopExecution) and Batch (REST JSON:
 * TerminateJob). Locally the same calls go to the runtime's stand-ins (local/stepfunctions.ts,
 * local/batch.ts), which speak the same protocols.
 */
export class ServiceError extends Error {
  constructor(
    override readonly name: string,
    message: string,
    readonly status: number,
  ) {
    super(message);
  }
}

async function stepFunctions(operation: string, input: Record<string, unknown>): Promise<Record<string, unknown>> {
  const { region, stepFunctionsEndpoint } = config();
  const response = await sendSigned({
    url: stepFunctionsEndpoint ?? `https://states.${region}.amazonaws.com/`,
    service: 'states',
    region,
    headers: { 'content-type': 'application/x-amz-json-1.0', 'x-amz-target': `AWSStepFunctions.${operation}` },
    body: JSON.stringify(input),
  });
  const body = (response.body ? JSON.parse(response.body) : {}) as Record<string, unknown>;
  if (response.status >= 300) {
    const type = String(body.__type ?? 'UnknownError').split('#').pop() ?? 'UnknownError';
    throw new ServiceError(type, String(body.message ?? type), response.status);
  }
  return body;
}

function stateMachineArn(): string {
  const arn = config().stateMachineArn;
  if (!arn) throw new Error('TRAINYARD_STATE_MACHINE_ARN is not set: this function does not run jobs');
  return arn;
}

/** The execution of a job: named after it, so a second start of the same job cannot run it twice. */
export function executionArnOf(jobId: string): string {
  return `${stateMachineArn().replace(':stateMachine:', ':execution:')}:${jobId}`;
}

/** Start a job's execution (named after it, or after its resume); starting it again (a retry, a race) is not an error. */
export async function startExecution(jobId: string, name = jobId): Promise<void> {
  try {
    await stepFunctions('StartExecution', { stateMachineArn: stateMachineArn(), name, input: JSON.stringify({ job_id: jobId }) });
  } catch (error) {
    if (error instanceof ServiceError && error.name === 'ExecutionAlreadyExists') return;
    throw error;
  }
}

export async function stopExecution(executionName: string, cause: string): Promise<void> {
  try {
    await stepFunctions('StopExecution', { executionArn: executionArnOf(executionName), error: 'Trainyard.Canceled', cause });
  } catch (error) {
    if (error instanceof ServiceError && error.name === 'ExecutionDoesNotExist') return;
    throw error;
  }
}

/** Ask Batch to end a job now (running attempts are stopped: SIGTERM, then SIGKILL). */
export async function terminateBatchJob(batchJobId: string, reason: string): Promise<void> {
  const { region, batchEndpoint } = config();
  const base = batchEndpoint ?? `https://batch.${region}.amazonaws.com`;
  const response = await sendSigned({
    url: `${base.replace(/\/$/, '')}/v1/terminatejob`,
    service: 'batch',
    region,
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ jobId: batchJobId, reason }),
  });
  if (response.status >= 300) throw new ServiceError('BatchError', response.body || `TerminateJob answered ${response.status}`, response.status);
}
