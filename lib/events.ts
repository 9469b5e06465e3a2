import { Duration } from 'aws-cdk-lib';
import { Validations } from 'aws-cdk-lib';
import type { ITableV2 } from 'aws-cdk-lib/aws-dynamodb';
import { Match, Rule } from 'aws-cdk-lib/aws-events';
import { SqsQueue } from 'aws-cdk-lib/aws-events-targets';
import { FilterCriteria, FilterRule, StartingPosition } from 'aws-cdk-lib/aws-lambda';
import { DynamoEventSource, SqsEventSource } from 'aws-cdk-lib/aws-lambda-event-sources';
import { Queue, QueueEncryption } from 'aws-cdk-lib/aws-sqs';
import type { IBucket } from 'aws-cdk-lib/aws-s3';
import { Construct } from 'constructs';
import { fileURLToPath } from 'node:url';
import { type BucketAccess, grantBucket, grantTable } from './access';
import { TrainyardFunction } from './function';

/**
 * A function that consumes events about dataset storage: reads and writes the table, reaches the objects
 * under u/ in the bucket. Both consumers below are built by this one recipe.
 */
function storageEventFunction(
  scope: Construct,
  id: string,
  entry: string,
  props: { table: ITableV2; bucket: IBucket },
  timeout: Duration,
  access: BucketAccess,
): TrainyardFunction {
  const fn = new TrainyardFunction(scope, id, {
    entry: fileURLToPath(new URL(`../functions/events/${entry}`, import.meta.url)),
    environment: { TRAINYARD_TABLE: props.table.tableName, TRAINYARD_BUCKET: props.bucket.bucketName },
    timeout,
  });
  grantTable(fn, props.table, 'readwrite');
  grantBucket(fn, props.bucket, access);
  return fn;
}

export interface DatasetPurgeProps {
  /** The table; it must have a stream with new images (DataStack turns it on). */
  readonly table: ITableV2;
  readonly bucket: IBucket;
}

/**
 * Background removal of deleted datasets: the table's stream, filtered to new purge records, feeds
 * functions/events/purge.ts, which deletes the dataset's objects and upload sessions. Failed records are
 * retried alone (batch item failures), five times; a record that still fails stays in the table, listed
 * by the `purge` key of gsi1, for an operator to re-drive (re-putting it starts the purge again).
 */
export class DatasetPurge extends Construct {
  public readonly function: TrainyardFunction;

  constructor(scope: Construct, id: string, props: DatasetPurgeProps) {
    super(scope, id);
    this.function = storageEventFunction(this, 'PurgeFunction', 'purge.ts', props, Duration.minutes(5), 'user-files');
    this.function.addEventSource(
      new DynamoEventSource(props.table, {
        startingPosition: StartingPosition.LATEST,
        batchSize: 10,
        retryAttempts: 5,
        reportBatchItemFailures: true,
        filters: [FilterCriteria.filter({ eventName: FilterRule.isEqual('INSERT'), dynamodb: { NewImage: { entity: { S: FilterRule.isEqual('purge') } } } })],
      }),
    );
    Validations.of(this.function.role!).acknowledge({
      id: 'AwsSolutions-IAM5[Resource::*]',
      reason: 'dynamodb:ListStreams, which a stream event source needs, has no resource-level permissions; every other action names the table stream.',
    });
  }
}

export interface DatasetIngestProps {
  readonly table: ITableV2;
  /** The data bucket; it must send its events to EventBridge (DataStack turns that on). */
  readonly bucket: IBucket;
}

/**
 * What becomes of files landing in datasets: S3 "Object Created" events for keys under
 * `u/{user}/dataset/{id}/files/` go through EventBridge (a rule in this stack, so the retained data stack never
 * depends on this one) onto a queue, and functions/events/ingest.ts takes them in batches of up to 100:
 * images become samples, archives are unpacked, annotation files imported. A batch item that fails is
 * retried alone (batch item failures), up to five receipts, then kept 14 days in a dead-letter queue.
 */
export class DatasetIngest extends Construct {
  public readonly function: TrainyardFunction;
  public readonly queue: Queue;
  public readonly deadLetters: Queue;

  constructor(scope: Construct, id: string, props: DatasetIngestProps) {
    super(scope, id);
    const timeout = Duration.minutes(15);
    this.function = storageEventFunction(this, 'IngestFunction', 'ingest.ts', props, timeout, 'user-ingest');
    this.deadLetters = new Queue(this, 'DeadLetters', { encryption: QueueEncryption.SQS_MANAGED, enforceSSL: true, retentionPeriod: Duration.days(14) });
    Validations.of(this.deadLetters).acknowledge({ id: 'AwsSolutions-SQS3', reason: 'This is the dead-letter queue of the ingest queue; it has none of its own.' });
    this.queue = new Queue(this, 'Landed', {
      encryption: QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      // Lambda's rule of thumb: six times the function's timeout, so a batch in progress is not handed out twice.
      visibilityTimeout: Duration.minutes(90),
      deadLetterQueue: { queue: this.deadLetters, maxReceiveCount: 5 },
    });
    new Rule(this, 'FileLanded', {
      description: 'Trainyard: a file landed in a dataset; make samples of it, unpack it or import its annotations',
      eventPattern: {
        source: ['aws.s3'],
        detailType: ['Object Created'],
        detail: { bucket: { name: [props.bucket.bucketName] }, object: { key: Match.wildcard('u/*/dataset/*/files/*') } },
      },
      targets: [new SqsQueue(this.queue)],
    });
    this.function.addEventSource(new SqsEventSource(this.queue, { batchSize: 100, maxBatchingWindow: Duration.seconds(5), reportBatchItemFailures: true }));
  }
}
