import { JOB_RETRY_STRATEGY } from './retry';

/**
 * The job queues and what runs behind them, as plain data (no CDK): `lib/jobs/compute.ts` builds the AWS
 * Batch compute environments, queues and job definitions from it, the API can serve it as
 * `GET /api/v1/queue`, and the local Batch can follow the same retry strategy and defaults.
 *
 * A queue is what a job is submitted to (Dioptra's queues, TAO's "platform"); behind it AWS Batch tries its
 * compute environments in order. Every environment scales to zero: nothing runs, and nothing is paid for
 * compute, while no job does.
 */

export type QueueName = 'gpu' | 'cpu';
export type ComputeKind = 'gpu' | 'cpu';
export type Capacity = 'spot' | 'on-demand';

export const QUEUE_NAMES: readonly QueueName[] = ['gpu', 'cpu'];

/** One compute environment behind a queue. */
export interface ComputeEnvironmentInfo {
  /** Stable name, used for the CDK construct id as well (`gpu-spot` → `GpuSpot`). */
  readonly name: string;
  readonly capacity: Capacity;
  readonly compute: ComputeKind;
  /** The EC2 instance types (`g5.xlarge`) or families (`c6i`) it may launch. */
  readonly instances: readonly string[];
  readonly description: string;
}

export interface QueueInfo {
  readonly name: QueueName;
  readonly description: string;
  readonly compute: ComputeKind;
  /** The compute environments in the order AWS Batch tries them (first = preferred). */
  readonly environments: readonly ComputeEnvironmentInfo[];
}

/**
 * Single-GPU sizes of the g5 (NVIDIA A10G, 24 GB) and g6 (NVIDIA L4, 24 GB) families, plus their 4-GPU
 * 12xlarge. Several types in two families give Spot many capacity pools to choose from, which is what keeps
 * interruptions rare; sizes past 12xlarge are left out so one job never brings up a 48xlarge.
 */
export const GPU_INSTANCE_TYPES: readonly string[] = ['g5', 'g6'].flatMap((family) =>
  ['xlarge', '2xlarge', '4xlarge', '8xlarge', '12xlarge'].map((size) => `${family}.${size}`),
);

/** Current x86_64 general-purpose and compute families (the worker image is linux/amd64); Batch picks the size. */
export const CPU_INSTANCE_FAMILIES: readonly string[] = ['c6i', 'm6i', 'c7i', 'm7i', 'c6a', 'm6a'];

const gpuSpot: ComputeEnvironmentInfo = {
  name: 'gpu-spot',
  capacity: 'spot',
  compute: 'gpu',
  instances: GPU_INSTANCE_TYPES,
  description: 'GPU instances on Spot (price-capacity optimized); a reclaimed instance makes Batch retry the job, which resumes from its checkpoint',
};

const gpuOnDemand: ComputeEnvironmentInfo = {
  name: 'gpu-on-demand',
  capacity: 'on-demand',
  compute: 'gpu',
  instances: GPU_INSTANCE_TYPES,
  description: 'GPU instances on demand: used when the Spot environment is at its vCPU limit',
};

const cpuSpot: ComputeEnvironmentInfo = {
  name: 'cpu-spot',
  capacity: 'spot',
  compute: 'cpu',
  instances: CPU_INSTANCE_FAMILIES,
  description: 'CPU instances on Spot (price-capacity optimized), for dataset actions',
};

export const queueCatalogue: readonly QueueInfo[] = [
  {
    name: 'gpu',
    description: 'GPU jobs (train, evaluate, prune, retrain, export, inference, generate): Spot first, on-demand as fallback',
    compute: 'gpu',
    environments: [gpuSpot, gpuOnDemand],
  },
  {
    name: 'cpu',
    description: 'CPU jobs (validate, analyze, dataset_convert, augment): Spot',
    compute: 'cpu',
    environments: [cpuSpot],
  },
];

export function queueInfo(name: QueueName): QueueInfo {
  return queueCatalogue.find((queue) => queue.name === name)!;
}

/**
 * The resources and time limit a job gets when its submission does not override them (the workflow
 * overrides them per action from the action catalogue). The GPU memory leaves room for what the host keeps
 * for itself, so a default GPU job fits a g5.xlarge/g6.xlarge (16 GiB, of which ECS offers jobs less).
 */
export interface JobDefaults {
  readonly vcpus: number;
  readonly memoryMiB: number;
  readonly gpus: number;
  /** Per attempt, in seconds (Batch's `attemptDurationSeconds`). */
  readonly timeoutSeconds: number;
}

export const jobDefaults: Record<QueueName, JobDefaults> = {
  gpu: { vcpus: 4, memoryMiB: 14 * 1024, gpus: 1, timeoutSeconds: 24 * 3600 },
  cpu: { vcpus: 2, memoryMiB: 4 * 1024, gpus: 0, timeoutSeconds: 4 * 3600 },
};

/**
 * What Batch does when an attempt ends badly: retry when EC2 took the host away (a Spot reclaim: the status
 * reason starts with `Host EC2`), so the next attempt resumes from the checkpoint; end the job on anything
 * else. Batch evaluates the list in order, first match wins. The local Batch follows the same rules.
 */
export interface RetryRule {
  readonly action: 'RETRY' | 'EXIT';
  readonly onStatusReason?: string;
  readonly onReason?: string;
  readonly onExitCode?: string;
}

/** The job definitions' retry strategy: the very rules every SubmitJob carries (retry.ts), in CDK's spelling. */
export const jobRetryStrategy: { readonly attempts: number; readonly evaluateOnExit: readonly RetryRule[] } = {
  attempts: JOB_RETRY_STRATEGY.Attempts,
  evaluateOnExit: JOB_RETRY_STRATEGY.EvaluateOnExit.map((rule) => ({
    action: rule.Action,
    ...('OnStatusReason' in rule ? { onStatusReason: rule.OnStatusReason } : {}),
    ...('OnReason' in rule ? { onReason: rule.OnReason } : {}),
  })),
};
