import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import S3rver from 's3rver';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodePng, encodePng, type PngImage } from '../../worker/png';
import { Storage } from '../../worker/storage';

/**
 * The worker as the local Batch runs it: `node --import tsx worker/main.ts` as a child process with the
 * contract's environment, against a real s3rver. What the orchestrator relies on: exit codes, status.json,
 * the attempt's log, metrics and artifacts in S3, and SIGTERM ending the job within 2 s with 143.
 */
const ROOT = resolve(import.meta.dirname, '../..');
const NODE = existsSync(join(ROOT, 'node_modules/.bin/node')) ? join(ROOT, 'node_modules/.bin/node') : process.execPath;
const BUCKET = 'trainyard-local';
const DATASET = '11111111-1111-4111-8111-111111111111';
const PREFIX = `u/22222222-2222-4222-8222-222222222222/dataset/${DATASET}/`;
const CREDENTIALS = { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' };

let dir: string;
let s3: S3rver;
let endpoint: string;
let storage: Storage;

/** A greyscale PNG whose pixel at (x, y) is x * 10 + y: a flip shows in every byte. */
function greyscale(width: number, height: number): { png: Buffer; image: PngImage } {
  const pixels = Buffer.alloc(width * height);
  for (let y = 0; y < height; y++) for (let x = 0; x < width; x++) pixels[y * width + x] = x * 10 + y;
  const image: PngImage = { width, height, bitDepth: 8, colorType: 0, bytesPerPixel: 1, pixels, chunks: [] };
  return { png: encodePng(image), image };
}

function line(path: string, size: number, fields: Record<string, unknown> = {}): Record<string, unknown> & { id: string; size: number; labels: string[]; annotations: object[] } {
  const annotations = (fields.annotations as { label: string }[] | undefined) ?? [];
  return {
    id: `00000000-0000-4000-8000-${String(path.length).padStart(12, '0')}`,
    dataset_id: DATASET,
    path,
    size,
    content_type: path.endsWith('.png') ? 'image/png' : 'image/jpeg',
    annotations,
    labels: [...new Set(annotations.map((a) => a.label))].sort(),
    tags: [],
    review_state: 'unreviewed',
    created_on: '2025-01-01T00:00:00.000Z',
    ...fields,
  };
}

const A = greyscale(4, 2);
const B = greyscale(6, 3);
const C = greyscale(5, 5);
const GOOD = [
  line('images/a.png', A.png.length, { width: 4, height: 2, annotations: [{ label: 'cat', box: { x: 0.25, y: 0, w: 0.5, h: 1 } }] }),
  line('images/b.png', B.png.length, { width: 6, height: 3, annotations: [{ label: 'dog', box: { x: 0, y: 0, w: 0.5, h: 0.5 } }, { label: 'cat', box: { x: 0.5, y: 0.5, w: 0.5, h: 0.5 } }] }),
  line('cats/c.png', C.png.length, { width: 5, height: 5, annotations: [{ label: 'cat', box: { x: 0.2, y: 0.2, w: 0.6, h: 0.6 } }] }),
];

async function putManifest(name: string, lines: object[]): Promise<string> {
  const key = `${PREFIX}versions/${name}/manifest.jsonl`;
  await storage.put(key, lines.map((l) => `${JSON.stringify(l)}\n`).join(''), 'application/x-ndjson');
  return key;
}

interface Run {
  child: ChildProcess;
  stdout: () => string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

let jobs = 0;
async function startWorker(action: string, options: { manifest?: string; spec?: object; env?: Record<string, string>; jobId?: string } = {}): Promise<Run & { jobId: string }> {
  const jobId = options.jobId ?? `job-${++jobs}-${action}`;
  if (options.spec) await storage.putJson(`jobs/${jobId}/spec.json`, options.spec);
  const child = spawn(NODE, ['--import', 'tsx', 'worker/main.ts'], {
    cwd: ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: {
      PATH: process.env.PATH ?? '',
      HOME: process.env.HOME ?? dir,
      TRAINYARD_JOB_ID: jobId,
      TRAINYARD_ACTION: action,
      TRAINYARD_ATTEMPT: '1',
      TRAINYARD_BUCKET: BUCKET,
      ...(options.spec ? { TRAINYARD_SPEC_KEY: `jobs/${jobId}/spec.json` } : {}),
      TRAINYARD_INPUT_PREFIX: PREFIX,
      ...(options.manifest ? { TRAINYARD_INPUT_MANIFEST: options.manifest } : {}),
      TRAINYARD_OUTPUT_PREFIX: `jobs/${jobId}/`,
      TRAINYARD_CHECKPOINT_PREFIX: `jobs/${jobId}/checkpoints/`,
      AWS_REGION: 'us-east-1',
      TRAINYARD_S3_ENDPOINT: endpoint,
      AWS_ACCESS_KEY_ID: CREDENTIALS.accessKeyId,
      AWS_SECRET_ACCESS_KEY: CREDENTIALS.secretAccessKey,
      ...options.env,
    },
  });
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((done) => child.on('exit', (code, signal) => done({ code, signal })));
  return { jobId, child, stdout: () => out, exited };
}

async function runWorker(action: string, options: Parameters<typeof startWorker>[1] = {}) {
  const run = await startWorker(action, options);
  const { code } = await run.exited;
  return { jobId: run.jobId, code, stdout: run.stdout() };
}

async function waitFor(predicate: () => boolean, ms = 10_000): Promise<void> {
  const until = Date.now() + ms;
  while (!predicate()) {
    if (Date.now() > until) throw new Error('timed out waiting');
    await new Promise((r) => setTimeout(r, 20));
  }
}

const json = async (key: string) => JSON.parse((await storage.getText(key)) ?? 'null');
const jsonLines = async (key: string) => ((await storage.getText(key)) ?? '').split('\n').filter(Boolean).map((l) => JSON.parse(l));

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'trainyard-worker-'));
  s3 = new S3rver({ address: '127.0.0.1', port: 0, silent: true, directory: dir, configureBuckets: [{ name: BUCKET }] });
  const address = await s3.run();
  endpoint = `http://127.0.0.1:${address.port}`;
  storage = new Storage({ bucket: BUCKET, region: 'us-east-1', endpoint, credentials: CREDENTIALS });
  await Promise.all([
    storage.put(`${PREFIX}files/images/a.png`, A.png, 'image/png'),
    storage.put(`${PREFIX}files/images/b.png`, B.png, 'image/png'),
    storage.put(`${PREFIX}files/cats/c.png`, C.png, 'image/png'),
    storage.put(`${PREFIX}files/photo.jpg`, Buffer.from('not really a jpeg'), 'image/jpeg'),
  ]);
}, 20_000);

