import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { client } from './helpers';

/**
 * `npm start` killed with SIGKILL while a job runs, then started again on the same data: the job's worker
 * (which outlived the runtime) is reaped, and the job is not left Running: it ends Error with the reason.
 * This runs its own runtime (a child process, as a user runs it), not the suite's shared one.
 */
const TSX = import.meta.resolve('tsx');
const adminToken = `ty_${randomBytes(32).toString('base64url')}`;
let dataDir: string;
const children: ChildProcess[] = [];

async function startPlatform(): Promise<{ url: string; child: ChildProcess }> {
  const child = spawn(process.execPath, ['--import', TSX, resolve('local/start.ts')], {
    env: { ...process.env, TRAINYARD_PORT: '0', TRAINYARD_DATA_DIR: dataDir, TRAINYARD_ADMIN_TOKEN: adminToken },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  children.push(child);
  const url = await new Promise<string>((done, fail) => {
    let out = '';
    child.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
      out += chunk;
      const found = /Trainyard listening on (http:\/\/\S+)/.exec(out);
      if (found) done(found[1]!);
    });
    child.once('exit', (code) => fail(new Error(`the platform exited (${code}) before serving`)));
  });
  return { url, child };
}

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

async function until<T>(read: () => Promise<T>, done: (v: T) => boolean, timeoutMs = 30_000): Promise<T> {
  const started = Date.now();
  for (;;) {
    const value = await read();
    if (done(value)) return value;
    if (Date.now() - started > timeoutMs) throw new Error(`not reached: ${JSON.stringify(value).slice(0, 300)}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

afterAll(async () => {
  for (const child of children) child.kill('SIGKILL');
  if (dataDir) await rm(dataDir, { recursive: true, force: true });
});

describe('a restart of npm start', () => {
  it('leaves no job Running: the orphaned worker is reaped and the job ends Error with the reason', { timeout: 120_000 }, async () => {
    // Arrange: a platform of its own, a running job.
    dataDir = await mkdtemp(join(tmpdir(), 'trainyard-restart-'));
    const first = await startPlatform();
    const absolute = (api: ReturnType<typeof client>, base: string) => ({
      get: (path: string) => api.get(`${base}${path}`),
      post: (path: string, body?: unknown) => api.post(`${base}${path}`, body),
    });
    const admin = absolute(client(adminToken), first.url);
    const user = (await admin.post('/api/v1/admin/user', { email: `restart-${Date.now()}@example.test`, name: 'Restart' })).body;
    const token = (await admin.post(`/api/v1/user/${user.id}/token`, { name: 'restart' })).body.token as string;
    let api = absolute(client(token), first.url);
    const dataset = (await api.post(`/api/v1/user/${user.id}/dataset`, { type: 'image_classification', format: 'default' })).body;
    const jobPath = (id: string) => `/api/v1/user/${user.id}/dataset/${dataset.id}/job/${id}`;
    const [id] = (await api.post(`/api/v1/user/${user.id}/dataset/${dataset.id}/job`, { actions: ['sleep'], specs: { sleep: { seconds: 120 } } })).body as string[];
    await until(async () => (await api.get(jobPath(id!))).body.status, (s) => s === 'Running');
    // The local Batch keeps each running worker's pid under the data directory (what it reaps after a crash).
    const pid = Number(await until(() => readFile(join(dataDir, 'batch', id!), 'utf8').catch(() => '0'), (text) => Number(text) > 0));
    expect(alive(pid)).toBe(true);

    // Act: kill -9 the platform (its worker outlives it), then start it again on the same data.
    first.child.kill('SIGKILL');
    await new Promise((r) => first.child.once('exit', r));
    const second = await startPlatform();
    api = absolute(client(token), second.url);

    // Assess
    const job = (await api.get(jobPath(id!))).body;
    expect(job.status).toBe('Error');
    expect(job.status_reason).toMatch(/stopped while the job was Running/);
    await until(async () => alive(pid), (a) => !a, 5_000);
  });
});
