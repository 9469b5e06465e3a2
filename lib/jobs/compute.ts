import { fileURLToPath } from 'node:url';
import { Duration, Fn, IgnoreMode, RemovalPolicy, Size, Stack, Validations } from 'aws-cdk-lib';
import {
  Action,
  AllocationStrategy,
  EcsEc2ContainerDefinition,
  EcsJobDefinition,
  EcsMachineImageType,
  JobQueue,
  JobStateTimeLimitActionsAction,
  JobStateTimeLimitActionsReason,
  ManagedEc2EcsComputeEnvironment,
  Reason,
  RetryStrategy,
} from 'aws-cdk-lib/aws-batch';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import { DockerImageAsset, Platform } from 'aws-cdk-lib/aws-ecr-assets';
import { ContainerImage, LogDriver } from 'aws-cdk-lib/aws-ecs';
import * as iam from 'aws-cdk-lib/aws-iam';
import { LogGroup, RetentionDays } from 'aws-cdk-lib/aws-logs';
import type { IBucket } from 'aws-cdk-lib/aws-s3';
import { Construct, type IConstruct } from 'constructs';
import { jobDefaults, jobRetryStrategy, queueCatalogue, type ComputeEnvironmentInfo, type QueueName } from './queues';

/** Prefixes of the data bucket the job container reaches (DESIGN.md: keys are built by the server from ids). */
export const JOB_OUTPUT_PREFIX = 'jobs/';
export const USER_DATA_PREFIX = 'u/';

/**
 * What the worker image is built from: the repository root, filtered down to what `worker/Dockerfile`
 * needs (CONTRACT.md, "The image": the package files, `worker/`, the pure `functions/core` modules it
 * imports). Docker-ignore syntax, applied by CDK when it fingerprints and stages the asset, so the image
 * is rebuilt only when these change and node_modules never gets copied; `worker/Dockerfile.dockerignore`
 * then narrows the context further inside the docker build.
 */
export const WORKER_IMAGE_CONTEXT = [
  '*',
  '!package.json',
  '!package-lock.json',
  '!.npmrc',
  '!tsconfig.json',
  '!worker',
  '!functions',
  'functions/*',
  '!functions/core',
  '**/node_modules',
];

const REPOSITORY_ROOT = fileURLToPath(new URL('../..', import.meta.url));

/** The data bucket's ARN as cdk-nag renders it in this stack: read from the data stack's output (weak reference). */
const DATA_BUCKET_ARN_FINDING =
  '{"Fn::GetStackOutput":{"StackName":"TrainyardData","Region":{"Ref":"AWS::Region"},"OutputName":"PublishOutputFnGetAttDataBucketE6B0FAA8Arn1C0B2E61"}}';

export interface JobComputeProps {
  /** The data bucket: jobs read datasets under `u/` and write everything they produce under `jobs/`. */
  readonly bucket: IBucket;
  /**
   * Upper bound of each GPU compute environment (Spot and on-demand each), in vCPUs: 64 is sixteen
   * single-GPU xlarge instances at once, and leaves room for a 4-GPU 12xlarge (48 vCPUs).
   * Batch may exceed it by at most one instance.
   * @default 64
   */
  readonly gpuMaxvCpus?: number;
  /**
   * Upper bound of the CPU compute environment, in vCPUs.
   * @default 32
   */
  readonly cpuMaxvCpus?: number;
  /**
   * Root volume of every job instance (gp3, encrypted, deleted with the instance). The GPU AMI and a CUDA
   * image alone take well over the AMI's 30 GiB default.
   * @default Size.gibibytes(100)
   */
  readonly rootVolumeSize?: Size;
  /** @default RetentionDays.ONE_MONTH */
  readonly logRetention?: RetentionDays;
}

/**
 * Where jobs run: AWS Batch on EC2 that exists only while a job does.
 *
 * - A VPC of public subnets in two AZs and no NAT gateway (a NAT gateway costs by the hour even when idle):
 *   instances take a public IP to reach ECS, ECR and CloudWatch Logs, and S3 through a free gateway endpoint.
 *   Their security group admits nothing and lets out HTTPS only.
 * - Compute environments that all scale to zero (`minvCpus` 0): GPU on Spot (g5/g6, price-capacity
 *   optimized), GPU on demand, CPU on Spot.
 * - Queues `gpu` (Spot first, on-demand second) and `cpu`, built from `queueCatalogue` (./queues.ts).
 * - Job definitions `gpu` and `cpu` that run the worker image (`worker/Dockerfile`) with its default
 *   command, retry Spot reclaims (`Host EC2*`) and end on anything else. The workflow sets the job's
 *   environment (CONTRACT.md) and, per action, its resources and time limit when it submits.
 *
 * Roles: the job role reads and writes objects under `jobs/` and reads objects under `u/`; the execution
 * role pulls the worker image and writes the job log group; the instance role carries only what the ECS
 * agent needs to join Batch's cluster. None has a managed policy.
 */