afterAll(async () => {
  storage?.destroy();
  await s3?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('the worker as a child process: dataset actions', { timeout: 20_000 }, () => {
  it('validate: Done with a per-problem report, stats, the log and metrics in S3', async () => {
    // Prepare
    const manifest = await putManifest('validate', [
      ...GOOD.slice(0, 2),
      { ...GOOD[2], size: 1 },
      line('missing.png', 10, { width: 1, height: 1 }),
      line('images/a.png', A.png.length, { id: 'dup', width: 4, height: 2, annotations: [{ label: 'cat', box: { x: 0.9, y: 0, w: 0.5, h: 1 } }] }),
    ]);
    // Act
    const { jobId, code, stdout } = await runWorker('validate', { manifest });
    // Assess
    expect(code, stdout).toBe(0);
    const status = await json(`jobs/${jobId}/status.json`);
    expect(status).toMatchObject({ status: 'Done', attempt: 1, message: '2 of 5 samples valid, 3 invalid, 1 warnings' });
    expect(status.stats).toEqual([
      { metric: 'samples', value: 5 },
      { metric: 'valid', value: 2 },
      { metric: 'invalid', value: 3 },
      { metric: 'warnings', value: 1 },
    ]);
    const report = await json(`jobs/${jobId}/artifacts/validation.json`);
    expect(report.problems.map((p: { line: number; code: string }) => [p.line, p.code])).toEqual([
      [3, 'size_mismatch'],
      [4, 'missing_file'],
      [5, 'bad_box'],
      [5, 'duplicate_path'],
    ]);
    const log = (await storage.getText(`jobs/${jobId}/logs/attempt-1.log`))!;
    expect(log).toMatch(/trainyard worker: job .* action validate, attempt 1/);
    expect(log).toMatch(/Done: 2 of 5 samples valid/);
    expect(stdout).toContain('missing_file: 1');
    expect((await jsonLines(`jobs/${jobId}/metrics.jsonl`)).map((m) => [m.metric, m.value, m.attempt])).toContainEqual(['invalid', 3, 1]);
  });

  it('dataset_convert to YOLO: label files, classes.txt and a version manifest that reads back to the same annotations', async () => {
    // Prepare
    const manifest = await putManifest('convert', [...GOOD, line('photo.jpg', 17, { annotations: [{ label: 'scene' }] })]);
    // Act
    const { jobId, code, stdout } = await runWorker('dataset_convert', { manifest, spec: { target_format: 'yolo' } });
    // Assess
    expect(code, stdout).toBe(0);
    const out = `jobs/${jobId}/artifacts/`;
    expect(await storage.getText(`${out}yolo/classes.txt`)).toBe('cat\ndog\n');
    expect(await storage.getText(`${out}yolo/labels/b.txt`)).toBe('1 0.250000 0.250000 0.500000 0.500000\n0 0.750000 0.750000 0.500000 0.500000\n');
    expect(await storage.getText(`${out}yolo/cats/c.txt`)).toBe('0 0.500000 0.500000 0.600000 0.600000\n');
    expect(await storage.getText(`${out}yolo/photo.txt`)).toBe('');
    const lines = await jsonLines(`${out}manifest.jsonl`);
    expect(lines.map((l) => l.path)).toEqual(['images/a.png', 'images/b.png', 'cats/c.png', 'photo.jpg']);
    lines.slice(0, 3).forEach((l, i) => {
      expect(l).toMatchObject({ id: GOOD[i]!.id, dataset_id: DATASET, size: GOOD[i]!.size, labels: GOOD[i]!.labels });
      expect(l.annotations).toHaveLength(GOOD[i]!.annotations.length);
    });
    expect(lines[3]).toMatchObject({ annotations: [], labels: [] });
    const report = await json(`${out}conversion.json`);
    expect(report).toMatchObject({ target_format: 'yolo', samples: 4, converted: 4, skipped: [], dropped: [{ path: 'photo.jpg', label: 'scene', reason: 'YOLO has no whole-image labels' }] });
    expect(await json(`jobs/${jobId}/status.json`)).toMatchObject({ status: 'Done', stats: expect.arrayContaining([{ metric: 'dropped_annotations', value: 1 }]) });
  });

  it('dataset_convert to KITTI learns a missing image size from the header; an unreadable one is skipped', async () => {
    // Prepare
    const { width: _w, height: _h, ...unsized } = GOOD[0]!;
    const manifest = await putManifest('kitti', [unsized, line('photo.jpg', 17)]);
    // Act
    const { jobId, code, stdout } = await runWorker('dataset_convert', { manifest, spec: { target_format: 'kitti' } });
    // Assess
    expect(code, stdout).toBe(0);
    const out = `jobs/${jobId}/artifacts/`;
    expect(await storage.getText(`${out}kitti/images/a.txt`)).toBe('cat 0.00 0 0.00 1.0000 0.0000 3.0000 2.0000 0.00 0.00 0.00 0.00 0.00 0.00 0.00\n');
    expect((await jsonLines(`${out}manifest.jsonl`))[0]).toMatchObject({ path: 'images/a.png', width: 4, height: 2 });
    expect((await json(`${out}conversion.json`)).skipped).toEqual([{ path: 'photo.jpg', reason: expect.stringMatching(/KITTI needs the image's width and height/) }]);
  });

  it('augment: a flipped PNG with flipped boxes; the JPEG is reported as skipped', async () => {
    // Prepare
    const manifest = await putManifest('augment', [GOOD[0]!, line('photo.jpg', 17)]);
    // Act
    const { jobId, code, stdout } = await runWorker('augment', { manifest, spec: { flip_horizontal: true } });
    // Assess
    expect(code, stdout).toBe(0);
    const out = `jobs/${jobId}/artifacts/`;
    const flipped = decodePng((await storage.get(`${out}augmented/files/images/a_flip_h.png`))!);
    expect([...flipped.pixels]).toEqual([30, 20, 10, 0, 31, 21, 11, 1]);
    const lines = await jsonLines(`${out}manifest.jsonl`);
    expect(lines.map((l) => l.path)).toEqual(['images/a.png', 'images/a_flip_h.png', 'photo.jpg']);
    expect(lines[1]).toMatchObject({ width: 4, height: 2, content_type: 'image/png', tags: ['augmented'], annotations: [{ label: 'cat', box: { x: 0.25, y: 0, w: 0.5, h: 1 } }] });
    expect((await json(`${out}augmentation.json`)).skipped).toEqual([{ path: 'photo.jpg', reason: 'only PNG images can be flipped by this worker (this is image/jpeg)' }]);
  });

  it('a model action without its inputs, and a dataset action without its manifest, are invalid invocations (exit 2); missing inputs are an Error (exit 1)', async () => {
    // Act
    const [train, bad, lost] = await Promise.all([runWorker('train'), runWorker('validate'), runWorker('evaluate', { env: { TRAINYARD_MODEL_INPUTS: 'jobs/nowhere/inputs.json' } })]);
    // Assess
    expect(train.code, train.stdout).toBe(2);
    expect(await json(`jobs/${train.jobId}/status.json`)).toMatchObject({ status: 'Error', message: expect.stringMatching(/TRAINYARD_MODEL_INPUTS required for train/) });
    expect(lost.code, lost.stdout).toBe(1);
    expect(await json(`jobs/${lost.jobId}/status.json`)).toMatchObject({ status: 'Error', message: 'no model inputs at jobs/nowhere/inputs.json' });
    expect(bad.code, bad.stdout).toBe(2);
    expect(await json(`jobs/${bad.jobId}/status.json`)).toMatchObject({ status: 'Error', message: expect.stringMatching(/TRAINYARD_INPUT_MANIFEST required/) });
  });

});

describe('the worker as a child process: signals and pause (test-only sleep)', { timeout: 20_000 }, () => {
  it('sleep: SIGTERM ends it within 2 s with exit 143, status canceled and the log uploaded', async () => {
    // Prepare
    const run = await startWorker('sleep', { spec: { seconds: 30 } });
    await waitFor(() => run.stdout().includes('tick 3'));
    // Act
    const sent = Date.now();
    run.child.kill('SIGTERM');
    const { code } = await run.exited;
    const took = Date.now() - sent;
    // Assess
    expect(code, run.stdout()).toBe(143);
    expect(took).toBeLessThan(2000);
    expect(await json(`jobs/${run.jobId}/status.json`)).toMatchObject({ status: 'Error', message: 'canceled', attempt: 1 });
    expect(await storage.getText(`jobs/${run.jobId}/logs/attempt-1.log`)).toMatch(/tick 3[\s\S]*received SIGTERM: stopping/);
  });

  it('sleep: a pause request stops it at a checkpoint (exit 3, Paused); the next attempt resumes there and ends Done', async () => {
    // Prepare
    const first = await startWorker('sleep', { spec: { seconds: 1.5 } });
    await storage.putJson(`jobs/${first.jobId}/control.json`, { pause: true });
    // Act
    const paused = await first.exited;
    const pausedStatus = await json(`jobs/${first.jobId}/status.json`);
    await storage.putJson(`jobs/${first.jobId}/control.json`, { pause: false });
    const second = await startWorker('sleep', { jobId: first.jobId, spec: { seconds: 1.5 }, env: { TRAINYARD_ATTEMPT: '2' } });
    const resumed = await second.exited;
    // Assess
    expect(paused.code, first.stdout()).toBe(3);
    expect(pausedStatus).toMatchObject({ status: 'Paused', attempt: 1 });
    expect(resumed.code, second.stdout()).toBe(0);
    expect(await json(`jobs/${first.jobId}/status.json`)).toMatchObject({ status: 'Done', attempt: 2 });
    expect(await storage.getText(`jobs/${first.jobId}/logs/attempt-2.log`)).toMatch(/resuming from checkpoint at 1\d\d\d ms/);
    const metrics = await jsonLines(`jobs/${first.jobId}/metrics.jsonl`);
    expect(metrics.map((m) => [m.attempt, m.metric, m.value])).toEqual([
      [1, 'elapsed_seconds', 1],
      [2, 'elapsed_seconds', 1.5],
      [2, 'seconds', 1.5],
    ]);
  });

  it('sleep with honour_sigterm false outlives SIGTERM (only SIGKILL ends it)', async () => {
    // Prepare
    const run = await startWorker('sleep', { spec: { seconds: 30, honour_sigterm: false } });
    await waitFor(() => run.stdout().includes('tick 2'));
    // Act
    run.child.kill('SIGTERM');
    await waitFor(() => run.stdout().includes('ignored'));
    const ticks = run.stdout().split('tick').length;
    await new Promise((r) => setTimeout(r, 400));
    // Assess
    expect(run.child.exitCode).toBeNull();
    expect(run.stdout().split('tick').length).toBeGreaterThan(ticks);
    run.child.kill('SIGKILL');
    expect(await run.exited).toEqual({ code: null, signal: 'SIGKILL' });
  });
});
