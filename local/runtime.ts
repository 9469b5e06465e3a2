import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { chmod, mkdir, readFile, writeFile } from 'node:fs/promises';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join, resolve } from 'node:path';
import { Worker } from 'node:worker_threads';
import { CreateTableCommand, DescribeTableCommand, DynamoDBClient, ResourceNotFoundException } from '@aws-sdk/client-dynamodb';
import type { HandlerGroup } from '../functions/routes';
import { tableLayout } from '../functions/core/entities/table';
import { LocalBatch } from './batch';
import { type ApiHandler, type AuthorizerHandler, createApiServer } from './server';
import { startLocalStepFunctions } from './stepfunctions';
import { LOCAL_STATE_MACHINE_ARN } from './workflow-definition';

const LOCAL_QUEUES = { cpu: 'arn:aws:batch:us-east-1:000000000000:job-queue/trainyard-cpu', gpu: 'arn:aws:batch:us-east-1:000000000000:job-queue/trainyard-gpu' };
const LOCAL_JOB_DEFINITIONS = { cpu: 'arn:aws:batch:us-east-1:000000000000:job-definition/trainyard-cpu:1', gpu: 'arn:aws:batch:us-east-1:000000000000:job-definition/trainyard-gpu:1' };

/** What a worker child process gets besides its job's own variables: the storage stand-in and its key. */
function workerEnvironment(s3Port: number): Record<string, string> {
  return {
    PATH: process.env.PATH ?? '',
    NODE_OPTIONS: process.env.NODE_OPTIONS ?? '',
    AWS_REGION: process.env.AWS_REGION ?? 'us-east-1',
    AWS_ACCESS_KEY_ID: 'S3RVER',
    AWS_SECRET_ACCESS_KEY: 'S3RVER',
    TRAINYARD_S3_ENDPOINT: `http://127.0.0.1:${s3Port}`,
  };
}

/**
 * Jobs an earlier run left live never stay so: their workers died with it (or were just reaped), and
 * their workflows are gone. A job whose compute had started ends Error with that reason (Canceled if it
 * was being canceled); one still waiting for its parent stays Pending.
 */
async function settleJobsLeftByAnEarlierRun(): Promise<void> {
  const [{ query }, { liveJobs }, { transition, resultOf }] = await Promise.all([
    import('../functions/core/dynamo'),
    import('../functions/core/entities/job'),
    import('../functions/core/job-engine'),
  ]);
  const live = await query(liveJobs());
  for (const job of live.items as { id: string; status: string; executionStarted?: boolean }[]) {
    if (job.status === 'Pending' && !job.executionStarted) continue;
    const finishedOn = new Date().toISOString();
    if (job.status === 'Canceling') {
      await transition(job.id, ['Canceling'], 'Canceled', { result: resultOf(undefined, 'Canceled', 'canceled; the runtime stopped its compute'), finishedOn });
    } else {
      const reason = `the local runtime stopped while the job was ${job.status}; run it again`;
      await transition(job.id, [job.status as never], 'Error', { statusReason: reason, result: resultOf(undefined, 'Error', reason), finishedOn });
    }
  }
}

/**
 * The embedded runtime behind `npm start` and the API tests: dynalite and s3rver on disk under the
 * data directory, then the very same handlers behind a local API Gateway stand-in.
 */
export interface RuntimeOptions {
  /** 0 picks any free port. */
  port: number;
  /** All state lives here and survives restarts. */
  dataDir: string;
  /** Use this bootstrap admin token instead of the stored or a generated one. */
  adminToken?: string;
}

export interface Runtime {
  url: string;
  /** The local Batch stand-in (tests use its fault switch and process lookups). */
  batchUrl: string;
  adminToken: string;
  /** Where the admin token is kept, or undefined when it came from the environment. */
  adminTokenFile?: string;
  dataDir: string;
  stop(): Promise<void>;
}

const TABLE = 'trainyard';
const BUCKET = 'trainyard-local';

/** Every handler group's module. `satisfies` makes a group missing here a compile error. */
const handlerModules = {
  health: () => import('../functions/api/health'),
  docs: () => import('../functions/api/docs'),
  identity: () => import('../functions/api/identity'),
  datasets: () => import('../functions/api/datasets'),
  files: () => import('../functions/api/files'),
  samples: () => import('../functions/api/samples'),
  jobs: () => import('../functions/api/jobs'),
  models: () => import('../functions/api/models'),
} satisfies Record<HandlerGroup, () => Promise<{ handler: unknown }>>;

