import { CfnOutput, Stack, type StackProps } from 'aws-cdk-lib';
import type { ITableV2 } from 'aws-cdk-lib/aws-dynamodb';
import type { IBucket } from 'aws-cdk-lib/aws-s3';
import type { ISecret } from 'aws-cdk-lib/aws-secretsmanager';
import type { Construct } from 'constructs';
import { Data, type DataProps } from './data';

export interface DataStackProps extends StackProps {
  readonly data?: DataProps;
}

/** The stateful stack: everything in it is retained, so the platform stack can be torn down and redeployed freely. */
export class DataStack extends Stack {
  public readonly table: ITableV2;
  public readonly bucket: IBucket;
  public readonly cursorSecret: ISecret;

  constructor(scope: Construct, id: string, props: DataStackProps = {}) {
    super(scope, id, props);
    const data = new Data(this, 'Data', props.data);
    this.table = data.table;
    this.bucket = data.bucket;
    this.cursorSecret = data.cursorSecret;

    // Here too (not only in the platform stack), so scripts that need only the data (bootstrap-admin) find it.
    new CfnOutput(this, 'TableName', { value: data.table.tableName, description: 'The DynamoDB table' });
    new CfnOutput(this, 'BucketName', { value: data.bucket.bucketName, description: 'The data bucket' });
  }
}
