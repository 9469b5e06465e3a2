import * as z from 'zod';
import { AuditEntry, Id, PageQuery, UserPathParams } from './core/schemas/common';
import {
  Dataset,
  DatasetCreate,
  DatasetListQuery,
  DatasetPatch,
  DatasetPathParams,
  DatasetReplace,
} from './core/schemas/dataset';
import {
  BatchResult,
  DatasetStats,
  DatasetVersion,
  Label,
  LabelBatchDelete,
  LabelBatchRename,
  LabelBatchResult,
  LabelCreate,
  LabelDeleteQuery,
  LabelPatch,
  LabelPathParams,
  Sample,
  SampleBatchAdd,
  SampleBatchAnnotate,
  SampleBatchDelete,
  SampleListQuery,
  SamplePatch,
  SamplePathParams,
  VersionCreate,
  VersionPathParams,
} from './core/schemas/sample';
import { ActionInfo, Job, JobFile, JobListQuery, JobLogs, JobLogsQuery, JobSubmit, QueueInfo } from './core/schemas/job';
import { Model, ModelCreate, ModelListQuery, ModelPatch, ModelPathParams, ModelReplace } from './core/schemas/model';
import { FileDownload, FilePathParams, StoredFile, UploadComplete, UploadPathParams, UploadSession, UploadStart } from './core/schemas/upload';
import {
  Health,
  LoginRequest,
  LoginResponse,
  Token,
  TokenCreate,
  TokenCreated,
  TokenPathParams,
  User,
  UserCreate,
} from './core/schemas/identity';

/**
 * The route table: the only list of Trainyard's HTTP routes. CDK builds the API Gateway routes from it,
 * the local server dispatches from it, and the OpenAPI document is generated from it.
 *
 * `group` names the Lambda function (one per resource group, `functions/api/{group}.ts`);
 * `access` is what the caller's token must allow: `public` (no token), `read`, `write`, or `admin`.
 */
export type HandlerGroup = 'health' | 'docs' | 'identity' | 'datasets' | 'files' | 'samples' | 'models' | 'jobs';
export const HANDLER_GROUPS: readonly HandlerGroup[] = ['health', 'docs', 'identity', 'datasets', 'files', 'samples', 'models', 'jobs'];
export type Access = 'public' | 'read' | 'write' | 'admin';
export type HttpMethod = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';

export interface RouteDef {
  method: HttpMethod;
  path: string;
  group: HandlerGroup;
  access: Access;
  summary: string;
  tag: string;
  params?: z.ZodObject;
  query?: z.ZodObject;
  body?: z.ZodType;
  /** Success status: creates answer 201, everything else 200. */
  status: 200 | 201;
  /** The success body; for `list` routes, the schema of one item (the body is a bare array of them). */
  response?: z.ZodType;
  /** A paginated list: bare JSON array body, X-Pagination-Total / X-Next-Cursor / Link headers. */
  list?: boolean;
  /** The response carries the resource's revision as ETag. */
  etag?: boolean;
  /** The route honours If-Match (PUT/PATCH/DELETE of a mutable resource). */
  ifMatch?: boolean;
  /** The route honours Idempotency-Key (POSTs that create things). */
  idempotent?: boolean;
  /** The success answer is a 302 to `location` (the handler answers `{ location }`). */
  redirect?: boolean;
  /** Non-JSON success responses (documentation). */
  contentType?: string;
  /**
   * The route also takes one file as multipart/form-data (TAO's form upload), up to `maxBytes`;
   * the handler then gets it as `form` instead of a JSON `body`.
   */
  form?: { field: string; maxBytes: number; tooLarge: string; response: z.ZodType };
}

const USER = '/api/v1/user/{user_id}';
const DATASET = `${USER}/dataset/{dataset_id}`;
/** Jobs and specs live alike under datasets and models (TAO): one route each, the kind in the path. */
const RESOURCE = `${USER}/{kind}/{resource_id}`;
const ResourcePathParams = z.object({ user_id: Id, kind: z.enum(['dataset', 'model']), resource_id: Id });
const JobPathParams = ResourcePathParams.extend({ job_id: Id });
const SpecPathParams = ResourcePathParams.extend({ action: z.string().min(1).max(64) });

