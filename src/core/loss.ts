/**
 * The tutorial's objective and its gradients: the staircase learning rate, mean sparse softmax
 * cross-entropy plus L2 on the weights, and the gradients of that loss, by hand or by autodiff.
 *
 * The hand-derived backward pass is short for a two-layer network; the split step
 * (src/engine/split-worker.ts) composes the same pieces for its block of hidden units. Autodiff
 * gives the same numbers (a test checks it, and `gradientMode: 'autodiff'` keeps that path), but
 * its matrix products with transposed operands are about ten times slower on the wasm backend,
 * and it also computes the unused gradient of the input.
 */
import * as tf from '@tensorflow/tfjs';
import type { TrainingConfig } from './config';
import {
  dense,
  forward,
  hiddenForward,
  isWeight,
  paramList,
  type HiddenForward,
  type ParamName,
  type Params,
} from './model';

/** `exponential_decay(base, step, decaySteps, decay, staircase=True)`: `base * decay ^ floor(step / decaySteps)`. */
export function learningRateAt(config: TrainingConfig, step: number, decaySteps: number): number {
  return config.learningRateBase * config.learningRateDecay ** Math.floor(step / decaySteps);
}

/** Mean sparse softmax cross-entropy between `logits` and class indices `labels`. */
export function crossEntropyMean(logits: tf.Tensor2D, labels: tf.Tensor1D): tf.Scalar {
  return tf.tidy(() => tf.losses.softmaxCrossEntropy(tf.oneHot(labels, logits.shape[1]), logits) as tf.Scalar);
}

/** The L2 term on the weights (not the biases): `rate * (sum(W1^2) / 2 + sum(W2^2) / 2)`. */
export function l2Regularization(params: Params, rate: number): tf.Scalar {
  return tf.tidy(() => {
    let total: tf.Scalar = tf.scalar(0);
    for (const [name, v] of paramList(params)) {
      if (isWeight(name)) total = tf.add(total, tf.div(tf.sum(tf.square(v)), 2));
    }
    return tf.mul(total, rate);
  });
}

/** The tutorial's `loss`: mean cross-entropy of the live model plus the L2 term. */
export function totalLoss(params: Params, config: TrainingConfig, images: tf.Tensor2D, labels: tf.Tensor1D): tf.Scalar {
  return tf.tidy(() =>
    tf.add(
      crossEntropyMean(forward(images, params, null, config.activation), labels),
      l2Regularization(params, config.regularizationRate),
    ),
  );
}

/** How gradients are computed: hand-derived formulas (fast) or TensorFlow.js autodiff. */
export type GradientMode = 'manual' | 'autodiff';

/** The gradients of one training step, with the batch's losses. */
export interface Gradients {
  /** Mean cross-entropy on the batch (scalar tensor). */
  crossEntropy: tf.Scalar;
  /** Gradient of the total loss (cross-entropy + L2) for each parameter. */
  grads: Map<ParamName, tf.Tensor>;
}

/** The gradient of the mean cross-entropy with respect to the logits, with that mean. */
export interface OutputGradient {
  /** Mean cross-entropy on the batch (scalar tensor). */
  crossEntropy: tf.Scalar;
  /** `(softmax(logits) - onehot(labels)) / batch`. */
  dLogits: tf.Tensor2D;
}

/** Mean sparse softmax cross-entropy of `logits` and its gradient. Call inside `tf.tidy`. */
export function outputGradient(logits: tf.Tensor2D, labels: tf.Tensor1D): OutputGradient {
  const batch = logits.shape[0];
  // An int32 one-hot made float: a float32 `oneHot` on wasm holds int32 bit patterns (1 reads as 1.4e-45).
  const oneHot = tf.cast(tf.oneHot(labels, logits.shape[1]), 'float32');
  const logProbs = tf.logSoftmax(logits);
  const crossEntropy = tf.div(tf.neg(tf.sum(tf.mul(oneHot, logProbs))), batch) as tf.Scalar;
  const dLogits = tf.div(tf.sub(tf.exp(logProbs), oneHot), batch) as tf.Tensor2D;
  return { crossEntropy, dLogits };
}

/**
 * `outputGradient` on plain arrays, for the split step, whose logits are summed from every
 * worker's part on the JavaScript side: row-major `logits` [rows, classes] (float32 values),
 * computed in double precision. Writes `dLogits` (float32, like the tensor's) and adds each row's
 * to `dBiases` (the output bias's gradient, summed in row order); returns the mean cross-entropy.
 */
