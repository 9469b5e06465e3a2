import type { CfnElement, Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import type { IConstruct } from 'constructs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HANDLER_GROUPS, routeEntries, routeKeyOf, type HandlerGroup } from '../../functions/routes';
import { TRAINYARD_RUNTIME } from '../../lib/function';
import type { PlatformStack } from '../../lib/platform-stack';
import { removeSynthOutput, synthTrainyard } from './synth';

let platform: PlatformStack;
let template: Template;

afterAll(removeSynthOutput);

beforeAll(() => {
  // Prepare: the whole app, as `cdk synth` builds it (code assets are placeholders here; see bundling.test.ts).
  platform = synthTrainyard().platform;
  template = Template.fromStack(platform);
});

// Template JSON is untyped CloudFormation; the assertions themselves check its shape.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Resource = { Type: string; Properties: Record<string, any> };

const logicalId = (stack: Stack, construct: IConstruct): string => stack.getLogicalId(construct.node.defaultChild as CfnElement);
const functionId = (group: HandlerGroup | 'authorizer'): string =>
  logicalId(platform, group === 'authorizer' ? platform.api.authorizerFunction : platform.api.handlers[group]);
const authorizerId = (): string => Object.keys(template.findResources('AWS::ApiGatewayV2::Authorizer'))[0]!;

/** Every IAM action the function's role may perform (from all policies attached to it). */
function actionsOf(group: HandlerGroup | 'authorizer'): string[] {
  const fn = group === 'authorizer' ? platform.api.authorizerFunction : platform.api.handlers[group];
  const roleRef = { Ref: logicalId(platform, fn.role!) };
  const policies = Object.values(template.findResources('AWS::IAM::Policy')) as Resource[];
  return policies
    .filter((p) => (p.Properties.Roles as unknown[]).some((r) => JSON.stringify(r) === JSON.stringify(roleRef)))
    .flatMap((p) => p.Properties.PolicyDocument.Statement as { Action: string | string[] }[])
    .flatMap((s) => (Array.isArray(s.Action) ? s.Action : [s.Action]));
}

const WRITE_ACTION = /^dynamodb:(PutItem|UpdateItem|DeleteItem|BatchWriteItem|PartiQLInsert|PartiQLUpdate|PartiQLDelete)$|^s3:(Put|Delete)|\*/;

describe('routes: the HTTP API is the route table', () => {
  const entries = routeEntries();

  it('has exactly one route per route-table entry, and no other', () => {
    const routeKeys = (Object.values(template.findResources('AWS::ApiGatewayV2::Route')) as Resource[]).map((r) => r.Properties.RouteKey);
    expect(routeKeys.sort()).toEqual(entries.map(([, route]) => routeKeyOf(route)).sort());
  });

  it.each(entries)('%s is routed to its group function with the right authorizer', (_operationId, route) => {
    const routes = template.findResources('AWS::ApiGatewayV2::Route', { Properties: { RouteKey: routeKeyOf(route) } });
    expect(Object.keys(routes)).toHaveLength(1);
    const props = (Object.values(routes)[0] as Resource).Properties;

    if (route.access === 'public') {
      expect(props.AuthorizationType).toBe('NONE');
      expect(props.AuthorizerId).toBeUndefined();
    } else {
      expect(props.AuthorizationType).toBe('CUSTOM');
      expect(props.AuthorizerId).toEqual({ Ref: authorizerId() });
    }

    const integrationId = props.Target['Fn::Join'][1][1].Ref as string;
    const integration = template.toJSON().Resources[integrationId] as Resource;
    expect(integration.Properties).toMatchObject({
      IntegrationType: 'AWS_PROXY',
      PayloadFormatVersion: '2.0',
      IntegrationUri: { 'Fn::GetAtt': [functionId(route.group), 'Arn'] },
    });
  });
});

describe('the authorizer', () => {
  it('is a Lambda authorizer with simple responses, no identity source and no cache', () => {
    template.resourceCountIs('AWS::ApiGatewayV2::Authorizer', 1);
    template.hasResourceProperties('AWS::ApiGatewayV2::Authorizer', {
      AuthorizerType: 'REQUEST',
      EnableSimpleResponses: true,
      AuthorizerPayloadFormatVersion: '2.0',
      AuthorizerResultTtlInSeconds: 0,
      AuthorizerUri: Match.objectLike({
        'Fn::Join': ['', Match.arrayWith([{ 'Fn::GetAtt': [functionId('authorizer'), 'Arn'] }])],
      }),
    });
    // No identity source: API Gateway must call the authorizer even without an Authorization header,
    // so the 401 comes from the handlers, in the API's error shape.
    const authorizer = Object.values(template.findResources('AWS::ApiGatewayV2::Authorizer'))[0] as Resource;
    expect(authorizer.Properties.IdentitySource ?? []).toEqual([]);
  });
});

describe('functions', () => {
  const functions = () => Object.entries(template.findResources('AWS::Lambda::Function')) as [string, Resource][];

  it('one per handler group, plus the authorizer, the dataset purge, the dataset ingest and the jobs engine', () => {
    const events = [platform.purge.function, platform.ingest.function, ...Object.values(platform.jobs.functions)].map((fn) => logicalId(platform, fn));
    expect(functions().map(([id]) => id).sort()).toEqual([...[...HANDLER_GROUPS, 'authorizer'].map((g) => functionId(g as HandlerGroup)), ...events].sort());
  });

  it('every function: arm64, Node.js runtime, ESM handler, configuration in its environment', () => {
    for (const [, fn] of functions()) {
      expect(fn.Properties.Architectures).toEqual(['arm64']);
      expect(fn.Properties.Runtime).toBe(TRAINYARD_RUNTIME.name);
      expect(fn.Properties.Runtime).toMatch(/^nodejs\d+\.x$/);
      expect(fn.Properties.Handler).toBe('index.handler');
      expect(Object.keys(fn.Properties.Environment.Variables)).toEqual(expect.arrayContaining(['TRAINYARD_TABLE', 'TRAINYARD_BUCKET']));
    }
    // The functions that page sign cursors: they are told where the key is.
    for (const group of ['identity', 'datasets', 'files'] as const) {
      const [, fn] = functions().find(([id]) => id === functionId(group))!;
      expect(Object.keys(fn.Properties.Environment.Variables)).toContain('TRAINYARD_CURSOR_SECRET_ARN');
    }
  });

  it('every function logs to its own log group, which has a retention', () => {
    const logGroups = template.findResources('AWS::Logs::LogGroup');
    const used = new Set<string>();
    for (const [, fn] of functions()) {
      const logGroupId = fn.Properties.LoggingConfig.LogGroup.Ref as string;
      expect(logGroups[logGroupId]?.Properties.RetentionInDays).toBeGreaterThan(0);
      used.add(logGroupId);
    }
    expect(used.size).toBe(functions().length);
  });
});

describe('least privilege', () => {
  it('docs touches no data: no DynamoDB, no secret, no S3', () => {
    expect(actionsOf('docs').filter((a) => /^(dynamodb|secretsmanager|s3):/.test(a))).toEqual([]);
  });

  it('the authorizer and health read the table and never write', () => {
    for (const group of ['authorizer', 'health'] as const) {
      const actions = actionsOf(group);
      expect(actions).toEqual(expect.arrayContaining(['dynamodb:GetItem', 'dynamodb:Query']));
      expect(actions.filter((a) => WRITE_ACTION.test(a))).toEqual([]);
      expect(actions.filter((a) => a.startsWith('secretsmanager:'))).toEqual([]);
    }
  });

  it('identity and datasets read and write the table and read the cursor secret', () => {
    for (const group of ['identity', 'datasets'] as const) {
      expect(actionsOf(group)).toEqual(
        expect.arrayContaining(['dynamodb:GetItem', 'dynamodb:Query', 'dynamodb:PutItem', 'dynamodb:UpdateItem', 'dynamodb:DeleteItem', 'secretsmanager:GetSecretValue']),
      );
    }
  });

  it('only the data-plane functions (files, samples, jobs) may touch S3, no action is a wildcard, and no role carries a managed policy', () => {
    const dataPlane: readonly string[] = ['files', 'samples', 'jobs'];
    for (const group of [...HANDLER_GROUPS, 'authorizer'] as const) {
      expect(actionsOf(group).filter((a) => a.includes('*'))).toEqual([]);
      if (!dataPlane.includes(group)) expect(actionsOf(group).filter((a) => a.startsWith('s3:'))).toEqual([]);
    }
    for (const role of Object.values(template.findResources('AWS::IAM::Role')) as Resource[]) {
      expect(role.Properties.ManagedPolicyArns).toBeUndefined();
    }
  });
});

describe('the dataset purge', () => {
  it('reads the table stream, filtered to new purge records, reporting failed records one by one', () => {
    template.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
      FunctionName: { Ref: logicalId(platform, platform.purge.function) },
      StartingPosition: 'LATEST',
      FunctionResponseTypes: ['ReportBatchItemFailures'],
      FilterCriteria: { Filters: [{ Pattern: JSON.stringify({ eventName: ['INSERT'], dynamodb: { NewImage: { entity: { S: ['purge'] } } } }) }] },
    });
  });
});

