import * as tf from '@tensorflow/tfjs';
import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import { setupBackend } from '../../src/engine/backend';
import { decodeCheckpoint, encodeCheckpoint } from '../../src/store/checkpoint';
import { makeConfig, type TrainingConfig } from '../../src/core/config';
import { loadMnist, sliceDataSet, type MnistData } from '../../src/data/mnist';
import type { History } from '../../src/core/history';
import { availableParallelism } from 'node:os';
import { createParams, disposeParams, paramList, type ParamName, type Params } from '../../src/core/model';
import { DIVERGENCE_CROSS_ENTROPY, DivergenceError } from '../../src/core/divergence';
import {
  autodiffGradients,
  crossEntropyMean,
  l2Regularization,
  learningRateAt,
  manualGradients,
  totalLoss,
} from '../../src/core/loss';
import { MIN_UNITS_PER_WORKER, defaultStepWorkers } from '../../src/engine/workers';
import { Trainer, train, type TrainingFailure } from '../../src/train/trainer';
import type { RunEvent } from '../../src/train/events';
import { renderEvent } from '../../src/train/messages';
import { type TrainerState } from '../../src/engine/step-engine';
import { maxAbs, maxAbsDiff } from '../helpers/arrays';

let data: MnistData;

before(async () => {
  await setupBackend('wasm');
  data = await loadMnist();
});

/**
 * A smaller problem for tests that are not about accuracy: 1,000 training images (with batches
 * of 64, batches cross epoch ends), 1,000 validation and 1,000 test images.
 */
function small(): MnistData {
  return {
    train: sliceDataSet(data.train, 0, 1000),
    validation: sliceDataSet(data.validation, 0, 1000),
    test: sliceDataSet(data.test, 0, 1000),
    description: 'MNIST, first 1,000 of each set',
  };
}

/** A history without what depends on the clock. */
function withoutWallTimes(history: History): unknown {
  const { startedAt: _s, finishedAt: _f, wallTimeSeconds: _w, ...rest } = history;
  return { ...rest, evaluations: history.evaluations.map(({ elapsedSeconds: _e, ...evaluation }) => evaluation) };
}

/** Asserts two sets of named arrays are equal within `tolerance`, relative to their scale. */
function assertCloseArrays(
  actual: Partial<Record<ParamName, Float32Array>>,
  expected: Partial<Record<ParamName, Float32Array>>,
  tolerance: number,
  what: string,
): void {
  assert.deepEqual(Object.keys(actual).sort(), Object.keys(expected).sort(), what);
  for (const name of Object.keys(expected) as ParamName[]) {
    const diff = maxAbsDiff(actual[name]!, expected[name]!);
    assert.ok(diff <= tolerance * Math.max(1, maxAbs(expected[name]!)), `${what} ${name}: differs by ${diff}`);
  }
}

function assertBitwiseEqual(
  actual: Partial<Record<ParamName, Float32Array>>,
  expected: Partial<Record<ParamName, Float32Array>>,
  what: string,
): void {
  assert.deepEqual(Object.keys(actual).sort(), Object.keys(expected).sort(), what);
  for (const name of Object.keys(expected) as ParamName[]) {
    assert.ok(
      Buffer.from(actual[name]!.buffer, actual[name]!.byteOffset, actual[name]!.byteLength).equals(
        Buffer.from(expected[name]!.buffer, expected[name]!.byteOffset, expected[name]!.byteLength),
      ),
      `${what} ${name} differs`,
    );
  }
}

describe('learning rate schedule', () => {
  const config = makeConfig();

  it('is 0.8 * 0.99^floor(step / 550), staircase', () => {
    assert.equal(learningRateAt(config, 0, 550), 0.8);
    assert.equal(learningRateAt(config, 549, 550), 0.8);
    assert.ok(Math.abs(learningRateAt(config, 550, 550) - 0.792) < 1e-12);
    assert.ok(Math.abs(learningRateAt(config, 1099, 550) - 0.792) < 1e-12);
    assert.ok(Math.abs(learningRateAt(config, 30000, 550) - 0.8 * 0.99 ** 54) < 1e-12);
  });

  it('decays once per epoch of the 55,000 training images', () => {
    const trainer = new Trainer(data, { config: { layer1Node: 1 } });
    assert.equal(trainer.decaySteps, 550);
    assert.equal(trainer.learningRate(0), 0.8);
    assert.ok(Math.abs(trainer.learningRate(550) - 0.792) < 1e-12);
    trainer.dispose();
  });

  it('follows decaySteps and a decay of 1', () => {
    assert.ok(Math.abs(learningRateAt(makeConfig({ decaySteps: 10 }), 25, 10) - 0.8 * 0.99 ** 2) < 1e-12);
    assert.equal(learningRateAt(makeConfig({ learningRateDecay: 1 }), 30000, 550), 0.8);
  });
});

