/**
 * Native TensorFlow's ops by name: absent on other backends; on native TensorFlow (when
 * @tensorflow/tfjs-node loads here), `ReluGrad` gives what tfjs's `step` and `mul` give.
 */
import * as tf from '@tensorflow/tfjs';
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { setupBackend } from '../../src/engine/backend';
import { NativeOps } from '../../src/engine/native-ops';

function nativeLoads(): boolean {
  process.env.TF_CPP_MIN_LOG_LEVEL ??= '2';
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    require('@tensorflow/tfjs-node');
    return tf.findBackendFactory('tensorflow') !== null;
  } catch {
    return false;
  }
}

const skipNative =
  !nativeLoads() && process.env.CI !== 'true'
    ? 'native TensorFlow does not load: run scripts/setup-native-tf.sh'
    : false;

describe('NativeOps', () => {
  it('is null on wasm', async () => {
    await setupBackend('wasm');
    assert.equal(NativeOps.ofCurrentBackend(), null);
  });

  it(
    'gives ReluGrad on native TensorFlow: dy where the features are positive, else 0',
    { skip: skipNative },
    async () => {
      await setupBackend('tensorflow');
      const ops = NativeOps.ofCurrentBackend();
      assert.ok(ops !== null);
      const before = tf.memory().numTensors;
      const [got, expected] = tf.tidy(() => {
        const dy = tf.tensor2d([1.5, 2, 3, 4, -5, 6], [2, 3]);
        const features = tf.tensor2d([0.5, 0, -1, 2, 1e-30, -0], [2, 3]);
        return [ops.reluGrad(dy, features).arraySync(), tf.mul(dy, tf.step(features)).arraySync()];
      });
      assert.deepEqual(got, [
        [1.5, 0, 0],
        [4, -5, 0],
      ]);
      assert.deepEqual(got, expected);
      assert.equal(tf.memory().numTensors, before);
    },
  );
});
