/**
 * The pieces of the hand-derived backward pass that the one-thread step (`manualGradients`) and
 * the split step's workers compose. (Their agreement with autodiff: test/train/trainer.test.ts.)
 */
import * as tf from '@tensorflow/tfjs';
import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import { setupBackend } from '../../src/engine/backend';
import { makeConfig, type Activation } from '../../src/core/config';
import { hiddenForward } from '../../src/core/model';
import {
  crossEntropyMean,
  hiddenBackward,
  manualGradients,
  outputGradient,
  outputGradientRows,
} from '../../src/core/loss';
import { maxAbs, maxAbsDiff } from '../helpers/arrays';

before(async () => {
  await setupBackend('wasm');
});

function assertClose(actual: ArrayLike<number>, expected: ArrayLike<number>, what: string): void {
  const diff = maxAbsDiff(actual, expected);
  assert.ok(diff <= 1e-6 * Math.max(1, maxAbs(expected)), `${what}: differs by ${diff}`);
}

describe('outputGradient', () => {
  it('is the mean cross-entropy and (softmax - onehot) / batch, with a one-hot of ones on wasm', () => {
    tf.tidy(() => {
      const logits = tf.tensor2d([
        [0, 0, 0],
        [Math.log(3), 0, 0],
      ]);
      const labels = tf.tensor1d([0, 1], 'int32');
      const { crossEntropy, dLogits } = outputGradient(logits, labels);
      assertClose(crossEntropy.dataSync(), crossEntropyMean(logits, labels).dataSync(), 'cross-entropy');
      // Row 2: softmax [3/5, 1/5, 1/5], label 1.
      assertClose(dLogits.dataSync(), [(1 / 3 - 1) / 2, 1 / 6, 1 / 6, 3 / 10, (1 / 5 - 1) / 2, 1 / 10], 'dLogits');
    });
  });

  it('on plain arrays (the split step) agrees with the tensors, and sums the bias gradient over rows', () => {
    const rows = 16;
    const classes = 10;
    const values = tf.tidy(() => tf.randomNormal([rows, classes], 0, 3, 'float32', 7).dataSync() as Float32Array);
    const labels = Int32Array.from({ length: rows }, (_, i) => (i * 7) % classes);
    const dLogits = new Float32Array(rows * classes);
    const dBiases = new Float64Array(classes);
    const crossEntropy = outputGradientRows(Float64Array.from(values), labels, dLogits, dBiases);
    tf.tidy(() => {
      const expected = outputGradient(tf.tensor2d(values, [rows, classes]), tf.tensor1d(labels, 'int32'));
      assertClose([crossEntropy], expected.crossEntropy.dataSync(), 'cross-entropy');
      assertClose(dLogits, expected.dLogits.dataSync(), 'dLogits');
      assertClose(dBiases, tf.sum(expected.dLogits, 0).dataSync(), 'bias gradient');
    });
  });
});

describe('a block of hidden units', () => {
  for (const activation of ['relu', 'linear'] as Activation[]) {
    it(`has the columns of the whole layer's forward pass and gradients (${activation})`, () => {
      const config = makeConfig({ inputNode: 6, layer1Node: 5, outputNode: 4, regularizationRate: 0.1, activation });
      const [first, end] = [1, 4];
      tf.tidy(() => {
        const images = tf.randomUniform([8, 6], 0, 1, 'float32', 1) as tf.Tensor2D;
        const labels = tf.tensor1d([0, 1, 2, 3, 3, 2, 1, 0], 'int32');
        const params = {
          weights1: tf.variable(tf.randomNormal([6, 5], 0, 1, 'float32', 2)),
          // Around 0, so that ReLU cuts off some units.
          biases1: tf.variable(tf.randomUniform([5], -1, 1, 'float32', 3)),
          weights2: tf.variable(tf.randomNormal([5, 4], 0, 1, 'float32', 4)),
          biases2: tf.variable(tf.zeros([4])),
        };
        const whole = manualGradients(params, config, images, labels);
        const columns = (t: tf.Tensor) => tf.slice(t, [0, first], [-1, end - first]) as tf.Tensor2D;
        const rowsOf = (t: tf.Tensor) => tf.slice(t, [first, 0], [end - first, -1]) as tf.Tensor2D;
        const block = {
          weights1: columns(params.weights1),
          biases1: tf.slice(params.biases1, first, end - first),
          weights2: rowsOf(params.weights2),
        };
        const forward = hiddenForward(images, block.weights1, block.biases1, activation);
        const full = hiddenForward(images, params.weights1, params.biases1, activation);
        assertClose(forward.hidden.dataSync(), columns(full.hidden).dataSync(), 'hidden');
        const logits = tf.add(tf.matMul(full.hidden, params.weights2), params.biases2) as tf.Tensor2D;
        const { dLogits } = outputGradient(logits, labels);
        const grads = hiddenBackward(images, forward, dLogits, block, config);
        assertClose(grads.weights1.dataSync(), columns(whole.grads.get('weights1')!).dataSync(), 'weights1');
        assertClose(
          grads.biases1.dataSync(),
          tf.slice(whole.grads.get('biases1')!, first, end - first).dataSync(),
          'biases1',
        );
        assertClose(grads.weights2.dataSync(), rowsOf(whole.grads.get('weights2')!).dataSync(), 'weights2');
        tf.dispose(Object.values(params));
      });
    });
  }
});