describe('loss', () => {
  /** Variables with known values: W1 [[1, 2], [3, 4]], b1 [5, 5], W2 [[1, 1], [-1, -1]], b2 [7, 7]. */
  function knownParams(): Params {
    return tf.tidy(() => ({
      weights1: tf.variable(
        tf.tensor2d([
          [1, 2],
          [3, 4],
        ]),
      ),
      biases1: tf.variable(tf.tensor1d([5, 5])),
      weights2: tf.variable(
        tf.tensor2d([
          [1, 1],
          [-1, -1],
        ]),
      ),
      biases2: tf.variable(tf.tensor1d([7, 7])),
    }));
  }

  it('l2Regularization is rate * (sum(W1^2) / 2 + sum(W2^2) / 2), biases excluded', () => {
    const params = knownParams();
    const value = (p: Params, rate: number) => tf.tidy(() => l2Regularization(p, rate).dataSync()[0]);
    assert.equal(value(params, 0.5), 0.5 * (30 / 2 + 4 / 2));
    assert.ok(Math.abs(value(params, 0.0001) - 0.0001 * 17) < 1e-9);
    assert.equal(value(params, 0), 0);
    assert.equal(value({ ...params, weights2: null, biases2: null }, 2), 30);
    disposeParams(params);
  });

  it('crossEntropyMean is the mean softmax cross-entropy, and totalLoss adds the L2 term', () => {
    tf.tidy(() => {
      const logits = tf.tensor2d([
        [0, 0],
        [Math.log(3), 0],
      ]);
      const labels = tf.tensor1d([0, 1], 'int32');
      // Row 1: -ln(1/2); row 2: softmax [3/4, 1/4], label 1: -ln(1/4).
      const expected = (Math.log(2) + Math.log(4)) / 2;
      assert.ok(Math.abs(crossEntropyMean(logits, labels).dataSync()[0] - expected) < 1e-6);
    });
    const config = makeConfig({ inputNode: 2, layer1Node: 2, outputNode: 2, regularizationRate: 0.5 });
    const params = knownParams();
    tf.tidy(() => {
      // Both logits are equal whatever the input (W2's columns are equal): cross-entropy ln 2.
      const loss = totalLoss(params, config, tf.tensor2d([[1, 1]]), tf.tensor1d([0], 'int32'));
      assert.ok(Math.abs(loss.dataSync()[0] - (Math.log(2) + 8.5)) < 1e-5);
    });
    disposeParams(params);
  });
});

describe('manual gradients', () => {
  const cases: [string, Partial<TrainingConfig>][] = [
    ['relu', { layer1Node: 30 }],
    ['relu, strong L2', { layer1Node: 30, regularizationRate: 0.1 }],
    ['linear activation', { layer1Node: 30, activation: 'linear', regularizationRate: 0.1 }],
    ['no hidden layer', { layer1Node: 0, regularizationRate: 0.1 }],
    ['regularizationRate 0', { layer1Node: 30, regularizationRate: 0 }],
    ['the tutorial network', {}],
  ];

  for (const [name, overrides] of cases) {
    it(`equal autodiff gradients: ${name}`, () => {
      const config = makeConfig(overrides);
      const params = createParams(config);
      // Biases around 0 so that ReLU cuts off a good share of the hidden units.
      if (params.biases2 !== null)
        tf.tidy(() => params.biases1.assign(tf.randomUniform(params.biases1.shape, -0.5, 0.5, 'float32', 5)));
      tf.tidy(() => {
        const n = 50;
        const images = tf.tensor2d(data.train.images.subarray(0, n * 784), [n, 784]);
        const labels = tf.tensor1d(Int32Array.from(data.train.labels.subarray(0, n)), 'int32');
        const manual = manualGradients(params, config, images, labels);
        const auto = autodiffGradients(params, config, images, labels);
        assert.ok(Math.abs(manual.crossEntropy.dataSync()[0] - auto.crossEntropy.dataSync()[0]) < 1e-5);
        const expectedNames =
          config.layer1Node === 0 ? ['biases1', 'weights1'] : ['biases1', 'biases2', 'weights1', 'weights2'];
        assert.deepEqual([...manual.grads.keys()].sort(), expectedNames);
        assert.deepEqual([...auto.grads.keys()].sort(), expectedNames);
        for (const key of expectedNames as ParamName[]) {
          const m = manual.grads.get(key)!;
          const a = auto.grads.get(key)!;
          assert.deepEqual(m.shape, a.shape, key);
          const diff = maxAbsDiff(m.dataSync(), a.dataSync());
          const scale = maxAbs(a.dataSync());
          assert.ok(scale > 0, `${key}: zero gradient`);
          assert.ok(diff <= 1e-6 + 1e-4 * scale, `${key}: differs by ${diff} (scale ${scale})`);
        }
      });
      disposeParams(params);
    });
  }
});