export async function startRuntime(options: RuntimeOptions): Promise<Runtime> {
  const dataDir = resolve(options.dataDir);
  await mkdir(join(dataDir, 's3'), { recursive: true });

  const dynamo = await startStandIn('dynalite', { path: join(dataDir, 'dynamodb'), createTableMs: 0, deleteTableMs: 0, updateTableMs: 0 });
  const dynamoPort = dynamo.port;
  const s3 = await startStandIn('s3rver', { address: '127.0.0.1', port: 0, silent: true, directory: join(dataDir, 's3'), configureBuckets: [{ name: BUCKET }] });
  const s3Address = { port: s3.port };

  // The jobs engine's stand-ins: Batch (worker child processes) and Step Functions (the workflow's own
  // definition). Their handlers load on first use, after the configuration below is set.
  const onJobEvent = async (event: unknown) => (await import('../functions/events/job-state')).handler(event as never);
  const batch = new LocalBatch({
    dataDir,
    baseEnv: workerEnvironment(s3.port),
    onStateChange: (detail) => onJobEvent({ 'detail-type': 'Batch Job State Change', source: 'aws.batch', detail }),
  });
  await batch.reapOrphans();
  const batchUrl = await batch.listen();
  const lazy = (load: () => Promise<{ handler: (event: never) => Promise<unknown> }>) => async (event: never) => (await load()).handler(event);
  const stepFunctions = await startLocalStepFunctions({
    prepare: lazy(() => import('../functions/workflow/prepare')),
    finalize: lazy(() => import('../functions/workflow/finalize')),
    fail: lazy(() => import('../functions/workflow/fail')),
    batch,
    onExecutionEnd: (name, status) => onJobEvent({ 'detail-type': 'Step Functions Execution Status Change', source: 'aws.states', detail: { name, status } }),
  });

  // Handlers read their configuration once, at import: set it before importing any of them.
  Object.assign(process.env, {
    TRAINYARD_STATE_MACHINE_ARN: LOCAL_STATE_MACHINE_ARN,
    TRAINYARD_STEPFUNCTIONS_ENDPOINT: stepFunctions.url,
    TRAINYARD_BATCH_ENDPOINT: batchUrl,
    TRAINYARD_JOB_QUEUES: JSON.stringify(LOCAL_QUEUES),
    TRAINYARD_JOB_DEFINITIONS: JSON.stringify(LOCAL_JOB_DEFINITIONS),
    TRAINYARD_TABLE: TABLE,
    TRAINYARD_BUCKET: BUCKET,
    AWS_REGION: process.env.AWS_REGION ?? 'us-east-1',
    // s3rver accepts only its own access key (it does not check signatures); dynalite accepts any.
    AWS_ACCESS_KEY_ID: 'S3RVER',
    AWS_SECRET_ACCESS_KEY: 'S3RVER',
    TRAINYARD_DYNAMODB_ENDPOINT: `http://127.0.0.1:${dynamoPort}`,
    TRAINYARD_S3_ENDPOINT: `http://127.0.0.1:${s3Address.port}`,
    // dynalite has no TransactWriteItems: multi-item writes run in order (functions/core/dynamo.ts).
    TRAINYARD_DYNAMODB_TRANSACTIONS: 'off',
    TRAINYARD_CURSOR_SECRET: await persistentSecret(join(dataDir, 'cursor-secret'), () => randomBytes(32).toString('base64url')),
    POWERTOOLS_LOG_LEVEL: process.env.POWERTOOLS_LOG_LEVEL ?? 'WARN',
  });
  await ensureTable(`http://127.0.0.1:${dynamoPort}`);
  await settleJobsLeftByAnEarlierRun();

  const fromEnv = options.adminToken;
  const adminTokenFile = fromEnv ? undefined : join(dataDir, 'admin-token');
  const adminToken = fromEnv ?? (await persistentSecret(adminTokenFile!, () => `ty_${randomBytes(32).toString('base64url')}`));
  const { ensureBootstrapAdmin } = await import('../functions/core/identity');
  await ensureBootstrapAdmin(adminToken);

  const handlers = Object.fromEntries(
    await Promise.all(Object.entries(handlerModules).map(async ([group, load]) => [group, (await load()).handler])),
  ) as Record<HandlerGroup, ApiHandler>;
  const { handler: authorizer } = await import('../functions/api/authorizer');
  const api = createApiServer(handlers, authorizer as AuthorizerHandler);
  const port = await listen(api, options.port);
  const purges = await startPurgeStream();
  const objectEvents = await forwardObjectEvents(s3, BUCKET);

  return {
    url: `http://127.0.0.1:${port}`,
    batchUrl,
    adminToken,
    adminTokenFile,
    dataDir,
    stop: once(async () => {
      // Let requests in flight finish before their table goes away, then stop the stand-ins.
      await close(api);
      await api.drained();
      await purges.stop();
      await objectEvents.stop();
      await stepFunctions.stop();
      await batch.close();
      await Promise.all([dynamo.close(), s3.close()]);
    }),
  };
}

