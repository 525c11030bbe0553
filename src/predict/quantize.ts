/**
 * The network in 8 bits, for the drawing widget's page: each weight matrix as signed bytes with
 * one scale per column (output unit), biases as float32. About a quarter of the float32 size,
 * and the test accuracy barely moves (`quantizationAccuracy` measures it).
 */
import * as tf from '@tensorflow/tfjs';
import type { Activation } from '../core/config';
import type { DataSet } from '../data/mnist';
import { disposeParams, type Params } from '../core/model';
import { matrixAccuracy, confusionMatrix, predict, predictedClasses } from './predict';
import type { RunModel } from '../store/run-model';

/** One dense layer: `weights[i * cols + j]` is `values[i * cols + j] * scales[j]`. */
export interface QuantizedLayer {
  rows: number;
  cols: number;
  values: Int8Array;
  scales: Float32Array;
  biases: Float32Array;
}

/** A network of one or two dense layers, quantised. */
export interface QuantizedModel {
  /** The hidden layer's activation (none without a hidden layer). */
  activation: Activation;
  layers: QuantizedLayer[];
}

/** A layer with its weights back in floats, as the page and `quantizedForward` use it. */
export interface DenseLayer {
  rows: number;
  cols: number;
  weights: Float32Array;
  biases: Float32Array;
}

function isRunModel(model: Params | RunModel): model is RunModel {
  return 'evaluated' in model && 'config' in model;
}

/**
 * The parameters and activation a widget or a test should use: a run's evaluated ones (the moving averages when used).
 */
export function modelParams(
  model: Params | RunModel,
  activation?: Activation,
): { params: Params; activation: Activation } {
  if (isRunModel(model)) return { params: model.evaluated, activation: activation ?? model.config.activation };
  return { params: model, activation: activation ?? 'relu' };
}

/** Quantises a weight matrix (row-major, `rows` x `cols`) to signed bytes with one scale per column. */
export function quantizeLayer(weights: Float32Array, biases: Float32Array, rows: number, cols: number): QuantizedLayer {
  if (weights.length !== rows * cols)
    throw new Error(`quantizeLayer: a ${rows} x ${cols} matrix needs ${rows * cols} weights, got ${weights.length}`);
  if (biases.length !== cols)
    throw new Error(`quantizeLayer: ${cols} columns need ${cols} biases, got ${biases.length}`);
  const scales = new Float32Array(cols);
  for (let i = 0; i < rows; i++) {
    for (let j = 0; j < cols; j++) scales[j] = Math.max(scales[j], Math.abs(weights[i * cols + j]));
  }
  for (let j = 0; j < cols; j++) {
    if (!Number.isFinite(scales[j])) throw new Error(`quantizeLayer: column ${j} holds a weight that is not finite`);
    // An all-zero column: any scale gives zeros.
    scales[j] = scales[j] > 0 ? scales[j] / 127 : 1;
  }
  const values = new Int8Array(rows * cols);
  for (let i = 0; i < rows; i++) {
    for (let j = 0; j < cols; j++) values[i * cols + j] = Math.round(weights[i * cols + j] / scales[j]);
  }
  return { rows, cols, values, scales, biases: biases.slice() };
}

/** Quantises a network's parameters (a run's evaluated ones: the moving averages when it used them). */
export function quantizeModel(model: Params | RunModel, activation?: Activation): QuantizedModel {
  const { params, activation: act } = modelParams(model, activation);
  const layer = (w: tf.Variable, b: tf.Variable) =>
    quantizeLayer(w.dataSync() as Float32Array, b.dataSync() as Float32Array, w.shape[0] ?? 0, w.shape[1] ?? 0);
  const layers = [layer(params.weights1, params.biases1)];
  if (params.weights2 !== null && params.biases2 !== null) layers.push(layer(params.weights2, params.biases2));
  return { activation: act, layers };
}

/** The weights back in floats: `values * scale` per column. */
export function dequantizeLayer(layer: {
  rows: number;
  cols: number;
  values: Int8Array;
  scales: Float32Array;
  biases: Float32Array;
}): { rows: number; cols: number; weights: Float32Array; biases: Float32Array } {
  const weights = new Float32Array(layer.rows * layer.cols);
  for (let i = 0; i < layer.rows; i++) {
    for (let j = 0; j < layer.cols; j++)
      weights[i * layer.cols + j] = layer.values[i * layer.cols + j] * layer.scales[j];
  }
  return { rows: layer.rows, cols: layer.cols, weights, biases: layer.biases };
}