describe('the training step', () => {
  it('gives the same parameters and averages with manual gradients as with autodiff', () => {
    const config = { trainingSteps: 5, batchSize: 64 };
    const fast = new Trainer(small(), { config, gradientMode: 'manual' });
    const plain = new Trainer(small(), { config, gradientMode: 'autodiff' });
    assertBitwiseEqual(fast.state().params, plain.state().params, 'initial');
    for (let i = 0; i < 5; i++) {
      const a = fast.step(true)!;
      const b = plain.step(true)!;
      assert.equal(a.step, b.step);
      assert.equal(a.learningRate, b.learningRate);
      assert.ok(
        Math.abs(a.crossEntropy - b.crossEntropy) < 1e-4 * Math.max(1, b.crossEntropy),
        `cross-entropy at ${i}`,
      );
      assert.ok(Math.abs(a.totalLoss - b.totalLoss) < 1e-4 * Math.max(1, b.totalLoss), `total loss at ${i}`);
      assert.ok(Math.abs(a.meanAbsGradient - b.meanAbsGradient) < 1e-3 * b.meanAbsGradient, `mean |gradient| at ${i}`);
    }
    const fastState = fast.state();
    const plainState = plain.state();
    assert.equal(fastState.globalStep, 5);
    assertCloseArrays(fastState.params, plainState.params, 1e-5, 'params');
    assertCloseArrays(fastState.averages, plainState.averages, 1e-5, 'averages');
    // The parameters did move: the comparison is not between two untouched networks.
    const initial = createParams(makeConfig());
    assert.ok(maxAbsDiff(fastState.params.weights2!, initial.weights2!.dataSync()) > 1e-3);
    disposeParams(initial);
    fast.dispose();
    plain.dispose();
  });

  it('updates the moving averages after each gradient step, with the decay of that step (global_step before it)', () => {
    const trainer = new Trainer(small(), { config: { layer1Node: 20 } });
    let shadow = trainer.state().averages;
    assertBitwiseEqual(shadow, trainer.state().params, 'initial averages');
    for (let n = 0; n < 4; n++) {
      trainer.step();
      const { params, averages } = trainer.state();
      const d = Math.min(0.99, (1 + n) / (10 + n));
      const expected = Object.fromEntries(
        Object.entries(params).map(([name, p]) => [
          name,
          p.map((value, i) => d * shadow[name as ParamName]![i] + (1 - d) * value),
        ]),
      );
      assertCloseArrays(averages, expected, 1e-6, `averages after step ${n}`);
      shadow = averages;
    }
    trainer.dispose();
  });

  it('reaches 95 % validation accuracy in 300 steps of the real recipe', async () => {
    const history = await train(data, { config: { trainingSteps: 300, evalEvery: 100 } });
    assert.equal(history.status, 'completed');
    assert.deepEqual(
      history.evaluations.map((e) => e.step),
      [0, 100, 200, 300],
    );
    const last = history.evaluations.at(-1)!;
    assert.ok(last.validationAccuracy >= 0.95, `validation accuracy ${last.validationAccuracy}`);
    assert.ok(last.testAccuracy >= 0.94, `test accuracy ${last.testAccuracy}`);
    assert.ok(history.evaluations[0].validationAccuracy < 0.5);
    assert.deepEqual(history.final, {
      step: 300,
      testAccuracy: last.testAccuracy,
      validationAccuracy: last.validationAccuracy,
    });
    // A record every 10 steps; the loss falls.
    assert.deepEqual(
      history.steps.map((s) => s.step),
      Array.from({ length: 30 }, (_, i) => i * 10),
    );
    assert.ok(
      history.steps.every((s) => s.learningRate === 0.8 && s.totalLoss > s.crossEntropy && s.meanAbsGradient > 0),
    );
    const mean = (records: typeof history.steps) => records.reduce((a, s) => a + s.crossEntropy, 0) / records.length;
    assert.ok(mean(history.steps.slice(-5)) < mean(history.steps.slice(0, 5)) / 3);
    assert.equal(history.backend, 'wasm');
  });
});

