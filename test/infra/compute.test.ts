import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { CfnElement } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import type { IConstruct } from 'constructs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GPU_INSTANCE_TYPES, QUEUE_NAMES, jobRetryStrategy, queueCatalogue } from '../../lib/jobs/queues';
import type { PlatformStack } from '../../lib/platform-stack';
import { removeSynthOutput, type Synthesized, synthTrainyard } from './synth';

let synthesized: Synthesized;
let platform: PlatformStack;
let template: Template;

afterAll(removeSynthOutput);

beforeAll(() => {
  // Prepare: the whole app, as `cdk synth` builds it (cdk-nag included).
  synthesized = synthTrainyard();
  platform = synthesized.platform;
  template = Template.fromStack(platform);
});

// Template JSON is untyped CloudFormation; the assertions themselves check its shape.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Resource = { Type: string; Properties: Record<string, any> };
interface Statement {
  Effect: string;
  Action: string | string[];
  Resource: unknown;
  Condition?: Record<string, Record<string, unknown>>;
}

const logicalId = (construct: IConstruct): string => platform.getLogicalId(construct.node.defaultChild as CfnElement);
const resource = (construct: IConstruct): Resource => template.toJSON().Resources[logicalId(construct)] as Resource;
const actionsOf = (statement: Statement): string[] => [statement.Action].flat();

/** Every statement of every policy attached to the role. */
function statementsOf(role: IConstruct): Statement[] {
  const roleRef = JSON.stringify({ Ref: logicalId(role) });
  return (Object.values(template.findResources('AWS::IAM::Policy')) as Resource[])
    .filter((p) => (p.Properties.Roles as unknown[]).some((r) => JSON.stringify(r) === roleRef))
    .flatMap((p) => p.Properties.PolicyDocument.Statement as Statement[]);
}

/** The roles that belong to the job compute (instances, execution, job, VPC flow logs). */
function computeRoles(): [string, Resource][] {
  return (Object.entries(template.findResources('AWS::IAM::Role')) as [string, Resource][]).filter(([id]) => id.startsWith('JobCompute'));
}

/** The text after the bucket ARN in an object ARN built as `{bucket ARN}/prefix` (Fn::Join). */
function objectPattern(arn: unknown): string {
  const join = (arn as { 'Fn::Join'?: [string, unknown[]] })['Fn::Join'];
  expect(join, `an object ARN under the bucket: ${JSON.stringify(arn)}`).toBeDefined();
  const parts = join![1];
  expect(JSON.stringify(parts[0])).toContain('DataBucket');
  return parts.slice(1).join('');
}

describe('network: no idle cost', () => {
  it('has no NAT gateway, in either stack, and no interface endpoint (both bill by the hour)', () => {
    template.resourceCountIs('AWS::EC2::NatGateway', 0);
    Template.fromStack(synthesized.data).resourceCountIs('AWS::EC2::NatGateway', 0);
    expect(Object.values(template.findResources('AWS::EC2::VPCEndpoint')).map((e) => (e as Resource).Properties.VpcEndpointType)).toEqual(['Gateway']);
  });

  it('has public subnets only, in two availability zones, that give instances a public IP', () => {
    const subnets = Object.values(template.findResources('AWS::EC2::Subnet')) as Resource[];
    expect(subnets).toHaveLength(2);
    for (const subnet of subnets) expect(subnet.Properties.MapPublicIpOnLaunch).toBe(true);
    expect(new Set(subnets.map((s) => JSON.stringify(s.Properties.AvailabilityZone))).size).toBe(2);
    template.resourceCountIs('AWS::EC2::InternetGateway', 1);
  });

  it('reaches S3 through a (free) gateway endpoint on every route table', () => {
    const tables = Object.keys(template.findResources('AWS::EC2::RouteTable')).map((id) => ({ Ref: id }));
    template.hasResourceProperties('AWS::EC2::VPCEndpoint', {
      VpcEndpointType: 'Gateway',
      ServiceName: { 'Fn::Join': ['', ['com.amazonaws.', { Ref: 'AWS::Region' }, '.s3']] },
      RouteTableIds: Match.arrayEquals(tables),
    });
  });

  it('job instances admit nothing and send out HTTPS only', () => {
    const group = resource(platform.compute.securityGroup);
    expect(group.Properties.SecurityGroupIngress).toBeUndefined();
    expect(group.Properties.SecurityGroupEgress).toEqual([expect.objectContaining({ IpProtocol: 'tcp', FromPort: 443, ToPort: 443, CidrIp: '0.0.0.0/0' })]);
    template.resourceCountIs('AWS::EC2::SecurityGroupIngress', 0);
    // Every compute environment launches into that group and those subnets.
    for (const ce of Object.values(platform.compute.computeEnvironments)) {
      expect(resource(ce).Properties.ComputeResources.SecurityGroupIds).toEqual([{ 'Fn::GetAtt': [logicalId(platform.compute.securityGroup), 'GroupId'] }]);
      expect(resource(ce).Properties.ComputeResources.Subnets).toHaveLength(2);
    }
  });

  it('job containers cannot reach instance metadata (IMDSv2, one hop), and root volumes are encrypted', () => {
    template.hasResourceProperties('AWS::EC2::LaunchTemplate', {
      LaunchTemplateData: Match.objectLike({
        MetadataOptions: { HttpTokens: 'required', HttpPutResponseHopLimit: 1 },
        BlockDeviceMappings: [Match.objectLike({ Ebs: Match.objectLike({ Encrypted: true, DeleteOnTermination: true }) })],
        // Batch only accepts MIME multi-part user data in a launch template: better none at all.
        UserData: Match.absent(),
      }),
    });
  });
});

