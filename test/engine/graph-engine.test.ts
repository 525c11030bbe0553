/**
 * The native step as one session run of the tutorial's graph (`GraphEngine`): it trains as the
 * op-by-op native step does, continues a checkpoint exactly, changes nothing on a diverged step,
 * leaks no tensors, and is the engine chosen on native TensorFlow. Needs the native backend: in
 * CI (CI=true) it must load; elsewhere, without it, these tests are skipped with the reason.
 */
import * as tf from '@tensorflow/tfjs';
import assert from 'node:assert/strict';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { before, describe, it } from 'node:test';
import { setupBackend } from '../../src/engine/backend';
import { decayStepsFor, makeConfig, type TrainingConfig } from '../../src/core/config';
import { loadMnist, sliceDataSet, type MnistData } from '../../src/data/mnist';
import { PARAM_NAMES } from '../../src/core/model';
import { DivergenceError } from '../../src/core/divergence';
import { autodiffGradients } from '../../src/core/loss';
import { Trainer, type TrainerOptions } from '../../src/train/trainer';
import { createEngine } from '../../src/engine/engines';
import { GraphEngine } from '../../src/engine/graph-engine';
import { LocalEngine } from '../../src/engine/local-engine';
import { GraphDefBuilder } from '../../src/engine/graph-def';
import { buildTrainingGraph } from '../../src/engine/training-graph';
import type { EngineSetup, TrainerState } from '../../src/engine/step-engine';
import { maxAbs, maxAbsDiff } from '../helpers/arrays';
import { nativeSkip } from '../helpers/native';

const skip = nativeSkip;

// The graph and the op-by-op step differ only in the order of float32 sums (the cross-entropy's
// gradient is TensorFlow's kernel in one, the package's in the other): about 1e-6 after 200
// steps. A missed or doubled update, or another batch, differs by 1e-2 and more.
const PARAM_TOLERANCE = 1e-4;
const LOSS_TOLERANCE = 1e-4;
const GRADIENT_TOLERANCE = 1e-3; // relative, mean |gradient| of each parameter
const ACCURACY_TOLERANCE = 0.002;

let data: MnistData;

/** 2,000 training images (batches cross epoch ends within 200 steps), 1,000 validation and test images. */
function small(): MnistData {
  return {
    train: sliceDataSet(data.train, 0, 2000),
    validation: sliceDataSet(data.validation, 0, 1000),
    test: sliceDataSet(data.test, 0, 1000),
    description: 'MNIST, first 2,000 training and 1,000 validation and test images',
  };
}

/** Sessions of native TensorFlow open in this process (tfjs-node's count of loaded SavedModels). */
const openSessions = () => (tf.backend() as unknown as { getNumOfSavedModels(): number }).getNumOfSavedModels();

/**
 * A trainer on this thread (`workers: 1`, whatever MNIST_WORKERS says) with the native step
 * `nativeStep`, checked to run it: the graph opens one native session, the op-by-op step none.
 */
function trainerWith(dataset: MnistData, options: TrainerOptions, nativeStep: 'graph' | 'ops' = 'graph'): Trainer {
  const before = openSessions();
  const trainer = new Trainer(dataset, { ...options, workers: 1, nativeStep });
  assert.equal(openSessions(), before + (nativeStep === 'graph' ? 1 : 0), `the ${nativeStep} step runs`);
  return trainer;
}

/** Runs `config` with the native step `nativeStep` and returns its final state. */
async function runWith(nativeStep: 'graph' | 'ops', config: Partial<TrainingConfig>): Promise<TrainerState> {
  const trainer = trainerWith(small(), { config: { trainingSteps: 200, evalEvery: 100, ...config } }, nativeStep);
  try {
    assert.equal((await trainer.run()).status, 'completed');
    return trainer.state();
  } finally {
    trainer.dispose();
  }
}