interface StandIn {
  port: number;
  /** Object events (s3rver's), as it emits them. */
  on(type: 'event', listener: (event: unknown) => void): void;
  close(): Promise<void>;
}

/** Starts dynalite or s3rver on a worker thread of its own (local/stand-in-worker.mjs). */
function startStandIn(kind: 'dynalite' | 's3rver', options: Record<string, unknown>): Promise<StandIn> {
  const worker = new Worker(new URL('./stand-in-worker.mjs', import.meta.url), { workerData: { kind, options } });
  const listeners: ((event: unknown) => void)[] = [];
  worker.on('message', (message: { type: string; event?: unknown }) => {
    if (message.type === 'event') for (const listener of listeners) listener(message.event);
  });
  return new Promise((resolveStandIn, reject) => {
    worker.once('error', reject);
    const onReady = (message: { type: string; port?: number }) => {
      if (message.type !== 'ready') return;
      worker.off('message', onReady);
      worker.off('error', reject);
      worker.on('error', (error) => console.error(`local ${kind}:`, error.message));
      resolveStandIn({
        port: message.port!,
        on: (_type, listener) => void listeners.push(listener),
        close: () =>
          new Promise<void>((closed) => {
            const timer = setTimeout(() => void worker.terminate().then(() => closed()), 5_000);
            worker.on('message', (m: { type: string }) => {
              if (m.type !== 'closed') return;
              clearTimeout(timer);
              void worker.terminate().then(() => closed());
            });
            worker.postMessage('close');
          }),
      });
    };
    worker.on('message', onReady);
  });
}

async function ensureTable(endpoint: string): Promise<void> {
  const client = new DynamoDBClient({ endpoint, region: 'us-east-1', credentials: { accessKeyId: 'local', secretAccessKey: 'local' } });
  try {
    await client.send(new DescribeTableCommand({ TableName: TABLE }));
    return;
  } catch (error) {
    if (!(error instanceof ResourceNotFoundException)) throw error;
  }
  const { partitionKey, sortKey, globalIndexes } = tableLayout;
  const attributes = new Set<string>([partitionKey, sortKey, ...globalIndexes.flatMap((g) => [g.partitionKey, g.sortKey])]);
  await client.send(
    new CreateTableCommand({
      TableName: TABLE,
      BillingMode: 'PAY_PER_REQUEST',
      AttributeDefinitions: [...attributes].map((name) => ({ AttributeName: name, AttributeType: 'S' })),
      KeySchema: [
        { AttributeName: partitionKey, KeyType: 'HASH' },
        { AttributeName: sortKey, KeyType: 'RANGE' },
      ],
      GlobalSecondaryIndexes: globalIndexes.map((g) => ({
        IndexName: g.indexName,
        KeySchema: [
          { AttributeName: g.partitionKey, KeyType: 'HASH' },
          { AttributeName: g.sortKey, KeyType: 'RANGE' },
        ],
        Projection: { ProjectionType: 'ALL' },
      })),
    }),
  );
  client.destroy();
}

/** A secret kept in a file (mode 600) so it survives restarts; made on first start. */
async function persistentSecret(file: string, make: () => string): Promise<string> {
  if (existsSync(file)) return (await readFile(file, 'utf8')).trim();
  const value = make();
  await writeFile(file, `${value}\n`, { mode: 0o600 });
  await chmod(file, 0o600);
  return value;
}

function listen(server: Server, port: number): Promise<number> {
  return new Promise((resolvePort, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolvePort((server.address() as AddressInfo).port));
  });
}

