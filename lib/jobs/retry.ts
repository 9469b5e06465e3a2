/**
 * How a job's Batch attempts are retried, as data: the workflow passes it in every SubmitJob (AWS), and
 * the local Batch stand-in applies the same rules. A Spot reclaim ends an attempt with a status reason
 * starting "Host EC2" and is retried (the retry resumes from the newest checkpoint); anything else ends
 * the job.
 */
export const JOB_RETRY_STRATEGY = {
  Attempts: 3,
  EvaluateOnExit: [
    { OnStatusReason: 'Host EC2*', Action: 'RETRY' },
    { OnReason: '*', Action: 'EXIT' },
  ],
} as const;

/** Batch's rule for these patterns: a trailing `*` matches any rest; otherwise the whole text must match. */
export function matchesPattern(pattern: string, text: string): boolean {
  return pattern.endsWith('*') ? text.startsWith(pattern.slice(0, -1)) : pattern === text;
}
