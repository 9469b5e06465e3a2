import * as tf from '@tensorflow/tfjs';
import { actions } from '../../functions/core/actions/catalogue';
import { type ActionResult, InvalidSpec, type JobContext, parseSpec, throwIfCanceled } from '../context';
import { pauseRequested } from '../control';
import { random } from '../data/shapes';
import { datasetsFor, type Example, isHeldOut, loadExamples, readModelInputs } from '../ml/inputs';
import { readLatestCheckpoint, readModel, serialize, type TrainingState, writeCheckpoint, writeModel } from '../ml/model-store';
import { flipped } from '../ml/pixels';
import { loadSourceModel } from '../ml/source';
import { argmax, batchTensor, buildTinyCnn, compileForTraining, INPUT_DESCRIPTION, type ModelMeta, NETWORK_ARCHS, type NetworkArch, predict } from '../ml/tiny-cnn';
import { kernelsOf } from '../ml/prune';

/**
 * train / retrain: fit tiny_cnn to the labelled images of the train datasets. Every epoch reports
 * loss, accuracy, val_loss and val_accuracy (metrics.jsonl, status.json's kpi and graphical) and, every
 * checkpoint_interval epochs, writes a checkpoint with the optimizer's state. A run that finds a
 * checkpoint (a Spot retry, a resume) continues from it with the same shuffling, so it ends where an
 * uninterrupted run would. retrain starts from its parent's (pruned) weights and keeps pruned weights at
 * zero. The result is artifacts/model/ (TensorFlow.js layers format + trainyard.json).
 */
/** A seeded permutation (Fisher–Yates). */
function shuffled(count: number, next: () => number): number[] {
  const order = Array.from({ length: count }, (_, i) => i);
  for (let i = count - 1; i > 0; i--) {
    const j = Math.floor(next() * (i + 1));
    [order[i], order[j]] = [order[j]!, order[i]!];
  }
  return order;
}

/** Accuracy and mean cross-entropy of probabilities against class indices. */
export function scoreOf(probabilities: ArrayLike<number>[], truth: number[]): { accuracy: number; loss: number } {
  if (!truth.length) return { accuracy: NaN, loss: NaN };
  let correct = 0;
  let loss = 0;
  probabilities.forEach((p, i) => {
    if (argmax(p) === truth[i]) correct++;
    loss -= Math.log(Math.max(p[truth[i]!]!, 1e-7));
  });
  return { accuracy: correct / truth.length, loss: loss / truth.length };
}

const round = (x: number, digits = 4) => (Number.isFinite(x) ? Math.round(x * 10 ** digits) / 10 ** digits : x);

/** An epoch's metrics that have a value: with val_split 0 there is no validation set, so no val_* (JSON has no NaN). */
function finiteMetrics(epoch: TrainingState['history'][number]): Record<string, number> {
  const metrics = (['loss', 'accuracy', 'val_loss', 'val_accuracy'] as const).filter((m) => Number.isFinite(epoch[m]));
  return Object.fromEntries(metrics.map((m) => [m, round(epoch[m])]));
}

function curves(history: TrainingState['history']) {
  const series = (metric: 'loss' | 'accuracy' | 'val_loss' | 'val_accuracy') => ({
    metric,
    values: Object.fromEntries(history.filter((h) => Number.isFinite(h[metric])).map((h) => [String(h.epoch), round(h[metric])])),
  });
  const kpi = [series('val_accuracy'), series('accuracy')];
  const graphical = (['loss', 'val_loss', 'accuracy', 'val_accuracy'] as const).map((metric) => {
    const s = series(metric);
    const ys = Object.values(s.values);
    return { ...s, x_min: 1, x_max: Math.max(1, history.length ? history.at(-1)!.epoch : 1), y_min: ys.length ? Math.min(0, ...ys) : 0, y_max: ys.length ? Math.max(1, ...ys) : 1, units: 'epoch' };
  });
  return { kpi, graphical };
}

export const train = (ctx: JobContext) => fit(ctx, 'train');
export const retrain = (ctx: JobContext) => fit(ctx, 'retrain');

