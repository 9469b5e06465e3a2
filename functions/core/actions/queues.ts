/**
 * Queues jobs go to (Dioptra-style names mapped onto Batch job queues), as the API serves them
 * (`GET /api/v1/queue`). lib/jobs/queues.ts holds what runs behind each (compute environments, instance
 * types); a test checks the two name the same queues.
 */
export const QUEUES = [
  { name: 'gpu', description: 'GPU instances (g5/g6), Spot first with on-demand as fallback; none run while no job waits', compute: 'gpu' },
  { name: 'cpu', description: 'CPU instances for data actions (validate, analyze, convert, augment); none run while no job waits', compute: 'cpu' },
] as const;