describe('dataset ingest', () => {
  it('an EventBridge rule puts the data bucket\'s "Object Created" events for dataset files on the ingest queue', () => {
    template.hasResourceProperties('AWS::Events::Rule', {
      EventPattern: Match.objectLike({
        source: ['aws.s3'],
        'detail-type': ['Object Created'],
        detail: { bucket: { name: Match.anyValue() }, object: { key: [{ wildcard: 'u/*/dataset/*/files/*' }] } },
      }),
      Targets: [Match.objectLike({ Arn: { 'Fn::GetAtt': [logicalId(platform, platform.ingest.queue), 'Arn'] } })],
    });
  });

  it('the ingest function takes the queue in batches of up to 100, handing back only failed items, with a dead-letter queue after five receipts', () => {
    template.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
      FunctionName: { Ref: logicalId(platform, platform.ingest.function) },
      EventSourceArn: { 'Fn::GetAtt': [logicalId(platform, platform.ingest.queue), 'Arn'] },
      BatchSize: 100,
      FunctionResponseTypes: ['ReportBatchItemFailures'],
    });
    template.hasResourceProperties('AWS::SQS::Queue', {
      VisibilityTimeout: 5400,
      RedrivePolicy: { deadLetterTargetArn: { 'Fn::GetAtt': [logicalId(platform, platform.ingest.deadLetters), 'Arn'] }, maxReceiveCount: 5 },
    });
  });
});

