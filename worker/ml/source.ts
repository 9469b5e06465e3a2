import type { JobContext } from '../context';
import { readModel, type StoredModel } from './model-store';
import type { ModelInputs } from './inputs';

/** The trained model a job starts from (its parent's, or the one recorded on the model): an Error when there is none. */
export async function loadSourceModel(ctx: JobContext, inputs: ModelInputs): Promise<StoredModel> {
  if (!inputs.source) throw new Error(`${ctx.env.action} needs a trained model: run train first, or give a parent job that made one`);
  const stored = await readModel(ctx.storage, inputs.source.prefix, ctx.signal);
  if (!stored) throw new Error(`the model of job ${inputs.source.job_id} (${inputs.source.prefix}) cannot be read`);
  ctx.log(`model from ${inputs.source.action} job ${inputs.source.job_id}: ${stored.meta.network_arch}, ${stored.meta.labels.length} classes, ${stored.meta.image_size}×${stored.meta.image_size}`);
  return stored;
}
