/**
 * Queues jobs go to (Dioptra-style names mapped onto Batch job queues). Plain data: the API serves it
 * (`GET /api/v1/queue`) and the CDK app builds one Batch job queue per entry.
 */
export const QUEUES = [
  { name: 'gpu', description: 'GPU instances (g5/g6), Spot first with on-demand as fallback; none run while no job waits', compute: 'gpu' },
  { name: 'cpu', description: 'CPU instances for data actions (validate, analyze, convert, augment); none run while no job waits', compute: 'cpu' },
] as const;
