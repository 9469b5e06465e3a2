import * as ort from 'onnxruntime-node';
import { actions } from '../../functions/core/actions/catalogue';
import { type ActionResult, type JobContext, parseSpec } from '../context';
import { type DatasetInput, datasetsFor, loadExamples, readModelInputs } from '../ml/inputs';
import { tinyCnnToOnnx } from '../ml/onnx';
import { loadSourceModel } from '../ml/source';
import { argmax, predict } from '../ml/tiny-cnn';

/**
 * export: the source model as ONNX (artifacts/model.onnx). Before it is offered, the file is loaded in
 * onnxruntime and run on the eval images (else the train images): its top-1 class must agree with the
 * trained model's on every image and no probability may differ by more than 1e-4, or the job fails.
 */
export const MAX_PROBABILITY_DIFFERENCE = 1e-4;
const CHECK_IMAGES = 2000;

export async function runOnnx(session: ort.InferenceSession, images: Float32Array[], side: number): Promise<Float32Array[]> {
  const out: Float32Array[] = [];
  for (let start = 0; start < images.length; start += 256) {
    const batch = images.slice(start, start + 256);
    const data = new Float32Array(batch.length * side * side);
    batch.forEach((image, i) => data.set(image, i * side * side));
    const result = await session.run({ image: new ort.Tensor('float32', data, [batch.length, side, side, 1]) });
    const probabilities = result.probabilities!;
    const classes = probabilities.dims[1]!;
    const values = probabilities.data as Float32Array;
    for (let i = 0; i < batch.length; i++) out.push(values.slice(i * classes, (i + 1) * classes));
  }
  return out;
}

/**
 * Top-1 agreement and the largest probability difference between the trained model's outputs and
 * onnxruntime's. An output of the wrong width, or a non-finite value, makes the difference Infinity,
 * so a broken export can never pass as a match.
 */
export function compareOutputs(expected: Float32Array[], actual: Float32Array[], classes: number): { agreement: number; maxDifference: number } {
  let agree = 0;
  let maxDifference = expected.length === actual.length ? 0 : Number.POSITIVE_INFINITY;
  expected.forEach((p, i) => {
    const q = actual[i];
    if (!q || q.length !== classes || p.length !== classes) {
      maxDifference = Number.POSITIVE_INFINITY;
      return;
    }
    if (argmax(p) === argmax(q)) agree++;
    p.forEach((v, k) => {
      const difference = Math.abs(v - q[k]!);
      maxDifference = Number.isFinite(difference) ? Math.max(maxDifference, difference) : Number.POSITIVE_INFINITY;
    });
  });
  return { agreement: expected.length ? agree / expected.length : 0, maxDifference };
}

/** The export's bar: every top-1 class agrees and every probability is within MAX_PROBABILITY_DIFFERENCE. */
export function exportAgrees(check: { agreement: number; maxDifference: number }): boolean {
  return check.agreement === 1 && check.maxDifference <= MAX_PROBABILITY_DIFFERENCE;
}

export async function exportModel(ctx: JobContext): Promise<ActionResult> {
  const spec = parseSpec(actions.export.spec, ctx.spec);
  const inputs = await readModelInputs(ctx);
  const { model, meta } = await loadSourceModel(ctx, inputs);
  const bytes = tinyCnnToOnnx(model, meta, spec.opset);
  const checkSets: DatasetInput[] = datasetsFor(inputs, 'eval').length ? datasetsFor(inputs, 'eval') : datasetsFor(inputs, 'train');
  const { examples } = await loadExamples(ctx, checkSets, meta.image_size, 'all');
  const images = examples.slice(0, CHECK_IMAGES).map((e) => e.pixels);
  if (!images.length) throw new Error('no image to check the export on: the model needs an eval or train dataset with PNG images');
  const session = await ort.InferenceSession.create(bytes);
  const [expected, actual] = [await predict(model, images, meta.image_size), await runOnnx(session, images, meta.image_size)];
  const { agreement, maxDifference } = compareOutputs(expected, actual, meta.labels.length);
  ctx.log(`onnxruntime check on ${images.length} images: top-1 agreement ${agreement}, max probability difference ${maxDifference.toExponential(2)}`);
  if (!exportAgrees({ agreement, maxDifference })) {
    throw new Error(`the ONNX model disagrees with the trained model: top-1 agreement ${agreement}, max probability difference ${maxDifference}`);
  }
  await ctx.storage.put(ctx.output('artifacts/model.onnx'), bytes, 'application/octet-stream', { signal: ctx.signal });
  await ctx.storage.putJson(
    ctx.output('artifacts/export.json'),
    { format: 'onnx', opset: spec.opset, file: 'artifacts/model.onnx', bytes: bytes.length, labels: meta.labels, image_size: meta.image_size, input: { name: 'image', layout: 'NHWC', description: meta.input }, output: { name: 'probabilities' }, source_job_id: inputs.source!.job_id, check: { images: images.length, top1_agreement: agreement, max_probability_difference: maxDifference } },
    { signal: ctx.signal },
  );
  return {
    status: 'Done',
    exitCode: 0,
    message: `exported ONNX (${bytes.length} bytes); onnxruntime agrees on ${images.length} images`,
    stats: [
      { metric: 'onnx_bytes', value: bytes.length },
      { metric: 'checked_images', value: images.length },
      { metric: 'top1_agreement', value: agreement },
      { metric: 'max_probability_difference', value: maxDifference },
    ],
  };
}