function assertClose(actual: TrainerState, expected: TrainerState, what: string): void {
  assert.equal(actual.globalStep, expected.globalStep, what);
  for (const set of ['params', 'averages'] as const) {
    assert.deepEqual(Object.keys(actual[set]).sort(), Object.keys(expected[set]).sort(), `${what}: ${set}`);
    for (const name of PARAM_NAMES) {
      const a = actual[set][name];
      const b = expected[set][name];
      if (b === undefined) continue;
      const diff = maxAbsDiff(a!, b);
      assert.ok(diff <= PARAM_TOLERANCE, `${what}: ${set}.${name} differs by ${diff}`);
    }
  }
  const [steps, others] = [actual.history.steps, expected.history.steps];
  assert.deepEqual(
    steps.map((s) => s.step),
    others.map((s) => s.step),
  );
  steps.forEach((s, i) => {
    const o = others[i];
    assert.equal(s.learningRate, o.learningRate);
    assert.ok(Math.abs(s.crossEntropy - o.crossEntropy) <= LOSS_TOLERANCE, `${what}: cross-entropy at ${s.step}`);
    assert.ok(Math.abs(s.totalLoss - o.totalLoss) <= LOSS_TOLERANCE, `${what}: total loss at ${s.step}`);
    for (const name of PARAM_NAMES) {
      const [g, h] = [s.meanAbsGradients[name]!, o.meanAbsGradients[name]!];
      assert.ok(h > 0, `${what}: no gradient of ${name} at ${s.step}`);
      assert.ok(
        Math.abs(g - h) <= GRADIENT_TOLERANCE * h,
        `${what}: mean |gradient| of ${name} at ${s.step}: ${g} vs ${h}`,
      );
    }
  });
  actual.history.evaluations.forEach((e, i) => {
    const o = expected.history.evaluations[i];
    assert.equal(e.step, o.step);
    assert.ok(
      Math.abs(e.validationAccuracy - o.validationAccuracy) <= ACCURACY_TOLERANCE,
      `${what}: accuracy at ${e.step}`,
    );
  });
}

function setupOf(config: Partial<TrainingConfig>, dataset = small()): EngineSetup {
  const full = makeConfig(config);
  return {
    data: dataset,
    config: full,
    decaySteps: decayStepsFor(full, dataset.train.count),
    divergenceThreshold: 1000,
  };
}