describe('run events', () => {
  it('reports each evaluation, then the completion; the log gets exactly their rendered lines', async () => {
    const trainer = new Trainer(small(), { config: { layer1Node: 20, trainingSteps: 30, evalEvery: 10 } });
    const events: RunEvent[] = [];
    const lines: string[] = [];
    const history = await trainer.run({ onEvent: (event) => events.push(event), log: (line) => lines.push(line) });
    trainer.dispose();
    const last = history.evaluations.at(-1)!;
    assert.deepEqual(events, [
      ...history.evaluations.map((evaluation) => ({ kind: 'evaluation', evaluation })),
      {
        kind: 'completed',
        step: 30,
        validationAccuracy: last.validationAccuracy,
        testAccuracy: last.testAccuracy,
      },
    ]);
    assert.deepEqual(
      lines,
      events.flatMap((event) => renderEvent(event)),
    );
    assert.deepEqual(history.stop, { reason: 'completed', step: 30, of: 30, message: null });
    // Validation only, but for the tutorial's closing line where the run ends.
    assert.deepEqual(
      lines.filter((line) => /test|测试/.test(line)),
      [lines.at(-2)],
    );
  });

  it('shows test accuracies in the log with showTestAccuracy', async () => {
    const lines: string[] = [];
    await train(small(), {
      config: { layer1Node: 20, trainingSteps: 20, evalEvery: 10 },
      showTestAccuracy: true,
      log: (line) => lines.push(line),
    });
    assert.equal(
      lines.filter((line) => /^step \d+: validation accuracy .*, test accuracy \d+\.\d\d %$/.test(line)).length,
      3,
    );
    assert.match(
      lines.at(-1)!,
      /^after 20 training steps: validation accuracy \d+\.\d\d %, test accuracy \d+\.\d\d %$/,
    );
  });
});

describe('tensor memory', () => {
  for (const gradientMode of ['manual', 'autodiff'] as const) {
    it(`stays flat across steps, evaluations and runs, and is all released by dispose (${gradientMode})`, async () => {
      const start = tf.memory().numTensors;
      const trainer = new Trainer(small(), {
        config: { layer1Node: 20, trainingSteps: 30, evalEvery: 10, recordEvery: 3 },
        gradientMode,
      });
      trainer.step(true);
      trainer.evaluate();
      const base = tf.memory().numTensors;
      for (let i = 0; i < 10; i++) {
        trainer.step(i % 2 === 0);
        assert.equal(tf.memory().numTensors, base, `after step ${i}`);
      }
      trainer.evaluate();
      trainer.state();
      assert.equal(tf.memory().numTensors, base, 'after evaluate and state');
      await trainer.run({ checkpointEvery: 5, onCheckpoint: () => undefined });
      assert.equal(tf.memory().numTensors, base, 'after run');
      trainer.dispose();
      assert.equal(tf.memory().numTensors, start, 'after dispose');
    });
  }
});

describe('divergence', () => {
  it('a learning rate of 50 raises DivergenceError naming the step and the learning rate; the history is kept', async () => {
    let caught: unknown;
    const events: RunEvent[] = [];
    const lines: string[] = [];
    try {
      await train(small(), {
        config: { learningRateBase: 50, trainingSteps: 100, recordEvery: 1, evalEvery: 1000 },
        onEvent: (event) => events.push(event),
        log: (line) => lines.push(line),
      });
    } catch (error) {
      caught = error;
    }
    assert.ok(caught instanceof DivergenceError, `expected a DivergenceError, got ${String(caught)}`);
    assert.equal(caught.learningRate, 50);
    assert.ok(caught.step >= 1 && caught.step < 20, `diverged at step ${caught.step}`);
    assert.ok(caught.crossEntropy > DIVERGENCE_CROSS_ENTROPY || !Number.isFinite(caught.crossEntropy));
    assert.match(caught.message, new RegExp(`diverged at step ${caught.step}: .*learning rate 50\\b`));
    const history = (caught as unknown as TrainingFailure).history;
    assert.equal(history.status, 'diverged');
    assert.equal(history.error, caught.message);
    assert.deepEqual(history.stop, { reason: 'diverged', step: caught.step, of: 100, message: caught.message });
    assert.deepEqual(events.at(-1), { kind: 'failed', step: caught.step, message: caught.message, diverged: true });
    assert.equal(lines.at(-1), caught.message, 'the log ends with the error');
    // The loss for people: 4 significant digits, not every binary digit.
    const loss = /the loss is (\S+)/.exec(caught.message)![1];
    assert.ok(loss === 'NaN' || loss === 'Infinity' || /^\d{1,4}(\.\d+)?$|e/.test(loss), caught.message);
    assert.equal(history.final, null);
    assert.equal(history.finishedAt !== null, true);
    // Every step before the one that diverged was recorded, and the step-0 evaluation.
    assert.deepEqual(
      history.steps.map((s) => s.step),
      Array.from({ length: caught.step }, (_, i) => i),
    );
    assert.deepEqual(
      history.evaluations.map((e) => e.step),
      [0],
    );
  });

  it('leaves the parameters, averages and step as they were before the diverging step', () => {
    const trainer = new Trainer(small(), { config: { learningRateBase: 50, layer1Node: 50 } });
    let before: TrainerState = trainer.state();
    let error: unknown;
    for (let i = 0; i < 30 && error === undefined; i++) {
      before = trainer.state();
      try {
        trainer.step();
      } catch (e) {
        error = e;
      }
    }
    assert.ok(error instanceof DivergenceError);
    const after = trainer.state();
    assert.equal(after.globalStep, before.globalStep);
    assert.equal(error.step, before.globalStep);
    assertBitwiseEqual(after.params, before.params, 'params');
    assertBitwiseEqual(after.averages, before.averages, 'averages');
    trainer.dispose();
  });

  it('a non-finite loss (NaN pixels) diverges at step 0', async () => {
    const base = small();
    const images = Float32Array.from(base.train.images);
    images.fill(Number.NaN, 0, 784 * 1000);
    await assert.rejects(
      train({ ...base, train: { ...base.train, images } }, { config: { layer1Node: 20, trainingSteps: 10 } }),
      (error: unknown) =>
        error instanceof DivergenceError &&
        error.step === 0 &&
        Number.isNaN(error.crossEntropy) &&
        /the loss is NaN with learning rate 0\.8/.test(error.message),
    );
  });

  it('the threshold can be raised: a finite loss then goes on', async () => {
    const history = await train(small(), {
      config: { learningRateBase: 50, layer1Node: 50, trainingSteps: 10, evalEvery: 1000 },
      divergenceThreshold: Infinity,
    });
    assert.equal(history.status, 'completed');
  });
});

