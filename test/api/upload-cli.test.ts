import { spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { apiUrl, fetchBytes, newUser, type TestUser } from './helpers';

/** The upload client (`npm run upload`), as a user runs it: killed mid-upload, then run again to resume. */
const CLI = resolve('bin/upload.ts');
let owner: TestUser;
let datasetId: string;
let dir: string;
let big: Buffer;

/** The same loader `npm run` uses, named absolutely: the client runs from another working directory. */
const TSX = import.meta.resolve('tsx');

function cliArgs() {
  return ['--import', TSX, CLI, '--api', `${apiUrl()}/api/v1`, '--dataset', datasetId, '--concurrency', '1', 'data'];
}

/** Runs a process to its end without blocking this one (a blocked test process lets its pooled connections go stale). */
function run(command: string, args: string[], options: { cwd: string; env: NodeJS.ProcessEnv; timeout: number }) {
  return new Promise<{ status: number | null; stdout: string; stderr: string }>((done, fail) => {
    const child = spawn(command, args, { ...options, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    child.once('error', fail);
    child.once('close', (status) => done({ status, stdout, stderr }));
  });
}

beforeAll(async () => {
  owner = await newUser({ label: 'upload-cli' });
  datasetId = (await owner.api.post(`/api/v1/user/${owner.id}/dataset`, { type: 'image_classification', format: 'default' })).body.id;
  dir = await mkdtemp(join(tmpdir(), 'trainyard-cli-'));
  await mkdir(join(dir, 'data', 'cats'), { recursive: true });
  // Large enough that the client is still uploading when the test sees its first stored part.
  big = randomBytes(300 * 1024 * 1024);
  await writeFile(join(dir, 'data', 'cats', 'big.bin'), big);
  await writeFile(join(dir, 'data', 'readme.txt'), 'three hundred megabytes of cat');
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('npm run upload', () => {
  it('resumes an interrupted upload from the parts already stored, and the bytes arrive whole', { timeout: 180_000 }, async () => {
    // Act 1: start, and kill the client once a part is in storage.
    const stateFile = join(dir, `.trainyard-upload-${datasetId}.json`);
    const env = { ...process.env, TRAINYARD_TOKEN: owner.token };
    const first = spawn(process.execPath, cliArgs(), { cwd: dir, env, stdio: 'ignore' });
    const exited = new Promise<NodeJS.Signals | null>((done) => first.once('exit', (_code, signal) => done(signal)));
    let partsBefore = 0;
    for (let waited = 0; waited < 60_000 && partsBefore < 1; waited += 20) {
      await new Promise((r) => setTimeout(r, 20));
      // The client replaces its state file atomically (write aside, rename), so any read is whole.
      if (existsSync(stateFile)) partsBefore = Object.keys(JSON.parse(await readFile(stateFile, 'utf8')).parts['cats/big.bin'] ?? {}).length;
    }
    first.kill('SIGKILL');
    expect(await exited, 'the first run must still be uploading when it is killed').toBe('SIGKILL');
    expect(partsBefore).toBeGreaterThanOrEqual(1);
    const state = JSON.parse(await readFile(stateFile, 'utf8'));

    // Act 2: run it again.
    const second = await run(process.execPath, cliArgs(), { cwd: dir, env, timeout: 120_000 });

    // Assess
    expect(second.status, second.stderr).toBe(0);
    expect(second.stderr).toContain(`resuming upload ${state.session}`);
    const result = JSON.parse(second.stdout.trim().split('\n').at(-1)!);
    expect(result).toMatchObject({ upload_id: state.session, status: 'completed', files: 2 });
    expect(existsSync(stateFile)).toBe(false);
    const file = await owner.api.get(`/api/v1/user/${owner.id}/dataset/${datasetId}/file/cats/big.bin`);
    const bytes = await fetchBytes(file.body.url);
    expect(createHash('sha256').update(bytes).digest('hex')).toBe(createHash('sha256').update(big).digest('hex'));
  });
});
