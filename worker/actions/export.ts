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
  let agree = 0;
  let maxDifference = 0;
  expected.forEach((p, i) => {
    if (argmax(p) === argmax(actual[i]!)) agree++;
    p.forEach((v, k) => (maxDifference = Math.max(maxDifference, Math.abs(v - actual[i]![k]!))));
  });
  const agreement = agree / images.length;
  ctx.log(`onnxruntime check on ${images.length} images: top-1 agreement ${agreement}, max probability difference ${maxDifference.toExponential(2)}`);
  if (agreement < 1 || maxDifference > MAX_PROBABILITY_DIFFERENCE) {
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
