import * as tf from '@tensorflow/tfjs';
import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import { setupBackend } from '../../src/engine/backend';
import { makeConfig, type TrainingConfig } from '../../src/core/config';
import { BatchSampler, loadMnist, sliceDataSet, type MnistData } from '../../src/data/mnist';
import { createParams, type AverageClass, type Params } from '../../src/core/model';
import { compareWithPackage, type Difference, type TutorialCode } from '../../src/notebook/walkthrough';

let data: MnistData;

before(async () => {
  await setupBackend('wasm');
  const full = await loadMnist();
  data = {
    train: sliceDataSet(full.train, 0, 500),
    validation: sliceDataSet(full.validation, 0, 100),
    test: sliceDataSet(full.test, 0, 100),
    description: 'MNIST, a slice',
  };
});

const config: TrainingConfig = makeConfig({ layer1Node: 32, batchSize: 20, trainingSteps: 100 });
const TOLERANCE = 1e-5;

/**
 * The tutorial's code written out as a notebook writes it (independently of the package's
 * step), with switches that break it the way a reader's edit would.
 */
function tutorialCode(
  breakage: { activation?: 'relu' | 'sigmoid'; warmUp?: boolean; learningRateScale?: number } = {},
) {
  const params = createParams(config);
  const variables = [params.weights1, params.biases1, params.weights2!, params.biases2!];
  const shadows = new Map(variables.map((v) => [v, tf.variable(v.clone(), false)]));
  const average: AverageClass = { average: (v) => shadows.get(v)! };
  let globalStep = 0;
  const inference: TutorialCode['inference'] = (input, avgClass, w1, b1, w2, b2) =>
    tf.tidy(() => {
      const value = (v: tf.Variable) => (avgClass === null ? v : avgClass.average(v));
      const z = tf.add(tf.matMul(input, value(w1)), value(b1));
      const hidden = breakage.activation === 'sigmoid' ? tf.sigmoid(z) : tf.relu(z);
      return tf.add(tf.matMul(hidden, value(w2)), value(b2)) as tf.Tensor2D;
    });
  const loss = (images: tf.Tensor2D, labels: tf.Tensor1D) =>
    tf.tidy(() => {
      const logits = inference(images, null, variables[0], variables[1], variables[2], variables[3]);
      const crossEntropy = tf.mean(tf.neg(tf.sum(tf.mul(tf.oneHot(labels, 10), tf.logSoftmax(logits)), 1)));
      const l2 = tf.mul(
        config.regularizationRate,
        tf.add(tf.div(tf.sum(tf.square(variables[0])), 2), tf.div(tf.sum(tf.square(variables[2])), 2)),
      );
      return tf.add(crossEntropy, l2) as tf.Scalar;
    });
  const trainStep = (images: tf.Tensor2D, labels: tf.Tensor1D) => {
    const rate =
      config.learningRateBase *
      config.learningRateDecay ** Math.floor(globalStep / (data.train.count / config.batchSize)) *
      (breakage.learningRateScale ?? 1);
    tf.tidy(() => {
      const { grads } = tf.variableGrads(() => loss(images, labels), variables);
      for (const v of variables) v.assign(tf.sub(v, tf.mul(grads[v.name], rate)));
      const d =
        breakage.warmUp === false
          ? config.movingAverageDecay
          : Math.min(config.movingAverageDecay, (1 + globalStep) / (10 + globalStep));
      for (const [v, shadow] of shadows) shadow.assign(tf.add(tf.mul(shadow, d), tf.mul(v, 1 - d)));
    });
    globalStep++;
  };
  const code: TutorialCode = { params, average, globalStep: () => globalStep, inference, loss, trainStep };
  const dispose = () => tf.dispose([...variables, ...shadows.values()]);
  return { code, dispose };
}

