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
});

export interface Config {
  tableName: string;
  bucketName: string;
  region: string;
  dynamoDbEndpoint?: string;
  s3Endpoint?: string;
  cursorSecret?: string;
  cursorSecretArn?: string;
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
  };
  return loaded;
}