describe('stopping', () => {
  it('an AbortSignal stops after the step under way; the history so far is kept', async () => {
    const controller = new AbortController();
    const trainer = new Trainer(small(), {
      config: { layer1Node: 20, trainingSteps: 1000, recordEvery: 1, evalEvery: 10 },
    });
    let abortedAt = -1;
    const history = await trainer.run({
      signal: controller.signal,
      onProgress: (progress) => {
        if (progress.step >= 25 && abortedAt < 0) {
          abortedAt = progress.step;
          controller.abort();
        }
      },
    });
    assert.equal(abortedAt, 25);
    assert.equal(trainer.globalStep, 25);
    assert.equal(history.status, 'stopped');
    assert.equal(history.error, 'stopped at step 25 of 1000');
    assert.deepEqual(history.stop, { reason: 'aborted', step: 25, of: 1000, message: null });
    assert.equal(history.final, null);
    assert.equal(history.steps.length, 25);
    assert.deepEqual(
      history.evaluations.map((e) => e.step),
      [0, 10, 20],
    );
    trainer.dispose();
  });

  it('train() returns the stopped history; an already aborted signal stops at step 0', async () => {
    const history = await train(small(), {
      config: { layer1Node: 20, trainingSteps: 100 },
      signal: AbortSignal.abort(),
    });
    assert.equal(history.status, 'stopped');
    assert.equal(history.steps.length, 0);
    assert.deepEqual(
      history.evaluations.map((e) => e.step),
      [0],
    );
  });

  it('SIGINT stops within one step with stopOnSigint, and the handler is removed afterwards', async () => {
    const listeners = process.listenerCount('SIGINT');
    const trainer = new Trainer(small(), {
      config: { layer1Node: 20, trainingSteps: 100000, recordEvery: 1, evalEvery: 100000 },
    });
    let sentAt = -1;
    const history = await trainer.run({
      stopOnSigint: true,
      onProgress: (progress) => {
        if (progress.step === 20) {
          assert.equal(process.listenerCount('SIGINT'), listeners + 1);
          setTimeout(() => {
            sentAt = trainer.globalStep;
            process.emit('SIGINT', 'SIGINT');
          }, 0);
        }
      },
    });
    assert.ok(sentAt >= 20);
    assert.ok(trainer.globalStep - sentAt <= 1, `sent at step ${sentAt}, stopped at ${trainer.globalStep}`);
    assert.equal(history.status, 'stopped');
    assert.deepEqual(history.stop, { reason: 'interrupted', step: trainer.globalStep, of: 100000, message: null });
    assert.equal(process.listenerCount('SIGINT'), listeners);
    trainer.dispose();
  });
});

