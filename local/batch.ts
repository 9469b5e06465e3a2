import { type ChildProcess, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createRequire } from 'node:module';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { matchesPattern } from '../lib/jobs/retry';

/**
 * The AWS Batch stand-in: a job is the worker's entry point (worker/main.ts) run as a child process with
 * the container's environment contract, attempt after attempt under the job's retry strategy, its attempt
 * timeout enforced. Stopping an attempt (cancel, timeout, a simulated Spot reclaim) sends SIGTERM, then
 * SIGKILL after a grace period, as ECS does. It reports "Job State Change" events like Batch, serves
 * TerminateJob like Batch, and, for tests, a fault switch that ends an attempt the way a Spot reclaim does.
 */
export interface BatchStateEvent {
  jobName: string;
  jobId: string;
  status: 'SUBMITTED' | 'RUNNABLE' | 'RUNNING' | 'SUCCEEDED' | 'FAILED';
  statusReason?: string;
  attempts: unknown[];
}

interface SubmitParameters {
  JobName: string;
  JobQueue: string;
  JobDefinition: string;
  ContainerOverrides?: { Environment?: { Name: string; Value: string }[] };
  Timeout?: { AttemptDurationSeconds?: number };
  RetryStrategy?: { Attempts?: number; EvaluateOnExit?: { OnStatusReason?: string; OnReason?: string; OnExitCode?: string; Action: string }[] };
}

interface Attempt {
  Container: { ExitCode?: number; Reason?: string };
  StartedAt: number;
  StoppedAt: number;
  StatusReason: string;
}

interface LocalJob {
  id: string;
  name: string;
  attempts: Attempt[];
  child?: ChildProcess;
  /** Why the running attempt is being stopped, if it is. */
  stopping?: { reason: string; retryable: boolean; final: boolean };
  terminated?: string;
}

/** tsx's ESM loader, by file (import.meta.resolve is not available under every runner that loads this). */
const TSX_LOADER = pathToFileURL(createRequire(import.meta.url).resolve('tsx/package.json').replace(/package\.json$/, 'dist/loader.mjs')).href;

export const SPOT_RECLAIM_REASON = 'Host EC2 (instance i-local) terminated.';
export const TIMEOUT_REASON = 'Job attempt duration exceeded timeout';

export class LocalBatch {
  private readonly jobs = new Map<string, LocalJob>();
  private readonly byName = new Map<string, string>();
  private server?: Server;
  url = '';

  constructor(
    private readonly options: {
      dataDir: string;
      /** The environment every worker starts with (storage endpoint, credentials, region). */
      baseEnv: Record<string, string>;
      onStateChange: (event: BatchStateEvent) => Promise<void>;
      /** SIGTERM → SIGKILL grace (ECS's stopTimeout). */
      graceMs?: number;
    },
  ) {}

  private get pidDir(): string {
    return join(this.options.dataDir, 'batch');
  }

  /** Kill workers a previous run left behind (a `kill -9` of the runtime does not take its children). */
  async reapOrphans(): Promise<number> {
    await mkdir(this.pidDir, { recursive: true });
    let reaped = 0;
    for (const file of await readdir(this.pidDir)) {
      const pid = Number(await readFile(join(this.pidDir, file), 'utf8'));
      const cmdline = existsSync(`/proc/${pid}/cmdline`) ? readFileSync(`/proc/${pid}/cmdline`, 'utf8') : '';
      if (pid > 0 && cmdline.includes('worker/main.ts')) {
        try {
          process.kill(pid, 'SIGKILL');
          reaped++;
        } catch {
          // already gone
        }
      }
      await rm(join(this.pidDir, file), { force: true });
    }
    return reaped;
  }

  private emit(job: LocalJob, status: BatchStateEvent['status'], statusReason?: string): Promise<void> {
    return this.options.onStateChange({ jobName: job.name, jobId: job.id, status, ...(statusReason ? { statusReason } : {}), attempts: [...job.attempts] }).catch((error: unknown) => {
      console.error('local batch events:', (error as Error).message);
    });
  }

