import * as ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import { confusionReport } from '../../worker/actions/evaluate';
import { compareOutputs, exportAgrees, runOnnx } from '../../worker/actions/export';
import { scoreOf } from '../../worker/actions/train';
import { isHeldOut } from '../../worker/ml/inputs';
import { tinyCnnToOnnx } from '../../worker/ml/onnx';
import { flipped, greyscaleOf, resizeSquare } from '../../worker/ml/pixels';
import { kernelsOf, pruneByMagnitude } from '../../worker/ml/prune';
import { argmax, buildTinyCnn, type ModelMeta, predict } from '../../worker/ml/tiny-cnn';
import { encodePng } from '../../worker/png';

/**
 * The reference model's pure parts: what it sees of an image, how it is scored, pruned and split, and
 * that its ONNX translation computes the same function (layout and weight order are where exporters go wrong).
 */
const meta = (labels: string[], side: number): ModelMeta => ({
  network_arch: 'tiny_cnn', framework: 'tfjs', labels, image_size: side, channels: 1, input: 'test', job_id: 'job', action: 'train', parent_job_id: null, epochs_trained: 1, metrics: {},
});

describe('model input', () => {
  it('halving a side averages each 2×2 block, and the same size is left as it is', () => {
    const grey = Float32Array.from({ length: 16 }, (_, i) => i / 16);
    const half = resizeSquare(grey, 4, 4, 2);
    expect(Array.from(half)).toEqual([(0 + 1 + 4 + 5) / 64, (2 + 3 + 6 + 7) / 64, (8 + 9 + 12 + 13) / 64, (10 + 11 + 14 + 15) / 64].map((v) => expect.closeTo(v, 6)));
    expect(resizeSquare(grey, 4, 4, 4)).toBe(grey);
  });

  it('reads RGB as luma (0.299 R + 0.587 G + 0.114 B) and greyscale as it is, in [0, 1]', () => {
    const rgb = encodePng({ width: 2, height: 1, bitDepth: 8, colorType: 2, bytesPerPixel: 3, pixels: Buffer.from([255, 0, 0, 0, 0, 255]), chunks: [] });
    expect(Array.from(greyscaleOf(rgb).grey)).toEqual([expect.closeTo(0.299, 5), expect.closeTo(0.114, 5)]);
    const grey = encodePng({ width: 1, height: 1, bitDepth: 8, colorType: 0, bytesPerPixel: 1, pixels: Buffer.from([51]), chunks: [] });
    expect(greyscaleOf(grey).grey[0]).toBeCloseTo(0.2, 6);
  });

  it('flips mirror rows and columns', () => {
    const image = Float32Array.from([1, 2, 3, 4]);
    expect(Array.from(flipped(image, 2, true, false))).toEqual([2, 1, 4, 3]);
    expect(Array.from(flipped(image, 2, false, true))).toEqual([3, 4, 1, 2]);
  });
});

describe('scores', () => {
  it('confusion matrix, precision and recall per class', () => {
    const report = confusionReport(['a', 'b'], [0, 0, 0, 1], [0, 0, 1, 1]);
    expect(report.confusion_matrix.matrix).toEqual([[2, 1], [0, 1]]);
    expect(report.accuracy).toBe(0.75);
    expect(report.per_class).toEqual([
      { label: 'a', support: 3, precision: 1, recall: 0.6667 },
      { label: 'b', support: 1, precision: 0.5, recall: 1 },
    ]);
  });

  it('accuracy and cross-entropy of probabilities', () => {
    const { accuracy, loss } = scoreOf([[0.9, 0.1], [0.4, 0.6]], [0, 0]);
    expect(accuracy).toBe(0.5);
    expect(loss).toBeCloseTo((-Math.log(0.9) - Math.log(0.4)) / 2, 6);
  });

  it('the validation split is stable per sample and close to the asked fraction', () => {
    const ids = Array.from({ length: 4000 }, (_, i) => `sample-${i}`);
    const held = ids.filter((id) => isHeldOut(id, 42, 0.2));
    expect(held.length / ids.length).toBeGreaterThan(0.17);
    expect(held.length / ids.length).toBeLessThan(0.23);
    expect(ids.filter((id) => isHeldOut(id, 42, 0.2))).toEqual(held);
    expect(ids.filter((id) => isHeldOut(id, 43, 0.2))).not.toEqual(held);
  });
});

describe('tiny_cnn', () => {
  it('the same seed builds the same weights', () => {
    const [a, b] = [buildTinyCnn(16, 3, 9), buildTinyCnn(16, 3, 9)].map((m) => kernelsOf(m).map((k) => Array.from(k.read().dataSync())));
    expect(a).toEqual(b);
  });

  it('pruning zeroes at least the asked fraction of every kernel and leaves the biases', () => {
    const model = buildTinyCnn(16, 4, 1);
    const biases = model.getLayer('dense').getWeights()[1]!.dataSync().slice();
    const result = pruneByMagnitude(model, 0.6);
    for (const kernel of kernelsOf(model)) {
      const values = kernel.read().dataSync();
      expect(values.filter((v) => v === 0).length / values.length).toBeGreaterThanOrEqual(0.6 - 1 / values.length);
    }
    expect(result.sparsity).toBeGreaterThanOrEqual(0.59);
    expect(Array.from(model.getLayer('dense').getWeights()[1]!.dataSync())).toEqual(Array.from(biases));
  });

  it('its ONNX translation answers the same probabilities in onnxruntime (odd side, 5 classes)', async () => {
    const side = 18;
    const model = buildTinyCnn(side, 5, 3);
    let seed = 1;
    const next = () => ((seed = (seed * 16807) % 2147483647) / 2147483647);
    const images = Array.from({ length: 40 }, () => Float32Array.from({ length: side * side }, next));
    const session = await ort.InferenceSession.create(tinyCnnToOnnx(model, meta(['a', 'b', 'c', 'd', 'e'], side)));
    const [expected, actual] = [await predict(model, images, side), await runOnnx(session, images, side)];
    expected.forEach((p, i) => {
      expect(argmax(actual[i]!)).toBe(argmax(p));
      p.forEach((v, k) => expect(Math.abs(v - actual[i]![k]!)).toBeLessThanOrEqual(1e-5));
    });
    expect(exportAgrees(compareOutputs(expected, actual, 5))).toBe(true);
  });
});

describe('export check', () => {
  const expected = [Float32Array.of(0.7, 0.2, 0.1), Float32Array.of(0.1, 0.1, 0.8)];

  it('passes outputs that agree within the bar', () => {
    const check = compareOutputs(expected, [Float32Array.of(0.70001, 0.19999, 0.1), Float32Array.of(0.1, 0.1, 0.8)], 3);
    expect(check.agreement).toBe(1);
    expect(check.maxDifference).toBeLessThan(1e-4);
    expect(exportAgrees(check)).toBe(true);
  });

  it('fails a different top-1 class, a difference over 1e-4, NaN, a wrong output width or a missing row', () => {
    const fails = [
      [Float32Array.of(0.2, 0.7, 0.1), Float32Array.of(0.1, 0.1, 0.8)],
      [Float32Array.of(0.7002, 0.1998, 0.1), Float32Array.of(0.1, 0.1, 0.8)],
      [Float32Array.of(Number.NaN, Number.NaN, Number.NaN), Float32Array.of(0.1, 0.1, 0.8)],
      [Float32Array.of(0.7, 0.2), Float32Array.of(0.1, 0.1)],
      [Float32Array.of(0.7, 0.2, 0.1)],
    ];
    for (const actual of fails) expect(exportAgrees(compareOutputs(expected, actual, 3))).toBe(false);
  });
});