export class JobCompute extends Construct {
  public readonly vpc: ec2.Vpc;
  /** The security group of every job instance. */
  public readonly securityGroup: ec2.SecurityGroup;
  public readonly computeEnvironments: Record<string, ManagedEc2EcsComputeEnvironment>;
  public readonly queues: Record<QueueName, JobQueue>;
  public readonly jobDefinitions: Record<QueueName, EcsJobDefinition>;
  /** The role the worker's code runs as (its S3 access). */
  public readonly jobRole: iam.Role;
  /** The role the ECS agent uses to pull the image and write the logs. */
  public readonly executionRole: iam.Role;
  /** The role of the EC2 instances (the ECS agent). */
  public readonly instanceRole: iam.Role;
  public readonly logGroup: LogGroup;
  public readonly workerImage: DockerImageAsset;

  constructor(scope: Construct, id: string, props: JobComputeProps) {
    super(scope, id);
    const stack = Stack.of(this);

    this.vpc = this.buildNetwork(props.logRetention);
    this.securityGroup = new ec2.SecurityGroup(this, 'JobInstances', {
      vpc: this.vpc,
      description: 'Trainyard job instances: no inbound; outbound HTTPS only (ECS, ECR, S3, CloudWatch Logs)',
      allowAllOutbound: false,
    });
    // Everything an instance talks to is an AWS HTTPS endpoint (ECS, ECR and its S3 layers, CloudWatch
    // Logs, the data bucket). Amazon DNS, the Amazon Time Sync Service and instance metadata are not
    // filtered by security groups, so they need no rule.
    this.securityGroup.addEgressRule(ec2.Peer.anyIpv4(), ec2.Port.tcp(443), 'HTTPS to AWS endpoints');

    this.instanceRole = this.buildInstanceRole();
    const launchTemplate = new ec2.LaunchTemplate(this, 'JobInstanceTemplate', {
      // IMDSv2 only, one hop: the ECS agent (host network) reaches instance metadata, a job container
      // (bridge network, one hop further) does not, so it cannot take the instance role's credentials.
      // Containers get theirs, the job role's, from the ECS agent.
      httpTokens: ec2.LaunchTemplateHttpTokens.REQUIRED,
      httpPutResponseHopLimit: 1,
      blockDevices: [
        {
          deviceName: '/dev/xvda',
          volume: ec2.BlockDeviceVolume.ebs((props.rootVolumeSize ?? Size.gibibytes(100)).toGibibytes(), {
            volumeType: ec2.EbsDeviceVolumeType.GP3,
            encrypted: true,
            deleteOnTermination: true,
          }),
        },
      ],
    });

    const subnets: ec2.SubnetSelection = { subnetType: ec2.SubnetType.PUBLIC };
    const environment = (info: ComputeEnvironmentInfo): ManagedEc2EcsComputeEnvironment => {
      const spot = info.capacity === 'spot';
      const gpu = info.compute === 'gpu';
      return new ManagedEc2EcsComputeEnvironment(this, constructIdOf(info.name), {
        vpc: this.vpc,
        vpcSubnets: subnets,
        securityGroups: [this.securityGroup],
        instanceRole: this.instanceRole,
        launchTemplate,
        spot,
        allocationStrategy: spot ? AllocationStrategy.SPOT_PRICE_CAPACITY_OPTIMIZED : AllocationStrategy.BEST_FIT_PROGRESSIVE,
        // Zero idle cost: no instance runs while no job does.
        minvCpus: 0,
        maxvCpus: gpu ? (props.gpuMaxvCpus ?? 64) : (props.cpuMaxvCpus ?? 32),
        instanceTypes: gpu ? info.instances.map((type) => new ec2.InstanceType(type)) : [],
        instanceClasses: gpu ? [] : (info.instances as ec2.InstanceClass[]),
        // Only the types listed above, not Batch's "optimal" (c4/m4/r4) on top of them.
        useOptimalInstanceClasses: false,
        // The ECS-optimized Amazon Linux 2023 AMI, its NVIDIA variant (drivers, container toolkit) for GPUs.
        images: [{ imageType: gpu ? EcsMachineImageType.ECS_AL2023_NVIDIA : EcsMachineImageType.ECS_AL2023 }],
      });
    };
    this.computeEnvironments = {};
    for (const info of queueCatalogue.flatMap((queue) => queue.environments)) {
      this.computeEnvironments[info.name] ??= environment(info);
    }

    const queues = {} as Record<QueueName, JobQueue>;
    for (const queue of queueCatalogue) {
      queues[queue.name] = new JobQueue(this, `${constructIdOf(queue.name)}Queue`, {
        computeEnvironments: queue.environments.map((info, index) => ({ computeEnvironment: this.computeEnvironments[info.name]!, order: index + 1 })),
        // A job no environment can ever run fails instead of waiting for ever ("a job must never be stuck
        // in a state that lies"): too big for the environments, or no capacity anywhere for an hour.
        jobStateTimeLimitActions: [
          { reason: JobStateTimeLimitActionsReason.JOB_RESOURCE_REQUIREMENT, maxTime: Duration.minutes(10), action: JobStateTimeLimitActionsAction.CANCEL },
          { reason: JobStateTimeLimitActionsReason.COMPUTE_ENVIRONMENT_MAX_RESOURCE, maxTime: Duration.minutes(10), action: JobStateTimeLimitActionsAction.CANCEL },
          { reason: JobStateTimeLimitActionsReason.INSUFFICIENT_INSTANCE_CAPACITY, maxTime: Duration.hours(1), action: JobStateTimeLimitActionsAction.CANCEL },
        ],
      });
    }
    this.queues = queues;

    this.logGroup = new LogGroup(this, 'JobLogs', {
      retention: props.logRetention ?? RetentionDays.ONE_MONTH,
      // Logs belong to the stateless stack; the worker also keeps its own log in S3 (jobs/{id}/logs/).
      removalPolicy: RemovalPolicy.DESTROY,
    });
    this.jobRole = this.buildJobRole(props.bucket);
    this.executionRole = new iam.Role(this, 'ExecutionRole', {
      assumedBy: new iam.ServicePrincipal('ecs-tasks.amazonaws.com'),
      description: 'Trainyard jobs: the ECS agent pulls the worker image and writes the job log group',
    });

    this.workerImage = new DockerImageAsset(this, 'WorkerImage', {
      directory: REPOSITORY_ROOT,
      file: 'worker/Dockerfile',
      // g5/g6 and the CPU families are x86_64.
      platform: Platform.LINUX_AMD64,
      exclude: WORKER_IMAGE_CONTEXT,
      ignoreMode: IgnoreMode.DOCKER,
    });
    const image = ContainerImage.fromDockerImageAsset(this.workerImage);
    const logging = LogDriver.awsLogs({ logGroup: this.logGroup, streamPrefix: 'job' });

    const jobDefinitions = {} as Record<QueueName, EcsJobDefinition>;
    for (const name of ['gpu', 'cpu'] as const) {
      const defaults = jobDefaults[name];
      jobDefinitions[name] = new EcsJobDefinition(this, `${constructIdOf(name)}JobDefinition`, {
        container: new EcsEc2ContainerDefinition(this, `${constructIdOf(name)}Container`, {
          image,
          // The image's own CMD runs the worker; the workflow passes the job's environment (CONTRACT.md).
          cpu: defaults.vcpus,
          memory: Size.mebibytes(defaults.memoryMiB),
          gpu: defaults.gpus > 0 ? defaults.gpus : undefined,
          jobRole: this.jobRole,
          executionRole: this.executionRole,
          logging,
          // What is the same for every job of this deployment; the rest is per job, set by the workflow.
          environment: { TRAINYARD_BUCKET: props.bucket.bucketName, AWS_REGION: stack.region },
        }),
        retryAttempts: jobRetryStrategy.attempts,
        retryStrategies: jobRetryStrategy.evaluateOnExit.map((rule) =>
          RetryStrategy.of(
            rule.action === 'RETRY' ? Action.RETRY : Action.EXIT,
            Reason.custom({ onStatusReason: rule.onStatusReason, onReason: rule.onReason, onExitCode: rule.onExitCode }),
          ),
        ),
        timeout: Duration.seconds(defaults.timeoutSeconds),
        // The tags a job is submitted with (job id, user) reach its ECS task, e.g. for split cost allocation.
        propagateTags: true,
      });
    }
    this.jobDefinitions = jobDefinitions;

    // Binding the image gave the execution role its pull rights: the layer and image reads name the asset
    // repository, but ECR's GetAuthorizationToken has no resource-level permissions (AWS only accepts "*").
    Validations.of(policyOf(this.executionRole)).acknowledge({
      id: 'AwsSolutions-IAM5[Resource::*]',
      reason: 'ecr:GetAuthorizationToken has no resource-level permissions (it only accepts "*"); the layer and image reads name the worker image repository.',
    });
  }