/** Trains `code` for `steps` on the sampler's batches, then compares it with the package. */
function trainThenCompare(code: TutorialCode, steps: number, workers = 1): Difference[] {
  const sampler = new BatchSampler(data.train, config.seed);
  for (let i = 0; i < steps; i++) {
    const batch = sampler.nextBatch(config.batchSize);
    tf.tidy(() => code.trainStep(tf.tensor2d(batch.images, [batch.size, 784]), tf.tensor1d(batch.labels, 'int32')));
  }
  return compareWithPackage(code, data, config, sampler.getState(), { backend: 'wasm', workers });
}

const worst = (differences: Difference[], match: RegExp) =>
  Math.max(...differences.filter((d) => match.test(d.quantity)).map((d) => d.maxAbsDifference));

describe('compareWithPackage', () => {
  it('finds the tutorial written out by hand equal to the package, quantity by quantity, without leaking tensors', () => {
    const { code, dispose } = tutorialCode();
    const before = tf.memory().numTensors;
    const differences = trainThenCompare(code, 30);
    assert.equal(tf.memory().numTensors, before, 'tensors left behind');
    assert.deepEqual(
      differences.map((d) => d.quantity),
      [
        'logits (moving averages)',
        'loss',
        'gradient of weights1',
        'gradient of biases1',
        'gradient of weights2',
        'gradient of biases2',
        'weights1 after one step',
        'biases1 after one step',
        'weights2 after one step',
        'biases2 after one step',
        'average of weights1 after one step',
        'average of biases1 after one step',
        'average of weights2 after one step',
        'average of biases2 after one step',
      ],
    );
    for (const d of differences)
      assert.ok(
        Number.isFinite(d.maxAbsDifference) && d.maxAbsDifference < TOLERANCE,
        `${d.quantity}: ${d.maxAbsDifference}`,
      );
    assert.equal(code.globalStep(), 31, 'the check takes one step of the notebook model');
    dispose();
  });

  it('agrees with the step split across worker threads too', () => {
    const { code, dispose } = tutorialCode();
    const differences = trainThenCompare(code, 5, 2);
    for (const d of differences) assert.ok(d.maxAbsDifference < TOLERANCE, `${d.quantity}: ${d.maxAbsDifference}`);
    dispose();
  });

  it('shows another activation in the forward pass, the loss and the gradients', () => {
    const { code, dispose } = tutorialCode({ activation: 'sigmoid' });
    const differences = trainThenCompare(code, 5);
    for (const what of [/^logits/, /^loss$/, /^gradient of weights1$/])
      assert.ok(worst(differences, what) > 1e-3, `${what}: ${worst(differences, what)}`);
    dispose();
  });

  it('shows a moving average without the warm-up in the averages only', () => {
    const { code, dispose } = tutorialCode({ warmUp: false });
    const differences = trainThenCompare(code, 5);
    assert.ok(worst(differences, /^average of/) > 1e-3, `averages: ${worst(differences, /^average of/)}`);
    assert.ok(
      worst(differences, /^(loss|gradient of|\w+ after one step)/) < TOLERANCE,
      'the live parameters still agree',
    );
    dispose();
  });

  it('shows a wrong learning rate in the parameters after the step', () => {
    const { code, dispose } = tutorialCode({ learningRateScale: 0.5 });
    const differences = trainThenCompare(code, 0);
    assert.ok(worst(differences, /^gradient of/) < TOLERANCE, 'same start, same gradients');
    assert.ok(
      worst(differences, /^weights\d after one step$/) > 1e-4,
      `weights: ${worst(differences, /^weights\d after one step$/)}`,
    );
    dispose();
  });

  it('says what is missing for a network without a second layer', () => {
    const { code, dispose } = tutorialCode();
    const linear: Params = { ...code.params, weights2: null, biases2: null };
    assert.throws(
      () =>
        compareWithPackage(
          { ...code, params: linear },
          data,
          config,
          new BatchSampler(data.train, config.seed).getState(),
        ),
      {
        message: 'the tutorial check needs the two-layer network: params.weights2 and params.biases2 are null',
      },
    );
    dispose();
  });
});
