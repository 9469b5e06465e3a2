import * as z from 'zod';

/**
 * The job's inputs, read once from the environment (CONTRACT.md, "Inputs"). Pure: takes the environment
 * as an argument, so the rules are testable without a process.
 */
export const DATASET_ACTIONS = ['validate', 'analyze', 'dataset_convert', 'augment'] as const;
export const MODEL_ACTIONS = ['train', 'evaluate', 'prune', 'retrain', 'export', 'inference', 'generate'] as const;
export const TEST_ACTIONS = ['sleep'] as const;
export const ACTIONS = [...DATASET_ACTIONS, ...MODEL_ACTIONS, ...TEST_ACTIONS] as const;
export type Action = (typeof ACTIONS)[number];
export type DatasetAction = (typeof DATASET_ACTIONS)[number];

export const isDatasetAction = (action: string): action is DatasetAction => (DATASET_ACTIONS as readonly string[]).includes(action);
export const isModelAction = (action: string): boolean => (MODEL_ACTIONS as readonly string[]).includes(action);

export interface JobEnv {
  jobId: string;
  action: Action;
  attempt: number;
  bucket: string;
  region: string;
  specKey?: string;
  inputPrefix?: string;
  inputManifest?: string;
  inputManifestSha256?: string;
  outputPrefix: string;
  checkpointPrefix: string;
  /** Model actions: the key of their inputs document (ml/inputs.ts). */
  modelInputsKey?: string;
  s3Endpoint?: string;
}

/** What is known even of a bad invocation: enough to write status.json when the bucket and job id are usable. */
export interface PartialEnv {
  jobId?: string;
  bucket?: string;
  region: string;
  outputPrefix?: string;
  attempt: number;
  s3Endpoint?: string;
}

export class InvalidInvocation extends Error {
  constructor(
    message: string,
    readonly partial: PartialEnv,
  ) {
    super(message);
    this.name = 'InvalidInvocation';
  }
}

const JobId = z.string().regex(/^[A-Za-z0-9_-]{1,128}$/, 'must be 1-128 letters, digits, "-" or "_"');
const Prefix = z.string().min(1).max(1024).endsWith('/', 'must end with "/"').refine((p) => !p.startsWith('/'), 'must not start with "/"');
const Key = z.string().min(1).max(1024).refine((k) => !k.startsWith('/'), 'must not start with "/"');
const Attempt = z.coerce.number().int().min(1).max(10_000);

const EnvSchema = z.object({
  TRAINYARD_JOB_ID: JobId,
  TRAINYARD_ACTION: z.enum(ACTIONS, { message: `must be one of ${ACTIONS.join(', ')}` }),
  TRAINYARD_ATTEMPT: Attempt.optional(),
  AWS_BATCH_JOB_ATTEMPT: Attempt.optional(),
  TRAINYARD_BUCKET: z.string().min(3).max(63),
  TRAINYARD_SPEC_KEY: Key.optional(),
  TRAINYARD_INPUT_PREFIX: Prefix.optional(),
  TRAINYARD_INPUT_MANIFEST: Key.optional(),
  TRAINYARD_INPUT_MANIFEST_SHA256: z.string().regex(/^[0-9a-f]{64}$/, 'must be 64 lowercase hex digits').optional(),
  TRAINYARD_OUTPUT_PREFIX: Prefix.optional(),
  TRAINYARD_CHECKPOINT_PREFIX: Prefix.optional(),
  TRAINYARD_MODEL_INPUTS: Key.optional(),
  AWS_REGION: z.string().min(1).default('us-east-1'),
  TRAINYARD_S3_ENDPOINT: z.url().optional(),
});

/** Empty strings count as unset (a template that leaves a variable blank should not fail as "invalid"). */
function present(env: Record<string, string | undefined>): Record<string, string> {
  return Object.fromEntries(Object.entries(env).filter((entry): entry is [string, string] => entry[1] !== undefined && entry[1] !== ''));
}

