import * as tf from '@tensorflow/tfjs';

/**
 * The reference network, `tiny_cnn`: two 3×3 convolutions (8 and 16 filters, ReLU, 2×2 max pooling),
 * a dense layer of 32 and a softmax over the classes, on side × side greyscale input (NHWC). Sized for
 * the pure-JS CPU backend (about 80 training images/s on 2 cores at 16 × 16, ../shared STACK figures);
 * on a GPU image the same code runs with @tensorflow/tfjs-node-gpu. Layer names are fixed: the ONNX
 * exporter and the pruner find the weights by them.
 */
export const NETWORK_ARCHS = ['tiny_cnn'] as const;
export type NetworkArch = (typeof NETWORK_ARCHS)[number];

// No console banner about the native backend, and no per-op debug checks: this is the production path.
tf.enableProdMode();

export const LAYERS = { conv1: 'conv1', pool1: 'pool1', conv2: 'conv2', pool2: 'pool2', flatten: 'flatten', dense: 'dense', logits: 'logits' } as const;

/** What a trained model needs besides its weights to be used: kept beside it as trainyard.json. */
export interface ModelMeta {
  network_arch: NetworkArch;
  framework: 'tfjs';
  /** Class index → label. */
  labels: string[];
  image_size: number;
  channels: 1;
  input: string;
  /** The job that trained (or pruned) it, and the job its weights came from. */
  job_id: string;
  action: string;
  parent_job_id: string | null;
  epochs_trained: number;
  metrics: Record<string, number>;
  sparsity?: number;
}

export const INPUT_DESCRIPTION = 'float32 [N, side, side, 1]: greyscale (0.299 R + 0.587 G + 0.114 B) / 255, resized bilinearly with half-pixel centres';

export function buildTinyCnn(imageSize: number, classes: number, seed: number): tf.LayersModel {
  const init = (offset: number) => tf.initializers.glorotUniform({ seed: seed * 16 + offset });
  const model = tf.sequential({ name: 'tiny_cnn' });
  model.add(tf.layers.conv2d({ name: LAYERS.conv1, inputShape: [imageSize, imageSize, 1], filters: 8, kernelSize: 3, padding: 'same', activation: 'relu', kernelInitializer: init(1) }));
  model.add(tf.layers.maxPooling2d({ name: LAYERS.pool1, poolSize: 2, strides: 2 }));
  model.add(tf.layers.conv2d({ name: LAYERS.conv2, filters: 16, kernelSize: 3, padding: 'same', activation: 'relu', kernelInitializer: init(2) }));
  model.add(tf.layers.maxPooling2d({ name: LAYERS.pool2, poolSize: 2, strides: 2 }));
  model.add(tf.layers.flatten({ name: LAYERS.flatten }));
  model.add(tf.layers.dense({ name: LAYERS.dense, units: 32, activation: 'relu', kernelInitializer: init(3) }));
  model.add(tf.layers.dense({ name: LAYERS.logits, units: classes, activation: 'softmax', kernelInitializer: init(4) }));
  return model;
}

export function compileForTraining(model: tf.LayersModel, learningRate: number): void {
  model.compile({ optimizer: tf.train.adam(learningRate), loss: 'categoricalCrossentropy', metrics: ['accuracy'] });
}

/** A batch of images (side × side each) as the model's input tensor. */
export function batchTensor(images: readonly Float32Array[], side: number): tf.Tensor4D {
  const data = new Float32Array(images.length * side * side);
  images.forEach((image, i) => data.set(image, i * side * side));
  return tf.tensor4d(data, [images.length, side, side, 1]);
}

/** Class probabilities for images, in batches. */
export async function predict(model: tf.LayersModel, images: readonly Float32Array[], side: number, batchSize = 256): Promise<Float32Array[]> {
  const out: Float32Array[] = [];
  for (let start = 0; start < images.length; start += batchSize) {
    const x = batchTensor(images.slice(start, start + batchSize), side);
    const y = model.predict(x) as tf.Tensor2D;
    const data = (await y.data()) as Float32Array;
    const classes = y.shape[1];
    for (let i = 0; i < y.shape[0]; i++) out.push(data.slice(i * classes, (i + 1) * classes));
    x.dispose();
    y.dispose();
  }
  return out;
}

export const argmax = (p: ArrayLike<number>): number => {
  let best = 0;
  for (let i = 1; i < p.length; i++) if (p[i]! > p[best]!) best = i;
  return best;
};