describe('compute environments', () => {
  const environments = () => Object.values(template.findResources('AWS::Batch::ComputeEnvironment')) as Resource[];

  it('every one is managed and scales to zero', () => {
    expect(environments()).toHaveLength(3);
    for (const ce of environments()) {
      expect(ce.Properties.Type).toBe('managed');
      expect(ce.Properties.ComputeResources.MinvCpus).toBe(0);
      expect(ce.Properties.ComputeResources.MaxvCpus).toBeGreaterThan(0);
    }
  });

  it('GPU Spot: price-capacity optimized, g5/g6 only, on the ECS GPU-optimized AMI', () => {
    const props = resource(platform.compute.computeEnvironments['gpu-spot']!).Properties.ComputeResources;
    expect(props.Type).toBe('SPOT');
    expect(props.AllocationStrategy).toBe('SPOT_PRICE_CAPACITY_OPTIMIZED');
    expect(props.InstanceTypes.length).toBeGreaterThan(1);
    for (const type of props.InstanceTypes as string[]) expect(type).toMatch(/^g[56]\.\d*x?large$/);
    expect(props.InstanceTypes).toEqual([...GPU_INSTANCE_TYPES]);
    expect(props.Ec2Configuration).toEqual([{ ImageType: 'ECS_AL2023_NVIDIA' }]);
  });

  it('GPU on-demand fallback: the same instance types and AMI, not Spot', () => {
    const props = resource(platform.compute.computeEnvironments['gpu-on-demand']!).Properties.ComputeResources;
    expect(props.Type).toBe('EC2');
    for (const type of props.InstanceTypes as string[]) expect(type).toMatch(/^g[56]\.\d*x?large$/);
    expect(props.InstanceTypes).toEqual([...GPU_INSTANCE_TYPES]);
    expect(props.Ec2Configuration).toEqual([{ ImageType: 'ECS_AL2023_NVIDIA' }]);
  });

  it('CPU: Spot, x86 families only (no GPU, no Batch "optimal" add-ons)', () => {
    const props = resource(platform.compute.computeEnvironments['cpu-spot']!).Properties.ComputeResources;
    expect(props.Type).toBe('SPOT');
    expect(props.AllocationStrategy).toBe('SPOT_PRICE_CAPACITY_OPTIMIZED');
    expect(props.InstanceTypes).not.toContain('optimal');
    for (const type of props.InstanceTypes as string[]) expect(type).toMatch(/^[cm]\d+[ia]$/);
    expect(props.Ec2Configuration).toEqual([{ ImageType: 'ECS_AL2023' }]);
  });
});