/**
 * Class probabilities of one input (softmax of the logits) in plain JavaScript. No imports: the
 * widget's page runs this same function (see `quantizedForwardSource`).
 */
export function quantizedForward(
  model: { activation: string; layers: { rows: number; cols: number; weights: Float32Array; biases: Float32Array }[] },
  input: ArrayLike<number>,
): number[] {
  let x: ArrayLike<number> = input;
  for (let l = 0; l < model.layers.length; l++) {
    const { rows, cols, weights, biases } = model.layers[l];
    const out = new Float64Array(cols);
    for (let j = 0; j < cols; j++) out[j] = biases[j];
    for (let i = 0; i < rows; i++) {
      const v = x[i];
      // A drawn digit is mostly background: skip its zeros.
      if (v === 0) continue;
      const base = i * cols;
      for (let j = 0; j < cols; j++) out[j] += v * weights[base + j];
    }
    if (l < model.layers.length - 1 && model.activation === 'relu')
      for (let j = 0; j < cols; j++) out[j] = Math.max(0, out[j]);
    x = out;
  }
  let max = Number.NEGATIVE_INFINITY;
  for (let j = 0; j < x.length; j++) max = Math.max(max, x[j]);
  const exp = Array.from(x, (v) => Math.exp(v - max));
  const sum = exp.reduce((a, b) => a + b, 0);
  return exp.map((v) => v / sum);
}

/** The source of `dequantizeLayer` and `quantizedForward`, for the page. */
export function quantizedForwardSource(): string {
  return [dequantizeLayer, quantizedForward].map((fn) => fn.toString()).join('\n');
}

/** The network with its weights dequantised, as tensors for `predict`; dispose them. */
export function dequantizedParams(q: QuantizedModel): Params {
  const [first, second] = q.layers.map(dequantizeLayer);
  const variable = (values: Float32Array, shape: number[]) =>
    tf.tidy(() => tf.variable(tf.tensor(values, shape), false));
  return {
    weights1: variable(first.weights, [first.rows, first.cols]),
    biases1: variable(first.biases, [first.cols]),
    weights2: second === undefined ? null : variable(second.weights, [second.rows, second.cols]),
    biases2: second === undefined ? null : variable(second.biases, [second.cols]),
  };
}

/** What 8-bit weights cost: accuracy with float32 and 8-bit weights, and how many predictions change. */
export interface QuantizationAccuracy {
  /** Accuracy with the float32 parameters. */
  full: number;
  /** Accuracy with the 8-bit ones. */
  quantized: number;
  /** Images whose predicted class differs between the two. */
  changedPredictions: number;
  /** Largest absolute difference of a class probability between the two, over all images. */
  maxProbabilityDifference: number;
  count: number;
}

/** What the 8-bit weights cost: accuracy on `data` (e.g. the test set) with and without quantisation. */
export function quantizationAccuracy(
  model: Params | RunModel,
  data: DataSet,
  activation?: Activation,
): QuantizationAccuracy {
  const { params, activation: act } = modelParams(model, activation);
  const full = predict(params, data.images, data.count, act);
  const dequantized = dequantizedParams(quantizeModel(params, act));
  let quantized: number[][];
  try {
    quantized = predict(dequantized, data.images, data.count, act);
  } finally {
    disposeParams(dequantized);
  }
  const fullClasses = predictedClasses(full);
  const quantizedClasses = predictedClasses(quantized);
  let changed = 0;
  let maxDiff = 0;
  full.forEach((row, i) => {
    if (fullClasses[i] !== quantizedClasses[i]) changed++;
    row.forEach((p, c) => (maxDiff = Math.max(maxDiff, Math.abs(p - quantized[i][c]))));
  });
  return {
    full: matrixAccuracy(confusionMatrix(data.labels, fullClasses, data.numClasses)),
    quantized: matrixAccuracy(confusionMatrix(data.labels, quantizedClasses, data.numClasses)),
    changedPredictions: changed,
    maxProbabilityDifference: maxDiff,
    count: data.count,
  };
}