export function outputGradientRows(
  logits: Float64Array,
  labels: ArrayLike<number>,
  dLogits: Float32Array,
  dBiases: Float64Array,
): number {
  const classes = dBiases.length;
  const rows = labels.length;
  let crossEntropy = 0;
  for (let row = 0; row < rows; row++) {
    const base = row * classes;
    let max = -Infinity;
    for (let j = 0; j < classes; j++) max = Math.max(max, logits[base + j]);
    let sum = 0;
    for (let j = 0; j < classes; j++) sum += Math.exp(logits[base + j] - max);
    const logSum = max + Math.log(sum);
    const label = labels[row];
    crossEntropy -= logits[base + label] - logSum;
    for (let j = 0; j < classes; j++) {
      dLogits[base + j] = (Math.exp(logits[base + j] - logSum) - (j === label ? 1 : 0)) / rows;
      dBiases[j] += dLogits[base + j];
    }
  }
  return crossEntropy / rows;
}

/**
 * A dense layer's weight gradient from its output's: `x^T dOut`, plus the L2 term's `rate * W`.
 * The explicit transpose: matMul's transpose flags take a path about ten times slower on wasm.
 */
function weightGradient(input: tf.Tensor2D, dOut: tf.Tensor2D, weights: tf.Tensor, rate: number): tf.Tensor {
  const g = tf.matMul(tf.transpose(input), dOut);
  return rate === 0 ? g : tf.add(g, tf.mul(weights, rate));
}

/** The gradients of the hidden layer's parameters, or of one worker's block of its units. */
export interface HiddenGradients {
  /** The block's rows of `weights2`. */
  weights2: tf.Tensor;
  /** The block's columns of `weights1` and `biases1`. */
  weights1: tf.Tensor;
  biases1: tf.Tensor;
}

/**
 * The backward pass through a block of hidden units (all of them, or a split worker's), from the
 * logits' gradient: L2 included, no gradient for the input. Call inside `tf.tidy`.
 */
export function hiddenBackward(
  images: tf.Tensor2D,
  forward: HiddenForward,
  dLogits: tf.Tensor2D,
  weights: { weights1: tf.Tensor; weights2: tf.Tensor },
  config: Pick<TrainingConfig, 'activation' | 'regularizationRate'>,
): HiddenGradients {
  const rate = config.regularizationRate;
  const weights2 = weightGradient(forward.hidden, dLogits, weights.weights2, rate);
  const dHidden = tf.matMul<tf.Tensor2D>(dLogits, tf.transpose(weights.weights2));
  // ReLU passes the gradient where its input was positive (TensorFlow's convention at 0).
  const dZ1 = config.activation === 'relu' ? tf.mul<tf.Tensor2D>(dHidden, tf.step(forward.z1)) : dHidden;
  return { weights2, weights1: weightGradient(images, dZ1, weights.weights1, rate), biases1: tf.sum(dZ1, 0) };
}

/** Gradients by the hand-derived backward pass of the two-layer network. Call inside `tf.tidy`. */
export function manualGradients(
  params: Params,
  config: TrainingConfig,
  images: tf.Tensor2D,
  labels: tf.Tensor1D,
): Gradients {
  const { weights1, biases1, weights2, biases2 } = params;
  const grads = new Map<ParamName, tf.Tensor>();
  if (weights2 === null || biases2 === null) {
    const { crossEntropy, dLogits } = outputGradient(dense(images, weights1, biases1), labels);
    grads.set('weights1', weightGradient(images, dLogits, weights1, config.regularizationRate));
    grads.set('biases1', tf.sum(dLogits, 0));
    return { crossEntropy, grads };
  }
  const hidden = hiddenForward(images, weights1, biases1, config.activation);
  const { crossEntropy, dLogits } = outputGradient(dense(hidden.hidden, weights2, biases2), labels);
  const block = hiddenBackward(images, hidden, dLogits, { weights1, weights2 }, config);
  // The order of the records' gradients (and of their sums).
  grads.set('weights2', block.weights2);
  grads.set('biases2', tf.sum(dLogits, 0));
  grads.set('weights1', block.weights1);
  grads.set('biases1', block.biases1);
  return { crossEntropy, grads };
}

/** Gradients by TensorFlow.js autodiff of `totalLoss` (the straightforward way). Call inside `tf.tidy`. */
export function autodiffGradients(
  params: Params,
  config: TrainingConfig,
  images: tf.Tensor2D,
  labels: tf.Tensor1D,
): Gradients {
  const variables = paramList(params);
  let kept: tf.Scalar | null = null;
  const { grads } = tf.variableGrads(
    () => {
      kept = tf.keep(crossEntropyMean(forward(images, params, null, config.activation), labels));
      return tf.add(kept, l2Regularization(params, config.regularizationRate));
    },
    variables.map(([, v]) => v),
  );
  // A kept tensor escapes every tidy: hand the caller's tidy a tracked copy instead.
  const crossEntropy = tf.clone(kept!) as tf.Scalar;
  (kept as tf.Scalar | null)?.dispose();
  return { crossEntropy, grads: new Map(variables.map(([name, v]) => [name, grads[v.name]])) };
}
