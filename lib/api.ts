import { fileURLToPath } from 'node:url';
import { Duration, RemovalPolicy, Validations } from 'aws-cdk-lib';
import { AccessLogFormat } from 'aws-cdk-lib/aws-apigateway';
import {
  CorsHttpMethod,
  HttpApi,
  HttpMethod,
  HttpNoneAuthorizer,
  HttpRoute,
  HttpRouteKey,
  HttpStage,
  LogGroupLogDestination,
  type IHttpRouteAuthorizer,
  type ThrottleSettings,
} from 'aws-cdk-lib/aws-apigatewayv2';
import { HttpLambdaAuthorizer, HttpLambdaResponseType } from 'aws-cdk-lib/aws-apigatewayv2-authorizers';
import { HttpLambdaIntegration } from 'aws-cdk-lib/aws-apigatewayv2-integrations';
import type { ITableV2 } from 'aws-cdk-lib/aws-dynamodb';
import { LogGroup, RetentionDays } from 'aws-cdk-lib/aws-logs';
import type { IBucket } from 'aws-cdk-lib/aws-s3';
import type { ISecret } from 'aws-cdk-lib/aws-secretsmanager';
import { Construct } from 'constructs';
import { HANDLER_GROUPS, routeEntries, type HandlerGroup } from '../functions/routes';
import { type BucketAccess, grantBucket, grantSecretRead, grantTable, type TableAccess } from './access';
import { TrainyardFunction } from './function';

/** What one function may touch. Anything not listed is denied. */
export interface FunctionAccess {
  readonly table?: TableAccess;
  readonly cursorSecret?: 'read';
  readonly bucket?: BucketAccess;
}

/** Access per handler group. `satisfies` makes a new group in the route table a compile error here until it is decided. */
export const HANDLER_ACCESS = {
  health: { table: 'read' },
  docs: {},
  identity: { table: 'readwrite', cursorSecret: 'read' },
  datasets: { table: 'readwrite', cursorSecret: 'read' },
  files: { table: 'readwrite', cursorSecret: 'read', bucket: 'user-files' },
  samples: { table: 'readwrite', cursorSecret: 'read', bucket: 'user-data' },
  jobs: { table: 'readwrite', cursorSecret: 'read', bucket: 'user-data' },
  models: { table: 'readwrite', cursorSecret: 'read' },
} as const satisfies Record<HandlerGroup, FunctionAccess>;

/** The authorizer looks tokens up; it never writes. */
export const AUTHORIZER_ACCESS: FunctionAccess = { table: 'read' };

/** Headers a browser client may send and read (CORS). */
export const CORS_ALLOW_HEADERS = ['authorization', 'content-type', 'if-match', 'idempotency-key'];
export const CORS_EXPOSE_HEADERS = ['etag', 'x-pagination-total', 'x-next-cursor', 'link', 'x-request-id'];

/** Fields of one access log line: JSON, one request per line, findable by the request id the error body carries. */
const ACCESS_LOG_FIELDS = {
  requestId: '$context.requestId',
  requestTime: '$context.requestTime',
  ip: '$context.identity.sourceIp',
  userAgent: '$context.identity.userAgent',
  method: '$context.httpMethod',
  path: '$context.path',
  routeKey: '$context.routeKey',
  status: '$context.status',
  protocol: '$context.protocol',
  responseLength: '$context.responseLength',
  latency: '$context.responseLatency',
  integrationLatency: '$context.integrationLatency',
  integrationError: '$context.integrationErrorMessage',
  authorizerError: '$context.authorizer.error',
};

export interface ApiProps {
  readonly table: ITableV2;
  readonly bucket: IBucket;
  readonly cursorSecret: ISecret;
  /**
   * Folder holding one `{group}.ts` module per handler group and `authorizer.ts`, each exporting `handler`.
   * @default the repository's functions/api
   */
  readonly handlersDir?: string;
  /**
   * Origins a browser may call the API from.
   * @default ['*'] (the API authenticates with bearer tokens, never cookies)
   */
  readonly corsOrigins?: string[];
  /**
   * Stage-wide request throttling.
   * @default rate 500 requests/s, burst 1000
   */
  readonly throttle?: ThrottleSettings;
  /** @default RetentionDays.THREE_MONTHS */
  readonly accessLogRetention?: RetentionDays;
}

/**
 * The HTTPS API: an HTTP API whose routes are generated from the route table in functions/routes.ts
 * (nothing else lists routes), one Lambda function per handler group, and a Lambda authorizer.
 */
export class Api extends Construct {
  public readonly httpApi: HttpApi;
  public readonly stage: HttpStage;
  public readonly authorizerFunction: TrainyardFunction;
  public readonly handlers: Record<HandlerGroup, TrainyardFunction>;
  public readonly accessLogs: LogGroup;

