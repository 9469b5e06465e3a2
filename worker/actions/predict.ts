import { actions } from '../../functions/core/actions/catalogue';
import { type ActionResult, InvalidSpec, type JobContext, parseSpec } from '../context';
import { datasetsFor, loadExamples, readModelInputs } from '../ml/inputs';
import { loadSourceModel } from '../ml/source';
import { argmax, predict } from '../ml/tiny-cnn';

/**
 * inference: a prediction for every image of the inference dataset (artifacts/predictions.jsonl:
 * {sample_id, dataset_id, path, label, confidence, probabilities, true_label?} a line).
 * generate (auto-label): the same for its unlabelled images; those at least `threshold` confident go to
 * artifacts/auto_labels.jsonl, which the orchestrator writes back as pending annotations.
 */
const round = (x: number) => Math.round(x * 1_000_000) / 1_000_000;

export const inference = (ctx: JobContext) => run(ctx, 'inference');
export const generate = (ctx: JobContext) => run(ctx, 'generate');

async function run(ctx: JobContext, action: 'inference' | 'generate'): Promise<ActionResult> {
  const spec: { batch_size: number; threshold?: number } = parseSpec(actions[action].spec, ctx.spec);
  const inputs = await readModelInputs(ctx);
  const sets = datasetsFor(inputs, 'inference');
  if (!sets.length) throw new InvalidSpec('the model has no inference_dataset');
  const { model, meta } = await loadSourceModel(ctx, inputs);
  const { examples, skipped } = await loadExamples(ctx, sets, meta.image_size, action === 'generate' ? 'unlabelled' : 'all');
  const started = Date.now();
  const probabilities = await predict(model, examples.map((e) => e.pixels), meta.image_size, spec.batch_size);
  const seconds = (Date.now() - started) / 1000;
  const predictions = examples.map((e, i) => {
    const p = probabilities[i]!;
    const best = argmax(p);
    return {
      sample_id: e.sampleId,
      dataset_id: e.datasetId,
      path: e.path,
      label: meta.labels[best]!,
      confidence: round(p[best]!),
      probabilities: Object.fromEntries(meta.labels.map((l, k) => [l, round(p[k]!)])),
      ...(e.label ? { true_label: e.label } : {}),
    };
  });
  const lines = (rows: object[]) => rows.map((r) => `${JSON.stringify(r)}\n`).join('');
  await ctx.storage.put(ctx.output('artifacts/predictions.jsonl'), lines(predictions), 'application/x-ndjson', { signal: ctx.signal });
  const rate = seconds ? Math.round(examples.length / seconds) : examples.length;
  const perLabel = meta.labels.map((label) => ({ category: label, value: predictions.filter((p) => p.label === label).length }));
  const common = [
    { metric: 'images', value: examples.length },
    { metric: 'images_per_second', value: rate },
    { metric: 'skipped', value: skipped.length },
  ];
  if (action === 'inference') {
    const known = predictions.filter((p) => p.true_label);
    const correct = known.filter((p) => p.label === p.true_label).length;
    ctx.log(`predicted ${examples.length} images (${rate} images/s)`);
    return {
      status: 'Done',
      exitCode: 0,
      message: `predicted ${examples.length} images`,
      stats: [...common, ...(known.length ? [{ metric: 'accuracy_on_labelled', value: round(correct / known.length) }] : [])],
      categorical: [{ metric: 'predictions_per_label', category_wise_values: perLabel }],
    };
  }
  const threshold = spec.threshold ?? 0.5;
  const confident = predictions.filter((p) => p.confidence >= threshold);
  await ctx.storage.put(
    ctx.output('artifacts/auto_labels.jsonl'),
    lines(confident.map((p) => ({ sample_id: p.sample_id, dataset_id: p.dataset_id, path: p.path, label: p.label, confidence: p.confidence }))),
    'application/x-ndjson',
    { signal: ctx.signal },
  );
  ctx.log(`auto-labelled ${confident.length} of ${examples.length} unlabelled images at confidence ≥ ${threshold}`);
  return {
    status: 'Done',
    exitCode: 0,
    message: `${confident.length} of ${examples.length} unlabelled images get a pending annotation (confidence ≥ ${threshold})`,
    stats: [...common, { metric: 'pending_annotations', value: confident.length }, { metric: 'below_threshold', value: examples.length - confident.length }],
    categorical: [{ metric: 'pending_per_label', category_wise_values: meta.labels.map((label) => ({ category: label, value: confident.filter((p) => p.label === label).length })) }],
  };
}
