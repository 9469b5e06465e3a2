import { Duration, Stack, Validations } from 'aws-cdk-lib';
import type { ITableV2 } from 'aws-cdk-lib/aws-dynamodb';
import { Rule } from 'aws-cdk-lib/aws-events';
import { LambdaFunction } from 'aws-cdk-lib/aws-events-targets';
import * as iam from 'aws-cdk-lib/aws-iam';
import { LogGroup, RetentionDays } from 'aws-cdk-lib/aws-logs';
import type { IBucket } from 'aws-cdk-lib/aws-s3';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import { Construct } from 'constructs';
import { fileURLToPath } from 'node:url';
import { grantBucket, grantTable } from '../access';
import { TrainyardFunction } from '../function';
import type { JobCompute } from './compute';
import { jobWorkflow } from './workflow';

export interface JobsEngineProps {
  readonly table: ITableV2;
  readonly bucket: IBucket;
  readonly compute: JobCompute;
}

/**
 * The jobs engine in AWS: the workflow's three task functions, the state machine (one Standard execution
 * per job; its definition is lib/jobs/workflow.ts), and the events that keep job records true: Batch job
 * state changes on Trainyard's queues and the workflow's own execution status changes.
 */
export class JobsEngine extends Construct {
  public readonly stateMachine: sfn.StateMachine;
  public readonly functions: Record<'prepare' | 'finalize' | 'fail' | 'jobState', TrainyardFunction>;

  constructor(scope: Construct, id: string, props: JobsEngineProps) {
    super(scope, id);
    const { compute } = props;
    const queueArns = { cpu: compute.queues.cpu.jobQueueArn, gpu: compute.queues.gpu.jobQueueArn };
    const definitionArns = { cpu: compute.jobDefinitions.cpu.jobDefinitionArn, gpu: compute.jobDefinitions.gpu.jobDefinitionArn };
    const environment = {
      TRAINYARD_TABLE: props.table.tableName,
      TRAINYARD_BUCKET: props.bucket.bucketName,
      TRAINYARD_JOB_QUEUES: Stack.of(this).toJsonString(queueArns),
      TRAINYARD_JOB_DEFINITIONS: Stack.of(this).toJsonString(definitionArns),
    };
    const make = (name: string, entry: string) => {
      const fn = new TrainyardFunction(this, name, { entry: fileURLToPath(new URL(`../../functions/${entry}`, import.meta.url)), environment, timeout: Duration.minutes(5) });
      grantTable(fn, props.table, 'readwrite');
      // Dataset files and versions (u/*) and the jobs' own outputs (jobs/*).
      grantBucket(fn, props.bucket, 'user-data');
      grantJobOutputs(fn, props.bucket);
      return fn;
    };
    this.functions = {
      prepare: make('PrepareFunction', 'workflow/prepare.ts'),
      finalize: make('FinalizeFunction', 'workflow/finalize.ts'),
      fail: make('FailFunction', 'workflow/fail.ts'),
      jobState: make('JobStateFunction', 'events/job-state.ts'),
    };

    this.stateMachine = new sfn.StateMachine(this, 'Workflow', {
      stateMachineType: sfn.StateMachineType.STANDARD,
      definitionBody: sfn.DefinitionBody.fromChainable(jobWorkflow(this, this.functions)),
      tracingEnabled: true,
      // Every state change is logged (not the data it carries: specs and paths stay out of the logs).
      logs: { destination: new LogGroup(this, 'WorkflowLogs', { retention: RetentionDays.THREE_MONTHS }), level: sfn.LogLevel.ALL, includeExecutionData: false },
    });
    // batch:submitJob.sync: submit to exactly Trainyard's queues and job definitions, and follow the job
    // through the rule Step Functions manages for Batch.
    this.stateMachine.addToRolePolicy(
      new iam.PolicyStatement({ actions: ['batch:SubmitJob', 'batch:TagResource'], resources: [...Object.values(queueArns), ...Object.values(definitionArns)] }),
    );
    this.stateMachine.addToRolePolicy(
      new iam.PolicyStatement({
        actions: ['events:PutTargets', 'events:PutRule', 'events:DescribeRule'],
        resources: [Stack.of(this).formatArn({ service: 'events', resource: 'rule', resourceName: 'StepFunctionsGetEventsForBatchJobsRule' })],
      }),
    );
    this.stateMachine.addToRolePolicy(
      new iam.PolicyStatement({ actions: ['batch:DescribeJobs', 'batch:TerminateJob'], resources: [Stack.of(this).formatArn({ service: 'batch', resource: 'job', resourceName: '*' })] }),
    );
    // cdk-nag v3 acknowledges each wildcard by its exact rendering; renaming a construct changes it, and
    // synthesis then fails and prints the new text.
    const acknowledge = (scope: Construct, resource: string, reason: string) => Validations.of(scope).acknowledge({ id: `AwsSolutions-IAM5[Resource::${resource}]`, reason });
    acknowledge(this.stateMachine.role, BATCH_JOBS, 'Batch job ARNs exist only once submitted; the workflow follows and may terminate only the jobs it submitted.');
    acknowledge(this.stateMachine.role, '*', 'X-Ray tracing (PutTraceSegments, PutTelemetryRecords) has no resource-level permissions.');
    for (const name of ['Prepare', 'Finalize', 'Fail'] as const) {
      acknowledge(this.stateMachine.role, `<${TASK_FUNCTION_IDS[name]}.Arn>:*`, `Invoking the ${name} function's versions (Step Functions' Lambda task grant); the function itself is named exactly.`);
    }

    new Rule(this, 'BatchJobStateChanged', {
      description: "Trainyard: a job's compute changed state (Running, attempts, stopped)",
      eventPattern: { source: ['aws.batch'], detailType: ['Batch Job State Change'], detail: { jobQueue: Object.values(queueArns) } },
      targets: [new LambdaFunction(this.functions.jobState, { retryAttempts: 4 })],
    });
    new Rule(this, 'WorkflowEnded', {
      description: "Trainyard: a job's workflow execution ended (stopped, timed out)",
      eventPattern: { source: ['aws.states'], detailType: ['Step Functions Execution Status Change'], detail: { stateMachineArn: [this.stateMachine.stateMachineArn], status: ['ABORTED', 'TIMED_OUT', 'FAILED'] } },
      targets: [new LambdaFunction(this.functions.jobState, { retryAttempts: 4 })],
    });
  }

