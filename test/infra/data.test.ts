import { Match, Template } from 'aws-cdk-lib/assertions';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tableLayout } from '../../functions/core/entities/table';
import { removeSynthOutput, synthTrainyard } from './synth';

let template: Template;

afterAll(removeSynthOutput);

beforeAll(() => {
  // Prepare: the whole app, as `cdk synth` builds it.
  const { data } = synthTrainyard();
  template = Template.fromStack(data);
});

/** A bucket policy statement that denies everything over plain HTTP. */
const denyInsecureTransport = expect.objectContaining({
  Effect: 'Deny',
  Action: 's3:*',
  Principal: { AWS: '*' },
  Condition: { Bool: { 'aws:SecureTransport': 'false' } },
});

describe('the table', () => {
  it('is built from tableLayout: keys, both GSIs and TTL', () => {
    const indexes = tableLayout.globalIndexes.map((index) =>
      Match.objectLike({
        IndexName: index.indexName,
        KeySchema: [
          { AttributeName: index.partitionKey, KeyType: 'HASH' },
          { AttributeName: index.sortKey, KeyType: 'RANGE' },
        ],
        Projection: { ProjectionType: 'ALL' },
      }),
    );
    template.resourceCountIs('AWS::DynamoDB::GlobalTable', 1);
    template.hasResourceProperties('AWS::DynamoDB::GlobalTable', {
      KeySchema: [
        { AttributeName: tableLayout.partitionKey, KeyType: 'HASH' },
        { AttributeName: tableLayout.sortKey, KeyType: 'RANGE' },
      ],
      GlobalSecondaryIndexes: indexes,
      TimeToLiveSpecification: { AttributeName: 'ttl', Enabled: true },
      BillingMode: 'PAY_PER_REQUEST',
    });
  });

  it('streams new images, for the background purge of deleted datasets', () => {
    template.hasResourceProperties('AWS::DynamoDB::GlobalTable', { StreamSpecification: { StreamViewType: 'NEW_IMAGE' } });
  });

  it('survives mistakes: point-in-time recovery, deletion protection, retained with the stack', () => {
    template.hasResource('AWS::DynamoDB::GlobalTable', {
      DeletionPolicy: 'Retain',
      UpdateReplacePolicy: 'Retain',
      Properties: Match.objectLike({
        Replicas: [
          Match.objectLike({
            PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
            DeletionProtectionEnabled: true,
          }),
        ],
      }),
    });
  });
});

describe('the data bucket', () => {
  const dataBucket = { LoggingConfiguration: Match.objectLike({ LogFilePrefix: 'data-bucket/' }) };

  it('blocks public access, encrypts at rest and is retained', () => {
    template.hasResource('AWS::S3::Bucket', {
      DeletionPolicy: 'Retain',
      Properties: Match.objectLike({
        ...dataBucket,
        PublicAccessBlockConfiguration: {
          BlockPublicAcls: true,
          BlockPublicPolicy: true,
          IgnorePublicAcls: true,
          RestrictPublicBuckets: true,
        },
        BucketEncryption: {
          ServerSideEncryptionConfiguration: [{ ServerSideEncryptionByDefault: { SSEAlgorithm: Match.anyValue() } }],
        },
      }),
    });
  });

  it('aborts unfinished multipart uploads after a day', () => {
    template.hasResourceProperties('AWS::S3::Bucket', {
      ...dataBucket,
      LifecycleConfiguration: {
        Rules: Match.arrayWith([
          Match.objectLike({ AbortIncompleteMultipartUpload: { DaysAfterInitiation: 1 }, Status: 'Enabled' }),
        ]),
      },
    });
  });

  it('lets browsers PUT presigned parts and read their ETags (needed to complete a multipart upload)', () => {
    template.hasResourceProperties('AWS::S3::Bucket', {
      ...dataBucket,
      CorsConfiguration: {
        CorsRules: [Match.objectLike({ AllowedMethods: Match.arrayWith(['PUT']), ExposedHeaders: ['ETag'] })],
      },
    });
  });

  it('sends its object events to EventBridge (archives to unpack)', () => {
    // CDK sets this through its bucket-notifications custom resource.
    template.hasResourceProperties('Custom::S3BucketNotifications', { NotificationConfiguration: { EventBridgeConfiguration: {} } });
  });

  it('refuses every request that is not over TLS, on every bucket', () => {
    const buckets = template.findResources('AWS::S3::Bucket');
    const policies = Object.values(template.findResources('AWS::S3::BucketPolicy'));
    expect(Object.keys(buckets).length).toBeGreaterThanOrEqual(2);
    for (const bucketId of Object.keys(buckets)) {
      const policy = policies.find((p) => JSON.stringify(p.Properties.Bucket) === JSON.stringify({ Ref: bucketId }));
      expect(policy, `a bucket policy on ${bucketId}`).toBeDefined();
      expect(policy!.Properties.PolicyDocument.Statement).toEqual(expect.arrayContaining([denyInsecureTransport]));
    }
  });
});

describe('the cursor signing secret', () => {
  it('is generated (at least 32 characters) and retained', () => {
    template.hasResource('AWS::SecretsManager::Secret', {
      DeletionPolicy: 'Retain',
      Properties: Match.objectLike({
        GenerateSecretString: Match.objectLike({ PasswordLength: Match.anyValue() }),
      }),
    });
    const secret = Object.values(template.findResources('AWS::SecretsManager::Secret'))[0]!;
    expect(secret.Properties.GenerateSecretString.PasswordLength).toBeGreaterThanOrEqual(32);
  });
});

describe('outputs', () => {
  it('name the table and the bucket (bootstrap-admin reads TableName from this stack)', () => {
    template.hasOutput('TableName', { Value: { Ref: Match.anyValue() } });
    template.hasOutput('BucketName', { Value: { Ref: Match.anyValue() } });
  });
});