  /** The queue ARNs by name, for the workflow's environment or its SubmitJob tasks. */
  public get queueArns(): Record<QueueName, string> {
    return { gpu: this.queues.gpu.jobQueueArn, cpu: this.queues.cpu.jobQueueArn };
  }

  /** The job definition ARNs by queue name (each names its current revision: `…:job-definition/<name>:<revision>`). */
  public get jobDefinitionArns(): Record<QueueName, string> {
    return { gpu: this.jobDefinitions.gpu.jobDefinitionArn, cpu: this.jobDefinitions.cpu.jobDefinitionArn };
  }

  /**
   * IAM resources that cover every revision of each job definition (`…:job-definition/<name>:*`), for
   * `batch:SubmitJob`. The ARN is only known at deploy time, so the name is cut out of it with
   * CloudFormation functions (string operations on the token at synthesis would do nothing).
   */
  public get jobDefinitionRevisionArns(): Record<QueueName, string> {
    const stack = Stack.of(this);
    const of = (definition: EcsJobDefinition) => {
      const nameAndRevision = Fn.select(1, Fn.split('/', definition.jobDefinitionArn));
      return stack.formatArn({ service: 'batch', resource: 'job-definition', resourceName: `${Fn.select(0, Fn.split(':', nameAndRevision))}:*` });
    };
    return { gpu: of(this.jobDefinitions.gpu), cpu: of(this.jobDefinitions.cpu) };
  }