/**
 * The stand-in for the table's stream → purge function (dynalite has no streams): every quarter second,
 * the pending purge records are handed to the same handler as INSERT records. A record the handler
 * reports as failed stays pending and is offered again, as the stream would retry it.
 */
async function startPurgeStream(): Promise<{ stop(): Promise<void> }> {
  const [{ handler }, { query }, { pendingPurges }, { marshall }] = await Promise.all([
    import('../functions/events/purge'),
    import('../functions/core/dynamo'),
    import('../functions/core/entities/purge'),
    import('@aws-sdk/util-dynamodb'),
  ]);
  let running: Promise<unknown> = Promise.resolve();
  const tick = async () => {
    const pending = await query({ ...pendingPurges(), Limit: 25 });
    if (pending.items.length === 0) return;
    await handler({
      Records: pending.items.map((item, i) => ({
        eventName: 'INSERT',
        dynamodb: { NewImage: marshall(item, { removeUndefinedValues: true }) as never, SequenceNumber: String(i) },
      })),
    });
  };
  const timer = setInterval(() => {
    running = running.then(tick).catch((error: unknown) => console.error('local purge stream:', (error as Error).message));
  }, 250);
  return {
    async stop() {
      clearInterval(timer);
      await running;
    },
  };
}

/**
 * The stand-in for S3 → EventBridge → queue → the ingest function: s3rver's own "ObjectCreated" events
 * are queued as EventBridge "Object Created" events and handed to the same handler in SQS-shaped batches
 * of up to 100, by a few workers at once (as Lambda polls a queue). A record the handler hands back is
 * queued again, up to MAX_ATTEMPTS in all, as the queue's redrive policy would.
 */
async function forwardObjectEvents(s3: StandIn, bucket: string): Promise<{ stop(): Promise<void> }> {
  const { handler } = await import('../functions/events/ingest');
  const BATCH = 100;
  const WORKERS = 4;
  const MAX_ATTEMPTS = 3;
  const queue: { id: string; body: string; attempts: number }[] = [];
  let working = 0;
  const idle: (() => void)[] = [];
  const work = async () => {
    working++;
    try {
      while (queue.length) {
        const batch = queue.splice(0, BATCH);
        const Records = batch.map((m) => ({ messageId: m.id, body: m.body, receiptHandle: m.id, attributes: { ApproximateReceiveCount: String(m.attempts + 1) } }));
        const failed = await handler({ Records } as never).then(
          (r) => new Set(r.batchItemFailures.map((f) => f.itemIdentifier)),
          (error: unknown) => (console.error('local object events:', (error as Error).message), new Set(batch.map((m) => m.id))),
        );
        for (const message of batch) if (failed.has(message.id) && message.attempts + 1 < MAX_ATTEMPTS) queue.push({ ...message, attempts: message.attempts + 1 });
      }
    } finally {
      if (--working === 0) for (const done of idle.splice(0)) done();
    }
  };
  s3.on('event', (received) => {
    const event = received as { Records?: { eventName?: string; s3?: { object?: { key?: string; size?: number; eTag?: string } } }[] };
    for (const record of event.Records ?? []) {
      const key = record.s3?.object?.key;
      if (!record.eventName?.startsWith('ObjectCreated:') || !key) continue;
      const detail = { bucket: { name: bucket }, object: { key, size: record.s3?.object?.size, etag: record.s3?.object?.eTag } };
      const id = randomBytes(8).toString('hex');
      const body = JSON.stringify({ version: '0', id, 'detail-type': 'Object Created', source: 'aws.s3', account: 'local', time: new Date().toISOString(), region: 'local', resources: [], detail });
      queue.push({ id, body, attempts: 0 });
    }
    if (working < WORKERS && queue.length) void work();
  });
  return { stop: () => (working === 0 ? Promise.resolve() : new Promise<void>((done) => idle.push(done))) };
}

/** Runs `fn` at most once; later calls share the first call's promise. */
function once(fn: () => Promise<void>): () => Promise<void> {
  let running: Promise<void> | undefined;
  return () => (running ??= fn());
}

/** Stops accepting, ends idle keep-alive connections, and gives busy ones a moment to finish. */
function close(server: Server, graceMs = 5_000): Promise<void> {
  if (!server.listening) return Promise.resolve();
  return new Promise((done) => {
    const force = setTimeout(() => server.closeAllConnections(), graceMs);
    server.close(() => {
      clearTimeout(force);
      done();
    });
    server.closeIdleConnections();
  });
}
