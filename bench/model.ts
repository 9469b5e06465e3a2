import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import * as ort from 'onnxruntime-node';
import S3rver from 's3rver';
import { runOnnx } from '../worker/actions/export';
import { shapesDataset, SHAPES } from '../worker/data/shapes';
import { readLatestCheckpoint, type TrainingState, writeCheckpoint } from '../worker/ml/model-store';
import { tinyCnnToOnnx } from '../worker/ml/onnx';
import { modelInputOf } from '../worker/ml/pixels';
import { batchTensor, buildTinyCnn, compileForTraining, INPUT_DESCRIPTION, type ModelMeta, predict } from '../worker/ml/tiny-cnn';
import { Storage } from '../worker/storage';
import { median, progress, report, round } from './common';

/**
 * The reference model on this machine: training images/s (tiny_cnn, 16×16, batch 32, as the train
 * action runs it), inference images/s through onnxruntime-node and through TensorFlow.js, and how long a
 * checkpoint (weights + Adam state + training state) takes to save to and restore from the S3 stand-in.
 */
const SIDE = 16;
const BATCH = 32;
const TRAIN_IMAGES = 800;
const EPOCHS = 3;

const images = [...shapesDataset({ perClass: 500, size: 32, seed: 7 })];
const inputs = images.map((image) => modelInputOf(image.png, SIDE));
const classes = images.map((image) => SHAPES.indexOf(image.label));
const labels = [...SHAPES];

// Training throughput: whole epochs of trainOnBatch, after one warm-up step.
const model = buildTinyCnn(SIDE, labels.length, 42);
compileForTraining(model, 0.003);
const step = async (from: number) => {
  const x = batchTensor(inputs.slice(from, from + BATCH), SIDE);
  const y = tf.oneHot(tf.tensor1d(classes.slice(from, from + BATCH), 'int32'), labels.length);
  await model.trainOnBatch(x, y);
  tf.dispose([x, y]);
};
await step(0);
const trainRates: number[] = [];
for (let epoch = 0; epoch < EPOCHS; epoch++) {
  const started = performance.now();
  for (let from = 0; from < TRAIN_IMAGES; from += BATCH) await step(from);
  trainRates.push(TRAIN_IMAGES / ((performance.now() - started) / 1000));
  progress(`training epoch ${epoch + 1}: ${round(trainRates.at(-1)!)} images/s`);
}

// Inference throughput over 2,000 images: onnxruntime on the exported model, and TensorFlow.js.
const meta: ModelMeta = { network_arch: 'tiny_cnn', framework: 'tfjs', labels, image_size: SIDE, channels: 1, input: INPUT_DESCRIPTION, job_id: 'bench', action: 'train', parent_job_id: null, epochs_trained: EPOCHS, metrics: {} };
const session = await ort.InferenceSession.create(tinyCnnToOnnx(model, meta));
const rate = async (run: () => Promise<unknown>) => {
  await run();
  const rates: number[] = [];
  for (let i = 0; i < 5; i++) {
    const started = performance.now();
    await run();
    rates.push(inputs.length / ((performance.now() - started) / 1000));
  }
  return median(rates);
};
const onnxRate = await rate(() => runOnnx(session, inputs, SIDE));
const tfjsRate = await rate(() => predict(model, inputs, SIDE));
progress(`inference: onnxruntime ${round(onnxRate)} images/s, tfjs ${round(tfjsRate)} images/s`);

// Checkpoints against s3rver.
const dir = await mkdtemp(join(tmpdir(), 'trainyard-bench-model-'));
const s3 = new S3rver({ address: '127.0.0.1', port: 0, silent: true, directory: dir, configureBuckets: [{ name: 'bench' }] });
const { port } = await s3.run();
const storage = new Storage({ bucket: 'bench', region: 'us-east-1', endpoint: `http://127.0.0.1:${port}`, credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' } });
const state: TrainingState = { epoch: 0, history: [], best: { epoch: 0, val_accuracy: -1 }, images_seen: 0 };
const saves: number[] = [];
const restores: number[] = [];
for (let i = 1; i <= 10; i++) {
  state.epoch = i;
  let started = performance.now();
  await writeCheckpoint(storage, 'jobs/bench/checkpoints/', model, meta, state);
  saves.push(performance.now() - started);
  started = performance.now();
  const checkpoint = (await readLatestCheckpoint(storage, 'jobs/bench/checkpoints/'))!;
  compileForTraining(checkpoint.model, 0.003);
  await checkpoint.restoreOptimizer(checkpoint.model);
  restores.push(performance.now() - started);
  checkpoint.model.dispose();
}
const prefix = 'jobs/bench/checkpoints/epoch-0010/';
const sizes = await Promise.all(['model.json', 'weights.bin', 'trainyard.json', 'optimizer.bin', 'optimizer.json', 'state.json'].map((name) => storage.size(`${prefix}${name}`)));
await s3.close();
await rm(dir, { recursive: true, force: true });

report({
  bench: 'model',
  network_arch: 'tiny_cnn',
  image_size: SIDE,
  batch_size: BATCH,
  parameters: model.countParams(),
  train_images_per_second: round(median(trainRates)),
  onnx_inference_images_per_second: round(onnxRate),
  tfjs_inference_images_per_second: round(tfjsRate),
  checkpoint_bytes: sizes.reduce<number>((sum, size) => sum + (size ?? 0), 0),
  checkpoint_save_ms: { median: round(median(saves)), max: round(Math.max(...saves)) },
  checkpoint_restore_ms: { median: round(median(restores)), max: round(Math.max(...restores)) },
});
