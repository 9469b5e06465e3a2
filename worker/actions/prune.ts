import { gzipSync } from 'node:zlib';
import { actions } from '../../functions/core/actions/catalogue';
import { type ActionResult, type JobContext, parseSpec } from '../context';
import { readModelInputs } from '../ml/inputs';
import { serialize, writeModel } from '../ml/model-store';
import { pruneByMagnitude } from '../ml/prune';
import { loadSourceModel } from '../ml/source';

/**
 * prune: magnitude pruning of the source model's kernels to the spec's ratio. The pruned model is
 * artifacts/model/ (its weights file keeps its dense size; the zeros show in its gzip size); retrain
 * fine-tunes it with the zeros kept.
 */
export async function prune(ctx: JobContext): Promise<ActionResult> {
  const spec = parseSpec(actions.prune.spec, ctx.spec);
  const { ratio } = spec;
  const inputs = await readModelInputs(ctx);
  const source = await loadSourceModel(ctx, inputs);
  const before = source.serialized.weights;
  const result = pruneByMagnitude(source.model, ratio);
  const serialized = await serialize(source.model);
  const gzipBefore = gzipSync(before).length;
  const gzipAfter = gzipSync(serialized.weights).length;
  // The source's metrics described the unpruned weights; the pruned model's are unknown until it is evaluated.
  const meta = { ...source.meta, metrics: {}, job_id: ctx.env.jobId, action: 'prune', parent_job_id: inputs.source!.job_id, sparsity: Math.round(result.sparsity * 10_000) / 10_000 };
  await writeModel(ctx.storage, ctx.output('artifacts/model/'), serialized, meta, ctx.signal);
  const report = {
    ratio,
    sparsity: meta.sparsity,
    kernel_weights: result.weights,
    zero_weights: result.zeroed,
    parameters: source.model.countParams(),
    size_bytes: serialized.weights.length,
    gzip_bytes_before: gzipBefore,
    gzip_bytes_after: gzipAfter,
    source_job_id: inputs.source!.job_id,
  };
  await ctx.storage.putJson(ctx.output('artifacts/pruning.json'), report, { signal: ctx.signal });
  ctx.log(`pruned to sparsity ${meta.sparsity} (${result.zeroed}/${result.weights} kernel weights zero); gzip ${gzipBefore} → ${gzipAfter} bytes`);
  return {
    status: 'Done',
    exitCode: 0,
    message: `pruned: sparsity ${meta.sparsity}, gzip size ${gzipBefore} → ${gzipAfter} bytes`,
    stats: [
      { metric: 'sparsity', value: meta.sparsity },
      { metric: 'zero_weights', value: result.zeroed },
      { metric: 'parameters', value: report.parameters },
      { metric: 'size_bytes', value: report.size_bytes },
      { metric: 'gzip_bytes_before', value: gzipBefore },
      { metric: 'gzip_bytes_after', value: gzipAfter },
    ],
  };
}