  private buildNetwork(logRetention: RetentionDays | undefined): ec2.Vpc {
    const vpc = new ec2.Vpc(this, 'Vpc', {
      maxAzs: 2,
      natGateways: 0,
      subnetConfiguration: [{ name: 'Public', subnetType: ec2.SubnetType.PUBLIC, cidrMask: 20 }],
      // S3 traffic (datasets, artifacts, image layers) stays on the AWS network, free of charge.
      gatewayEndpoints: { S3: { service: ec2.GatewayVpcEndpointAwsService.S3 } },
      // Nothing is launched with the default security group; stripping its rules would take a custom
      // resource (a Lambda function) for no gain here.
      restrictDefaultSecurityGroup: false,
    });
    // Rejected traffic only: what an audit or a broken instance needs, at a cost that follows use.
    const flowLogs = new LogGroup(this, 'VpcFlowLogs', { retention: logRetention ?? RetentionDays.ONE_MONTH, removalPolicy: RemovalPolicy.DESTROY });
    vpc.addFlowLog('RejectedTraffic', { destination: ec2.FlowLogDestination.toCloudWatchLogs(flowLogs), trafficType: ec2.FlowLogTrafficType.REJECT });
    return vpc;
  }

  /**
   * The instance role, written out instead of AmazonEC2ContainerServiceforEC2Role: the ECS agent's calls
   * only (no ECR, no logs: the agent does those with the job's execution role), on this account and
   * region's ECS clusters and container instances.
   */
  private buildInstanceRole(): iam.Role {
    const stack = Stack.of(this);
    const ecsArn = (resource: string) => stack.formatArn({ service: 'ecs', resource, resourceName: '*' });
    const role = new iam.Role(this, 'InstanceRole', {
      assumedBy: new iam.ServicePrincipal('ec2.amazonaws.com'),
      description: 'Trainyard job instances: the ECS agent joins the Batch-managed cluster and runs its tasks',
    });
    role.addToPrincipalPolicy(new iam.PolicyStatement({ actions: ['ecs:DiscoverPollEndpoint'], resources: ['*'] }));
    role.addToPrincipalPolicy(
      new iam.PolicyStatement({
        actions: [
          'ecs:RegisterContainerInstance',
          'ecs:DeregisterContainerInstance',
          'ecs:SubmitAttachmentStateChanges',
          'ecs:SubmitContainerStateChange',
          'ecs:SubmitTaskStateChange',
        ],
        resources: [ecsArn('cluster')],
      }),
    );
    role.addToPrincipalPolicy(
      new iam.PolicyStatement({
        actions: ['ecs:Poll', 'ecs:StartTelemetrySession', 'ecs:UpdateContainerInstancesState'],
        resources: [ecsArn('container-instance')],
      }),
    );
    const reason =
      'AWS Batch creates the ECS cluster of each compute environment with a generated name that CloudFormation does not expose, ' +
      'so the ECS agent calls are limited to ECS clusters and container instances of this account and region; ' +
      'ecs:DiscoverPollEndpoint has no resource-level permissions.';
    for (const resource of ['*', 'arn:<AWS::Partition>:ecs:<AWS::Region>:<AWS::AccountId>:cluster/*', 'arn:<AWS::Partition>:ecs:<AWS::Region>:<AWS::AccountId>:container-instance/*']) {
      Validations.of(policyOf(role)).acknowledge({ id: `AwsSolutions-IAM5[Resource::${resource}]`, reason });
    }
    return role;
  }

