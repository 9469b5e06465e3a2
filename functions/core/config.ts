import * as z from 'zod';

/**
 * Configuration, read once per process from the environment and failing fast when something is missing.
 * In AWS the CDK stack sets these on every function; locally `local/runtime.ts` sets them before it
 * imports any handler. Endpoints are only set locally: their absence means "the real AWS service".
 */
const ConfigSchema = z.object({
  TRAINYARD_TABLE: z.string().min(3),
  TRAINYARD_BUCKET: z.string().min(3),
  AWS_REGION: z.string().min(1).default('us-east-1'),
  TRAINYARD_DYNAMODB_ENDPOINT: z.url().optional(),
  TRAINYARD_S3_ENDPOINT: z.url().optional(),
  /**
   * Key that signs pagination cursors: given directly (local) or as a Secrets Manager ARN (AWS). Only the
   * functions that page need one; secrets.ts fails at first use when neither is set.
   */
  TRAINYARD_CURSOR_SECRET: z.string().min(32).optional(),
  TRAINYARD_CURSOR_SECRET_ARN: z.string().startsWith('arn:').optional(),
  /** The jobs engine: the workflow to start, and where each queue kind's jobs go (functions that run jobs only). */
  TRAINYARD_STATE_MACHINE_ARN: z.string().startsWith('arn:').optional(),
  TRAINYARD_STEPFUNCTIONS_ENDPOINT: z.url().optional(),
  TRAINYARD_BATCH_ENDPOINT: z.url().optional(),
  TRAINYARD_JOB_QUEUES: z.string().optional().describe('JSON: {"cpu": <queue ARN>, "gpu": <queue ARN>}'),
  TRAINYARD_JOB_DEFINITIONS: z.string().optional().describe('JSON: {"cpu": <job definition ARN>, "gpu": <job definition ARN>}'),
});

export interface Config {
  tableName: string;
  bucketName: string;
  region: string;
  dynamoDbEndpoint?: string;
  s3Endpoint?: string;
  cursorSecret?: string;
  cursorSecretArn?: string;
  stateMachineArn?: string;
  stepFunctionsEndpoint?: string;
  batchEndpoint?: string;
  jobQueues?: Record<'cpu' | 'gpu', string>;
  jobDefinitions?: Record<'cpu' | 'gpu', string>;
}

let loaded: Config | undefined;

export function config(): Config {
  if (loaded) return loaded;
  const parsed = ConfigSchema.safeParse(process.env);
  if (!parsed.success) {
    const missing = parsed.error.issues.map((i) => i.path.join('.')).join(', ');
    throw new Error(`Trainyard configuration is incomplete or invalid: ${missing}`);
  }
  const env = parsed.data;
  loaded = {
    tableName: env.TRAINYARD_TABLE,
    bucketName: env.TRAINYARD_BUCKET,
    region: env.AWS_REGION,
    dynamoDbEndpoint: env.TRAINYARD_DYNAMODB_ENDPOINT,
    s3Endpoint: env.TRAINYARD_S3_ENDPOINT,
    cursorSecret: env.TRAINYARD_CURSOR_SECRET,
    cursorSecretArn: env.TRAINYARD_CURSOR_SECRET_ARN,
    stateMachineArn: env.TRAINYARD_STATE_MACHINE_ARN,
    stepFunctionsEndpoint: env.TRAINYARD_STEPFUNCTIONS_ENDPOINT,
    batchEndpoint: env.TRAINYARD_BATCH_ENDPOINT,
    jobQueues: env.TRAINYARD_JOB_QUEUES ? JSON.parse(env.TRAINYARD_JOB_QUEUES) : undefined,
    jobDefinitions: env.TRAINYARD_JOB_DEFINITIONS ? JSON.parse(env.TRAINYARD_JOB_DEFINITIONS) : undefined,
  };
  return loaded;
}