describe('resuming', () => {
  const config = { trainingSteps: 120, evalEvery: 40, recordEvery: 5, batchSize: 64, decaySteps: 30 };

  it('continues exactly: k steps, checkpoint, resume to N gives the uninterrupted run', async () => {
    // Uninterrupted, keeping the checkpoints it writes along the way.
    const checkpoints = new Map<number, Uint8Array>();
    const whole = new Trainer(small(), { config });
    const expected = await whole.run({
      checkpointEvery: 25,
      onCheckpoint: async (state) => void checkpoints.set(state.globalStep, await encodeCheckpoint(state)),
    });
    const expectedState = whole.state();
    whole.dispose();
    assert.deepEqual([...checkpoints.keys()], [25, 50, 75, 100]);
    assert.equal(expected.status, 'completed');
    // The run crosses epochs (1,000 images, batches of 64) and learning-rate decays.
    assert.ok(expectedState.sampler.epochsCompleted >= 7);
    assert.ok(new Set(expected.steps.map((s) => s.learningRate)).size >= 4);

    // Stopped at step 51 (not a multiple of anything above), saved, decoded, resumed.
    const controller = new AbortController();
    const first = new Trainer(small(), { config });
    await first.run({ signal: controller.signal, onProgress: (p) => (p.step >= 51 ? controller.abort() : undefined) });
    assert.equal(first.globalStep, 51);
    assert.equal(first.history.status, 'stopped');
    const saved = decodeCheckpoint(await encodeCheckpoint(first.state()), 'memory');
    first.dispose();
    const second = new Trainer(small(), { resume: saved });
    assert.equal(second.globalStep, 51);
    const resumed = await second.run();
    assert.deepEqual(withoutWallTimes(resumed), withoutWallTimes(expected));
    const resumedState = second.state();
    assertBitwiseEqual(resumedState.params, expectedState.params, 'params');
    assertBitwiseEqual(resumedState.averages, expectedState.averages, 'averages');
    assert.deepEqual(resumedState.sampler, expectedState.sampler);
    second.dispose();

    // From a checkpoint written during the uninterrupted run.
    const fromCheckpoint = new Trainer(small(), { resume: decodeCheckpoint(checkpoints.get(75)!, 'memory') });
    assert.deepEqual(withoutWallTimes(await fromCheckpoint.run()), withoutWallTimes(expected));
    assertBitwiseEqual(fromCheckpoint.state().params, expectedState.params, 'params from the step-75 checkpoint');
    fromCheckpoint.dispose();
  });

  it('a resumed run may go further; its history records the new settings', async () => {
    const first = new Trainer(small(), { config: { ...config, layer1Node: 20, trainingSteps: 40 } });
    await first.run();
    const state = first.state();
    first.dispose();
    const second = new Trainer(small(), { resume: { ...state, config: { ...state.config, trainingSteps: 60 } } });
    const history = await second.run();
    second.dispose();
    assert.equal(history.config.trainingSteps, 60);
    assert.equal(history.final?.step, 60);
    assert.deepEqual(
      history.evaluations.map((e) => e.step),
      [0, 40, 60],
    );
  });
});

describe('determinism', () => {
  async function twice(config: Partial<TrainingConfig>, dataset: MnistData): Promise<[History, History, History]> {
    const a = await train(dataset, { config });
    const b = await train(dataset, { config });
    const c = await train(dataset, { config: { ...config, seed: config.seed! + 1 } });
    return [a, b, c];
  }

  it('the same seed gives the same history on wasm', async () => {
    const [a, b, c] = await twice(
      { layer1Node: 100, trainingSteps: 60, evalEvery: 20, recordEvery: 5, seed: 3 },
      small(),
    );
    assert.deepEqual(withoutWallTimes(a), withoutWallTimes(b));
    assert.notDeepEqual(withoutWallTimes(a), withoutWallTimes(c));
    assert.equal(a.backend, 'wasm');
  });

  it('the same seed gives the same history on cpu', async () => {
    await setupBackend('cpu');
    try {
      const tiny: MnistData = {
        ...small(),
        validation: sliceDataSet(data.validation, 0, 500),
        test: sliceDataSet(data.test, 0, 500),
      };
      const [a, b, c] = await twice({ layer1Node: 20, trainingSteps: 15, evalEvery: 5, recordEvery: 1, seed: 3 }, tiny);
      assert.equal(a.backend, 'cpu');
      assert.deepEqual(withoutWallTimes(a), withoutWallTimes(b));
      assert.notDeepEqual(withoutWallTimes(a), withoutWallTimes(c));
    } finally {
      await setupBackend('wasm');
    }
  });
});