  /** batch:submitJob.sync: runs the job to its end; answers Batch's job description, or throws States.TaskFailed with it. */
  async submitAndWait(params: SubmitParameters): Promise<Record<string, unknown>> {
    const job: LocalJob = { id: randomUUID(), name: params.JobName, attempts: [] };
    this.jobs.set(job.id, job);
    this.byName.set(job.name, job.id);
    await this.emit(job, 'SUBMITTED');
    await this.emit(job, 'RUNNABLE');
    const maxAttempts = params.RetryStrategy?.Attempts ?? 1;
    // `return await` throughout: a promise returned from inside try/finally is left unobserved while the
    // finally block awaits, and a failure that settles then is an unhandled rejection.
    try {
      for (let number = 1; ; number++) {
        if (job.terminated) return await this.failed(job, job.terminated);
        const attempt = await this.runAttempt(job, number, params);
        job.attempts.push(attempt);
        if (attempt.Container.ExitCode === 0 && !job.stopping) {
          await this.emit(job, 'SUCCEEDED');
          return this.description(job, 'SUCCEEDED', 'Essential container in task exited');
        }
        const stopping = job.stopping;
        job.stopping = undefined;
        const retry = !stopping?.final && number < maxAttempts && this.wantsRetry(params, attempt);
        if (!retry) return await this.failed(job, attempt.StatusReason);
      }
    } finally {
      this.byName.delete(job.name);
      await rm(join(this.pidDir, job.name), { force: true });
    }
  }

  private async failed(job: LocalJob, reason: string): Promise<never> {
    await this.emit(job, 'FAILED', reason);
    throw Object.assign(new Error(JSON.stringify(this.description(job, 'FAILED', reason))), { name: 'States.TaskFailed' });
  }

  private wantsRetry(params: SubmitParameters, attempt: Attempt): boolean {
    for (const rule of params.RetryStrategy?.EvaluateOnExit ?? []) {
      const matches =
        (rule.OnStatusReason === undefined || matchesPattern(rule.OnStatusReason, attempt.StatusReason)) &&
        (rule.OnReason === undefined || matchesPattern(rule.OnReason, attempt.Container.Reason ?? '')) &&
        (rule.OnExitCode === undefined || matchesPattern(rule.OnExitCode, String(attempt.Container.ExitCode ?? '')));
      if (matches) return rule.Action.toUpperCase() === 'RETRY';
    }
    return true; // no rule matched: Batch retries up to Attempts
  }

  private description(job: LocalJob, status: string, reason: string): Record<string, unknown> {
    return { JobId: job.id, JobName: job.name, Status: status, StatusReason: reason, Attempts: job.attempts };
  }