  /** What the API's jobs function needs: start and stop executions, terminate Batch jobs. */
  grantRunJobs(grantee: iam.IGrantable & { role?: iam.IRole }): void {
    if (grantee.role) {
      Validations.of(grantee.role).acknowledge({ id: `AwsSolutions-IAM5[Resource::${EXECUTIONS}]`, reason: "Stopping a job's execution: executions are named by job id, of this state machine only." });
      Validations.of(grantee.role).acknowledge({ id: `AwsSolutions-IAM5[Resource::${BATCH_JOBS}]`, reason: 'Batch job ARNs exist only once submitted; cancel terminates the job it recorded for a job the caller may reach.' });
    }
    this.stateMachine.grantStartExecution(grantee);
    this.stateMachine.grantExecution(grantee, 'states:StopExecution');
    iam.Grant.addToPrincipal({ grantee, actions: ['batch:TerminateJob'], resourceArns: [Stack.of(this).formatArn({ service: 'batch', resource: 'job', resourceName: '*' })] });
  }
}

const BATCH_JOBS = 'arn:<AWS::Partition>:batch:<AWS::Region>:<AWS::AccountId>:job/*';
const TASK_FUNCTION_IDS = { Prepare: 'JobsEnginePrepareFunctionC662D0B2', Finalize: 'JobsEngineFinalizeFunction428D529E', Fail: 'JobsEngineFailFunctionFBD606C6' } as const;
const EXECUTIONS = 'arn:<AWS::Partition>:states:<AWS::Region>:<AWS::AccountId>:execution:{"Fn::Select":[6,{"Fn::Split":[":",{"Ref":"JobsEngineWorkflow8B8AECD5"}]}]}:*';

/** Read and write the jobs' outputs (jobs/{job_id}/...), keys the server builds from job ids. */
export function grantJobOutputs(grantee: iam.IGrantable & { role?: iam.IRole }, bucket: IBucket): iam.Grant {
  if (grantee.role) {
    Validations.of(grantee.role).acknowledge({
      id:
        'AwsSolutions-IAM5[Resource::{"Fn::GetStackOutput":{"StackName":"TrainyardData","Region":{"Ref":"AWS::Region"},' +
        '"OutputName":"PublishOutputFnGetAttDataBucketE6B0FAA8Arn1C0B2E61"}}/jobs/*]',
      reason: "Jobs' outputs are objects under jobs/{job_id}/, keys the server builds from job ids after checking the caller may reach the job.",
    });
  }
  return iam.Grant.addToPrincipal({ grantee, actions: ['s3:GetObject', 's3:PutObject', 's3:DeleteObject'], resourceArns: [bucket.arnForObjects('jobs/*')] });
}
