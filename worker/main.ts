import { ACTION_RUNS } from './actions/index';
import { type ActionResult, InvalidSpec, type JobContext } from './context';
import { InvalidInvocation, type JobEnv, type PartialEnv, readJobEnv } from './env';
import { JobLog, MetricsWriter, StatusWriter } from './status';
import { Storage } from './storage';

/**
 * The job worker's entry point (CONTRACT.md): read the environment, say Running, run the action, say how
 * it went in status.json, upload the log, exit with the code that means it. SIGTERM stops the work and
 * exits 143 within 2 s.
 */
const HARD_EXIT_MS = 1800;
const FINAL_WRITE_MS = 1400;

/** A bad invocation: say so on stdout and, when there is somewhere to say it, in status.json and the log. */
async function reportInvalid(partial: PartialEnv, message: string): Promise<never> {
  const log = partial.bucket && partial.outputPrefix ? new Storage({ bucket: partial.bucket, region: partial.region, endpoint: partial.s3Endpoint }) : undefined;
  const logger = new JobLog(log, partial.outputPrefix ? `${partial.outputPrefix}logs/attempt-${partial.attempt}.log` : undefined);
  logger.line(`invalid invocation: ${message}`);
  if (log && partial.outputPrefix) {
    const signal = AbortSignal.timeout(5000);
    const status = new StatusWriter(log, `${partial.outputPrefix}status.json`, partial.attempt);
    await status.write({ status: 'Error', message }, { signal }).catch((error: unknown) => logger.line(`cannot write status.json: ${String(error)}`));
    await logger.flush({ signal }).catch(() => undefined);
  }
  process.exit(2);
}

async function readSpec(env: JobEnv, storage: Storage, signal: AbortSignal): Promise<Record<string, unknown>> {
  if (!env.specKey) return {};
  const text = await storage.getText(env.specKey, { signal });
  if (text === undefined) throw new InvalidSpec(`no spec at ${env.specKey}`);
  let spec: unknown;
  try {
    spec = JSON.parse(text);
  } catch {
    throw new InvalidSpec(`the spec at ${env.specKey} is not valid JSON`);
  }
  if (!spec || typeof spec !== 'object' || Array.isArray(spec)) throw new InvalidSpec(`the spec at ${env.specKey} is not a JSON object`);
  return spec as Record<string, unknown>;
}

async function main(): Promise<void> {
  let env: JobEnv;
  try {
    env = readJobEnv(process.env);
  } catch (error) {
    if (error instanceof InvalidInvocation) return reportInvalid(error.partial, error.message);
    throw error;
  }
  const storage = new Storage({ bucket: env.bucket, region: env.region, endpoint: env.s3Endpoint });
  const logger = new JobLog(storage, `${env.outputPrefix}logs/attempt-${env.attempt}.log`);
  const log = (message: string) => logger.line(message);
  const controller = new AbortController();
  const status = new StatusWriter(storage, `${env.outputPrefix}status.json`, env.attempt, env.action === 'sleep' ? 500 : 1000, (error) => {
    if (!controller.signal.aborted) log(`status.json progress write failed: ${String(error)}`);
  }, controller.signal);
  const metrics = new MetricsWriter(storage, `${env.outputPrefix}metrics.jsonl`, env.attempt);
  const sigterm = { honour: true };
  let stopping = false;
  let finishing = false;

  const onSignal = (signal: 'SIGTERM' | 'SIGINT') => {
    if (!sigterm.honour) return log(`received ${signal}: ignored (honour_sigterm: false)`);
    if (stopping) return;
    stopping = true;
    const code = signal === 'SIGTERM' ? 143 : 130;
    // Whatever happens below, the process is gone within 2 s of the signal.
    setTimeout(() => process.exit(code), HARD_EXIT_MS);
    // Already writing the outcome: let that finish (the hard exit still holds).
    if (finishing) return;
    log(`received ${signal}: stopping`);
    controller.abort();
    logger.stop();
    const deadline = AbortSignal.timeout(FINAL_WRITE_MS);
    void Promise.allSettled([status.write({ status: 'Error', message: 'canceled' }, { signal: deadline }), metrics.flush({ signal: deadline })])
      .then(() => logger.flush({ signal: deadline }))
      .catch(() => undefined)
      .finally(() => process.exit(code));
  };
  process.on('SIGTERM', () => onSignal('SIGTERM'));
  process.on('SIGINT', () => onSignal('SIGINT'));

  const ctx: JobContext = {
    env,
    spec: {},
    storage,
    status,
    metrics,
    log,
    logger,
    signal: controller.signal,
    sigterm,
    output: (relative) => env.outputPrefix + relative,
    checkpoint: (relative) => env.checkpointPrefix + relative,
  };

  log(`trainyard worker: job ${env.jobId}, action ${env.action}, attempt ${env.attempt}`);
  logger.start(2000);
  const started = Date.now();
  let result: ActionResult;
  try {
    await status.write({ status: 'Running', message: `starting ${env.action}` }, { signal: controller.signal });
    await metrics.load({ signal: controller.signal });
    ctx.spec = await readSpec(env, storage, controller.signal);
    const run = await ACTION_RUNS[env.action]();
    result = await run(ctx);
  } catch (error) {
    // The SIGTERM path owns the exit: never race it with an Error status.
    if (stopping) return new Promise<void>(() => undefined);
    if (error instanceof InvalidSpec) result = { status: 'Error', exitCode: 2, message: error.message };
    else {
      log(`error: ${(error as Error)?.stack ?? String(error)}`);
      result = { status: 'Error', exitCode: 1, message: (error as Error)?.message || String(error) };
    }
  }
  if (stopping) return new Promise<void>(() => undefined);
  finishing = true;
  let code = result.exitCode;
  try {
    if (result.stats) metrics.add(...result.stats);
    await metrics.flush();
    await status.write({
      status: result.status,
      message: result.message,
      // A finished job has nothing left to wait for, whatever the last progress estimate said.
      ...(result.status === 'Done' && status.current.eta !== undefined ? { eta: 0 } : {}),
      ...(result.stats ? { stats: result.stats } : {}),
      ...(result.categorical ? { categorical: result.categorical } : {}),
      ...result.extra,
    });
  } catch (error) {
    log(`cannot write the outcome: ${String(error)}`);
    if (code === 0) code = 1;
  }
  log(`${result.status}: ${result.message} (${((Date.now() - started) / 1000).toFixed(1)} s, exit ${code})`);
  logger.stop();
  await logger.flush().catch((error: unknown) => process.stderr.write(`cannot upload the log: ${String(error)}\n`));
  process.exit(code);
}

main().catch((error: unknown) => {
  process.stderr.write(`worker failed: ${(error as Error)?.stack ?? String(error)}\n`);
  process.exit(1);
});
