import { actions } from '../../functions/core/actions/catalogue';
import { type ActionResult, InvalidSpec, type JobContext, parseSpec } from '../context';
import { datasetsFor, loadExamples, readModelInputs } from '../ml/inputs';
import { loadSourceModel } from '../ml/source';
import { argmax, predict } from '../ml/tiny-cnn';

/**
 * evaluate: the source model on the labelled images of the eval dataset: accuracy, per-class precision
 * and recall, and the confusion matrix (rows: true class, columns: predicted), as kpi/categorical and
 * artifacts/evaluation.json. Images whose label is not one of the model's classes are counted apart.
 */
const round = (x: number) => Math.round(x * 10_000) / 10_000;

export function confusionReport(labels: string[], truth: number[], predicted: number[]) {
  const matrix = labels.map(() => labels.map(() => 0));
  truth.forEach((t, i) => matrix[t]![predicted[i]!]!++);
  const correct = labels.reduce((n, _, c) => n + matrix[c]![c]!, 0);
  const perClass = labels.map((label, c) => {
    const tp = matrix[c]![c]!;
    const actual = matrix[c]!.reduce((a, b) => a + b, 0);
    const called = matrix.reduce((n, row) => n + row[c]!, 0);
    return { label, support: actual, precision: called ? round(tp / called) : 0, recall: actual ? round(tp / actual) : 0 };
  });
  return { accuracy: truth.length ? round(correct / truth.length) : 0, images: truth.length, per_class: perClass, confusion_matrix: { labels, rows: 'true class', columns: 'predicted class', matrix } };
}

export async function evaluate(ctx: JobContext): Promise<ActionResult> {
  const spec = parseSpec(actions.evaluate.spec, ctx.spec);
  const inputs = await readModelInputs(ctx);
  const evalSets = datasetsFor(inputs, 'eval');
  if (!evalSets.length) throw new InvalidSpec('the model has no eval_dataset');
  const { model, meta } = await loadSourceModel(ctx, inputs);
  const { examples, skipped } = await loadExamples(ctx, evalSets, meta.image_size, 'labelled');
  const classOf = new Map(meta.labels.map((l, i) => [l, i]));
  const known = examples.filter((e) => classOf.has(e.label!));
  const unknownLabels = examples.length - known.length;
  if (!known.length) throw new Error(`the eval dataset has no labelled image of the model's classes (${meta.labels.join(', ')})`);
  const started = Date.now();
  const probabilities = await predict(model, known.map((e) => e.pixels), meta.image_size, spec.batch_size);
  const seconds = (Date.now() - started) / 1000;
  const report = confusionReport(meta.labels, known.map((e) => classOf.get(e.label!)!), probabilities.map(argmax));
  await ctx.storage.putJson(ctx.output('artifacts/evaluation.json'), { model_job_id: inputs.source!.job_id, dataset_id: evalSets[0]!.dataset_id, version_id: evalSets[0]!.version_id, ...report, unknown_label_images: unknownLabels, skipped }, { signal: ctx.signal });
  ctx.log(`accuracy ${report.accuracy} on ${report.images} images (${Math.round(report.images / seconds)} images/s)`);
  const epoch = String(meta.epochs_trained);
  return {
    status: 'Done',
    exitCode: 0,
    message: `accuracy ${report.accuracy} on ${report.images} images`,
    stats: [{ metric: 'accuracy', value: report.accuracy }, { metric: 'images', value: report.images }, { metric: 'unknown_label_images', value: unknownLabels }, { metric: 'skipped', value: skipped.length }],
    categorical: [
      { metric: 'precision', category_wise_values: report.per_class.map((c) => ({ category: c.label, value: c.precision })) },
      { metric: 'recall', category_wise_values: report.per_class.map((c) => ({ category: c.label, value: c.recall })) },
    ],
    extra: { kpi: [{ metric: 'accuracy', values: { [epoch]: report.accuracy } }] },
  };
}
