/**
 * The tutorial's objective and its gradients: the staircase learning rate, mean sparse softmax
 * cross-entropy plus L2 on the weights, and the gradients of that loss, by hand or by autodiff.
 *
 * The hand-derived backward pass is short for a two-layer network. Autodiff gives the same numbers
 * (a test checks it, and `gradientMode: 'autodiff'` keeps that path), but its matrix products with
 * transposed operands are about ten times slower on the wasm backend, and it also computes the
 * unused gradient of the input.
 */
import * as tf from '@tensorflow/tfjs';
import type { TrainingConfig } from './config';
import { forward, isWeight, paramList, type ParamName, type Params } from './model';

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

/** Gradients by the hand-derived backward pass of the two-layer network. Call inside `tf.tidy`. */
export function manualGradients(
  params: Params,
  config: TrainingConfig,
  images: tf.Tensor2D,
  labels: tf.Tensor1D,
): Gradients {
  const batch = images.shape[0];
  const oneHot = tf.oneHot(labels, config.outputNode);
  const { weights1, biases1, weights2, biases2 } = params;
  // Forward, keeping what the backward pass needs.
  const z1 = tf.add(tf.matMul(images, weights1), biases1) as tf.Tensor2D;
  const hidden = weights2 === null ? null : config.activation === 'relu' ? tf.relu(z1) : z1;
  const logits = hidden === null ? z1 : (tf.add(tf.matMul(hidden, weights2!), biases2!) as tf.Tensor2D);
  const logProbs = tf.logSoftmax(logits);
  const crossEntropy = tf.div(tf.neg(tf.sum(tf.mul(oneHot, logProbs))), batch) as tf.Scalar;
  // d(mean CE)/d(logits) = (softmax - onehot) / batch.
  const dLogits = tf.div(tf.sub(tf.exp(logProbs), oneHot), batch) as tf.Tensor2D;
  // Explicit transposes: matMul's transpose flags take a slow path on wasm.
  const transposedImages = () => tf.transpose(images);
  const grads = new Map<ParamName, tf.Tensor>();
  const withL2 = (g: tf.Tensor, w: tf.Variable) =>
    config.regularizationRate === 0 ? g : tf.add(g, tf.mul(w, config.regularizationRate));
  if (hidden === null) {
    grads.set('weights1', withL2(tf.matMul(transposedImages(), dLogits), weights1));
    grads.set('biases1', tf.sum(dLogits, 0));
    return { crossEntropy, grads };
  }
  grads.set('weights2', withL2(tf.matMul(tf.transpose(hidden), dLogits), weights2!));
  grads.set('biases2', tf.sum(dLogits, 0));
  const dHidden = tf.matMul(dLogits, tf.transpose(weights2!));
  // ReLU passes the gradient where its input was positive (TensorFlow's convention at 0).
  const dZ1 = config.activation === 'relu' ? tf.mul(dHidden, tf.step(z1)) : dHidden;
  grads.set('weights1', withL2(tf.matMul(transposedImages(), dZ1), weights1));
  grads.set('biases1', tf.sum(dZ1, 0));
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
