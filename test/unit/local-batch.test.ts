import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { type BatchStateEvent, LocalBatch } from '../../local/batch';

/**
 * The local Batch's failure path: submitAndWait must reject only once its cleanup is done, as one
 * promise, so a failed job never surfaces as an unhandled rejection (which would end `npm start`).
 */
let dataDir: string | undefined;
afterEach(async () => {
  if (dataDir) await rm(dataDir, { recursive: true, force: true });
});

describe('local Batch', () => {
  it('a job terminated before it runs fails as one rejected promise: States.TaskFailed, FAILED reported, no unhandled rejection', async () => {
    // Arrange: a terminate that lands while the job is still RUNNABLE, and state changes that answer at once.
    dataDir = await mkdtemp(join(tmpdir(), 'trainyard-batch-'));
    const unhandled: unknown[] = [];
    const onUnhandled = (reason: unknown) => unhandled.push(reason);
    process.on('unhandledRejection', onUnhandled);
    const events: BatchStateEvent['status'][] = [];
    const batch: LocalBatch = new LocalBatch({
      dataDir,
      baseEnv: {},
      onStateChange: async (event) => {
        events.push(event.status);
        if (event.status === 'RUNNABLE') batch.terminateByName(event.jobName, 'canceled');
      },
    });

    // Act
    const outcome = await batch.submitAndWait({ JobName: 'j1', JobQueue: 'q', JobDefinition: 'd' } as never).then(
      () => undefined,
      (error: Error) => error,
    );
    await new Promise((resolve) => setTimeout(resolve, 200));
    process.off('unhandledRejection', onUnhandled);

    // Assess
    expect(outcome?.name).toBe('States.TaskFailed');
    expect(JSON.parse(outcome!.message)).toMatchObject({ JobName: 'j1', Status: 'FAILED', StatusReason: 'canceled', Attempts: [] });
    expect(events).toEqual(['SUBMITTED', 'RUNNABLE', 'FAILED']);
    expect(unhandled).toEqual([]);
  });
});