export const routes = {
  getLiveness: {
    method: 'GET', path: '/api/v1/health/liveness', group: 'health', access: 'public', tag: 'health',
    summary: 'Liveness: the function answers', status: 200, response: Health,
  },
  getReadiness: {
    method: 'GET', path: '/api/v1/health/readiness', group: 'health', access: 'public', tag: 'health',
    summary: 'Readiness: the table answers', status: 200, response: Health,
  },
  getOpenApi: {
    method: 'GET', path: '/api/v1/openapi.json', group: 'docs', access: 'public', tag: 'docs',
    summary: 'This API as an OpenAPI 3.1 document', status: 200, response: z.record(z.string(), z.unknown()),
  },
  getDocs: {
    method: 'GET', path: '/docs', group: 'docs', access: 'public', tag: 'docs',
    summary: 'API documentation page', status: 200, contentType: 'text/html',
  },
  login: {
    method: 'POST', path: '/api/v1/login', group: 'identity', access: 'public', tag: 'identity',
    summary: 'Exchange a personal access token for the user id and a bearer token (TAO login)',
    body: LoginRequest, status: 201, response: LoginResponse,
  },
  createUser: {
    method: 'POST', path: '/api/v1/admin/user', group: 'identity', access: 'admin', tag: 'identity',
    summary: 'Create a user (admin)', body: UserCreate, status: 201, response: User, etag: true, idempotent: true,
  },
  listUsers: {
    method: 'GET', path: '/api/v1/admin/user', group: 'identity', access: 'admin', tag: 'identity',
    summary: 'List users (admin)', query: PageQuery, status: 200, response: User, list: true,
  },
  getUser: {
    method: 'GET', path: USER, group: 'identity', access: 'read', tag: 'identity',
    summary: 'Get a user (the user itself or an admin)', params: UserPathParams, status: 200, response: User, etag: true,
  },
  createToken: {
    method: 'POST', path: `${USER}/token`, group: 'identity', access: 'write', tag: 'identity',
    summary: 'Create a personal access token; the secret is in `token`, shown once',
    params: UserPathParams, body: TokenCreate, status: 201, response: TokenCreated,
    // Not idempotent on purpose: a replayable response would have to store the secret, and only hashes are stored.
  },
  listTokens: {
    method: 'GET', path: `${USER}/token`, group: 'identity', access: 'read', tag: 'identity',
    summary: "List a user's tokens (never their secrets)", params: UserPathParams,
    query: PageQuery, status: 200, response: Token, list: true,
  },
  deleteToken: {
    method: 'DELETE', path: `${USER}/token/{token_id}`, group: 'identity', access: 'write', tag: 'identity',
    summary: 'Revoke a token', params: TokenPathParams, status: 200, response: Token,
  },
  listAudit: {
    method: 'GET', path: `${USER}/audit`, group: 'identity', access: 'read', tag: 'identity',
    summary: "The audit log of a user's namespace: every change, who made it and when (the user or an admin)",
    params: UserPathParams, query: PageQuery, status: 200, response: AuditEntry, list: true,
  },
  listDatasets: {
    method: 'GET', path: `${USER}/dataset`, group: 'datasets', access: 'read', tag: 'dataset',
    summary: 'List datasets', params: UserPathParams, query: DatasetListQuery, status: 200, response: Dataset, list: true,
  },
  createDataset: {
    method: 'POST', path: `${USER}/dataset`, group: 'datasets', access: 'write', tag: 'dataset',
    summary: 'Create a dataset', params: UserPathParams, body: DatasetCreate, status: 201, response: Dataset,
    etag: true, idempotent: true,
  },
  getDataset: {
    method: 'GET', path: `${USER}/dataset/{dataset_id}`, group: 'datasets', access: 'read', tag: 'dataset',
    summary: 'Get a dataset', params: DatasetPathParams, status: 200, response: Dataset, etag: true,
  },
  replaceDataset: {
    method: 'PUT', path: `${USER}/dataset/{dataset_id}`, group: 'datasets', access: 'write', tag: 'dataset',
    summary: 'Replace the editable fields of a dataset', params: DatasetPathParams, body: DatasetReplace,
    status: 200, response: Dataset, etag: true, ifMatch: true,
  },
  updateDataset: {
    method: 'PATCH', path: `${USER}/dataset/{dataset_id}`, group: 'datasets', access: 'write', tag: 'dataset',
    summary: 'Change some fields of a dataset', params: DatasetPathParams, body: DatasetPatch,
    status: 200, response: Dataset, etag: true, ifMatch: true,
  },
  deleteDataset: {
    method: 'DELETE', path: `${USER}/dataset/{dataset_id}`, group: 'datasets', access: 'write', tag: 'dataset',
    summary: 'Delete a dataset; answers the deleted dataset', params: DatasetPathParams, status: 200,
    response: Dataset, ifMatch: true,
  },
  startUpload: {
    method: 'POST', path: `${USER}/dataset/{dataset_id}/upload`, group: 'files', access: 'write', tag: 'dataset files',
    summary: 'Start an upload session: presigned URLs to PUT each file (or its parts) straight to storage. ' +
      "Also TAO's form upload: multipart/form-data with the archive in the field `file`, up to 5 MB",
    params: DatasetPathParams, body: UploadStart, status: 201, response: UploadSession, idempotent: true,
    form: {
      field: 'file',
      maxBytes: 5 * 1024 * 1024,
      tooLarge: 'form uploads take up to 5 MB; start an upload session (POST this path with {"files": [...]}) for larger data',
      response: z.object({ message: z.string() }),
    },
  },
  getUpload: {
    method: 'GET', path: `${USER}/dataset/{dataset_id}/upload/{upload_id}`, group: 'files', access: 'read', tag: 'dataset files',
    summary: 'An upload session and how far each file got', params: UploadPathParams, status: 200, response: UploadSession,
  },
  renewUpload: {
    method: 'POST', path: `${USER}/dataset/{dataset_id}/upload/{upload_id}/renew`, group: 'files', access: 'write', tag: 'dataset files',
    summary: 'Fresh URLs (valid 15 minutes) for the files not yet uploaded', params: UploadPathParams, status: 200, response: UploadSession,
  },
  completeUpload: {
    method: 'POST', path: `${USER}/dataset/{dataset_id}/upload/{upload_id}/complete`, group: 'files', access: 'write', tag: 'dataset files',
    summary: 'Complete files (multipart files with their part ETags); 409 names any file not fully uploaded',
    params: UploadPathParams, body: UploadComplete.default({}), status: 200, response: UploadSession,
  },
  abortUpload: {
    method: 'DELETE', path: `${USER}/dataset/{dataset_id}/upload/{upload_id}`, group: 'files', access: 'write', tag: 'dataset files',
    summary: 'Abort an upload session: files not yet uploaded are dropped', params: UploadPathParams, status: 200, response: UploadSession,
  },
  listFiles: {
    method: 'GET', path: `${USER}/dataset/{dataset_id}/file`, group: 'files', access: 'read', tag: 'dataset files',
    summary: "A dataset's stored files, in path order", params: DatasetPathParams, query: PageQuery, status: 200, response: StoredFile, list: true,
  },
  getFile: {
    method: 'GET', path: `${USER}/dataset/{dataset_id}/file/{path+}`, group: 'files', access: 'read', tag: 'dataset files',
    summary: 'One stored file with a presigned download URL (valid 15 minutes)', params: FilePathParams, status: 200, response: FileDownload,
  },
  listSamples: {
    method: 'GET', path: `${DATASET}/sample`, group: 'samples', access: 'read', tag: 'dataset samples',
    summary: "A dataset's samples in path order; filter by labeled, label, tag, review_state",
    params: DatasetPathParams, query: SampleListQuery, status: 200, response: Sample, list: true,
  },
  addSamples: {
    method: 'POST', path: `${DATASET}/sample`, group: 'samples', access: 'write', tag: 'dataset samples',
    summary: 'Batch add (up to 1,000): stored files become samples, optionally with annotations and tags; a result per item',
    params: DatasetPathParams, body: SampleBatchAdd, status: 201, response: BatchResult, idempotent: true,
  },
  deleteSamples: {
    method: 'POST', path: `${DATASET}/sample/delete`, group: 'samples', access: 'write', tag: 'dataset samples',
    summary: 'Batch delete (up to 1,000), with their files when delete_source is true; a result per item',
    params: DatasetPathParams, body: SampleBatchDelete, status: 200, response: BatchResult,
  },
  annotateSamples: {
    method: 'POST', path: `${DATASET}/sample/annotations`, group: 'samples', access: 'write', tag: 'dataset samples',
    summary: "Manual labeling in batches (up to 1,000): each sample's annotations are replaced whole; a result per item",
    params: DatasetPathParams, body: SampleBatchAnnotate, status: 200, response: BatchResult,
  },
  getSample: {
    method: 'GET', path: `${DATASET}/sample/{sample_id}`, group: 'samples', access: 'read', tag: 'dataset samples',
    summary: 'One sample with its annotations', params: SamplePathParams, status: 200, response: Sample, etag: true,
  },
  updateSample: {
    method: 'PATCH', path: `${DATASET}/sample/{sample_id}`, group: 'samples', access: 'write', tag: 'dataset samples',
    summary: "Change a sample's annotations, tags or review state", params: SamplePathParams, body: SamplePatch,
    status: 200, response: Sample, etag: true, ifMatch: true,
  },
  deleteSample: {
    method: 'DELETE', path: `${DATASET}/sample/{sample_id}`, group: 'samples', access: 'write', tag: 'dataset samples',
    summary: 'Delete a sample (its file stays); answers the deleted sample', params: SamplePathParams,
    status: 200, response: Sample, ifMatch: true,
  },
  listLabels: {
    method: 'GET', path: `${DATASET}/label`, group: 'samples', access: 'read', tag: 'dataset labels',
    summary: "A dataset's labels (its class list), in name order", params: DatasetPathParams, query: PageQuery,
    status: 200, response: Label, list: true,
  },
  createLabel: {
    method: 'POST', path: `${DATASET}/label`, group: 'samples', access: 'write', tag: 'dataset labels',
    summary: 'Add a label; 409 when the name is taken', params: DatasetPathParams, body: LabelCreate, status: 201,
    response: Label, idempotent: true,
  },
  renameLabels: {
    method: 'POST', path: `${DATASET}/label/rename`, group: 'samples', access: 'write', tag: 'dataset labels',
    summary: 'Batch rename (up to 100, in order); every sample carrying a label, and pending guesses naming it, follow; a result per label',
    params: DatasetPathParams, body: LabelBatchRename, status: 200, response: LabelBatchResult,
  },
  deleteLabels: {
    method: 'POST', path: `${DATASET}/label/delete`, group: 'samples', access: 'write', tag: 'dataset labels',
    summary: 'Batch delete (up to 100): their annotations leave the samples, or with delete_samples the samples go; pending guesses naming them are dropped; a result per label',
    params: DatasetPathParams, body: LabelBatchDelete, status: 200, response: LabelBatchResult,
  },
  updateLabel: {
    method: 'PATCH', path: `${DATASET}/label/{name}`, group: 'samples', access: 'write', tag: 'dataset labels',
    summary: 'Rename (every sample carrying it, and pending guesses naming it, follow) or recolour a label', params: LabelPathParams, body: LabelPatch,
    status: 200, response: Label,
  },
  deleteLabel: {
    method: 'DELETE', path: `${DATASET}/label/{name}`, group: 'samples', access: 'write', tag: 'dataset labels',
    summary: 'Delete a label: its annotations leave the samples (or, with delete_samples=true, those samples go); pending guesses naming it are dropped',
    params: LabelPathParams, query: LabelDeleteQuery, status: 200, response: Label,
  },
  getStats: {
    method: 'GET', path: `${DATASET}/stats`, group: 'samples', access: 'read', tag: 'dataset samples',
    summary: 'Counts of samples, labeled and unlabeled, per label and review state, and bytes',
    params: DatasetPathParams, status: 200, response: DatasetStats,
  },
  createVersion: {
    method: 'POST', path: `${DATASET}/version`, group: 'samples', access: 'write', tag: 'dataset versions',
    summary: "Freeze the dataset's samples and annotations into an immutable version (a manifest in storage)",
    params: DatasetPathParams, body: VersionCreate.default({}), status: 201, response: DatasetVersion, idempotent: true,
  },
  listVersions: {
    method: 'GET', path: `${DATASET}/version`, group: 'samples', access: 'read', tag: 'dataset versions',
    summary: "A dataset's versions, newest first", params: DatasetPathParams, query: PageQuery, status: 200,
    response: DatasetVersion, list: true,
  },
  getVersion: {
    method: 'GET', path: `${DATASET}/version/{version_id}`, group: 'samples', access: 'read', tag: 'dataset versions',
    summary: 'One version, with a presigned URL to its manifest (valid 15 minutes)', params: VersionPathParams,
    status: 200, response: DatasetVersion,
  },
  deleteVersion: {
    method: 'DELETE', path: `${DATASET}/version/{version_id}`, group: 'samples', access: 'write', tag: 'dataset versions',
    summary: 'Delete a version and its manifest; answers the deleted version', params: VersionPathParams,
    status: 200, response: DatasetVersion,
  },
  listModels: {
    method: 'GET', path: `${USER}/model`, group: 'models', access: 'read', tag: 'model',
    summary: 'List models; filter by name, arch (network_arch), read_only, tag', params: UserPathParams, query: ModelListQuery,
    status: 200, response: Model, list: true,
  },
  createModel: {
    method: 'POST', path: `${USER}/model`, group: 'models', access: 'write', tag: 'model',
    summary: 'Create a model: network_arch is enough; datasets it names must be the namespace\'s own (422 otherwise)',
    params: UserPathParams, body: ModelCreate, status: 201, response: Model, etag: true, idempotent: true,
  },
  getModel: {
    method: 'GET', path: `${USER}/model/{model_id}`, group: 'models', access: 'read', tag: 'model',
    summary: 'Get a model', params: ModelPathParams, status: 200, response: Model, etag: true,
  },
  replaceModel: {
    method: 'PUT', path: `${USER}/model/{model_id}`, group: 'models', access: 'write', tag: 'model',
    summary: 'Replace the editable fields of a model (omitted ones return to their defaults; the encryption key stays unless given)',
    params: ModelPathParams, body: ModelReplace, status: 200, response: Model, etag: true, ifMatch: true,
  },
  updateModel: {
    method: 'PATCH', path: `${USER}/model/{model_id}`, group: 'models', access: 'write', tag: 'model',
    summary: 'Change some fields of a model (attach datasets this way); a read-only model takes only {"read_only": false}',
    params: ModelPathParams, body: ModelPatch, status: 200, response: Model, etag: true, ifMatch: true,
  },
  deleteModel: {
    method: 'DELETE', path: `${USER}/model/{model_id}`, group: 'models', access: 'write', tag: 'model',
    summary: 'Delete a model (not a read-only one); answers the deleted model', params: ModelPathParams, status: 200,
    response: Model, ifMatch: true,
  },
  listActions: {
    method: 'GET', path: '/api/v1/action', group: 'jobs', access: 'read', tag: 'jobs',
    summary: 'The actions jobs run, with the kind of resource each applies to', query: PageQuery, status: 200, response: ActionInfo, list: true,
  },
  listQueues: {
    method: 'GET', path: '/api/v1/queue', group: 'jobs', access: 'read', tag: 'jobs',
    summary: 'The queues jobs go to', query: PageQuery, status: 200, response: QueueInfo, list: true,
  },
  submitJobs: {
    method: 'POST', path: `${RESOURCE}/job`, group: 'jobs', access: 'write', tag: 'jobs',
    summary: 'Run actions on a dataset or model: one job each, each after the one before; answers their ids in order',
    params: ResourcePathParams, body: JobSubmit, status: 201, response: z.array(Id), idempotent: true,
  },
  listJobs: {
    method: 'GET', path: `${RESOURCE}/job`, group: 'jobs', access: 'read', tag: 'jobs',
    summary: "A dataset's or model's jobs, newest first; filter by status, action", params: ResourcePathParams, query: JobListQuery,
    status: 200, response: Job, list: true,
  },
  getJob: {
    method: 'GET', path: `${RESOURCE}/job/{job_id}`, group: 'jobs', access: 'read', tag: 'jobs',
    summary: 'One job: its status and result', params: JobPathParams, status: 200, response: Job,
  },
  deleteJob: {
    method: 'DELETE', path: `${RESOURCE}/job/{job_id}`, group: 'jobs', access: 'write', tag: 'jobs',
    summary: "Delete an ended job and its outputs (409 while it is live, while a job after it in its chain has still to end, or while it made the model's recorded artifact)", params: JobPathParams, status: 200, response: Job,
  },
  cancelJob: {
    method: 'POST', path: `${RESOURCE}/job/{job_id}/cancel`, group: 'jobs', access: 'write', tag: 'jobs',
    summary: 'Cancel: Canceling until its compute is confirmed stopped, then Canceled', params: JobPathParams, status: 200, response: Job,
  },
  pauseJob: {
    method: 'POST', path: `${RESOURCE}/job/{job_id}/pause`, group: 'jobs', access: 'write', tag: 'jobs',
    summary: 'Pause a Running train-like job at its next checkpoint (Pausing, then Paused)', params: JobPathParams, status: 200, response: Job,
  },
  resumeJob: {
    method: 'POST', path: `${RESOURCE}/job/{job_id}/resume`, group: 'jobs', access: 'write', tag: 'jobs',
    summary: 'Continue a Paused, Canceled or Error train-like job from its newest checkpoint (same id); 409 without one',
    params: JobPathParams, status: 200, response: Job,
  },
  getJobLogs: {
    method: 'GET', path: `${RESOURCE}/job/{job_id}/logs`, group: 'jobs', access: 'read', tag: 'jobs',
    summary: "The job's log lines, attempt by attempt", params: JobPathParams, query: JobLogsQuery, status: 200, response: JobLogs,
  },
  listJobFiles: {
    method: 'GET', path: `${RESOURCE}/job/{job_id}/file`, group: 'jobs', access: 'read', tag: 'jobs',
    summary: "The job's artifacts, each with a presigned download (15 minutes)", params: JobPathParams, query: PageQuery,
    status: 200, response: JobFile, list: true,
  },
  downloadJob: {
    method: 'GET', path: `${RESOURCE}/job/{job_id}/download`, group: 'jobs', access: 'read', tag: 'jobs',
    summary: "TAO's download: a tar.gz whose top folder is the job id (a 302 to a presigned URL)", params: JobPathParams, status: 200, redirect: true,
  },
  getSpecSchema: {
    method: 'GET', path: `${RESOURCE}/specs/{action}/schema`, group: 'jobs', access: 'read', tag: 'jobs',
    summary: "An action's spec as JSON Schema; its top-level default is the complete default spec", params: SpecPathParams,
    status: 200, response: z.record(z.string(), z.unknown()),
  },
  getSpec: {
    method: 'GET', path: `${RESOURCE}/specs/{action}`, group: 'jobs', access: 'read', tag: 'jobs',
    summary: 'The saved spec of an action (its defaults when none is saved)', params: SpecPathParams, status: 200, response: z.record(z.string(), z.unknown()),
  },
  saveSpec: {
    method: 'POST', path: `${RESOURCE}/specs/{action}`, group: 'jobs', access: 'write', tag: 'jobs',
    summary: 'Save the whole spec of an action (a 400 lists each bad field by path)', params: SpecPathParams, body: z.record(z.string(), z.unknown()),
    status: 201, response: z.record(z.string(), z.unknown()),
  },
  updateSpec: {
    method: 'PUT', path: `${RESOURCE}/specs/{action}`, group: 'jobs', access: 'write', tag: 'jobs',
    summary: 'Deep-merge into the saved spec of an action', params: SpecPathParams, body: z.record(z.string(), z.unknown()),
    status: 200, response: z.record(z.string(), z.unknown()),
  },
} as const satisfies Record<string, RouteDef>;

export type Routes = typeof routes;
export type OperationId = keyof Routes;

/** `METHOD /path`: API Gateway's route key, and the local server's dispatch key. */
export function routeKeyOf(route: Pick<RouteDef, 'method' | 'path'>): string {
  return `${route.method} ${route.path}`;
}

/** The path as OpenAPI writes it: API Gateway's greedy `{name+}` is a plain `{name}` there. */
export function openApiPathOf(route: Pick<RouteDef, 'path'>): string {
  return route.path.replace(/\{(\w+)\+\}/g, '{$1}');
}

export function routeEntries(): [OperationId, RouteDef][] {
  return Object.entries(routes) as [OperationId, RouteDef][];
}
