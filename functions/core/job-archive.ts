import { PassThrough } from 'node:stream';
import { createGzip } from 'node:zlib';
import * as tar from 'tar-stream';
import { jobOutputPrefix } from './job-engine';
import { getObjectStream, listObjects, putObject } from './s3';

/**
 * TAO's job download: everything the job wrote (status, metrics, logs, artifacts) as a tar.gz whose top
 * folder is the job id, stored beside the outputs (`download.tar.gz`) when the job ends, so the API
 * only redirects to it. Entries are streamed from storage one at a time.
 */
export async function packJobOutputs(jobId: string): Promise<void> {
  const prefix = jobOutputPrefix(jobId);
  const keys: { key: string; size: number }[] = [];
  let token: string | undefined;
  do {
    const listed = await listObjects(prefix, 1000, { continuationToken: token });
    keys.push(...listed.objects.filter((o) => !o.key.endsWith('/download.tar.gz') && !o.key.includes('/checkpoints/')));
    token = listed.nextToken;
  } while (token);
  const pack = tar.pack();
  const gzip = createGzip();
  const out = new PassThrough();
  const chunks: Buffer[] = [];
  out.on('data', (c: Buffer) => chunks.push(c));
  const done = new Promise<void>((resolve, reject) => out.on('end', resolve).on('error', reject));
  pack.pipe(gzip).pipe(out);
  for (const { key, size } of keys) {
    const entry = pack.entry({ name: `${jobId}/${key.slice(prefix.length)}`, size });
    for await (const chunk of await getObjectStream(key)) entry.write(chunk);
    await new Promise<void>((resolve, reject) => entry.end((error?: Error | null) => (error ? reject(error) : resolve())));
  }
  pack.finalize();
  await done;
  await putObject(`${prefix}download.tar.gz`, Buffer.concat(chunks), 'application/gzip');
}
