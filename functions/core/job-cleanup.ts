import { deleteItem, getItem, queryPages } from './dynamo';
import { datasetKey } from './entities/dataset';
import { jobKey, type JobRecord, jobsOfResource, TERMINAL } from './entities/job';
import { modelKey } from './entities/model';
import { deleteObject, listObjects } from './s3';

/**
 * Jobs outlive nothing they belong to: once a dataset or model is deleted, its ended jobs go with their
 * outputs (the purge takes those ended by then; a job still stopping is taken when it ends).
 */
export async function removeJob(job: Pick<JobRecord, 'id'>): Promise<void> {
  for (;;) {
    const { objects } = await listObjects(`jobs/${job.id}/`, 1000);
    if (objects.length === 0) break;
    await Promise.all(objects.map((o) => deleteObject(o.key)));
  }
  await deleteItem({ pk: `job#${job.id}`, sk: 'parent' });
  await deleteItem(jobKey(job.id));
}

/** Every ended job of a deleted dataset or model; answers how many went (live ones are left to end first). */
export async function removeEndedJobsOf(kind: 'dataset' | 'model', resourceId: string): Promise<number> {
  let removed = 0;
  for await (const page of queryPages(jobsOfResource(kind, resourceId))) {
    for (const job of page as unknown as JobRecord[]) {
      if (!TERMINAL.includes(job.status)) continue;
      await removeJob(job);
      removed++;
    }
  }
  return removed;
}

/** A job that just ended whose dataset or model is gone is removed now. */
export async function removeIfOrphaned(jobId: string): Promise<boolean> {
  const job = (await getItem(jobKey(jobId), true)) as JobRecord | undefined;
  if (!job || !TERMINAL.includes(job.status)) return false;
  const owner = await getItem(job.kind === 'dataset' ? datasetKey(job.resourceId) : modelKey(job.resourceId), true);
  if (owner) return false;
  await removeJob(job);
  return true;
}
