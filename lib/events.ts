import { Duration } from 'aws-cdk-lib';
import { Validations } from 'aws-cdk-lib';
import type { ITableV2 } from 'aws-cdk-lib/aws-dynamodb';
import { Match, Rule } from 'aws-cdk-lib/aws-events';
import { LambdaFunction } from 'aws-cdk-lib/aws-events-targets';
import { FilterCriteria, FilterRule, StartingPosition } from 'aws-cdk-lib/aws-lambda';
import { DynamoEventSource } from 'aws-cdk-lib/aws-lambda-event-sources';
import type { IBucket } from 'aws-cdk-lib/aws-s3';
import { Construct } from 'constructs';
import { fileURLToPath } from 'node:url';
import { grantBucket, grantTable } from './access';
import { TrainyardFunction } from './function';

/**
 * A function that consumes events about dataset storage: reads and writes the table, reaches the objects
 * under u/ in the bucket. Both consumers below are built by this one recipe.
 */
function storageEventFunction(scope: Construct, id: string, entry: string, props: { table: ITableV2; bucket: IBucket }, timeout: Duration): TrainyardFunction {
  const fn = new TrainyardFunction(scope, id, {
    entry: fileURLToPath(new URL(`../functions/events/${entry}`, import.meta.url)),
    environment: { TRAINYARD_TABLE: props.table.tableName, TRAINYARD_BUCKET: props.bucket.bucketName },
    timeout,
  });
  grantTable(fn, props.table, 'readwrite');
  grantBucket(fn, props.bucket, 'user-files');
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
    this.function = storageEventFunction(this, 'PurgeFunction', 'purge.ts', props, Duration.minutes(5));
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

export interface ArchiveUnpackProps {
  readonly table: ITableV2;
  /** The data bucket; it must send its events to EventBridge (DataStack turns that on). */
  readonly bucket: IBucket;
}

/**
 * Unpacking of archives uploaded into datasets: S3 "Object Created" events for `.tar`, `.tar.gz`, `.zip` and
 * `.tgz` keys under `u/`, through EventBridge (a rule in this stack, so the retained data stack never
 * depends on this one), invoke functions/events/unpack.ts.
 */
export class ArchiveUnpack extends Construct {
  public readonly function: TrainyardFunction;

  constructor(scope: Construct, id: string, props: ArchiveUnpackProps) {
    super(scope, id);
    this.function = storageEventFunction(this, 'UnpackFunction', 'unpack.ts', props, Duration.minutes(15));
    new Rule(this, 'ArchiveUploaded', {
      description: 'Trainyard: an archive landed in a dataset; unpack it',
      eventPattern: {
        source: ['aws.s3'],
        detailType: ['Object Created'],
        detail: {
          bucket: { name: [props.bucket.bucketName] },
          object: { key: Match.anyOf(Match.suffix('.tar'), Match.suffix('.tar.gz'), Match.suffix('.tgz'), Match.suffix('.zip')) },
        },
      },
      targets: [new LambdaFunction(this.function, { retryAttempts: 2 })],
    });
  }
}
