import { Duration, RemovalPolicy } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import { Architecture, Runtime } from 'aws-cdk-lib/aws-lambda';
import { NodejsFunction, OutputFormat, type NodejsFunctionProps } from 'aws-cdk-lib/aws-lambda-nodejs';
import { LogGroup, RetentionDays } from 'aws-cdk-lib/aws-logs';
import type { Construct } from 'constructs';

export interface TrainyardFunctionProps {
  /** Absolute path of the TypeScript module to bundle. */
  readonly entry: string;
  /**
   * Name of the exported handler.
   * @default 'handler'
   */
  readonly handler?: string;
  /** Environment variables, on top of the ones every function gets. */
  readonly environment?: Record<string, string>;
  /** @default 1024 (more memory is more CPU: a faster cold start for the bundled SDK) */
  readonly memorySize?: number;
  /** @default Duration.seconds(10) (API Gateway gives up on an integration after 30 s anyway) */
  readonly timeout?: Duration;
  /** @default RetentionDays.ONE_MONTH */
  readonly logRetention?: RetentionDays;
  /** Escape hatch for anything else NodejsFunction accepts. */
  readonly overrides?: Partial<NodejsFunctionProps>;
}

/**
 * Node.js runtime of every Trainyard function: the newest this aws-cdk-lib knows, which is also what
 * cdk-nag AwsSolutions-L1 asks for. The local runtime runs Node 22; nothing here uses 24-only features.
 */
export const TRAINYARD_RUNTIME = Runtime.NODEJS_24_X;

/**
 * A NodejsFunction as Trainyard wants every function: bundled locally with esbuild (no Docker), minified
 * ESM with source maps and the AWS SDK inside the bundle (STACK.md: about 80 ms to import bundled, 100–120 ms from the runtime's copy),
 * arm64, its own log group with a retention, and its own role that may write to that log group only
 * (instead of the AWSLambdaBasicExecutionRole managed policy, which allows every log group).
 */
export class TrainyardFunction extends NodejsFunction {
  constructor(scope: Construct, id: string, props: TrainyardFunctionProps) {
    const logGroup = new LogGroup(scope, `${id}Logs`, {
      retention: props.logRetention ?? RetentionDays.ONE_MONTH,
      // Logs belong to the stateless stack: they go when it goes.
      removalPolicy: RemovalPolicy.DESTROY,
    });
    const role = new iam.Role(scope, `${id}Role`, {
      assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'),
      description: `Execution role of the Trainyard ${id} function`,
    });
    logGroup.grantWrite(role);

    super(scope, id, {
      entry: props.entry,
      handler: props.handler ?? 'handler',
      runtime: TRAINYARD_RUNTIME,
      architecture: Architecture.ARM_64,
      memorySize: props.memorySize ?? 1024,
      timeout: props.timeout ?? Duration.seconds(10),
      logGroup,
      role,
      environment: {
        // Readable stack traces in the logs a request id leads to. Measured here: about +20 ms on a cold
        // import of the largest bundle (sourcesContent off); drop it through `environment` if that matters more.
        NODE_OPTIONS: '--enable-source-maps',
        POWERTOOLS_SERVICE_NAME: 'trainyard',
        ...props.environment,
      },
      bundling: {
        forceDockerBundling: false,
        format: OutputFormat.ESM,
        minify: true,
        sourceMap: true,
        // Stack traces need names and positions, not the sources: a smaller map is a faster cold start.
        sourcesContent: false,
        // ESM first, so zod, middy and the SDK tree-shake; CommonJS dependencies still need `require`.
        mainFields: ['module', 'main'],
        banner: "import { createRequire as __trainyardCreateRequire } from 'node:module'; const require = __trainyardCreateRequire(import.meta.url);",
        // Bundle the AWS SDK v3 too (the default leaves @aws-sdk/* to the runtime's copy).
        externalModules: [],
        bundleAwsSDK: true,
      },
      ...props.overrides,
    });
  }
}
