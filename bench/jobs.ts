import { mkdtemp, rm } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { encodePng } from '../worker/png';
import { startRuntime } from '../local/runtime';
import { median, newAdminToken, post, progress, report, round, userWithToken } from './common';

/**
 * The jobs engine, end to end on the embedded runtime: the API submits, the Step Functions stand-in runs
 * the workflow (Prepare → Run on the local Batch, the worker a child process → Finalize), and the job's
 * record says how it went. RUNS jobs for each figure, after one warm-up job (the first job loads the
 * workflow's handlers; its figures are reported apart as `first_job`). Medians and maxima.
 *
 * 1. `submit_ms`: the round trip of `POST …/job` (budget ≤ 200 ms); `submit_to_worker_spawned_ms`:
 *    from sending that POST until the local Batch answers `GET /local/jobs/{id}` with a pid (polled
 *    every 5 ms from the POST's answer on), i.e. the workflow has started, Prepare has run and the
 *    worker process exists.
 * 2. `overhead_ms` (budget ≤ 2000 ms): a `sleep` job of 0 s, from sending the POST until GET …/job/{id}
 *    (polled every 20 ms) says Done, minus the worker's own run time. The worker's run time is its
 *    process lifetime as the local Batch reports it: from the first answer of /local/jobs with a pid
 *    until the first answer without one (the child's 'exit'), both polled every 5 ms. So the overhead
 *    is (POST → worker spawned) + (worker exited → Done seen): the API, Prepare, the execution's start
 *    and the spawn, then the Batch events, Finalize (its archive of the outputs, status.json read, the
 *    Done write) and up to one 20 ms poll. The worker's lifetime includes its own start-up (node, tsx,
 *    its imports), which the job's log timestamps separate out: the first log line is written when
 *    main() starts, the last just before the log's final upload and exit. `breakdown` gives each part;
 *    `overhead_incl_worker_boot_ms` is the overhead if the worker's start-up were counted as overhead
 *    too (total minus the span between the first and last log line). The log timestamps are the
 *    worker's wall clock, compared with this process's (same machine, same clock).
 *    Every detection time is when the poll's answer arrived, so each is late by at most one poll
 *    interval plus a round trip (a few ms for /local/jobs, ~20 ms for the status).
 * 3. `cancel_to_gone_ms` (budget ≤ 5000 ms): a `sleep` job of 60 s, once Running with a pid, from sending
 *    `POST …/cancel` until `process.kill(pid, 0)` throws (probed every 5 ms); `cancel_to_canceled_ms`:
 *    until its status reads Canceled (polled every 20 ms). Both polls start with the cancel request.
 *
 * `within_budget` holds the medians to the budgets; `max_within_budget` the maxima.
 *
 * The runtime runs in this process (its data in a temporary directory), as in list-depth.ts, so the
 * polls share its event loop; the worker is a child process of this one. TRAINYARD_BENCH_JOB_RUNS
 * overrides the run count for a quick try.
 */
const RUNS = Number(process.env.TRAINYARD_BENCH_JOB_RUNS ?? 10);
const PID_POLL_MS = 5;
const STATUS_POLL_MS = 20;
const TIMEOUT_MS = 60_000;
const BUDGETS = { submit_ms: 200, overhead_ms: 2000, cancel_to_gone_ms: 5000 };
const TERMINAL = ['Done', 'Error', 'Canceled'];