async function fit(ctx: JobContext, action: 'train' | 'retrain'): Promise<ActionResult> {
  const spec = parseSpec(actions.train.spec, ctx.spec);
  const inputs = await readModelInputs(ctx);
  if (!(NETWORK_ARCHS as readonly string[]).includes(inputs.network_arch)) {
    throw new InvalidSpec(`network_arch ${inputs.network_arch}: the reference worker trains ${NETWORK_ARCHS.join(', ')} (bring your own image for others: README)`);
  }
  const checkpoint = await readLatestCheckpoint(ctx.storage, ctx.checkpoint(''), ctx.signal);
  const source = action === 'retrain' && !checkpoint ? await loadSourceModel(ctx, inputs) : undefined;
  const side = checkpoint?.meta.image_size ?? source?.meta.image_size ?? spec.image_size;
  const trainSets = datasetsFor(inputs, 'train');
  if (!trainSets.length) throw new InvalidSpec('the model has no train_datasets');
  const { examples: all, skipped } = await loadExamples(ctx, trainSets, side, 'labelled');
  const labels = checkpoint?.meta.labels ?? source?.meta.labels ?? [...new Set(all.map((e) => e.label!))].sort();
  const classOf = new Map(labels.map((l, i) => [l, i]));
  const examples = all.filter((e) => {
    if (classOf.has(e.label!)) return true;
    skipped.push({ path: e.path, reason: `label ${e.label} is not one of the model's classes` });
    return false;
  });
  if (labels.length < 2) throw new Error(`training needs images of at least two labels; the train datasets have ${labels.length} (${labels.join(', ') || 'none'})`);
  const held: Example[] = [];
  const fitted: Example[] = [];
  for (const e of examples) (isHeldOut(e.sampleId, spec.seed, spec.val_split) ? held : fitted).push(e);
  if (!fitted.length) throw new Error('no labelled image is left to train on after the validation split');
  ctx.log(`${labels.length} classes (${labels.join(', ')}); ${fitted.length} training and ${held.length} validation images of ${side}×${side}`);

  const model = checkpoint?.model ?? source?.model ?? buildTinyCnn(side, labels.length, spec.seed);
  compileForTraining(model, spec.learning_rate);
  if (checkpoint) {
    await checkpoint.restoreOptimizer(model);
    ctx.log(`resuming from the checkpoint of epoch ${checkpoint.state.epoch} (${checkpoint.prefix})`);
  }
  // retrain keeps the pruned weights at zero: a mask of each kernel, applied after every step.
  const masks = action === 'retrain' ? kernelsOf(model).map((k) => ({ variable: k, mask: tf.tidy(() => tf.notEqual(k.read(), 0).toFloat()) })) : [];
  const state: TrainingState = checkpoint?.state ?? { epoch: 0, history: [], best: { epoch: 0, val_accuracy: -1 }, images_seen: 0 };
  const meta = (epoch = state.epoch): ModelMeta => {
    const last = state.history.find((h) => h.epoch === epoch);
    return {
      network_arch: inputs.network_arch as NetworkArch,
      framework: 'tfjs',
      labels,
      image_size: side,
      channels: 1,
      input: INPUT_DESCRIPTION,
      job_id: ctx.env.jobId,
      action,
      parent_job_id: inputs.source?.job_id ?? null,
      epochs_trained: epoch,
      metrics: last ? finiteMetrics(last) : {},
      ...(action === 'retrain' ? { sparsity: source?.meta.sparsity ?? checkpoint?.meta.sparsity } : {}),
    };
  };
  const truth = (set: Example[]) => set.map((e) => classOf.get(e.label!)!);
  const heldTruth = truth(held);
  const steps = Math.ceil(fitted.length / spec.batch_size);
  let trainSeconds = 0;
  let trainedImages = 0;
  let savedEpoch = state.epoch;

  for (let epoch = state.epoch + 1; epoch <= spec.epochs; epoch++) {
    const started = Date.now();
    // The epoch's own random stream: a resumed run shuffles and flips exactly as an uninterrupted one.
    const next = random(spec.seed * 1_000_003 + epoch);
    const order = shuffled(fitted.length, next);
    let lossSum = 0;
    let correctSum = 0;
    for (let step = 0; step < steps; step++) {
      throwIfCanceled(ctx.signal);
      const batch = order.slice(step * spec.batch_size, (step + 1) * spec.batch_size).map((i) => fitted[i]!);
      const images = batch.map((e) => {
        const h = spec.augmentation.horizontal_flip && next() < 0.5;
        const v = spec.augmentation.vertical_flip && next() < 0.5;
        return h || v ? flipped(e.pixels, side, h, v) : e.pixels;
      });
      const x = batchTensor(images, side);
      const y = tf.oneHot(tf.tensor1d(truth(batch), 'int32'), labels.length);
      const [loss, accuracy] = (await model.trainOnBatch(x, y)) as number[];
      tf.dispose([x, y]);
      for (const { variable, mask } of masks) variable.write(tf.tidy(() => variable.read().mul(mask)));
      lossSum += loss! * batch.length;
      correctSum += accuracy! * batch.length;
      ctx.status.progress({ message: `epoch ${epoch}/${spec.epochs}, step ${step + 1}/${steps}`, cur_iter: (epoch - 1) * steps + step + 1 });
      // Let the event loop breathe: SIGTERM, status and log uploads run between steps.
      await new Promise((resolve) => setImmediate(resolve));
    }
    const fitSeconds = (Date.now() - started) / 1000;
    trainSeconds += fitSeconds;
    trainedImages += fitted.length;
    const val = scoreOf(await predict(model, held.map((e) => e.pixels), side), heldTruth);
    const seconds = (Date.now() - started) / 1000;
    state.epoch = epoch;
    state.images_seen += fitted.length;
    state.history.push({ epoch, loss: lossSum / fitted.length, accuracy: correctSum / fitted.length, val_loss: val.loss, val_accuracy: val.accuracy, seconds });
    const improved = val.accuracy > state.best.val_accuracy;
    if (improved) state.best = { epoch, val_accuracy: val.accuracy };
    const h = state.history.at(-1)!;
    ctx.log(`epoch ${epoch}/${spec.epochs}: loss ${round(h.loss)}, accuracy ${round(h.accuracy)}, val_loss ${round(h.val_loss)}, val_accuracy ${round(h.val_accuracy)} (${seconds.toFixed(1)} s, ${Math.round(fitted.length / fitSeconds)} images/s)`);
    ctx.metrics.add(
      ...(['loss', 'accuracy', 'val_loss', 'val_accuracy'] as const).filter((m) => Number.isFinite(h[m])).map((m) => ({ metric: m, value: round(h[m], 6), epoch })),
      { metric: 'images_per_second', value: round(fitted.length / fitSeconds, 1), epoch },
    );
    const perEpoch = state.history.slice(-5).reduce((sum, e) => sum + e.seconds, 0) / Math.min(5, state.history.length);
    ctx.status.progress({
      message: `epoch ${epoch}/${spec.epochs}: val_accuracy ${round(h.val_accuracy)}`,
      epoch,
      max_epoch: spec.epochs,
      time_per_epoch: round(perEpoch, 1),
      eta: round((spec.epochs - epoch) * perEpoch, 1),
      ...curves(state.history),
    });
    // The best epoch's model, kept for checkpoint_choose_method best_model (written before the checkpoint that names it).
    if (improved) await writeModel(ctx.storage, ctx.checkpoint('best/'), await serialize(model), meta(), ctx.signal);
    const pause = epoch < spec.epochs && (await pauseRequested(ctx));
    if (epoch % spec.checkpoint_interval === 0 || epoch === spec.epochs || pause) {
      const t = Date.now();
      await writeCheckpoint(ctx.storage, ctx.checkpoint(''), model, meta(), state, ctx.signal);
      savedEpoch = epoch;
      ctx.log(`checkpoint of epoch ${epoch} saved (${Date.now() - t} ms)`);
    }
    await ctx.metrics.flush({ signal: ctx.signal });
    if (pause) {
      ctx.log(`pause requested: stopped after epoch ${epoch} (checkpoint of epoch ${savedEpoch})`);
      return { status: 'Paused', exitCode: 3, message: `paused after epoch ${epoch} of ${spec.epochs}` };
    }
  }

  // TAO's checkpoint_choose_method: the best epoch by val_accuracy (when there was validation), else the last.
  const best = inputs.checkpoint_choose_method === 'best_model' && state.best.epoch > 0 && state.best.epoch !== state.epoch ? await readModel(ctx.storage, ctx.checkpoint('best/'), ctx.signal) : undefined;
  const chosen = best ? { serialized: best.serialized, meta: meta(state.best.epoch) } : { serialized: await serialize(model), meta: meta() };
  ctx.log(`the model is epoch ${chosen.meta.epochs_trained}'s (${best ? 'best val_accuracy' : 'last epoch'})`);
  await writeModel(ctx.storage, ctx.output('artifacts/model/'), chosen.serialized, chosen.meta, ctx.signal);
  const counts = (set: Example[]) => Object.fromEntries(labels.map((l) => [l, set.filter((e) => e.label === l).length]));
  await ctx.storage.putJson(
    ctx.output('artifacts/training.json'),
    { action, spec, labels, image_size: side, train_images: counts(fitted), val_images: counts(held), history: state.history, best: state.best, model_epoch: chosen.meta.epochs_trained, checkpoint_choose_method: inputs.checkpoint_choose_method, skipped, model: 'artifacts/model/' },
    { signal: ctx.signal },
  );
  // The chosen epoch's metrics, those with a value.
  const final = chosen.meta.metrics;
  const rate = trainSeconds ? trainedImages / trainSeconds : undefined;
  return {
    status: 'Done',
    exitCode: 0,
    message: `${action === 'train' ? 'trained' : 'retrained'} ${state.epoch} epochs; the model is epoch ${chosen.meta.epochs_trained}'s: val_accuracy ${final.val_accuracy ?? 'n/a'}`,
    stats: [
      { metric: 'train_images', value: fitted.length },
      { metric: 'val_images', value: held.length },
      { metric: 'epochs', value: state.epoch },
      { metric: 'model_epoch', value: chosen.meta.epochs_trained },
      ...(['val_accuracy', 'accuracy'] as const).filter((metric) => final[metric] !== undefined).map((metric) => ({ metric, value: final[metric]! })),
      ...(rate ? [{ metric: 'images_per_second', value: round(rate, 1) }] : []),
      { metric: 'skipped', value: skipped.length },
    ],
  };
}
