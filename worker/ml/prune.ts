import * as tf from '@tensorflow/tfjs';
import { LAYERS } from './tiny-cnn';

/** The kernels (not the biases) of tiny_cnn's convolution and dense layers: what pruning and its mask act on. */
export function kernelsOf(model: tf.LayersModel): tf.LayerVariable[] {
  return [LAYERS.conv1, LAYERS.conv2, LAYERS.dense, LAYERS.logits].map((name) => {
    const kernel = model.getLayer(name).trainableWeights.find((w) => w.originalName.endsWith('kernel'));
    if (!kernel) throw new Error(`layer ${name} has no kernel`);
    return kernel;
  });
}

/**
 * Magnitude pruning: in each kernel the `ratio` of weights with the smallest absolute values become 0
 * (ties at the threshold included, so at least that many). Answers the sparsity over all kernels.
 */
export function pruneByMagnitude(model: tf.LayersModel, ratio: number): { sparsity: number; zeroed: number; weights: number } {
  let zeroed = 0;
  let weights = 0;
  for (const kernel of kernelsOf(model)) {
    const values = kernel.read().dataSync() as Float32Array;
    const count = Math.floor(values.length * ratio);
    const next = Float32Array.from(values);
    if (count > 0) {
      const threshold = Float32Array.from(values, Math.abs).sort()[count - 1]!;
      for (let i = 0; i < next.length; i++) if (Math.abs(next[i]!) <= threshold) next[i] = 0;
    }
    kernel.write(tf.tensor(next, kernel.read().shape));
    zeroed += next.reduce((n, v) => n + (v === 0 ? 1 : 0), 0);
    weights += next.length;
  }
  return { sparsity: weights ? zeroed / weights : 0, zeroed, weights };
}
