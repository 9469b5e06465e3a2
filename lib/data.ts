import { Duration, RemovalPolicy, Stack, Validations } from 'aws-cdk-lib';
import { AttributeType, Billing, StreamViewType, TableV2 } from 'aws-cdk-lib/aws-dynamodb';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { Secret } from 'aws-cdk-lib/aws-secretsmanager';
import { Construct } from 'constructs';
import { tableLayout } from '../functions/core/entities/table';

export interface DataProps {
  /**
   * Keep superseded object versions in the data bucket, so an overwrite or a delete can be undone.
   * @default true
   */
  readonly versioned?: boolean;
  /**
   * How long a superseded object version is kept when `versioned`.
   * @default Duration.days(30)
   */
  readonly noncurrentVersionRetention?: Duration;
  /**
   * How long S3 server access logs are kept.
   * @default Duration.days(90)
   */
  readonly accessLogRetention?: Duration;
}

/**
 * Trainyard's state: the one DynamoDB table (built from `tableLayout`, the same data the local runtime
 * creates dynalite from), the data bucket (datasets, artifacts, logs, checkpoints) with its access-log
 * bucket, and the key that signs pagination cursors. All of it outlives the stack (RETAIN).
 */
export class Data extends Construct {
  public readonly table: TableV2;
  public readonly bucket: s3.Bucket;
  public readonly accessLogsBucket: s3.Bucket;
  public readonly cursorSecret: Secret;

  constructor(scope: Construct, id: string, props: DataProps = {}) {
    super(scope, id);

    this.table = new TableV2(this, 'Table', {
      partitionKey: { name: tableLayout.partitionKey, type: AttributeType.STRING },
      sortKey: { name: tableLayout.sortKey, type: AttributeType.STRING },
      globalSecondaryIndexes: tableLayout.globalIndexes.map((index) => ({
        indexName: index.indexName,
        partitionKey: { name: index.partitionKey, type: AttributeType.STRING },
        sortKey: { name: index.sortKey, type: AttributeType.STRING },
      })),
      timeToLiveAttribute: tableLayout.ttlAttribute,
      // Feeds the background purge of deleted datasets (lib/events.ts).
      dynamoStream: StreamViewType.NEW_IMAGE,
      billing: Billing.onDemand(),
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
      deletionProtection: true,
      removalPolicy: RemovalPolicy.RETAIN,
    });

    this.accessLogsBucket = new s3.Bucket(this, 'AccessLogs', {
      // S3 server access logging can only deliver to SSE-S3 buckets.
      encryption: s3.BucketEncryption.S3_MANAGED,
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      enforceSSL: true,
      minimumTLSVersion: 1.2,
      objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
      lifecycleRules: [
        { id: 'expire-access-logs', expiration: props.accessLogRetention ?? Duration.days(90) },
        { id: 'abort-incomplete-multipart-uploads', abortIncompleteMultipartUploadAfter: Duration.days(1) },
      ],
      removalPolicy: RemovalPolicy.RETAIN,
    });
    Validations.of(this.accessLogsBucket).acknowledge({
      id: 'AwsSolutions-S1',
      reason: 'This is the server access log bucket of the data bucket; logging its own access would log the log deliveries, recursively.',
    });

    const versioned = props.versioned ?? true;
    this.bucket = new s3.Bucket(this, 'Bucket', {
      encryption: s3.BucketEncryption.S3_MANAGED,
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      enforceSSL: true,
      minimumTLSVersion: 1.2,
      objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
      versioned,
      serverAccessLogsBucket: this.accessLogsBucket,
      serverAccessLogsPrefix: 'data-bucket/',
      // Object events go to EventBridge, where the platform stack's rule picks up files landing in datasets.
      eventBridgeEnabled: true,
      // Browsers upload parts with presigned URLs and must read each part's ETag to complete the upload.
      cors: [
        {
          allowedMethods: [s3.HttpMethods.PUT, s3.HttpMethods.GET, s3.HttpMethods.HEAD],
          allowedOrigins: ['*'],
          allowedHeaders: ['*'],
          exposedHeaders: ['ETag'],
          maxAge: 3000,
        },
      ],
      lifecycleRules: [
        // Clients upload straight to S3 with presigned multipart URLs; an abandoned upload's parts are billed until aborted.
        { id: 'abort-incomplete-multipart-uploads', abortIncompleteMultipartUploadAfter: Duration.days(1) },
        ...(versioned
          ? [{ id: 'expire-noncurrent-versions', noncurrentVersionExpiration: props.noncurrentVersionRetention ?? Duration.days(30) }]
          : []),
      ],
      removalPolicy: RemovalPolicy.RETAIN,
    });

    // Turning on EventBridge delivery makes CDK add its bucket-notifications custom resource, a Lambda
    // that runs only at deployment with AWS's basic execution role. It is CDK's, not ours to reshape.
    Validations.of(Stack.of(this)).acknowledge({
      id: 'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole]',
      reason:
        "CDK's BucketNotificationsHandler (deployment-time custom resource enabling EventBridge delivery on the data bucket) " +
        'uses the basic execution role; no Trainyard function in this stack does.',
    });

    this.cursorSecret = new Secret(this, 'CursorSecret', {
      description: 'Trainyard: HMAC key that signs pagination cursors',
      generateSecretString: { passwordLength: 64, excludePunctuation: true, includeSpace: false },
      removalPolicy: RemovalPolicy.RETAIN,
    });
    Validations.of(this.cursorSecret).acknowledge({
      id: 'AwsSolutions-SMG4',
      reason:
        'The secret is an HMAC key for opaque pagination cursors, not a credential to another system: rotating it only invalidates ' +
        'cursors in flight. It is rotated by replacing the secret (no rotation Lambda to run and secure).',
    });
  }
}
