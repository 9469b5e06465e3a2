import { Duration } from 'aws-cdk-lib';
import type { IFunction } from 'aws-cdk-lib/aws-lambda';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import * as tasks from 'aws-cdk-lib/aws-stepfunctions-tasks';
import type { Construct } from 'constructs';
import { JOB_RETRY_STRATEGY } from './retry';

/**
 * The job workflow, built by one pure function: CDK deploys it (lib/jobs/jobs.ts) and the local runtime
 * runs the very same definition (local/stepfunctions.ts renders it with local ARNs). One execution per
 * job, named after it:
 *
 *   Prepare (Lambda) → Run (batch:submitJob.sync: queue, definition and environment from Prepare, attempt
 *   timeout = the job's timeout, Spot reclaims retried) → Finalize (Lambda)
 *   any failure → Fail (Lambda: Error with the reason, or Canceled once the compute is stopped) → Failed
 */
export interface JobWorkflowDeps {
  prepare: IFunction;
  finalize: IFunction;
  fail: IFunction;
}

/** The longest a job may run (its own `timeout` is enforced by Batch per attempt, below this). */
export const MAX_JOB_SECONDS = 7 * 24 * 3600;

/** The state names (the local runtime overrides tasks by name). */
export const STATES = { prepare: 'Prepare', run: 'Run', finalize: 'Finalize', fail: 'Fail', failed: 'Failed' } as const;

export function jobWorkflow(scope: Construct, deps: JobWorkflowDeps): sfn.IChainable {
  const lambdaRetry = { errors: ['Lambda.ServiceException', 'Lambda.AWSLambdaException', 'Lambda.SdkClientException', 'Lambda.TooManyRequestsException'], interval: Duration.seconds(2), maxAttempts: 6, backoffRate: 2 };
  const failed = new sfn.Fail(scope, STATES.failed, { error: 'Trainyard.JobFailed', cause: 'the job ended in Error or was canceled; its record says why' });
  const fail = new tasks.LambdaInvoke(scope, STATES.fail, {
    lambdaFunction: deps.fail,
    payload: sfn.TaskInput.fromObject({ job_id: sfn.JsonPath.stringAt('$.job_id'), error: sfn.JsonPath.objectAt('$.error') }),
    payloadResponseOnly: true,
    resultPath: sfn.JsonPath.DISCARD,
  })
    .addRetry(lambdaRetry)
    .next(failed);
  const onError = { errors: ['States.ALL'], resultPath: '$.error' };

  const prepare = new tasks.LambdaInvoke(scope, STATES.prepare, {
    lambdaFunction: deps.prepare,
    payload: sfn.TaskInput.fromObject({ job_id: sfn.JsonPath.stringAt('$.job_id') }),
    payloadResponseOnly: true,
  })
    .addRetry(lambdaRetry)
    .addCatch(fail, onError);

  // Raw ASL: the L2 Batch task cannot take the queue, definition, environment and attempt timeout from
  // the state's input. The state machine's role is granted SubmitJob on exactly those ARNs (jobs.ts).
  const run = new sfn.CustomState(scope, STATES.run, {
    stateJson: {
      Type: 'Task',
      Resource: 'arn:aws:states:::batch:submitJob.sync',
      Parameters: {
        'JobName.$': '$.job_name',
        'JobQueue.$': '$.job_queue',
        'JobDefinition.$': '$.job_definition',
        ContainerOverrides: { 'Environment.$': '$.environment' },
        Timeout: { 'AttemptDurationSeconds.$': '$.timeout_s' },
        RetryStrategy: JOB_RETRY_STRATEGY,
        Tags: { 'trainyard:job.$': '$.job_id' },
      },
      TimeoutSeconds: MAX_JOB_SECONDS,
      ResultPath: '$.batch',
    },
  }).addCatch(fail, onError);

  const finalize = new tasks.LambdaInvoke(scope, STATES.finalize, {
    lambdaFunction: deps.finalize,
    payload: sfn.TaskInput.fromObject({ job_id: sfn.JsonPath.stringAt('$.job_id'), batch: sfn.JsonPath.objectAt('$.batch') }),
    payloadResponseOnly: true,
  })
    .addRetry(lambdaRetry)
    .addCatch(fail, onError);

  return prepare.next(run).next(finalize);
}