describe('the step split across worker threads', () => {
  const config = { layer1Node: 40, trainingSteps: 60, evalEvery: 20, recordEvery: 5, batchSize: 64, decaySteps: 30 };

  it('gives the one-thread history, parameters and moving averages within float tolerance', async () => {
    const one = new Trainer(small(), { config, workers: 1 });
    const split = new Trainer(small(), { config, workers: 2 });
    try {
      assert.equal(one.workers, 1);
      assert.equal(split.workers, 2);
      const [a, b] = [await one.run(), await split.run()];
      assert.equal(b.status, 'completed');
      assert.deepEqual(
        b.steps.map((s) => s.step),
        a.steps.map((s) => s.step),
      );
      for (const [i, record] of b.steps.entries()) {
        const expected = a.steps[i];
        assert.equal(record.learningRate, expected.learningRate);
        for (const key of ['crossEntropy', 'totalLoss', 'meanAbsGradient'] as const) {
          assert.ok(
            Math.abs(record[key] - expected[key]) <= 1e-4 * Math.max(1, Math.abs(expected[key])),
            `step ${record.step} ${key}: ${record[key]} vs ${expected[key]}`,
          );
        }
        for (const name of Object.keys(expected.meanAbsGradients!) as ParamName[]) {
          assert.ok(
            Math.abs(record.meanAbsGradients![name]! - expected.meanAbsGradients![name]!) <=
              1e-4 * expected.meanAbsGradients![name]!,
            `step ${record.step} gradient of ${name}`,
          );
        }
      }
      assert.deepEqual(
        b.evaluations.map((e) => e.step),
        a.evaluations.map((e) => e.step),
      );
      for (const [i, evaluation] of b.evaluations.entries()) {
        // One image of 1,000 may flip where two logits are within rounding of each other.
        assert.ok(
          Math.abs(evaluation.validationAccuracy - a.evaluations[i].validationAccuracy) <= 0.002,
          `validation at ${evaluation.step}`,
        );
        assert.ok(
          Math.abs(evaluation.testAccuracy - a.evaluations[i].testAccuracy) <= 0.002,
          `test at ${evaluation.step}`,
        );
      }
      const [sa, sb] = [one.state(), split.state()];
      assert.equal(sb.globalStep, 60);
      assert.deepEqual(sb.sampler, sa.sampler);
      assertCloseArrays(sb.params, sa.params, 1e-5, 'params');
      assertCloseArrays(sb.averages, sa.averages, 1e-5, 'averages');
      // The parameters gathered as variables of this thread are the state's.
      for (const [name, v] of paramList(split.params))
        assertBitwiseEqual({ [name]: v.dataSync() as Float32Array }, { [name]: sb.params[name]! }, 'gathered params');
    } finally {
      one.dispose();
      split.dispose();
    }
  });

  it('gives the same history for the same seed and worker count, and steps one at a time like the loop', async () => {
    const run = async (workers: number) => {
      const trainer = new Trainer(small(), { config, workers });
      try {
        return { history: await trainer.run(), state: trainer.state() };
      } finally {
        trainer.dispose();
      }
    };
    const [a, b, three] = [await run(2), await run(2), await run(3)];
    assert.deepEqual(withoutWallTimes(a.history), withoutWallTimes(b.history));
    assertBitwiseEqual(a.state.params, b.state.params, 'params');
    assert.equal(three.history.status, 'completed');
    assertCloseArrays(three.state.params, a.state.params, 1e-5, 'params on 3 workers');
    // Trainer.step (synchronous) on the split engine: the same steps as the loop.
    const stepper = new Trainer(small(), { config, workers: 2 });
    try {
      for (let i = 0; i < 60; i++) {
        const record = stepper.step(i % 5 === 0);
        assert.equal(record === null, i % 5 !== 0);
        if (record !== null) assert.deepEqual(record, a.history.steps[i / 5]);
      }
      assertBitwiseEqual(stepper.state().params, a.state.params, 'params after 60 single steps');
    } finally {
      stepper.dispose();
    }
  });

  it('checkpoints and resumes exactly, from the split step or into the one-thread step', async () => {
    const whole = new Trainer(small(), { config, workers: 2 });
    const checkpoints = new Map<number, TrainerState>();
    const expected = await whole.run({
      checkpointEvery: 25,
      onCheckpoint: async (state) =>
        void checkpoints.set(state.globalStep, decodeCheckpoint(await encodeCheckpoint(state), 'memory')),
    });
    const expectedState = whole.state();
    whole.dispose();
    assert.deepEqual([...checkpoints.keys()], [25, 50]);
    const controller = new AbortController();
    const first = new Trainer(small(), { config, workers: 2 });
    await first.run({ signal: controller.signal, onProgress: (p) => (p.step >= 31 ? controller.abort() : undefined) });
    assert.equal(first.history.status, 'stopped');
    // Stopped right after the step whose progress report asked for it, as the one-thread loop does.
    const stoppedAt = first.globalStep;
    assert.equal(stoppedAt, 31);
    assert.equal(first.history.steps.at(-1)!.step, 30);
    const saved = first.state();
    first.dispose();
    const second = new Trainer(small(), { resume: saved, workers: 2 });
    assert.equal(second.globalStep, stoppedAt);
    assert.deepEqual(withoutWallTimes(await second.run()), withoutWallTimes(expected));
    assertBitwiseEqual(second.state().params, expectedState.params, 'params');
    assertBitwiseEqual(second.state().averages, expectedState.averages, 'averages');
    second.dispose();
    const fromCheckpoint = new Trainer(small(), { resume: checkpoints.get(50)!, workers: 1 });
    const finished = await fromCheckpoint.run();
    assert.equal(finished.final?.step, 60);
    assertCloseArrays(
      fromCheckpoint.state().params,
      expectedState.params,
      1e-5,
      'one-thread params from a split checkpoint',
    );
    fromCheckpoint.dispose();
  });

  it('SIGINT stops within a step with stopOnSigint', async () => {
    const trainer = new Trainer(small(), {
      config: { ...config, trainingSteps: 100000, evalEvery: 100000, recordEvery: 1 },
      workers: 2,
    });
    let sentAt = -1;
    const history = await trainer.run({
      stopOnSigint: true,
      onProgress: (progress) => {
        if (progress.step === 20) {
          setTimeout(() => {
            sentAt = trainer.globalStep;
            process.emit('SIGINT', 'SIGINT');
          }, 0);
        }
      },
    });
    trainer.dispose();
    assert.ok(sentAt >= 20);
    assert.ok(trainer.globalStep - sentAt <= 2, `sent at step ${sentAt}, stopped at ${trainer.globalStep}`);
    assert.equal(history.status, 'stopped');
    assert.equal(history.steps.length, trainer.globalStep);
  });

  it('diverges like the one-thread step: DivergenceError naming the step, parameters as before it', async () => {
    const trainer = new Trainer(small(), { config: { learningRateBase: 50, layer1Node: 50 }, workers: 2 });
    try {
      const before = trainer.state();
      let error: unknown = null;
      let last = before;
      try {
        for (let i = 0; i < 50; i++) {
          last = trainer.state();
          trainer.step();
        }
      } catch (e) {
        error = e;
      }
      assert.ok(error instanceof DivergenceError, `no divergence: ${String(error)}`);
      assert.equal(error.step, trainer.globalStep);
      assert.equal(error.learningRate, 50);
      assertBitwiseEqual(trainer.state().params, last.params, 'params');
      assertBitwiseEqual(trainer.state().averages, last.averages, 'averages');
      const history = await train(small(), {
        config: { learningRateBase: 50, layer1Node: 50, trainingSteps: 100 },
        workers: 2,
      }).catch((e: TrainingFailure) => e.history);
      assert.equal(history.status, 'diverged');
    } finally {
      trainer.dispose();
    }
  });

  it('fails with an error, not a hang, when a worker dies; and leaks no tensors on this thread', async () => {
    const tensors = tf.memory().numTensors;
    const trainer = new Trainer(small(), {
      config: { ...config, trainingSteps: 100000, evalEvery: 100000 },
      workers: 2,
    });
    const threads = (trainer as unknown as { engine: { threads: { terminate(): Promise<number> }[] } }).engine.threads;
    let killed = false;
    const failure = await trainer
      .run({
        onProgress: (p) => {
          if (p.step >= 20 && !killed) {
            killed = true;
            void threads[1].terminate();
          }
        },
      })
      .then(
        () => null,
        (error: Error) => error,
      );
    assert.ok(failure !== null && /split-step worker 1/.test(failure.message), `run ended with ${String(failure)}`);
    assert.equal(trainer.history.status, 'failed');
    assert.throws(() => trainer.step(), /split-step worker 1/);
    trainer.dispose();
    assert.equal(tf.memory().numTensors, tensors);
  });

  it('is the default on wasm with several cores and a hidden layer worth splitting; MNIST_WORKERS overrides', () => {
    const full = makeConfig();
    const cores = availableParallelism();
    assert.equal(defaultStepWorkers(full, {}), Math.min(cores, Math.floor(500 / MIN_UNITS_PER_WORKER)));
    assert.equal(defaultStepWorkers(makeConfig({ layer1Node: 20 }), {}), 1);
    assert.equal(defaultStepWorkers(full, { MNIST_WORKERS: '3' }), 3);
    assert.equal(defaultStepWorkers(full, { MNIST_WORKERS: 'auto' }), defaultStepWorkers(full, {}));
    assert.throws(
      () => defaultStepWorkers(full, { MNIST_WORKERS: 'two' }),
      /MNIST_WORKERS must be a whole number of threads from 1 to 256, got "two"/,
    );
    assert.throws(() => new Trainer(small(), { workers: 0 }), /options.workers must be a whole number/);
    assert.throws(() => new Trainer(small(), { workers: 2, gradientMode: 'autodiff' }), /needs the manual gradients/);
    const linear = new Trainer(small(), { config: { layer1Node: 0 }, workers: 4 });
    assert.equal(linear.workers, 1);
    linear.dispose();
  });
});
