import * as tf from '@tensorflow/tfjs';
import onnxProto from 'onnx-proto';
import { LAYERS, type ModelMeta } from './tiny-cnn';

/**
 * tiny_cnn as an ONNX graph (opset ≥ 13, IR 8), written from the trained weights with onnx-proto. The
 * graph takes the same NHWC input as the TensorFlow.js model and answers class probabilities:
 * Transpose → (Conv → Relu → MaxPool) × 2 → Transpose back (so Flatten sees NHWC order, as the dense
 * kernel expects) → Gemm → Relu → Gemm → Softmax. The class labels ride along as metadata.
 */
const { onnx } = onnxProto;
const A = onnx.AttributeProto.AttributeType;

const ints = (name: string, values: number[]) => ({ name, type: A.INTS, ints: values });
const int = (name: string, value: number) => ({ name, type: A.INT, i: value });

function initializer(name: string, tensor: tf.Tensor): onnxProto.onnx.ITensorProto {
  return { name, dims: tensor.shape, dataType: onnx.TensorProto.DataType.FLOAT, rawData: new Uint8Array((tensor.dataSync() as Float32Array).slice().buffer) };
}

function weightsOf(model: tf.LayersModel, layer: string): [tf.Tensor, tf.Tensor] {
  const [kernel, bias] = model.getLayer(layer).getWeights();
  return [kernel!, bias!];
}

export function tinyCnnToOnnx(model: tf.LayersModel, meta: ModelMeta, opset = 13): Uint8Array {
  const side = meta.image_size;
  const classes = meta.labels.length;
  const initializers: onnxProto.onnx.ITensorProto[] = [];
  {
    const list = initializers;
    for (const conv of [LAYERS.conv1, LAYERS.conv2]) {
      const [kernel, bias] = weightsOf(model, conv);
      // TensorFlow.js keeps [kh, kw, in, out]; ONNX wants [out, in, kh, kw].
      const transposed = tf.transpose(kernel, [3, 2, 0, 1]);
      list.push(initializer(`${conv}.weight`, transposed), initializer(`${conv}.bias`, bias));
      transposed.dispose();
    }
    for (const dense of [LAYERS.dense, LAYERS.logits]) {
      const [kernel, bias] = weightsOf(model, dense);
      list.push(initializer(`${dense}.weight`, kernel), initializer(`${dense}.bias`, bias));
    }
  }
  const convNodes = (layer: string, input: string, pool: string) => [
    { opType: 'Conv', name: layer, input: [input, `${layer}.weight`, `${layer}.bias`], output: [`${layer}.out`], attribute: [ints('kernel_shape', [3, 3]), ints('pads', [1, 1, 1, 1]), ints('strides', [1, 1])] },
    { opType: 'Relu', name: `${layer}.relu`, input: [`${layer}.out`], output: [`${layer}.relu`] },
    { opType: 'MaxPool', name: pool, input: [`${layer}.relu`], output: [`${pool}.out`], attribute: [ints('kernel_shape', [2, 2]), ints('strides', [2, 2])] },
  ];
  const graph: onnxProto.onnx.IGraphProto = {
    name: 'tiny_cnn',
    node: [
      { opType: 'Transpose', name: 'to_nchw', input: ['image'], output: ['image.nchw'], attribute: [ints('perm', [0, 3, 1, 2])] },
      ...convNodes(LAYERS.conv1, 'image.nchw', LAYERS.pool1),
      ...convNodes(LAYERS.conv2, `${LAYERS.pool1}.out`, LAYERS.pool2),
      { opType: 'Transpose', name: 'to_nhwc', input: [`${LAYERS.pool2}.out`], output: ['features.nhwc'], attribute: [ints('perm', [0, 2, 3, 1])] },
      { opType: 'Flatten', name: LAYERS.flatten, input: ['features.nhwc'], output: ['features'], attribute: [int('axis', 1)] },
      { opType: 'Gemm', name: LAYERS.dense, input: ['features', `${LAYERS.dense}.weight`, `${LAYERS.dense}.bias`], output: [`${LAYERS.dense}.out`] },
      { opType: 'Relu', name: `${LAYERS.dense}.relu`, input: [`${LAYERS.dense}.out`], output: [`${LAYERS.dense}.relu`] },
      { opType: 'Gemm', name: LAYERS.logits, input: [`${LAYERS.dense}.relu`, `${LAYERS.logits}.weight`, `${LAYERS.logits}.bias`], output: ['logits'] },
      { opType: 'Softmax', name: 'softmax', input: ['logits'], output: ['probabilities'], attribute: [int('axis', -1)] },
    ],
    initializer: initializers,
    input: [valueInfo('image', [{ dimParam: 'N' }, { dimValue: side }, { dimValue: side }, { dimValue: 1 }])],
    output: [valueInfo('probabilities', [{ dimParam: 'N' }, { dimValue: classes }])],
  };
  const proto = onnx.ModelProto.create({
    irVersion: 8,
    producerName: 'trainyard',
    producerVersion: '1',
    opsetImport: [{ domain: '', version: opset }],
    graph,
    metadataProps: [
      { key: 'labels', value: JSON.stringify(meta.labels) },
      { key: 'image_size', value: String(side) },
      { key: 'input', value: meta.input },
      { key: 'network_arch', value: meta.network_arch },
      { key: 'job_id', value: meta.job_id },
    ],
  });
  return onnx.ModelProto.encode(proto).finish();
}

function valueInfo(name: string, dims: onnxProto.onnx.TensorShapeProto.IDimension[]): onnxProto.onnx.IValueInfoProto {
  return { name, type: { tensorType: { elemType: onnx.TensorProto.DataType.FLOAT, shape: { dim: dims } } } };
}