describe('job queues', () => {
  it('are the queue catalogue: gpu and cpu', () => {
    expect(Object.keys(platform.compute.queues).sort()).toEqual([...QUEUE_NAMES].sort());
    expect(queueCatalogue.map((q) => q.name).sort()).toEqual([...QUEUE_NAMES].sort());
    template.resourceCountIs('AWS::Batch::JobQueue', 2);
  });

  it('gpu tries the Spot environment first and the on-demand one second', () => {
    const order = resource(platform.compute.queues.gpu).Properties.ComputeEnvironmentOrder as { ComputeEnvironment: unknown; Order: number }[];
    const arnOf = (name: string) => ({ 'Fn::GetAtt': [logicalId(platform.compute.computeEnvironments[name]!), 'ComputeEnvironmentArn'] });
    expect([...order].sort((a, b) => a.Order - b.Order).map((o) => o.ComputeEnvironment)).toEqual([arnOf('gpu-spot'), arnOf('gpu-on-demand')]);
    // The catalogue the API serves says the same.
    expect(queueCatalogue.find((q) => q.name === 'gpu')!.environments.map((e) => e.capacity)).toEqual(['spot', 'on-demand']);
  });

  it('cpu runs on the CPU environment only', () => {
    const order = resource(platform.compute.queues.cpu).Properties.ComputeEnvironmentOrder as { ComputeEnvironment: unknown }[];
    expect(order.map((o) => o.ComputeEnvironment)).toEqual([{ 'Fn::GetAtt': [logicalId(platform.compute.computeEnvironments['cpu-spot']!), 'ComputeEnvironmentArn'] }]);
  });

  it('a job nothing can ever run is cancelled instead of waiting in RUNNABLE for ever', () => {
    for (const queue of Object.values(platform.compute.queues)) {
      const reasons = (resource(queue).Properties.JobStateTimeLimitActions as { Reason: string; Action: string }[]).map((a) => `${a.Action} ${a.Reason}`);
      expect(reasons).toEqual(
        expect.arrayContaining(['CANCEL MISCONFIGURATION:JOB_RESOURCE_REQUIREMENT', 'CANCEL CAPACITY:INSUFFICIENT_INSTANCE_CAPACITY']),
      );
    }
  });
});