  /**
   * The job role: objects under `jobs/` read and written (spec, status, metrics, logs, checkpoints,
   * artifacts, the control object), objects under `u/` read (dataset files and version manifests), and
   * listing under those two prefixes only, without which S3 answers a missing key with 403 instead of 404
   * (the worker reads "no checkpoint yet" and "no metrics yet" as a 404).
   */
  private buildJobRole(bucket: IBucket): iam.Role {
    const role = new iam.Role(this, 'JobRole', {
      assumedBy: new iam.ServicePrincipal('ecs-tasks.amazonaws.com'),
      description: 'Trainyard jobs: the worker reads datasets under u/ and writes its outputs under jobs/',
    });
    role.addToPrincipalPolicy(
      new iam.PolicyStatement({
        actions: ['s3:GetObject', 's3:PutObject', 's3:AbortMultipartUpload'],
        resources: [bucket.arnForObjects(`${JOB_OUTPUT_PREFIX}*`)],
      }),
    );
    role.addToPrincipalPolicy(new iam.PolicyStatement({ actions: ['s3:GetObject'], resources: [bucket.arnForObjects(`${USER_DATA_PREFIX}*`)] }));
    role.addToPrincipalPolicy(
      new iam.PolicyStatement({
        actions: ['s3:ListBucket'],
        resources: [bucket.bucketArn],
        conditions: { StringLike: { 's3:prefix': [`${JOB_OUTPUT_PREFIX}*`, `${USER_DATA_PREFIX}*`] } },
      }),
    );
    // cdk-nag v3 acknowledges each wildcard finding by its exact resource, as synthesis renders it: the data
    // bucket's ARN read across stacks (as in lib/access.ts), then the prefix. Renaming the bucket construct
    // changes this text; synthesis then fails and prints the new one.
    for (const [prefix, why] of [
      [JOB_OUTPUT_PREFIX, 'everything a job reads back or produces lives under jobs/{job_id}/, a prefix only the server names'],
      [USER_DATA_PREFIX, 'a job reads the dataset files and version manifests it was given, under u/{user}/dataset/{id}/, read-only'],
    ] as const) {
      Validations.of(policyOf(role)).acknowledge({
        id: `AwsSolutions-IAM5[Resource::${DATA_BUCKET_ARN_FINDING}/${prefix}*]`,
        reason: `The worker's objects are addressed by key under a fixed prefix: ${why}. The job role reaches no other object.`,
      });
    }
    return role;
  }
}

/** The role's own policy (where its statements, and so cdk-nag's findings about them, are): the narrowest place to acknowledge. */
function policyOf(role: iam.Role): IConstruct {
  return role.node.findChild('DefaultPolicy');
}

/** `gpu-on-demand` → `GpuOnDemand`. */
function constructIdOf(name: string): string {
  return name
    .split(/[^A-Za-z0-9]+/)
    .map((part) => part.charAt(0).toUpperCase() + part.slice(1))
    .join('');
}
