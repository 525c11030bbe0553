/**
 * Two promises of the recipe that no other test would notice if they were broken: evaluation
 * uses the moving averages (the tutorial's central idea), and the ReLU passes no gradient where
 * its input is exactly 0 (TensorFlow's convention). Both engines are checked: the one-thread
 * step and the step split across worker threads, which computes its own gradients.
 */
import * as tf from '@tensorflow/tfjs';
import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import { setupBackend } from '../../src/engine/backend';
import { loadMnist, sliceDataSet, type DataSet, type MnistData } from '../../src/data/mnist';
import { Trainer } from '../../src/train/trainer';
import { type TrainerState } from '../../src/engine/step-engine';

let data: MnistData;

before(async () => {
  await setupBackend('wasm');
  data = await loadMnist();
});

/** Accuracy on `set` of the network given by plain arrays (784-500-10, ReLU), computed here. */
function accuracyOf(values: TrainerState['params'], set: DataSet): number {
  return tf.tidy(() => {
    const x = tf.tensor2d(set.images, [set.count, set.imageSize]);
    const hidden = tf.relu(
      tf.add(tf.matMul(x, tf.tensor2d(values.weights1!, [set.imageSize, 500])), tf.tensor1d(values.biases1!)),
    );
    const logits = tf.add(tf.matMul(hidden, tf.tensor2d(values.weights2!, [500, 10])), tf.tensor1d(values.biases2!));
    const predicted = tf.argMax(logits, 1).dataSync();
    let correct = 0;
    for (let i = 0; i < set.count; i++) if (predicted[i] === set.labels[i]) correct++;
    return correct / set.count;
  });
}

for (const workers of [1, 2]) {
  describe(`evaluation (${workers === 1 ? 'one-thread step' : 'step split across 2 workers'})`, () => {
    it('uses the moving averages, not the live parameters', async () => {
      const trainer = new Trainer(data, { config: { trainingSteps: 100 }, workers });
      try {
        await trainer.run();
        const state = trainer.state();
        const evaluation = trainer.evaluate();
        const averaged = {
          validation: accuracyOf(state.averages, data.validation),
          test: accuracyOf(state.averages, data.test),
        };
        const live = {
          validation: accuracyOf(state.params, data.validation),
          test: accuracyOf(state.params, data.test),
        };
        assert.equal(evaluation.validationAccuracy, averaged.validation);
        assert.equal(evaluation.testAccuracy, averaged.test);
        // After 100 steps the two models differ by more than a point: the check can tell them apart.
        assert.ok(
          Math.abs(live.validation - averaged.validation) > 0.005,
          `live ${live.validation} vs averaged ${averaged.validation}`,
        );
      } finally {
        trainer.dispose();
      }
    });

    it('uses the live parameters when useMovingAverage is false', async () => {
      const trainer = new Trainer(data, { config: { trainingSteps: 100, useMovingAverage: false }, workers });
      try {
        await trainer.run();
        const evaluation = trainer.evaluate();
        assert.equal(evaluation.validationAccuracy, accuracyOf(trainer.state().params, data.validation));
      } finally {
        trainer.dispose();
      }
    });

    it('passes no gradient through a ReLU whose input is exactly 0', async () => {
      // Blank images and zero hidden biases make every hidden unit's input exactly 0: the hidden
      // biases (the only parameters that gradient reaches, as the weights multiply zeros) must
      // not move. A ReLU that passed the gradient at 0 would move them.
      const blank = (set: DataSet): DataSet => ({ ...set, images: new Float32Array(set.images.length) });
      const zeros: MnistData = {
        train: blank(sliceDataSet(data.train, 0, 1000)),
        validation: blank(sliceDataSet(data.validation, 0, 100)),
        test: blank(sliceDataSet(data.test, 0, 100)),
        description: 'blank images',
      };
      const fresh = new Trainer(zeros, { config: { trainingSteps: 5 }, workers: 1 });
      const state = fresh.state();
      fresh.dispose();
      state.params.biases1 = new Float32Array(500);
      state.averages.biases1 = new Float32Array(500);
      const trainer = new Trainer(zeros, { resume: state, workers });
      try {
        for (let i = 0; i < 5; i++) trainer.step();
        const after = trainer.state();
        assert.ok(
          after.params.biases1!.every((v) => v === 0),
          'the hidden biases moved: the ReLU passed a gradient at 0',
        );
        // The output biases did learn, so the steps did run.
        assert.ok(after.params.biases2!.some((v, i) => v !== state.params.biases2![i]));
      } finally {
        trainer.dispose();
      }
    });
  });
}
