import { setTimeout as delay } from 'node:timers/promises';
import * as z from 'zod';
import { type ActionResult, Canceled, type JobContext, parseSpec } from '../context';
import { pauseRequested } from '../control';

/**
 * sleep (test only): a stand-in for a long job, for the orchestrator's tests of progress, cancel, timeout,
 * pause/resume and retries. Ticks every 100 ms; progress every 500 ms; metrics, checkpoint and the
 * control object every second; resumes from its checkpoint.
 */
const Spec = z.object({
  seconds: z.number().min(0).max(86_400),
  honour_sigterm: z.boolean().default(true),
  exit_code: z.number().int().min(0).max(255).default(0),
});

const TICK_MS = 100;
const CHECKPOINT = 'sleep.json';

export const parseSleepSpec = (spec: unknown) => parseSpec(Spec, spec);

export async function sleep(ctx: JobContext): Promise<ActionResult> {
  const spec = parseSleepSpec(ctx.spec);
  ctx.sigterm.honour = spec.honour_sigterm;
  const total = Math.round(spec.seconds * 1000);
  const saved = await ctx.storage.getText(ctx.checkpoint(CHECKPOINT), { signal: ctx.signal });
  const resumedAt = saved ? Math.min(total, Math.max(0, Number((JSON.parse(saved) as { elapsed_ms?: unknown }).elapsed_ms) || 0)) : 0;
  if (resumedAt) ctx.log(`resuming from checkpoint at ${resumedAt} ms`);
  const start = Date.now() - resumedAt;
  const elapsed = () => Math.min(total, Date.now() - start);
  const saveCheckpoint = (at: number) => ctx.storage.putJson(ctx.checkpoint(CHECKPOINT), { elapsed_ms: at, saved_on: new Date().toISOString() }, { signal: ctx.signal });
  let ticks = 0;
  let second = Math.floor(resumedAt / 1000);
  ctx.log(`sleeping ${spec.seconds} s${spec.honour_sigterm ? '' : ' (ignoring SIGTERM)'}`);
  while (elapsed() < total) {
    const next = start + (Math.floor((Date.now() - start) / TICK_MS) + 1) * TICK_MS;
    try {
      // Ignoring SIGTERM means not listening to the abort signal either (it is never aborted then).
      await delay(Math.max(0, Math.min(next, start + total) - Date.now()), undefined, spec.honour_sigterm ? { signal: ctx.signal } : {});
    } catch {
      throw new Canceled();
    }
    ticks++;
    const now = elapsed();
    ctx.log(`tick ${ticks} (${(now / 1000).toFixed(1)} s of ${spec.seconds} s)`);
    ctx.status.progress({ message: `slept ${(now / 1000).toFixed(1)} of ${spec.seconds} s`, cur_iter: ticks, eta: Math.round((total - now) / 100) / 10 });
    if (Math.floor(now / 1000) > second && now < total) {
      second = Math.floor(now / 1000);
      ctx.metrics.add({ metric: 'elapsed_seconds', value: second, step: ticks });
      await Promise.all([ctx.metrics.flush({ signal: ctx.signal }), saveCheckpoint(now)]);
      if (await pauseRequested(ctx)) {
        const at = elapsed();
        await saveCheckpoint(at);
        ctx.log(`pause requested: checkpoint at ${at} ms`);
        return { status: 'Paused', exitCode: 3, message: `paused at ${(at / 1000).toFixed(1)} of ${spec.seconds} s` };
      }
    }
  }
  ctx.metrics.add({ metric: 'elapsed_seconds', value: total / 1000, step: ticks });
  if (spec.exit_code) return { status: 'Error', exitCode: spec.exit_code, message: `sleep: exit_code ${spec.exit_code}` };
  return { status: 'Done', exitCode: 0, message: `slept ${spec.seconds} s`, stats: [{ metric: 'seconds', value: spec.seconds }] };
}
