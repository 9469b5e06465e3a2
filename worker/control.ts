import type { JobContext } from './context';

/** Whether the orchestrator asked the job to pause (CONTRACT.md, "Pause: control.json"). */
export async function pauseRequested(ctx: Pick<JobContext, 'storage' | 'output' | 'signal' | 'log'>): Promise<boolean> {
  const text = await ctx.storage.getText(ctx.output('control.json'), { signal: ctx.signal });
  if (!text) return false;
  try {
    return (JSON.parse(text) as { pause?: unknown })?.pause === true;
  } catch {
    ctx.log('control.json is not valid JSON: ignored');
    return false;
  }
}