/** Wall-clock milliseconds (fractional), comparable with the worker's ISO log timestamps. */
const now = () => performance.timeOrigin + performance.now();
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** A real 8×6 greyscale PNG (the worker's own encoder). */
const png = (width = 8, height = 6): Buffer =>
  encodePng({ width, height, bitDepth: 8, colorType: 0, bytesPerPixel: 1, pixels: Buffer.alloc(width * height, 0x80), chunks: [] });

/**
 * Calls `probe` every `intervalMs` (from one probe's start to the next, or at once when a probe took
 * longer) until it answers something other than undefined; answers that and when its answer arrived.
 */
async function pollUntil<T>(what: string, intervalMs: number, probe: () => Promise<T | undefined>, timeoutMs = TIMEOUT_MS): Promise<{ value: T; at: number }> {
  const deadline = now() + timeoutMs;
  for (;;) {
    const started = now();
    const value = await probe();
    const at = now();
    if (value !== undefined) return { value, at };
    if (at > deadline) throw new Error(`${what}: not reached after ${timeoutMs / 1000} s`);
    await sleep(Math.max(0, started + intervalMs - now()));
  }
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

interface Job {
  id: string;
  status: string;
  attempts: number;
  status_reason?: string;
  created_on: string;
  started_on?: string;
  finished_on?: string;
}

const figure = (values: number[]) => ({ median: round(median(values)), max: round(Math.max(...values)) });

const dataDir = await mkdtemp(join(tmpdir(), 'trainyard-bench-'));
const loadBefore = loadavg()[0]!;
const runtime = await startRuntime({ port: 0, dataDir, adminToken: newAdminToken() });
try {
  const { userId, token } = await userWithToken(runtime.url, runtime.adminToken);
  const auth = { authorization: `Bearer ${token}` };
  const call = async (method: string, path: string, body?: unknown) => {
    const response = await fetch(`${runtime.url}${path}`, { method, headers: auth, ...(body === undefined ? {} : { body: JSON.stringify(body) }) });
    const text = await response.text();
    return { status: response.status, body: (text ? JSON.parse(text) : undefined) as unknown, text };
  };

  // A dataset with one sample: one PNG through an upload session, then wait for it to register.
  const dataset = await post(`${runtime.url}/api/v1/user/${userId}/dataset`, auth, { type: 'image_classification', format: 'default' });
  const base = `/api/v1/user/${userId}/dataset/${String(dataset.id)}`;
  const image = png();
  const session = (await post(`${runtime.url}${base}/upload`, auth, { files: [{ name: 'cats/0.png', size: image.length }] })) as { id: string; files: { url: string }[] };
  const put = await fetch(session.files[0]!.url, { method: 'PUT', body: image });
  if (put.status !== 200) throw new Error(`PUT of the image answered ${put.status}`);
  const completed = await call('POST', `${base}/upload/${session.id}/complete`);
  if (completed.status !== 200) throw new Error(`complete answered ${completed.status}: ${completed.text}`);
  await pollUntil('the sample registered', 50, async () => {
    const stats = await call('GET', `${base}/stats`);
    return (stats.body as { sample_count?: number }).sample_count === 1 ? true : undefined;
  });
  progress(`dataset ${String(dataset.id)} has its sample; warm-up job, then ${RUNS} sleep-0 jobs and ${RUNS} canceled sleep-60 jobs`);

  const getJob = async (id: string) => {
    const got = await call('GET', `${base}/job/${id}`);
    if (got.status !== 200) throw new Error(`GET job ${id} answered ${got.status}: ${got.text}`);
    return got.body as Job;
  };
  /** The local Batch's word on the job's worker: `{pid, attempt}` while it knows the job, else undefined. */
  const localJob = async (id: string) => {
    const response = await fetch(`${runtime.batchUrl}/local/jobs/${id}`);
    const body = (await response.json()) as { pid?: number; attempt?: number };
    return response.status === 200 ? body : undefined;
  };
  const submit = async (seconds: number) => {
    const sent = now();
    const posted = await call('POST', `${base}/job`, { actions: ['sleep'], specs: { sleep: { seconds } } });
    const answered = now();
    if (posted.status !== 201) throw new Error(`POST job answered ${posted.status}: ${posted.text}`);
    return { id: (posted.body as string[])[0]!, sent, answered };
  };
  /** Polls /local/jobs every 5 ms until the worker process is there; answers its pid and when it was seen. */
  const spawned = async (id: string) => {
    const seen = await pollUntil(`job ${id}'s worker spawned`, PID_POLL_MS, async () => (await localJob(id))?.pid);
    return { pid: seen.value, at: seen.at };
  };

  /** One sleep-0 job: every time along its way, in wall-clock ms. */
  async function timedJob() {
    const { id, sent, answered } = await submit(0);
    const statusPoll = pollUntil(`job ${id} ended`, STATUS_POLL_MS, async () => {
      const job = await getJob(id);
      return TERMINAL.includes(job.status) ? job : undefined;
    });
    const workerPoll = (async () => {
      const spawn = await spawned(id);
      // Gone: the local Batch no longer has a live child for the job (pid undefined once it exited, 404 once the attempt is over).
      const exit = await pollUntil(`job ${id}'s worker exited`, PID_POLL_MS, async () => ((await localJob(id))?.pid === spawn.pid ? undefined : true));
      return { spawnedAt: spawn.at, exitedAt: exit.at };
    })();
    const [ended, worker] = await Promise.all([statusPoll, workerPoll]);
    if (ended.value.status !== 'Done') throw new Error(`job ${id} ended ${ended.value.status}: ${ended.value.status_reason ?? ''}`);
    const logs = await call('GET', `${base}/job/${id}/logs`);
    const lines = (logs.body as { lines: { text: string }[] }).lines;
    const stamp = (line?: { text: string }) => Date.parse(line?.text.slice(0, 24) ?? '');
    const firstLog = stamp(lines[0]);
    const lastLog = stamp(lines.at(-1));
    if (!lines[0]?.text.includes('trainyard worker:') || Number.isNaN(firstLog) || Number.isNaN(lastLog)) throw new Error(`job ${id}'s log is not as expected: ${logs.text.slice(0, 400)}`);
    const job = ended.value;
    const total = ended.at - sent;
    const workerLifetime = worker.exitedAt - worker.spawnedAt;
    return {
      submit: answered - sent,
      toSpawn: worker.spawnedAt - sent,
      total,
      workerLifetime,
      overhead: total - workerLifetime,
      overheadInclBoot: total - (lastLog - firstLog),
      // The parts.
      answeredToSpawn: worker.spawnedAt - answered,
      workerBoot: firstLog - worker.spawnedAt,
      workerLogged: lastLog - firstLog,
      workerTail: worker.exitedAt - lastLog,
      exitToDone: ended.at - worker.exitedAt,
      // From the job's record: started_on (written on the Batch RUNNING event) after the spawn; finished_on (Finalize) after the exit.
      recordStartedAfterSpawn: Date.parse(job.started_on!) - worker.spawnedAt,
      recordFinishedAfterExit: Date.parse(job.finished_on!) - worker.exitedAt,
    };
  }

  /** One sleep-60 job, canceled once Running with a pid. */
  async function canceledJob() {
    const { id } = await submit(60);
    const [{ pid }] = await Promise.all([
      spawned(id),
      pollUntil(`job ${id} Running`, STATUS_POLL_MS, async () => ((await getJob(id)).status === 'Running' ? true : undefined)),
    ]);
    if (!processAlive(pid)) throw new Error(`job ${id}'s worker ${pid} is not alive before the cancel`);
    const sent = now();
    const [cancel, gone, canceled] = await Promise.all([
      call('POST', `${base}/job/${id}/cancel`).then((answer) => ({ answer, at: now() })),
      pollUntil(`job ${id}'s worker ${pid} gone`, PID_POLL_MS, async () => (processAlive(pid) ? undefined : true)),
      pollUntil(`job ${id} Canceled`, STATUS_POLL_MS, async () => {
        const job = await getJob(id);
        return TERMINAL.includes(job.status) ? job : undefined;
      }),
    ]);
    if (cancel.answer.status !== 200) throw new Error(`cancel answered ${cancel.answer.status}: ${cancel.answer.text}`);
    if (canceled.value.status !== 'Canceled') throw new Error(`job ${id} ended ${canceled.value.status}, not Canceled: ${canceled.value.status_reason ?? ''}`);
    return { cancelPost: cancel.at - sent, gone: gone.at - sent, canceled: canceled.at - sent };
  }

  const warmup = await timedJob();
  progress(`warm-up: submit ${round(warmup.submit)} ms, to spawn ${round(warmup.toSpawn)} ms, total ${round(warmup.total)} ms, worker ${round(warmup.workerLifetime)} ms`);
  const runs: Awaited<ReturnType<typeof timedJob>>[] = [];
  for (let i = 0; i < RUNS; i++) {
    const run = await timedJob();
    runs.push(run);
    progress(`sleep-0 ${i + 1}: submit ${round(run.submit)}, to spawn ${round(run.toSpawn)}, worker ${round(run.workerLifetime)} (boot ${round(run.workerBoot)}), exit→Done ${round(run.exitToDone)}, overhead ${round(run.overhead)} ms`);
  }
  const cancels: Awaited<ReturnType<typeof canceledJob>>[] = [];
  for (let i = 0; i < RUNS; i++) {
    const run = await canceledJob();
    cancels.push(run);
    progress(`cancel ${i + 1}: POST ${round(run.cancelPost)}, gone ${round(run.gone)}, Canceled ${round(run.canceled)} ms`);
  }

  const of = <K extends keyof (typeof runs)[number]>(key: K) => figure(runs.map((r) => r[key]));
  const figures = {
    submit_ms: of('submit'),
    submit_to_worker_spawned_ms: of('toSpawn'),
    overhead_ms: of('overhead'),
    cancel_to_gone_ms: figure(cancels.map((c) => c.gone)),
    cancel_to_canceled_ms: figure(cancels.map((c) => c.canceled)),
  };
  const checks = Object.entries(BUDGETS) as [keyof typeof BUDGETS, number][];
  report({
    bench: 'jobs',
    runs: RUNS,
    ...figures,
    total_ms: of('total'),
    worker_lifetime_ms: of('workerLifetime'),
    overhead_incl_worker_boot_ms: of('overheadInclBoot'),
    cancel_post_ms: figure(cancels.map((c) => c.cancelPost)),
    breakdown: {
      answered_to_spawned_ms: of('answeredToSpawn'),
      worker_boot_ms: of('workerBoot'),
      worker_logged_ms: of('workerLogged'),
      worker_tail_ms: of('workerTail'),
      exit_to_done_seen_ms: of('exitToDone'),
      record_started_after_spawn_ms: of('recordStartedAfterSpawn'),
      record_finished_after_exit_ms: of('recordFinishedAfterExit'),
    },
    first_job: { submit_ms: round(warmup.submit), submit_to_worker_spawned_ms: round(warmup.toSpawn), overhead_ms: round(warmup.overhead), worker_lifetime_ms: round(warmup.workerLifetime) },
    load_1m: { before: round(loadBefore, 2), after: round(loadavg()[0]!, 2) },
    budgets: BUDGETS,
    within_budget: checks.every(([key, budget]) => figures[key].median <= budget),
    max_within_budget: checks.every(([key, budget]) => figures[key].max <= budget),
  });
} finally {
  await runtime.stop();
  await rm(dataDir, { recursive: true, force: true });
}