  private async runAttempt(job: LocalJob, number: number, params: SubmitParameters): Promise<Attempt> {
    const environment = Object.fromEntries((params.ContainerOverrides?.Environment ?? []).map((e) => [e.Name, e.Value]));
    const startedAt = Date.now();
    const child = spawn(process.execPath, ['--import', TSX_LOADER, resolve('worker/main.ts')], {
      env: { ...this.options.baseEnv, ...environment, TRAINYARD_ATTEMPT: String(number), AWS_BATCH_JOB_ATTEMPT: String(number), AWS_BATCH_JOB_ID: job.id },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    job.child = child;
    let stderr = '';
    child.stderr?.setEncoding('utf8').on('data', (chunk: string) => (stderr = (stderr + chunk).slice(-2000)));
    await mkdir(this.pidDir, { recursive: true });
    await writeFile(join(this.pidDir, job.name), String(child.pid ?? 0));
    await this.emit(job, 'RUNNING');
    const limit = params.Timeout?.AttemptDurationSeconds;
    const timer = limit ? setTimeout(() => this.stop(job, { reason: TIMEOUT_REASON, retryable: false, final: true }), limit * 1000) : undefined;
    const { code, signal } = await new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((done) => child.once('exit', (c, s) => done({ code: c, signal: s })));
    if (timer) clearTimeout(timer);
    job.child = undefined;
    const exitCode = code ?? (signal === 'SIGKILL' ? 137 : 143);
    const statusReason = job.stopping?.reason ?? (exitCode === 0 ? 'Essential container in task exited' : `Essential container in task exited${stderr ? `: ${stderr.trim().split('\n').at(-1)}` : ''}`);
    return { Container: { ExitCode: exitCode, Reason: signal ? `killed by ${signal}` : undefined }, StartedAt: startedAt, StoppedAt: Date.now(), StatusReason: statusReason };
  }

  /** SIGTERM now, SIGKILL after the grace period if it is still there. */
  private stop(job: LocalJob, why: NonNullable<LocalJob['stopping']>): void {
    const child = job.child;
    job.stopping ??= why;
    if (!child || child.exitCode !== null) return;
    child.kill('SIGTERM');
    const kill = setTimeout(() => child.exitCode === null && child.signalCode === null && child.kill('SIGKILL'), this.options.graceMs ?? 3000);
    child.once('exit', () => clearTimeout(kill));
  }

  terminate(jobId: string, reason: string): boolean {
    const job = this.jobs.get(jobId);
    if (!job) return false;
    job.terminated = reason;
    this.stop(job, { reason, retryable: false, final: true });
    return true;
  }

  terminateByName(name: string, reason: string): void {
    const id = this.byName.get(name);
    if (id) this.terminate(id, reason);
  }

  /** The fault switch: end the running attempt as a Spot reclaim does (it is retried under the strategy). */
  reclaim(name: string): boolean {
    const job = this.jobs.get(this.byName.get(name) ?? '');
    if (!job?.child) return false;
    this.stop(job, { reason: SPOT_RECLAIM_REASON, retryable: true, final: false });
    return true;
  }

  /** A running job's worker process, for tests that check it is really gone. */
  processOf(name: string): { pid?: number; attempt: number } | undefined {
    const job = this.jobs.get(this.byName.get(name) ?? '');
    return job ? { pid: job.child?.pid, attempt: job.attempts.length + 1 } : undefined;
  }

  async listen(): Promise<string> {
    this.server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c)).on('end', () => {
        const reply = (status: number, body: unknown) => res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
        const body = (() => {
          try {
            return JSON.parse(Buffer.concat(chunks).toString('utf8') || '{}') as Record<string, string>;
          } catch {
            return {};
          }
        })();
        const path = (req.url ?? '').split('?')[0]!;
        if (req.method === 'POST' && path === '/v1/terminatejob') {
          this.terminate(body.jobId ?? '', body.reason ?? 'terminated');
          return reply(200, {});
        }
        if (req.method === 'POST' && path === '/local/spot-reclaim') return reply(this.reclaim(body.jobName ?? '') ? 200 : 404, {});
        const named = /^\/local\/jobs\/([^/]+)$/.exec(path);
        if (req.method === 'GET' && named) {
          const found = this.processOf(decodeURIComponent(named[1]!));
          return found ? reply(200, found) : reply(404, {});
        }
        return reply(404, { message: 'not a local Batch route' });
      });
    });
    const port = await new Promise<number>((done) => this.server!.listen(0, '127.0.0.1', () => done((this.server!.address() as AddressInfo).port)));
    this.url = `http://127.0.0.1:${port}`;
    return this.url;
  }

  async close(): Promise<void> {
    for (const job of this.jobs.values()) if (job.child) this.terminate(job.id, 'the local runtime stopped');
    await new Promise((r) => setTimeout(r, 50));
    await new Promise<void>((done) => (this.server ? this.server.close(() => done()) : done()));
  }
}
