// One storage stand-in (dynalite or s3rver) on its own thread, so the table, the object store and the
// handlers each get a core's share instead of queueing on one event loop. Plain JavaScript: a worker
// thread starts without the TypeScript loader the main thread may run under.
import { parentPort, workerData } from 'node:worker_threads';

const { kind, options } = workerData;

if (kind === 'dynalite') {
  const { default: dynalite } = await import('dynalite');
  const server = dynalite(options);
  server.listen(0, '127.0.0.1', () => parentPort.postMessage({ type: 'ready', port: server.address().port }));
  parentPort.on('message', (message) => {
    if (message === 'close') server.close(() => parentPort.postMessage({ type: 'closed' }));
  });
} else if (kind === 's3rver') {
  const { default: S3rver } = await import('s3rver');
  const s3 = new S3rver(options);
  const address = await s3.run();
  // Object events cross to the main thread, where the ingest handler runs.
  s3.on('event', (event) => parentPort.postMessage({ type: 'event', event: JSON.parse(JSON.stringify(event)) }));
  parentPort.postMessage({ type: 'ready', port: address.port });
  parentPort.on('message', (message) => {
    if (message === 'close') s3.close().catch(() => undefined).then(() => parentPort.postMessage({ type: 'closed' }));
  });
} else {
  throw new Error(`unknown stand-in ${kind}`);
}
