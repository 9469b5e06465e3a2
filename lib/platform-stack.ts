import { CfnOutput, Stack, type StackProps } from 'aws-cdk-lib';
import type { ITableV2 } from 'aws-cdk-lib/aws-dynamodb';
import type { IBucket } from 'aws-cdk-lib/aws-s3';
import type { ISecret } from 'aws-cdk-lib/aws-secretsmanager';
import type { Construct } from 'constructs';
import { DatasetIngest, DatasetPurge } from './events';
import { Api, type ApiProps } from './api';
import { JobCompute } from './jobs/compute';
import { grantJobOutputs, JobsEngine } from './jobs/jobs';

export interface PlatformStackProps extends StackProps {
  readonly table: ITableV2;
  readonly bucket: IBucket;
  readonly cursorSecret: ISecret;
  /** Options of the API other than its dependencies. */
  readonly api?: Omit<ApiProps, 'table' | 'bucket' | 'cursorSecret'>;
}

/** The stateless stack: the API and its functions. It holds no data, so it can be destroyed and redeployed at will. */
export class PlatformStack extends Stack {
  public readonly api: Api;
  public readonly purge: DatasetPurge;
  public readonly ingest: DatasetIngest;
  /** Where jobs run: AWS Batch queues, job definitions and their VPC. */
  public readonly compute: JobCompute;
  /** The job workflow, its task functions and the events that keep job records true. */
  public readonly jobs: JobsEngine;

  constructor(scope: Construct, id: string, props: PlatformStackProps) {
    super(scope, id, props);
    this.api = new Api(this, 'Api', {
      ...props.api,
      table: props.table,
      bucket: props.bucket,
      cursorSecret: props.cursorSecret,
    });

    this.purge = new DatasetPurge(this, 'DatasetPurge', { table: props.table, bucket: props.bucket });
    this.ingest = new DatasetIngest(this, 'DatasetIngest', { table: props.table, bucket: props.bucket });
    this.compute = new JobCompute(this, 'JobCompute', { bucket: props.bucket });
    this.jobs = new JobsEngine(this, 'JobsEngine', { table: props.table, bucket: props.bucket, compute: this.compute });
    const jobsApi = this.api.handlers.jobs;
    jobsApi.addEnvironment('TRAINYARD_STATE_MACHINE_ARN', this.jobs.stateMachine.stateMachineArn);
    this.jobs.grantRunJobs(jobsApi);
    grantJobOutputs(jobsApi, props.bucket);

    new CfnOutput(this, 'ApiUrl', { value: this.api.url, description: 'Base URL of the Trainyard API' });
    new CfnOutput(this, 'TableName', { value: props.table.tableName, description: 'The DynamoDB table' });
    new CfnOutput(this, 'BucketName', { value: props.bucket.bucketName, description: 'The data bucket' });
  }
}
