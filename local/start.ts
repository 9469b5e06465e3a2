import { isAbsolute, relative } from 'node:path';
import { startRuntime } from './runtime';

/**
 * `npm start`: the whole platform on one machine. Environment (DESIGN.md, local runtime contract):
 * TRAINYARD_PORT (default 8080, 0 = any free port), TRAINYARD_DATA_DIR (default .trainyard/),
 * TRAINYARD_ADMIN_TOKEN (bootstrap admin token to use instead of the stored or a generated one).
 */
const portText = process.env.TRAINYARD_PORT ?? '8080';
const port = Number(portText);
if (!Number.isInteger(port) || port < 0 || port > 65535) {
  console.error(`TRAINYARD_PORT must be a port number (0 for any free port), not "${portText}"`);
  process.exit(2);
}

try {
  const runtime = await startRuntime({
    port,
    dataDir: process.env.TRAINYARD_DATA_DIR ?? '.trainyard',
    adminToken: process.env.TRAINYARD_ADMIN_TOKEN || undefined,
  });
  const where = runtime.adminTokenFile ? `in ${shortPath(runtime.adminTokenFile)}` : 'from TRAINYARD_ADMIN_TOKEN';
  console.log(`Trainyard listening on ${runtime.url}`);
  console.log(`API docs:     ${runtime.url}/docs`);
  console.log(`OpenAPI:      ${runtime.url}/api/v1/openapi.json`);
  console.log(`Admin token:  ${where}`);
  console.log(`Data:         ${runtime.dataDir}`);
  console.log(`Local Batch:  ${runtime.batchUrl} (POST /local/spot-reclaim {"jobName": "<job id>"} simulates a Spot reclaim)`);
  const shutdown = () => {
    runtime.stop().then(
      () => process.exit(0),
      (error: unknown) => {
        console.error(`Trainyard stopped uncleanly: ${(error as Error).message}`);
        process.exit(1);
      },
    );
  };
  process.once('SIGINT', shutdown);
  process.once('SIGTERM', shutdown);
} catch (error) {
  console.error(`Trainyard could not start: ${(error as Error).message}`);
  process.exit(1);
}

/** A path relative to the working directory when it lies inside it, else absolute. */
function shortPath(path: string): string {
  const rel = relative(process.cwd(), path);
  return rel && !rel.startsWith('..') && !isAbsolute(rel) ? rel : path;
}