function partialOf(env: Record<string, string>): PartialEnv {
  const jobId = JobId.safeParse(env.TRAINYARD_JOB_ID);
  const output = Prefix.safeParse(env.TRAINYARD_OUTPUT_PREFIX);
  const attempt = Attempt.safeParse(env.AWS_BATCH_JOB_ATTEMPT ?? env.TRAINYARD_ATTEMPT ?? '1');
  const bucket = env.TRAINYARD_BUCKET && env.TRAINYARD_BUCKET.length >= 3 ? env.TRAINYARD_BUCKET : undefined;
  const endpoint = z.url().safeParse(env.TRAINYARD_S3_ENDPOINT);
  return {
    ...(jobId.success ? { jobId: jobId.data } : {}),
    ...(bucket ? { bucket } : {}),
    region: env.AWS_REGION ?? env.AWS_DEFAULT_REGION ?? 'us-east-1',
    ...(output.success ? { outputPrefix: output.data } : jobId.success && env.TRAINYARD_OUTPUT_PREFIX === undefined ? { outputPrefix: `jobs/${jobId.data}/` } : {}),
    attempt: attempt.success ? attempt.data : 1,
    ...(endpoint.success ? { s3Endpoint: endpoint.data } : {}),
  };
}

/** Reads and checks the environment; throws InvalidInvocation (exit 2) naming every problem. */
export function readJobEnv(raw: Record<string, string | undefined>): JobEnv {
  const env = present(raw);
  // ECS on EC2 may set only AWS_DEFAULT_REGION.
  if (!env.AWS_REGION && env.AWS_DEFAULT_REGION) env.AWS_REGION = env.AWS_DEFAULT_REGION;
  const parsed = EnvSchema.safeParse(env);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ');
    throw new InvalidInvocation(`invalid environment: ${problems}`, partialOf(env));
  }
  const e = parsed.data;
  if (isDatasetAction(e.TRAINYARD_ACTION)) {
    const missing = (['TRAINYARD_INPUT_PREFIX', 'TRAINYARD_INPUT_MANIFEST'] as const).filter((name) => !e[name]);
    if (missing.length) throw new InvalidInvocation(`invalid environment: ${missing.join(', ')} required for ${e.TRAINYARD_ACTION}`, partialOf(env));
  }
  if (isModelAction(e.TRAINYARD_ACTION) && !e.TRAINYARD_MODEL_INPUTS) {
    throw new InvalidInvocation(`invalid environment: TRAINYARD_MODEL_INPUTS required for ${e.TRAINYARD_ACTION}`, partialOf(env));
  }
  const outputPrefix = e.TRAINYARD_OUTPUT_PREFIX ?? `jobs/${e.TRAINYARD_JOB_ID}/`;
  return {
    jobId: e.TRAINYARD_JOB_ID,
    action: e.TRAINYARD_ACTION,
    attempt: e.AWS_BATCH_JOB_ATTEMPT ?? e.TRAINYARD_ATTEMPT ?? 1,
    bucket: e.TRAINYARD_BUCKET,
    region: e.AWS_REGION,
    ...(e.TRAINYARD_SPEC_KEY ? { specKey: e.TRAINYARD_SPEC_KEY } : {}),
    ...(e.TRAINYARD_INPUT_PREFIX ? { inputPrefix: e.TRAINYARD_INPUT_PREFIX } : {}),
    ...(e.TRAINYARD_INPUT_MANIFEST ? { inputManifest: e.TRAINYARD_INPUT_MANIFEST } : {}),
    ...(e.TRAINYARD_INPUT_MANIFEST_SHA256 ? { inputManifestSha256: e.TRAINYARD_INPUT_MANIFEST_SHA256 } : {}),
    outputPrefix,
    checkpointPrefix: e.TRAINYARD_CHECKPOINT_PREFIX ?? `${outputPrefix}checkpoints/`,
    ...(e.TRAINYARD_MODEL_INPUTS ? { modelInputsKey: e.TRAINYARD_MODEL_INPUTS } : {}),
    ...(e.TRAINYARD_S3_ENDPOINT ? { s3Endpoint: e.TRAINYARD_S3_ENDPOINT } : {}),
  };
}