describe('dataset files in S3', () => {
  it('the files function reaches objects under u/ only, and lists only under u/', () => {
    const role = { Ref: logicalId(platform, platform.api.handlers.files.role!) };
    const statements = (Object.values(template.findResources('AWS::IAM::Policy')) as Resource[])
      .filter((p) => (p.Properties.Roles as unknown[]).some((r) => JSON.stringify(r) === JSON.stringify(role)))
      .flatMap((p) => p.Properties.PolicyDocument.Statement as { Action: string | string[]; Resource: unknown; Condition?: unknown }[])
      .filter((st) => [st.Action].flat().some((a) => a.startsWith('s3:')));
    const objects = statements.find((st) => [st.Action].flat().includes('s3:PutObject'))!;
    expect(JSON.stringify(objects.Resource)).toMatch(/\/u\/\*"/);
    const listing = statements.find((st) => [st.Action].flat().includes('s3:ListBucket'))!;
    expect(listing.Condition).toEqual({ StringLike: { 's3:prefix': ['u/*'] } });
  });
});

describe('the stage', () => {
  it('is the auto-deployed $default stage, with JSON access logs to CloudWatch', () => {
    template.hasResourceProperties('AWS::ApiGatewayV2::Stage', {
      StageName: '$default',
      AutoDeploy: true,
      AccessLogSettings: { DestinationArn: { 'Fn::GetAtt': [Match.anyValue(), 'Arn'] }, Format: Match.anyValue() },
    });
    const stage = Object.values(template.findResources('AWS::ApiGatewayV2::Stage'))[0] as Resource;
    const format = JSON.parse(stage.Properties.AccessLogSettings.Format as string) as Record<string, string>;
    expect(format).toMatchObject({
      requestId: '$context.requestId',
      routeKey: '$context.routeKey',
      status: '$context.status',
      latency: '$context.responseLatency',
    });
  });

  it('answers CORS preflights for any origin with the headers the API reads and writes', () => {
    template.hasResourceProperties('AWS::ApiGatewayV2::Api', {
      CorsConfiguration: Match.objectLike({
        AllowOrigins: ['*'],
        AllowHeaders: Match.arrayWith(['authorization', 'content-type', 'if-match', 'idempotency-key']),
        ExposeHeaders: Match.arrayWith(['etag', 'x-pagination-total', 'x-next-cursor', 'link', 'x-request-id']),
      }),
    });
  });
});

describe('outputs', () => {
  it('tell a deployer where the API, the table and the bucket are', () => {
    for (const name of ['ApiUrl', 'TableName', 'BucketName']) template.hasOutput(name, { Value: Match.anyValue() });
  });
});
