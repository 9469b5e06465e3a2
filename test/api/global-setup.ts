import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestProject } from 'vitest/node';
import { startRuntime } from '../../local/runtime';

/**
 * Starts the embedded runtime once for the whole api project, on a free port and a fresh data
 * directory. startRuntime sets process.env and imports the handlers here, in vitest's main process;
 * the tests run in workers and only talk HTTP to `apiUrl`.
 */
declare module 'vitest' {
  export interface ProvidedContext {
    apiUrl: string;
    adminToken: string;
    /** The runtime's data directory: storage checks read the storage stand-in's files there. */
    dataDir: string;
    /** The table stand-in's endpoint: checks that a purge left no rows read the table there. */
    tableEndpoint: string;
    /** The local Batch stand-in: its fault switch (Spot reclaim) and worker process lookups. */
    batchUrl: string;
  }
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const dataDir = await mkdtemp(join(tmpdir(), 'trainyard-api-'));
  const runtime = await startRuntime({ port: 0, dataDir }).catch(async (error: unknown) => {
    await rm(dataDir, { recursive: true, force: true });
    throw error;
  });
  project.provide('apiUrl', runtime.url);
  project.provide('adminToken', runtime.adminToken);
  project.provide('dataDir', runtime.dataDir);
  project.provide('tableEndpoint', process.env.TRAINYARD_DYNAMODB_ENDPOINT!);
  project.provide('batchUrl', runtime.batchUrl);
  return async () => {
    await runtime.stop();
    await rm(dataDir, { recursive: true, force: true });
  };
}