describe('job definitions', () => {
  const definition = (name: 'gpu' | 'cpu') => resource(platform.compute.jobDefinitions[name]).Properties;
  const requirements = (name: 'gpu' | 'cpu') =>
    Object.fromEntries((definition(name).ContainerProperties.ResourceRequirements as { Type: string; Value: string }[]).map((r) => [r.Type, Number(r.Value)]));

  it('gpu requires one GPU (and vCPUs and memory that fit a single-GPU xlarge)', () => {
    expect(requirements('gpu')).toEqual({ GPU: 1, VCPU: 4, MEMORY: expect.any(Number) });
    expect(requirements('gpu').MEMORY).toBeLessThanOrEqual(15 * 1024);
  });

  it('cpu requires no GPU', () => {
    expect(requirements('cpu')).toEqual({ VCPU: 2, MEMORY: 4096 });
  });

  it('retries a Spot reclaim (Host EC2*) and exits on anything else, up to 3 attempts', () => {
    for (const name of ['gpu', 'cpu'] as const) {
      expect(definition(name).RetryStrategy).toEqual({
        Attempts: 3,
        EvaluateOnExit: [
          { Action: 'RETRY', OnStatusReason: 'Host EC2*' },
          { Action: 'EXIT', OnReason: '*' },
        ],
      });
    }
    // The local Batch follows the same data.
    expect(jobRetryStrategy.attempts).toBe(3);
  });

  it('the workflow can name every revision of a job definition (for batch:SubmitJob), cut from its ARN at deploy time', () => {
    const pattern = platform.resolve(platform.compute.jobDefinitionRevisionArns.gpu) as unknown;
    const text = JSON.stringify(pattern);
    expect(text).toContain(`{"Fn::Split":["/",{"Ref":"${logicalId(platform.compute.jobDefinitions.gpu)}"}]}`);
    expect(text).toMatch(/:job-definition\/".*":\*"\]\]\}$/);
  });

  it('each has a default time limit per attempt', () => {
    for (const name of ['gpu', 'cpu'] as const) expect(definition(name).Timeout.AttemptDurationSeconds).toBeGreaterThan(0);
  });

  it('run the worker image built from worker/Dockerfile (linux/amd64) with its own command, logging to a log group with a retention', () => {
    const assetsFile = readdirSync(synthesized.outdir).find((f) => f === `${platform.artifactId}.assets.json`)!;
    const assets = JSON.parse(readFileSync(join(synthesized.outdir, assetsFile), 'utf8')) as {
      dockerImages: Record<string, { source: { directory: string; dockerFile: string; platform: string } }>;
    };
    const images = Object.entries(assets.dockerImages);
    expect(images).toHaveLength(1);
    const [hash, { source }] = images[0]!;
    expect(source).toMatchObject({ dockerFile: 'worker/Dockerfile', platform: 'linux/amd64' });
    // The staged build context holds the worker and never node_modules.
    const context = join(synthesized.outdir, source.directory);
    expect(existsSync(join(context, 'worker', 'Dockerfile'))).toBe(true);
    expect(existsSync(join(context, 'node_modules'))).toBe(false);

    const logGroupId = logicalId(platform.compute.logGroup);
    for (const name of ['gpu', 'cpu'] as const) {
      const container = definition(name).ContainerProperties;
      expect(JSON.stringify(container.Image)).toContain(hash);
      expect(container.Command).toBeUndefined();
      expect(container.LogConfiguration).toMatchObject({ LogDriver: 'awslogs', Options: { 'awslogs-group': { Ref: logGroupId } } });
      expect(container.JobRoleArn).toEqual({ 'Fn::GetAtt': [logicalId(platform.compute.jobRole), 'Arn'] });
    }
    expect(resource(platform.compute.logGroup).Properties.RetentionInDays).toBeGreaterThan(0);
  });
});

describe('least privilege', () => {
  it('the job role reads and writes objects under jobs/, reads objects under u/, lists only those prefixes, and nothing else', () => {
    const statements = statementsOf(platform.compute.jobRole);
    for (const statement of statements) expect(statement.Effect).toBe('Allow');
    expect(statements.flatMap(actionsOf).filter((a) => !a.startsWith('s3:'))).toEqual([]);

    const objectAccess = statements.filter((s) => actionsOf(s).some((a) => a !== 's3:ListBucket'));
    const byPrefix = Object.fromEntries(objectAccess.map((s) => [objectPattern(s.Resource), actionsOf(s).sort()]));
    expect(byPrefix).toEqual({
      '/jobs/*': ['s3:AbortMultipartUpload', 's3:GetObject', 's3:PutObject'],
      '/u/*': ['s3:GetObject'],
    });

    const listing = statements.filter((s) => actionsOf(s).includes('s3:ListBucket'));
    expect(listing).toHaveLength(1);
    expect(actionsOf(listing[0]!)).toEqual(['s3:ListBucket']);
    expect(listing[0]!.Condition).toEqual({ StringLike: { 's3:prefix': ['jobs/*', 'u/*'] } });
  });

  it('the execution role only pulls the worker image and writes the job log group', () => {
    const statements = statementsOf(platform.compute.executionRole);
    expect(statements.flatMap(actionsOf).sort()).toEqual(
      ['ecr:BatchCheckLayerAvailability', 'ecr:BatchGetImage', 'ecr:GetAuthorizationToken', 'ecr:GetDownloadUrlForLayer', 'logs:CreateLogStream', 'logs:PutLogEvents'].sort(),
    );
    const logs = statements.find((s) => actionsOf(s).includes('logs:PutLogEvents'))!;
    expect(logs.Resource).toEqual({ 'Fn::GetAtt': [logicalId(platform.compute.logGroup), 'Arn'] });
    const pull = statements.find((s) => actionsOf(s).includes('ecr:BatchGetImage'))!;
    expect(JSON.stringify(pull.Resource)).toContain('container-assets');
  });

  it('the instance role carries the ECS agent only: no S3, no ECR, no logs', () => {
    const actions = statementsOf(platform.compute.instanceRole).flatMap(actionsOf);
    expect(actions).toEqual(expect.arrayContaining(['ecs:RegisterContainerInstance', 'ecs:Poll', 'ecs:DiscoverPollEndpoint']));
    expect(actions.filter((a) => !a.startsWith('ecs:'))).toEqual([]);
  });

  it('no compute policy has a wildcard action, and no compute role carries a managed policy', () => {
    const roles = computeRoles();
    expect(roles.length).toBeGreaterThanOrEqual(4);
    for (const [id, role] of roles) expect(role.Properties.ManagedPolicyArns, id).toBeUndefined();
    const policies = (Object.entries(template.findResources('AWS::IAM::Policy')) as [string, Resource][]).filter(([id]) => id.startsWith('JobCompute'));
    expect(policies.length).toBeGreaterThanOrEqual(4);
    for (const [id, policy] of policies) {
      const actions = (policy.Properties.PolicyDocument.Statement as Statement[]).flatMap(actionsOf);
      expect(actions.filter((a) => a.includes('*')), id).toEqual([]);
    }
  });
});

describe('the queues the API serves', () => {
  it('are the queues the compute builds, each on the same kind of compute', async () => {
    const { QUEUES } = await import('../../functions/core/actions/queues');
    expect(QUEUES.map((q) => q.name).sort()).toEqual([...QUEUE_NAMES].sort());
    for (const queue of QUEUES) expect(queueCatalogue.find((q) => q.name === queue.name)?.compute).toBe(queue.compute);
  });
});
