import type { ITableV2 } from 'aws-cdk-lib/aws-dynamodb';
import { Validations } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import type { IBucket } from 'aws-cdk-lib/aws-s3';
import type { ISecret } from 'aws-cdk-lib/aws-secretsmanager';
import { tableLayout } from '../functions/core/entities/table';

/**
 * Least-privilege access, as modes rather than policy documents (AWS Solutions Constructs style).
 * A function is granted a mode; the actions behind each mode are written once, here.
 */
export type TableAccess = 'read' | 'readwrite';

const TABLE_READ_ACTIONS = [
  'dynamodb:GetItem',
  'dynamodb:BatchGetItem',
  'dynamodb:Query',
  'dynamodb:Scan',
  'dynamodb:ConditionCheckItem',
  'dynamodb:DescribeTable',
] as const;

// Transactions (TransactWriteItems) are authorised per item by these same actions.
const TABLE_WRITE_ACTIONS = ['dynamodb:PutItem', 'dynamodb:UpdateItem', 'dynamodb:DeleteItem', 'dynamodb:BatchWriteItem'] as const;

export const TABLE_ACTIONS: Record<TableAccess, readonly string[]> = {
  read: TABLE_READ_ACTIONS,
  readwrite: [...TABLE_READ_ACTIONS, ...TABLE_WRITE_ACTIONS],
};

/**
 * Grant `grantee` the `access` mode on the table and on each of its indexes, named from `tableLayout`
 * (rather than `index/*`, so the policy holds no wildcard).
 */
export function grantTable(grantee: iam.IGrantable, table: ITableV2, access: TableAccess): iam.Grant {
  const indexArns = tableLayout.globalIndexes.map((index) => `${table.tableArn}/index/${index.indexName}`);
  return iam.Grant.addToPrincipal({
    grantee,
    actions: [...TABLE_ACTIONS[access]],
    resourceArns: [table.tableArn, ...indexArns],
  });
}

/** Read the secret's value (and nothing else: no listing, no writing). */
export function grantSecretRead(grantee: iam.IGrantable, secret: ISecret): iam.Grant {
  return secret.grantRead(grantee);
}

/**
 * Dataset files in the bucket: the objects under `u/` (keys the server builds from ids) and listing
 * under that prefix. Presigned URLs carry the signing function's rights, so this is also what a
 * client's presigned PUT or GET may do.
 */
export type BucketAccess = 'user-files' | 'user-data' | 'user-ingest';

/**
 * What each kind of access may do with objects under u/: `user-files` everything uploads need (multipart
 * included) and the purge; `user-data` read, write and delete single objects (samples, versions);
 * `user-ingest` read and write only (unpacking, annotation import: it never deletes).
 */
const OBJECT_ACTIONS: Record<BucketAccess, string[]> = {
  'user-files': ['s3:GetObject', 's3:PutObject', 's3:DeleteObject', 's3:AbortMultipartUpload', 's3:ListMultipartUploadParts'],
  'user-data': ['s3:GetObject', 's3:PutObject', 's3:DeleteObject'],
  'user-ingest': ['s3:GetObject', 's3:PutObject'],
};

export const USER_FILES_PREFIX = 'u/';

export function grantBucket(grantee: iam.IGrantable & { role?: iam.IRole }, bucket: IBucket, access: BucketAccess): iam.Grant[] {
  if (grantee.role) {
    // cdk-nag v3 acknowledges each wildcard finding by its exact resource, as synthesis renders it (the
    // data bucket's ARN read across stacks, then /u/*). Renaming the bucket construct changes this text;
    // synthesis then fails and prints the new one.
    Validations.of(grantee.role).acknowledge({
      id:
        'AwsSolutions-IAM5[Resource::{"Fn::GetStackOutput":{"StackName":"TrainyardData","Region":{"Ref":"AWS::Region"},' +
        '"OutputName":"PublishOutputFnGetAttDataBucketE6B0FAA8Arn1C0B2E61"}}/u/*]',
      reason:
        'Dataset files are objects under u/ whose keys the server builds per user and dataset (u/{user}/dataset/{id}/...); ' +
        'the grant is limited to that prefix, and handlers check the caller may reach the dataset before they sign any URL.',
    });
  }
  return [
    iam.Grant.addToPrincipal({
      grantee,
      actions: OBJECT_ACTIONS[access],
      resourceArns: [bucket.arnForObjects(`${USER_FILES_PREFIX}*`)],
    }),
    iam.Grant.addToPrincipal({
      grantee,
      actions: ['s3:ListBucket'],
      resourceArns: [bucket.bucketArn],
      conditions: { StringLike: { 's3:prefix': [`${USER_FILES_PREFIX}*`] } },
    }),
  ];
}