describe('the native graph step', { skip }, () => {
  before(async () => {
    await setupBackend('tensorflow');
    data = await loadMnist();
  });

  for (const [what, config] of [
    ['the tutorial recipe', {}],
    // (the recipe's learning rate of 0.8 makes the linear network diverge)
    ['a linear hidden layer', { activation: 'linear', learningRateBase: 0.05 }],
    ['no moving average', { useMovingAverage: false }],
    ['no L2 term, batches of 64, 30 hidden units', { regularizationRate: 0, batchSize: 64, layer1Node: 30 }],
  ] as const) {
    it(`trains as the op-by-op native step does: ${what}`, async () => {
      const graph = await runWith('graph', { ...config, recordEvery: 10 });
      const ops = await runWith('ops', { ...config, recordEvery: 10 });
      assert.equal(graph.history.steps.length, 20);
      assertClose(graph, ops, what);
      // It learned: not two copies of an engine that does nothing.
      assert.ok(graph.history.evaluations.at(-1)!.validationAccuracy > 0.75, what);
    });
  }

  it('continues a checkpoint exactly: 100 steps, resume, 100 more give the uninterrupted run', async () => {
    const config = { trainingSteps: 200, evalEvery: 100, recordEvery: 10 };
    const whole = trainerWith(small(), { config });
    await whole.run();
    const expected = whole.state();
    whole.dispose();

    const first = trainerWith(small(), { config });
    for (let i = 0; i < 100; i++) first.step(false);
    const saved = first.state();
    first.dispose();
    const second = trainerWith(small(), { resume: saved });
    assert.deepEqual(second.state().params, saved.params, 'restored exactly');
    assert.deepEqual(second.state().averages, saved.averages, 'averages restored exactly');
    for (let i = 100; i < 200; i++) second.step(false);
    const resumed = second.state();
    second.dispose();
    assert.equal(resumed.globalStep, 200);
    assert.deepEqual(resumed.params, expected.params);
    assert.deepEqual(resumed.averages, expected.averages);
    assert.deepEqual(resumed.sampler, expected.sampler);
  });

  it('changes nothing on a step whose loss exceeds the threshold, or is not finite', async () => {
    // A threshold below the first loss (about 2.3): the very first step diverges.
    const low = trainerWith(small(), { divergenceThreshold: 1 });
    const before = low.state();
    assert.throws(
      () => low.step(true),
      (error: unknown) => error instanceof DivergenceError && error.step === 0 && error.crossEntropy > 1,
    );
    assert.equal(low.globalStep, 0);
    assert.deepEqual(low.state().params, before.params);
    assert.deepEqual(low.state().averages, before.averages);
    low.dispose();

    // 30 steps in, the averages differ from the parameters: a moving-average update that escaped
    // the gate would show. A threshold of 0.001 is below any loss there.
    const ahead = trainerWith(small(), {});
    for (let i = 0; i < 30; i++) ahead.step(false);
    const midway = ahead.state();
    ahead.dispose();
    assert.ok(maxAbsDiff(midway.params.weights1!, midway.averages.weights1!) > 1e-3, 'averages differ from parameters');
    const strict = trainerWith(small(), { resume: midway, divergenceThreshold: 0.001 });
    assert.throws(
      () => strict.step(false),
      (error: unknown) => error instanceof DivergenceError && error.step === 30,
    );
    assert.equal(strict.globalStep, 30);
    assert.deepEqual(strict.state().params, midway.params);
    assert.deepEqual(strict.state().averages, midway.averages);
    strict.dispose();

    // Pixels that are NaN make the first loss NaN (through a linear hidden layer: TensorFlow's ReLU turns NaN into 0).
    const clean = small();
    const poisoned = {
      ...clean,
      train: { ...clean.train, images: new Float32Array(clean.train.images.length).fill(NaN) },
    };
    const wild = trainerWith(poisoned, { config: { activation: 'linear' }, divergenceThreshold: Infinity });
    const start = wild.state();
    assert.throws(
      () => wild.step(true),
      (error: unknown) => error instanceof DivergenceError && error.step === 0 && Number.isNaN(error.crossEntropy),
    );
    assert.equal(wild.globalStep, 0);
    assert.deepEqual(wild.state().params, start.params);
    assert.deepEqual(wild.state().averages, start.averages);
    wild.dispose();
  });

  it('leaks no tensors and no session: steps, recorded steps, evaluations, state and parameters read back', () => {
    const baseline = tf.memory().numTensors;
    const sessions = openSessions();
    const trainer = trainerWith(small(), { config: { trainingSteps: 100 } });
    trainer.step(true);
    trainer.evaluate();
    void trainer.params;
    const during = tf.memory().numTensors;
    for (let i = 0; i < 50; i++) trainer.step(i % 10 === 0);
    trainer.evaluate();
    trainer.state();
    void trainer.params;
    assert.equal(tf.memory().numTensors, during);
    trainer.dispose();
    assert.equal(tf.memory().numTensors, baseline);
    assert.equal(openSessions(), sessions);
  });

  it('evaluates the moving averages: averages of zero give every image class 0', () => {
    const dataset = small();
    const trainer = trainerWith(dataset, {});
    for (let i = 0; i < 30; i++) trainer.step(false);
    const state = trainer.state();
    trainer.dispose();
    const zeros = Object.fromEntries(
      Object.entries(state.averages).map(([name, v]) => [name, new Float32Array(v.length)]),
    );
    const zeroed = trainerWith(dataset, { resume: { ...state, averages: zeros } });
    const share = (labels: ArrayLike<number>) =>
      Array.from(labels).filter((label) => label === 0).length / labels.length;
    // All logits 0: argMax takes the first class for every image.
    const { validationAccuracy, testAccuracy } = zeroed.evaluate();
    assert.equal(validationAccuracy, share(dataset.validation.labels));
    assert.equal(testAccuracy, share(dataset.test.labels));
    zeroed.dispose();
    // The same state with its averages evaluates far better: not class 0 everywhere.
    const kept = trainerWith(dataset, { resume: state });
    assert.ok(kept.evaluate().validationAccuracy > 0.7);
    kept.dispose();
  });

  it("gives the parameters as variables: copies of the session's", () => {
    const trainer = trainerWith(small(), { config: { trainingSteps: 100 } });
    for (let i = 0; i < 30; i++) trainer.step(false);
    const state = trainer.state();
    const params = trainer.params;
    for (const name of PARAM_NAMES) assert.deepEqual(params[name]!.dataSync(), state.params[name]);
    const average = trainer.average!;
    for (const name of PARAM_NAMES) assert.deepEqual(average.average(params[name]!).dataSync(), state.averages[name]);
    assert.ok(maxAbs(state.params.weights1!) > 0);
    trainer.dispose();
  });

  it('is the engine on native TensorFlow for the two-layer network with hand-derived gradients', async () => {
    const cases = [
      { config: {}, choice: {}, expected: GraphEngine },
      { config: {}, choice: { nativeStep: 'ops' as const }, expected: LocalEngine },
      { config: {}, choice: { gradients: autodiffGradients }, expected: LocalEngine },
      { config: { layer1Node: 0 }, choice: {}, expected: LocalEngine },
    ];
    for (const { config, choice, expected } of cases) {
      const engine = createEngine(setupOf(config), { workers: 1, ...choice });
      try {
        assert.ok(engine instanceof expected, `${JSON.stringify(config)} ${JSON.stringify(choice)}`);
      } finally {
        engine.dispose();
      }
    }
    await setupBackend('wasm');
    try {
      const engine = createEngine(setupOf({}), { workers: 1 });
      assert.ok(engine instanceof LocalEngine, 'wasm');
      engine.dispose();
    } finally {
      await setupBackend('tensorflow');
    }
  });

  it('falls back to the op-by-op step, and says why, when the graph cannot be loaded', () => {
    // No folder to write the graph to: TMPDIR names one that does not exist.
    const saved = process.env.TMPDIR;
    process.env.TMPDIR = join(tmpdir(), 'graph-engine-test-missing', 'folder');
    const write = process.stderr.write;
    const sessions = openSessions();
    const lines: string[] = [];
    process.stderr.write = ((chunk: string) => lines.push(String(chunk)) > 0) as typeof process.stderr.write;
    try {
      const engine = createEngine(setupOf({}), { workers: 1 });
      assert.ok(engine instanceof LocalEngine);
      engine.step(false);
      assert.equal(engine.globalStep, 1);
      engine.dispose();
    } finally {
      process.stderr.write = write;
      if (saved === undefined) delete process.env.TMPDIR;
      else process.env.TMPDIR = saved;
    }
    assert.equal(openSessions(), sessions);
    assert.equal(lines.length, 1, lines.join(''));
    assert.match(
      lines[0],
      /^native graph step unavailable \(loading the graph from .*graph-engine-test-missing.*: ENOENT.*\); running TensorFlow\.js ops\n$/,
    );
  });

  it('names what is wrong with a saved state it cannot take', () => {
    const trainer = trainerWith(small(), { config: { trainingSteps: 100 } });
    const state = trainer.state();
    trainer.dispose();
    const sessions = openSessions();
    const short = { ...state, params: { ...state.params, weights2: new Float32Array(3) } };
    assert.throws(() => new Trainer(small(), { resume: short }), /saved params: "weights2" is 3 values, expected 5000/);
    const noAverage = { ...state, averages: { ...state.averages, biases1: undefined } };
    assert.throws(() => new Trainer(small(), { resume: noAverage }), /saved averages: "biases1" is missing/);
    // An empty training set: refused before a session is opened.
    const empty = small();
    empty.train = sliceDataSet(empty.train, 0, 0);
    assert.throws(() => new Trainer(empty, { workers: 1 }), /training set: is empty/);
    assert.equal(openSessions(), sessions, 'no session left open');
  });
});

describe('the graph written for native TensorFlow', { skip }, () => {
  it('refuses a node read before it is defined, and two nodes of one name', () => {
    const g = new GraphDefBuilder();
    g.floatConst('a', [1]);
    assert.throws(() => g.op('b', 'Identity', ['c:0']), /node "b" reads "c:0", which is not defined yet/);
    assert.throws(() => g.floatConst('a', [2]), /two nodes are named "a"/);
  });

  it('is built for the two-layer network only', () => {
    assert.throws(
      () => buildTrainingGraph(makeConfig({ layer1Node: 0 }), 1000),
      /built for the two-layer network \(layer1Node > 0\)/,
    );
    const { variables } = buildTrainingGraph(makeConfig(), 1000);
    assert.deepEqual(
      variables.map((v) => `${v.param}${v.average ? '/average' : ''} ${v.shape.join('x')}`),
      [
        'weights1 784x500',
        'biases1 500',
        'weights2 500x10',
        'biases2 10',
        'weights1/average 784x500',
        'biases1/average 500',
        'weights2/average 500x10',
        'biases2/average 10',
      ],
    );
  });
});