  /** The API's base URL (ends with `/`). */
  public get url(): string {
    return this.stage.url;
  }

  constructor(scope: Construct, id: string, props: ApiProps) {
    super(scope, id);
    const handlersDir = props.handlersDir ?? fileURLToPath(new URL('../functions/api/', import.meta.url));
    const environment = {
      TRAINYARD_TABLE: props.table.tableName,
      TRAINYARD_BUCKET: props.bucket.bucketName,
      TRAINYARD_CURSOR_SECRET_ARN: props.cursorSecret.secretArn,
    };

    const makeFunction = (name: string, entry: string, access: FunctionAccess, timeout?: Duration): TrainyardFunction => {
      const fn = new TrainyardFunction(this, name, { entry, environment, timeout });
      if (access.table) grantTable(fn, props.table, access.table);
      if (access.cursorSecret) grantSecretRead(fn, props.cursorSecret);
      if (access.bucket) grantBucket(fn, props.bucket, access.bucket);
      return fn;
    };

    this.authorizerFunction = makeFunction('AuthorizerFunction', `${handlersDir}/authorizer.ts`, AUTHORIZER_ACCESS, Duration.seconds(5));
    this.handlers = Object.fromEntries(
      HANDLER_GROUPS.map((group) => [group, makeFunction(`${pascal(group)}Function`, `${handlersDir}/${group}.ts`, HANDLER_ACCESS[group])]),
    ) as Record<HandlerGroup, TrainyardFunction>;

    this.httpApi = new HttpApi(this, 'HttpApi', {
      apiName: 'trainyard',
      description: 'Trainyard API',
      // The stage is made below, to give it access logs.
      createDefaultStage: false,
      corsPreflight: {
        allowOrigins: props.corsOrigins ?? ['*'],
        allowMethods: [CorsHttpMethod.ANY],
        allowHeaders: CORS_ALLOW_HEADERS,
        exposeHeaders: CORS_EXPOSE_HEADERS,
        maxAge: Duration.days(1),
      },
    });

    this.accessLogs = new LogGroup(this, 'AccessLogs', {
      retention: props.accessLogRetention ?? RetentionDays.THREE_MONTHS,
      removalPolicy: RemovalPolicy.DESTROY,
    });
    this.stage = new HttpStage(this, 'DefaultStage', {
      httpApi: this.httpApi,
      stageName: '$default',
      autoDeploy: true,
      throttle: props.throttle ?? { rateLimit: 500, burstLimit: 1000 },
      accessLogSettings: {
        destination: new LogGroupLogDestination(this.accessLogs),
        format: AccessLogFormat.custom(JSON.stringify(ACCESS_LOG_FIELDS)),
      },
    });

    // The authorizer always answers isAuthorized=true, with a context saying who the caller is or why the
    // token is refused; the handlers' one middleware stack then answers 401/403 in the API's flat error
    // shape. So: no identity source (API Gateway would otherwise answer 401 itself, in its own body, when
    // the Authorization header is missing; HTTP APIs allow an empty identity source when caching is off)
    // and no cache (a cached answer would be keyed on nothing and shared between callers).
    const authorizer = new HttpLambdaAuthorizer('TokenAuthorizer', this.authorizerFunction, {
      authorizerName: 'trainyard-token',
      responseTypes: [HttpLambdaResponseType.SIMPLE],
      identitySource: [],
      resultsCacheTtl: Duration.seconds(0),
    });
    const noAuthorizer = new HttpNoneAuthorizer();

    const integrations = Object.fromEntries(
      HANDLER_GROUPS.map((group) => [group, new HttpLambdaIntegration(`${pascal(group)}Integration`, this.handlers[group])]),
    ) as Record<HandlerGroup, HttpLambdaIntegration>;

    for (const [operationId, route] of routeEntries()) {
      const isPublic = route.access === 'public';
      const routeAuthorizer: IHttpRouteAuthorizer = isPublic ? noAuthorizer : authorizer;
      const httpRoute = new HttpRoute(this, `Route${pascal(operationId)}`, {
        httpApi: this.httpApi,
        routeKey: HttpRouteKey.with(route.path, HttpMethod[route.method]),
        integration: integrations[route.group],
        authorizer: routeAuthorizer,
      });
      if (isPublic) {
        Validations.of(httpRoute).acknowledge({
          id: 'AwsSolutions-APIG4',
          reason: `${route.method} ${route.path} is public by design (access: 'public' in functions/routes.ts): ${route.summary}.`,
        });
      }
    }
  }
}

function pascal(name: string): string {
  return name.charAt(0).toUpperCase() + name.slice(1);
}
