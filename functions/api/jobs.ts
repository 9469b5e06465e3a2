import { cancelJob, deleteJob, getJob, getSpec, jobDownload, jobFiles, jobLogs, listActions, listJobs, listQueues, pauseJob, resumeJob, saveSpec, specSchema, submitJobs } from '../core/jobs';
import { httpHandler } from './http';

/** Jobs (TAO): actions, queues, specs per resource and action, and the jobs themselves. */
export const handler = httpHandler('jobs', {
  listActions: async () => listActions(),
  listQueues: async () => listQueues(),
  submitJobs: ({ caller, params, body }) => submitJobs(caller, params.user_id, params.kind, params.resource_id, body),
  listJobs: ({ caller, params, query }) => listJobs(caller, params.user_id, params.kind, params.resource_id, query),
  getJob: ({ caller, params }) => getJob(caller, params.user_id, params.kind, params.resource_id, params.job_id),
  deleteJob: ({ caller, params }) => deleteJob(caller, params.user_id, params.kind, params.resource_id, params.job_id),
  cancelJob: ({ caller, params }) => cancelJob(caller, params.user_id, params.kind, params.resource_id, params.job_id),
  pauseJob: ({ caller, params }) => pauseJob(caller, params.user_id, params.kind, params.resource_id, params.job_id),
  resumeJob: ({ caller, params }) => resumeJob(caller, params.user_id, params.kind, params.resource_id, params.job_id),
  getJobLogs: ({ caller, params, query }) => jobLogs(caller, params.user_id, params.kind, params.resource_id, params.job_id, query),
  listJobFiles: ({ caller, params, query }) => jobFiles(caller, params.user_id, params.kind, params.resource_id, params.job_id, query),
  downloadJob: ({ caller, params }) => jobDownload(caller, params.user_id, params.kind, params.resource_id, params.job_id),
  getSpecSchema: ({ caller, params }) => specSchema(caller, params.user_id, params.kind, params.resource_id, params.action),
  getSpec: ({ caller, params }) => getSpec(caller, params.user_id, params.kind, params.resource_id, params.action),
  saveSpec: ({ caller, params, body }) => saveSpec(caller, params.user_id, params.kind, params.resource_id, params.action, body, false),
  updateSpec: ({ caller, params, body }) => saveSpec(caller, params.user_id, params.kind, params.resource_id, params.action, body, true),
});
