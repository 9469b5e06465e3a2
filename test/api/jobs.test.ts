import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { DynamoDBClient, GetItemCommand } from '@aws-sdk/client-dynamodb';
import { beforeAll, describe, expect, inject, it } from 'vitest';
import { png } from './dataset-files';
import { apiUrl, datasetsPath, fetchBytes, type Json, mapLimit, newUser, type TestUser, waitFor } from './helpers';

/**
 * Jobs end to end on the embedded runtime: the API submits, the workflow's own definition runs in the
 * Step Functions stand-in, the local Batch runs the worker as a child process, and the job's record,
 * logs, files and archive come back through the API.
 */
let owner: TestUser;
let dataset: { id: string; base: string };
const batch = (path: string, init?: RequestInit) => fetch(`${inject('batchUrl')}${path}`, init);


const jobPath = (id: string) => `${dataset.base}/job/${id}`;
const job = async (id: string) => (await owner.api.get(jobPath(id))).body as Json;
const ended = (id: string, timeoutMs?: number) => waitFor(`job ${id} ended`, () => job(id), (j) => ['Done', 'Error', 'Canceled'].includes(j.status), timeoutMs);

async function submit(body: Json, headers?: Record<string, string>): Promise<string[]> {
  const posted = await owner.api.post(`${dataset.base}/job`, body, { headers });
  expect(posted.status, posted.text).toBe(201);
  return posted.body;
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

beforeAll(async () => {
  owner = await newUser({ label: 'jobs' });
  const created = await owner.api.post(datasetsPath(owner.id), { type: 'image_classification', format: 'default' });
  dataset = { id: created.body.id, base: `${datasetsPath(owner.id)}/${created.body.id}` };
  const files = Object.fromEntries(Array.from({ length: 6 }, (_, i) => [`${i % 2 ? 'cats' : 'dogs'}/${i}.png`, png(8, 6, i)]));
  const session = (await owner.api.post(`${dataset.base}/upload`, { files: Object.entries(files).map(([name, data]) => ({ name, size: data.length })) })).body;
  await mapLimit(session.files as Json[], 6, async (f) => expect((await fetch(f.url, { method: 'PUT', body: files[f.name] })).status).toBe(200));
  expect((await owner.api.post(`${dataset.base}/upload/${session.id}/complete`)).status).toBe(200);
  await waitFor('samples', async () => (await owner.api.get(`${dataset.base}/stats`)).body.sample_count, (n) => n === 6);
});

describe('dataset actions', () => {
  it('validate, analyze and dataset_convert run as a chain to Done, with logs, files and the TAO archive', { timeout: 120_000 }, async () => {
    // Act
    const ids = await submit({ actions: ['validate', 'analyze', 'dataset_convert'], specs: { dataset_convert: { target_format: 'yolo' } } });

    // Assess: each Done, in order (a child starts after its parent).
    expect(ids).toHaveLength(3);
    const jobs = [];
    for (const id of ids) jobs.push(await ended(id));
    for (const j of jobs) expect(j, JSON.stringify(j)).toMatchObject({ status: 'Done', dataset_id: dataset.id, attempts: 1 });
    expect(jobs.map((j) => j.parent_id)).toEqual([null, ids[0], ids[1]]);
    expect(Date.parse(jobs[1].started_on)).toBeGreaterThanOrEqual(Date.parse(jobs[0].finished_on));
    expect(jobs[0].result.detailed_status.status).toBe('Done');
    expect(jobs[0].result.stats).toEqual(expect.arrayContaining([{ metric: 'samples', value: 6 }]));
    // Logs and files.
    const logs = (await owner.api.get(`${jobPath(ids[0]!)}/logs`)).body;
    expect(logs.lines.length).toBeGreaterThan(0);
    const files = await owner.api.get(`${jobPath(ids[2]!)}/file`);
    expect(files.status).toBe(200);
    const paths = files.body.map((f: Json) => f.path);
    expect(paths).toEqual(expect.arrayContaining(['manifest.jsonl', 'yolo/classes.txt']));
    // The converted result is a new dataset version.
    const versions = (await owner.api.get(`${dataset.base}/version`)).body as Json[];
    expect(versions.some((v) => v.description.includes(ids[2]!))).toBe(true);
    // TAO's download: a redirect to a tar.gz whose top folder is the job id.
    const download = await fetch(`${apiUrl()}${jobPath(ids[0]!)}/download`, { headers: { authorization: `Bearer ${owner.token}` }, redirect: 'manual' });
    expect(download.status).toBe(302);
    const archive = gunzipSync(await fetchBytes(download.headers.get('location')!));
    expect(archive.subarray(0, 100).toString('latin1')).toContain(`${ids[0]}/`);
  });
});

describe('cancel, Spot reclaims and timeouts', () => {
  it('a running job canceled mid-run reaches Canceled and its worker process is gone', { timeout: 60_000 }, async () => {
    const [id] = await submit({ actions: ['sleep'], specs: { sleep: { seconds: 60 } } });
    await waitFor('Running', () => job(id!), (j) => j.status === 'Running');
    const { pid } = await waitFor('its process', async () => (await batch(`/local/jobs/${id}`)).json() as Promise<{ pid?: number }>, (p) => Boolean(p.pid));
    expect(processAlive(pid!)).toBe(true);

    // Act
    const started = Date.now();
    const canceled = await owner.api.post(`${jobPath(id!)}/cancel`);

    // Assess
    expect(canceled.status, canceled.text).toBe(200);
    expect(['Canceling', 'Canceled']).toContain(canceled.body.status);
    const final = await ended(id!);
    expect(final.status).toBe('Canceled');
    expect(processAlive(pid!)).toBe(false);
    expect(Date.now() - started).toBeLessThan(10_000);
  });

  it('an attempt ended the way a Spot reclaim ends it is retried, and the job still finishes', { timeout: 60_000 }, async () => {
    const [id] = await submit({ actions: ['sleep'], specs: { sleep: { seconds: 2 } } });
    await waitFor('Running', () => job(id!), (j) => j.status === 'Running');
    await waitFor('its process', async () => (await batch(`/local/jobs/${id}`)).json() as Promise<{ pid?: number }>, (p) => Boolean(p.pid));

    // Act
    expect((await batch('/local/spot-reclaim', { method: 'POST', body: JSON.stringify({ jobName: id }) })).status).toBe(200);

    // Assess
    const final = await ended(id!);
    expect(final).toMatchObject({ status: 'Done', attempts: 2 });
  });

  it('a job that fails fails the jobs after it, with the reason', { timeout: 60_000 }, async () => {
    const [parent, child] = await submit({ actions: ['sleep', 'validate'], specs: { sleep: { seconds: 0, exit_code: 1 } } });
    const failed = await ended(parent!);
    expect(failed.status).toBe('Error');
    expect(failed.status_reason).toMatch(/exit code 1/);
    const dependent = await ended(child!);
    expect(dependent).toMatchObject({ status: 'Error', status_reason: `its parent job ${parent} ended in Error`, attempts: 0 });
  });

  it('a job past its timeout ends in Error with the reason', { timeout: 60_000 }, async () => {
    const [id] = await submit({ actions: ['sleep'], specs: { sleep: { seconds: 60 } }, timeout: '2s' });
    const final = await ended(id!);
    expect(final.status).toBe('Error');
    expect(final.status_reason).toMatch(/timeout/);
  });
});

describe('pause and resume', () => {
  it('a paused job stops at its checkpoint (Paused) and, resumed, continues from it under the same id to Done', { timeout: 90_000 }, async () => {
    // Arrange
    const [id] = await submit({ actions: ['sleep'], specs: { sleep: { seconds: 4 } } });
    await waitFor('a second slept', () => job(id!), (j) => j.status === 'Running' && (j.result.cur_iter ?? 0) >= 10);

    // Act: pause, then resume.
    const pausing = await owner.api.post(`${jobPath(id!)}/pause`);
    expect(pausing.status, pausing.text).toBe(200);
    expect(pausing.body.status).toBe('Pausing');
    const paused = await waitFor('Paused', () => job(id!), (j) => ['Paused', 'Done', 'Error'].includes(j.status));
    expect(paused.status).toBe('Paused');
    const resumed = await owner.api.post(`${jobPath(id!)}/resume`);

    // Assess
    expect(resumed.status, resumed.text).toBe(200);
    expect(resumed.body.status).toBe('Resuming');
    const final = await ended(id!);
    expect(final.status).toBe('Done');
    const logs = (await owner.api.get(`${jobPath(id!)}/logs?limit=5000`)).body.lines.map((l: Json) => l.text).join('\n');
    expect(logs).toMatch(/resuming from checkpoint at \d+ ms/);
    // Resume applies only to Paused, Canceled or Error jobs: a Done one is a 409, and so is pausing it.
    expect((await owner.api.post(`${jobPath(id!)}/resume`)).status).toBe(409);
    expect((await owner.api.post(`${jobPath(id!)}/pause`)).status).toBe(409);
  });

  it('actions without checkpoints cannot pause (409)', async () => {
    const [id] = await submit({ actions: ['validate'] });
    expect((await owner.api.post(`${jobPath(id!)}/pause`)).status).toBe(409);
    await ended(id!);
  });
});

describe('submission', () => {
  it('20 concurrent identical submissions under one Idempotency-Key create one job', { timeout: 60_000 }, async () => {
    const key = `jobs-${Date.now()}`;
    const answers = await Promise.all(Array.from({ length: 20 }, () => owner.api.post(`${dataset.base}/job`, { actions: ['validate'] }, { headers: { 'idempotency-key': key } })));
    const ids = new Set(answers.map((a) => JSON.stringify(a.body)));
    expect(answers.every((a) => a.status === 201)).toBe(true);
    expect(ids.size).toBe(1);
    const [id] = answers[0]!.body as string[];
    await ended(id!);
    const listed = await owner.api.get(`${dataset.base}/job?action=validate`);
    expect(listed.body.filter((j: Json) => j.id === id)).toHaveLength(1);
  });

  it('refuses model actions on a dataset (422), actions not yet available, and bad specs (400, each field by path), creating nothing', async () => {
    const before = Number((await owner.api.get(`${dataset.base}/job?size=1`)).headers.get('x-pagination-total'));
    const wrongKind = await owner.api.post(`${dataset.base}/job`, { actions: ['train'] });
    expect(wrongKind.status).toBe(422);
    const badSpec = await owner.api.post(`${dataset.base}/job`, { actions: ['dataset_convert'], specs: { dataset_convert: { target_format: 'voc', extra: 1 } } });
    expect(badSpec.status).toBe(400);
    expect(badSpec.body.details.map((d: Json) => d.path.join('.'))).toEqual(expect.arrayContaining(['specs.dataset_convert.target_format']));
    expect(Number((await owner.api.get(`${dataset.base}/job?size=1`)).headers.get('x-pagination-total'))).toBe(before);
  });

  it('serves spec schemas with the complete default spec, and saves and merges specs', async () => {
    const schema = (await owner.api.get(`${dataset.base}/specs/dataset_convert/schema`)).body;
    expect(schema.default).toEqual({ target_format: 'coco' });
    expect((await owner.api.post(`${dataset.base}/specs/analyze`, { top_labels: 5 })).status).toBe(201);
    expect((await owner.api.put(`${dataset.base}/specs/analyze`, {})).body).toEqual({ top_labels: 5 });
    expect((await owner.api.get(`${dataset.base}/specs/analyze`)).body).toEqual({ top_labels: 5 });
    const bad = await owner.api.post(`${dataset.base}/specs/analyze`, { top_labels: 'many' });
    expect(bad.status).toBe(400);
  });
});

describe('deleting a job', () => {
  it('answers 409 while a job after it in its chain, however deep, has still to end, and deletes it once that one ended', { timeout: 90_000 }, async () => {
    // Arrange: validate and analyze end quickly; the sleep after them runs on.
    const [first, second, third] = await submit({ actions: ['validate', 'analyze', 'sleep'], specs: { sleep: { seconds: 60 } } });
    await waitFor('the sleep running', () => job(third!), (j) => j.status === 'Running');
    expect((await job(first!)).status).toBe('Done');
    expect((await job(second!)).status).toBe('Done');

    // Act
    const refusedFirst = await owner.api.delete(jobPath(first!));
    const refusedSecond = await owner.api.delete(jobPath(second!));
    expect((await owner.api.post(`${jobPath(third!)}/cancel`)).status).toBe(200);
    expect((await ended(third!)).status).toBe('Canceled');
    const deleted = await owner.api.delete(jobPath(first!));

    // Assess: refused with the reason and kept whole until the chain ended; then gone.
    for (const refused of [refusedFirst, refusedSecond]) {
      expect(refused.status, refused.text).toBe(409);
      expect(refused.body).toMatchObject({ code: 'conflict', error_desc: expect.stringContaining(`job ${third} (sleep) after it in its chain is Running`) });
    }
    expect(deleted.status, deleted.text).toBe(200);
    expect(deleted.body).toMatchObject({ id: first, status: 'Done' });
    expect((await owner.api.get(jobPath(first!))).status).toBe(404);
    expect((await owner.api.get(`${jobPath(second!)}/file`)).status).toBe(200);
  });
});

describe('deleting the dataset', () => {
  it('cancels its live jobs first, and the jobs and their outputs go with it', { timeout: 60_000 }, async () => {
    // Arrange: a dataset of its own, with a long job running on it.
    const created = await owner.api.post(datasetsPath(owner.id), { type: 'image_classification', format: 'default' });
    const base = `${datasetsPath(owner.id)}/${created.body.id}`;
    const posted = await owner.api.post(`${base}/job`, { actions: ['sleep'], specs: { sleep: { seconds: 60 } } });
    expect(posted.status, posted.text).toBe(201);
    const [id] = posted.body as string[];
    const status = async () => (await batch(`/local/jobs/${id}`)).json() as Promise<{ pid?: number }>;
    const { pid } = await waitFor('its process', status, (p) => Boolean(p.pid));

    // Act
    expect((await owner.api.delete(base)).status).toBe(200);

    // Assess: its worker is stopped, and the job and its outputs go with the dataset.
    await waitFor('the worker gone', async () => processAlive(pid!), (alive) => !alive, 15_000);
    const table = new DynamoDBClient({ endpoint: inject('tableEndpoint'), region: 'us-east-1', credentials: { accessKeyId: 'local', secretAccessKey: 'local' } });
    const jobRow = async () => (await table.send(new GetItemCommand({ TableName: 'trainyard', Key: { pk: { S: `job#${id}` }, sk: { S: 'job' } }, ConsistentRead: true }))).Item;
    await waitFor('the job record gone', jobRow, (row) => row === undefined, 15_000);
    table.destroy();
    expect(existsSync(join(inject('dataDir'), 's3', 'trainyard-local', 'jobs', id!))).toBe(false);
  });
});
