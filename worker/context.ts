import type * as z from 'zod';
import type { JobEnv } from './env';
import type { CategoryValues, JobLog, MetricsWriter, Stat, StatusFields, StatusWriter } from './status';
import type { Storage } from './storage';

/**
 * What an action gets to do its work with, and what it answers. Actions are plain async functions of
 * this context: they read input through `storage`, report through `status`/`metrics`/`log`, write under
 * `output(...)`, and stop when `signal` is aborted (an honoured SIGTERM).
 */
export interface JobContext {
  env: JobEnv;
  spec: Record<string, unknown>;
  storage: Storage;
  status: StatusWriter;
  metrics: MetricsWriter;
  log: (message: string) => void;
  logger: JobLog;
  /** Aborted on an honoured SIGTERM: S3 calls take it, loops check it between units of work. */
  signal: AbortSignal;
  /** Whether SIGTERM stops the job (only the test-only `sleep` may turn it off). */
  sigterm: { honour: boolean };
  /** A key under the job's output prefix. */
  output: (relative: string) => string;
  /** A key under the job's checkpoint prefix. */
  checkpoint: (relative: string) => string;
}

export interface ActionResult {
  status: 'Done' | 'Error' | 'Paused';
  message: string;
  exitCode: number;
  stats?: Stat[];
  categorical?: CategoryValues[];
  extra?: StatusFields;
}

export type ActionRun = (ctx: JobContext) => Promise<ActionResult>;

/** The spec or the request does not fit the action: exit 2. */
export class InvalidSpec extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'InvalidSpec';
  }
}

/** The spec checked against its schema (defaults filled in); InvalidSpec (exit 2) naming each field that does not fit. */
export function parseSpec<S extends z.ZodType>(schema: S, raw: unknown): z.output<S> {
  const parsed = schema.safeParse(raw);
  if (!parsed.success) throw new InvalidSpec(`spec: ${parsed.error.issues.map((i) => `${i.path.join('.') || '(spec)'}: ${i.message}`).join('; ')}`);
  return parsed.data;
}

/** Thrown out of the work when `signal` aborts; main turns it into `canceled` / 143. */
export class Canceled extends Error {
  constructor() {
    super('canceled');
    this.name = 'Canceled';
  }
}

export function throwIfCanceled(signal: AbortSignal): void {
  if (signal.aborted) throw new Canceled();
}

/** `map` with at most `limit` calls in flight, in input order, stopping (with Canceled) once `signal` aborts. */
export async function mapLimited<T, R>(items: readonly T[], limit: number, signal: AbortSignal, fn: (item: T, index: number) => Promise<R>): Promise<R[]> {
  const results: R[] = new Array(items.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(limit, items.length) }, async () => {
      for (let i = next++; i < items.length; i = next++) {
        throwIfCanceled(signal);
        results[i] = await fn(items[i]!, i);
      }
    }),
  );
  throwIfCanceled(signal);
  return results;
}

/** Reports "n of total" progress with an ETA from the rate so far. */
export function progressReporter(ctx: Pick<JobContext, 'status'>, verb: string, total: number, unit = 'samples') {
  const started = Date.now();
  let done = 0;
  return () => {
    done++;
    const elapsed = (Date.now() - started) / 1000;
    const eta = done ? Math.max(0, Math.round(((elapsed / done) * (total - done)) * 10) / 10) : undefined;
    ctx.status.progress({ message: `${verb} ${done}/${total} ${unit}`, cur_iter: done, ...(eta !== undefined ? { eta } : {}) });
  };
}
