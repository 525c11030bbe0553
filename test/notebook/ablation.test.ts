import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import {
  ablationRuns,
  checkModel,
  checkRuns,
  closeUpRange,
  compareWithBaseline,
  conclusions,
  datasetAccuracy,
  deadUnits,
  describeSweepTime,
  fitGap,
  runAblation,
  separationChance,
  summarizeVariants,
  summaryTable,
  sweepTime,
  variantRuns,
  type AblationSweep,
  type Variant,
} from '../../src/notebook/ablation';
import { setupBackend } from '../../src/engine/backend';
import { makeConfig, type TrainingConfig } from '../../src/core/config';
import { loadMnist, sliceDataSet, type DataSet, type MnistData } from '../../src/data/mnist';
import { newHistory, type History, type RunStatus } from '../../src/core/history';
import type { Params } from '../../src/core/model';
import type { SweepResult } from '../../src/sweep/sweep';
import type { RunModel } from '../../src/store/run-model';
import type { SavedRun } from '../../src/store/runs';

before(async () => {
  await setupBackend('wasm');
});

const variants: Variant[] = [
  { name: 'full recipe', group: 'tricks', change: {} },
  { name: 'no L2', group: 'tricks', change: { regularizationRate: 0 } },
  { name: 'no ReLU, learning rate 0.1', group: 'tricks', change: { activation: 'linear', learningRateBase: 0.1 } },
  { name: 'learning rate 2.0', group: 'learning rate', change: { learningRateBase: 2 } },
];

describe('ablationRuns', () => {
  it('makes one run per variant and seed of its group, named after the variant, the seed and the steps', () => {
    const base = makeConfig({ trainingSteps: 1000, evalEvery: 100 });
    const runs = ablationRuns(variants, base, { tricks: [1, 2, 3] });
    assert.deepEqual(
      runs.map((r) => r.name),
      [
        'full-recipe-seed-1-1000',
        'full-recipe-seed-2-1000',
        'full-recipe-seed-3-1000',
        'no-l2-seed-1-1000',
        'no-l2-seed-2-1000',
        'no-l2-seed-3-1000',
        'no-relu-learning-rate-0.1-seed-1-1000',
        'no-relu-learning-rate-0.1-seed-2-1000',
        'no-relu-learning-rate-0.1-seed-3-1000',
        'learning-rate-2.0-1000',
      ],
    );
    const noRelu = runs[7];
    assert.equal(noRelu.variant, 'no ReLU, learning rate 0.1');
    assert.equal(noRelu.seed, 2);
    assert.deepEqual(
      noRelu.config,
      makeConfig({ trainingSteps: 1000, evalEvery: 100, activation: 'linear', learningRateBase: 0.1, seed: 2 }),
    );
    // A group without seeds runs the base's seed.
    assert.equal(runs[9].seed, 1);
    assert.equal(ablationRuns(variants.slice(3), { ...base, seed: 7 })[0].seed, 7);
  });

  it('refuses tables it cannot name or seed unambiguously, listing every problem', () => {
    const bad: Variant[] = [
      { name: 'No L2', group: 'tricks', change: {} },
      { name: 'no  l2', group: 'tricks', change: { seed: 4 } },
      { name: '!!', group: 'tricks', change: {} },
    ];
    assert.throws(
      () => ablationRuns(bad, {}, { trick: [1], tricks: [1, 1] }),
      (error: Error) =>
        error.message.includes('variants[1]: "no  l2" has the same folder name (no-l2)') &&
        error.message.includes('the seed comes from the seeds of its group') &&
        error.message.includes('variants[2]: the name "!!" has no letters') &&
        error.message.includes('no variant is in group "trick"') &&
        error.message.includes('seeds["tricks"] must be distinct'),
    );
  });
});

describe('separationChance', () => {
  it('is 2 / C(n1 + n2, n1): the share of orderings that put two groups entirely apart', () => {
    assert.ok(Math.abs(separationChance(3, 3) - 2 / 20) < 1e-12);
    assert.ok(Math.abs(separationChance(1, 3) - 2 / 4) < 1e-12);
    assert.ok(Math.abs(separationChance(2, 5) - 2 / 21) < 1e-12);
    assert.equal(separationChance(2, 5), separationChance(5, 2));
    assert.equal(separationChance(1, 1), 1);
    assert.throws(() => separationChance(0, 3), RangeError);
    assert.throws(() => separationChance(1.5, 3), RangeError);
  });
});

/** A finished result with these final accuracies. */
function result(
  name: string,
  config: Partial<TrainingConfig>,
  validation: number,
  test: number,
  status: RunStatus = 'completed',
  seconds = 10,
): SweepResult {
  const full = makeConfig(config);
  const history: History = { ...newHistory('wasm', full, 'test data'), status, wallTimeSeconds: seconds };
  history.evaluations = [{ step: full.trainingSteps, validationAccuracy: validation, testAccuracy: test }];
  history.final =
    status === 'completed' ? { step: full.trainingSteps, validationAccuracy: validation, testAccuracy: test } : null;
  return { name, config: full, history, reused: false, run: { name, dir: `/runs/${name}` } as SavedRun, error: null };
}

function fakeSweep(values: Record<string, number[]>, statuses: Record<string, RunStatus> = {}): AblationSweep {
  const runs = ablationRuns(variants, { trainingSteps: 100 }, { tricks: [1, 2, 3] });
  const seen = new Map<string, number>();
  const results = runs.map((run) => {
    const i = seen.get(run.variant) ?? 0;
    seen.set(run.variant, i + 1);
    const v = values[run.variant][i];
    return result(run.name, run.config, v, v - 0.001, statuses[run.variant] ?? 'completed');
  });
  return { runs, results, wallSeconds: 12 };
}

describe('summarizeVariants and compareWithBaseline', () => {
  const sweep = fakeSweep({
    'full recipe': [0.98, 0.982, 0.984],
    'no L2': [0.975, 0.976, 0.979],
    'no ReLU, learning rate 0.1': [0.981, 0.92, 0.99],
    'learning rate 2.0': [0.1],
  });

  it('groups the runs by variant with mean, sample sd and range of the final accuracies', () => {
    const summaries = summarizeVariants(variants, sweep);
    assert.deepEqual(
      summaries.map((s) => [s.variant.name, s.completed, s.runs.map((r) => r.seed)]),
      [
        ['full recipe', 3, [1, 2, 3]],
        ['no L2', 3, [1, 2, 3]],
        ['no ReLU, learning rate 0.1', 3, [1, 2, 3]],
        ['learning rate 2.0', 1, [1]],
      ],
    );
    const full = summaries[0].validation!;
    assert.ok(Math.abs(full.mean - 0.982) < 1e-12);
    assert.ok(Math.abs(full.sd - 0.002) < 1e-12);
    assert.deepEqual([full.min, full.max], [0.98, 0.984]);
    assert.ok(Math.abs(summaries[0].test!.mean - 0.981) < 1e-12);
    // Half a point around the lowest (97.5 %) and highest (98.4 %) final values, to a tenth.
    const [low, high] = closeUpRange(summaries.slice(0, 2));
    assert.ok(low <= 97 && low > 96.85, `low end ${low}`);
    assert.ok(high >= 98.9 && high < 99.05, `high end ${high}`);
  });

  it('calls a difference beyond the spread only when the ranges do not overlap and chance does that at most 1 time in 10', () => {
    const comparisons = compareWithBaseline(summarizeVariants(variants, sweep), 'full recipe');
    const byName = new Map(comparisons.map((c) => [c.variant, c]));
    assert.equal(byName.get('full recipe')!.verdict, 'the baseline');
    const noL2 = byName.get('no L2')!;
    assert.equal(noL2.apart, true);
    assert.equal(noL2.verdict, 'beyond the spread');
    assert.ok(Math.abs(noL2.difference! - (0.97666666666 - 0.982)) < 1e-9);
    // Its mean is lower than the full recipe's, but one seed lands above them all: the ranges overlap.
    assert.equal(byName.get('no ReLU, learning rate 0.1')!.verdict, 'within the spread');
    // One run against three: outside the range, but chance does that 1 time in 2.
    const lr = byName.get('learning rate 2.0')!;
    assert.equal(lr.apart, true);
    assert.equal(lr.chance, 0.5);
    assert.match(lr.verdict, /^apart, 441\.0 baseline sd away; too few runs to tell$/);
    assert.equal(
      conclusions(comparisons),
      'beyond the spread: no L2 (−0.53)\nwithin the spread: no ReLU, learning rate 0.1 (−1.83)\napart, but too few runs to tell: learning rate 2.0 (−88.20)',
    );
    assert.throws(
      () => compareWithBaseline(summarizeVariants(variants, sweep), 'tutorial'),
      /no variant named "tutorial" \(variants: full recipe, no L2/,
    );
  });

  it('leaves runs that did not complete out of the figures and says what became of them', () => {
    const diverged = fakeSweep(
      {
        'full recipe': [0.98, 0.981, 0.982],
        'no L2': [1, 1, 1],
        'no ReLU, learning rate 0.1': [0.9, 0.9, 0.9],
        'learning rate 2.0': [0.1],
      },
      { 'no L2': 'diverged' },
    );
    const summaries = summarizeVariants(variants, diverged);
    assert.equal(summaries[1].completed, 0);
    assert.equal(summaries[1].validation, null);
    assert.equal(summaries[1].incomplete, '3 diverged');
    const comparisons = compareWithBaseline(summaries, 'full recipe');
    assert.equal(comparisons[1].verdict, 'no completed run (3 diverged)');
    assert.match(conclusions(comparisons), /\nno completed run: no L2 \(3 diverged\)$/);
    const time = sweepTime(diverged);
    assert.deepEqual(
      [time.trained, time.reused, time.other, time.trainedSeconds, time.recordedSeconds],
      [7, 0, { diverged: 3 }, 70, 100],
      'diverged runs are not counted as trained',
    );
    assert.equal(
      describeSweepTime(time),
      '10 runs: 7 trained now (1 min 10 s of training added up), 0 reused, 3 diverged; the sweep took 12 s of wall time. The saved histories of the distinct runs record 1 min 40 s of training in all.',
    );
    const table = summaryTable(summaries, comparisons).split('\n');
    assert.match(
      table[0],
      /^variant\s+seeds\s+n\s+validation mean \(%\)\s+sd\s+min–max\s+vs baseline \(points\)\s+rule$/,
    );
    assert.match(table[3], /^no L2\s+1 2 3\s+0\s+—\s+—\s+—\s+—\s+no completed run \(3 diverged\)$/);
    assert.match(table[2], /^full recipe\s+1 2 3\s+3\s+98\.10\s+0\.10\s+98\.00–98\.20\s+0\s+the baseline$/);
  });

  it('names the runs of a chart by variant and seed', () => {
    const summaries = summarizeVariants(variants, sweep);
    assert.deepEqual(
      variantRuns([summaries[0], summaries[3]]).map((r) => r.name),
      ['full recipe, seed 1', 'full recipe, seed 2', 'full recipe, seed 3', 'learning rate 2.0'],
    );
    // Grouped by variant: one colour and legend entry per variant in compareFigure, a line style per seed.
    assert.deepEqual(
      variantRuns([summaries[0], summaries[3]]).map((r) => [r.group, r.member]),
      [
        ['full recipe', 'seed 1'],
        ['full recipe', 'seed 2'],
        ['full recipe', 'seed 3'],
        ['learning rate 2.0', 'seed 1'],
      ],
    );
  });
});

// ---------------------------------------------------------------------------------------------
// Checks on weights

/** Images of 2 pixels, with labels. */
function dataSet(pixels: number[][], labels: number[]): DataSet {
  return {
    images: Float32Array.from(pixels.flat()),
    labels: Uint8Array.from(labels),
    count: labels.length,
    imageSize: 2,
    numClasses: 2,
  };
}

function params(w1: number[][], b1: number[], w2: number[][] | null, b2: number[] | null): Params {
  return {
    weights1: tf.variable(tf.tensor2d(w1)),
    biases1: tf.variable(tf.tensor1d(b1)),
    weights2: w2 === null ? null : tf.variable(tf.tensor2d(w2)),
    biases2: b2 === null ? null : tf.variable(tf.tensor1d(b2)),
  };
}

const dispose = (p: Params) =>
  tf.dispose([p.weights1, p.biases1, ...(p.weights2 ? [p.weights2] : []), ...(p.biases2 ? [p.biases2] : [])]);

describe('datasetAccuracy and deadUnits', () => {
  // Unit 0 copies pixel 0, unit 1 copies pixel 1, unit 2 never opens (weights <= 0, bias below 0),
  // unit 3 opens only when pixel 0 is above 0.5.
  const w1 = [
    [1, 0, -1, 1],
    [0, 1, -2, 0],
  ];
  const b1 = [0, 0, -0.1, -0.5];
  // Class 0 scores unit 0, class 1 scores unit 1.
  const w2 = [
    [1, 0],
    [0, 1],
    [5, 5],
    [0, 0],
  ];
  const set = dataSet(
    [
      [0.9, 0.1],
      [0.2, 0.6],
      [0.3, 0.8],
      [0.7, 0.4],
      [0.1, 0.2],
    ],
    [0, 1, 0, 0, 0],
  );

  it('counts correct predictions of every chunk, and the units that no image switches on', () => {
    const p = params(w1, b1, w2, [0, 0]);
    const before = tf.memory().numTensors;
    // Predictions: 0, 1, 1, 0, 1 against labels 0, 1, 0, 0, 0.
    assert.equal(datasetAccuracy(p, 'relu', set), 3 / 5);
    assert.equal(datasetAccuracy(p, 'relu', set, 2), 3 / 5, 'chunks of 2 (the last one short) give the same count');
    assert.deepEqual(deadUnits(p, set), { dead: 1, units: 4 });
    assert.deepEqual(deadUnits(p, set, 3), { dead: 1, units: 4 });
    // Without the two images whose pixel 0 is above 0.5, unit 3 is dead as well.
    const dim = dataSet(
      [
        [0.2, 0.6],
        [0.3, 0.8],
        [0.1, 0.2],
      ],
      [1, 0, 0],
    );
    assert.deepEqual(deadUnits(p, dim), { dead: 2, units: 4 });
    assert.equal(tf.memory().numTensors, before, 'no tensor is left behind');
    dispose(p);
  });

  it('has no dead units without a hidden layer, and uses the activation it is given', () => {
    const linear = params(
      [
        [1, 0],
        [0, 1],
      ],
      [0, 0],
      null,
      null,
    );
    assert.equal(deadUnits(linear, set), null);
    assert.equal(datasetAccuracy(linear, 'relu', set), 3 / 5);
    dispose(linear);
    // Hidden inputs 0.5 and -0.5: ReLU zeroes the second, without it the second unit's -0.5 * -2 wins class 1.
    const p = params(
      [
        [1, -1],
        [0, 0],
      ],
      [0, 0],
      [
        [1, 0],
        [0, -2],
      ],
      [0, 0],
    );
    const one = dataSet([[0.5, 0]], [1]);
    assert.equal(datasetAccuracy(p, 'relu', one), 0, 'relu: class scores 0.5 and 0');
    assert.equal(datasetAccuracy(p, 'linear', one), 1, 'linear: class scores 0.5 and 1');
    dispose(p);
  });

  it('checkModel evaluates the moving averages and the live parameters of a run separately', () => {
    const live = params(w1, b1, w2, [0, 0]);
    // The averages only ever predict class 0.
    const averaged = params(w1, b1, w2, [10, 0]);
    const model: RunModel = {
      name: 'm',
      config: makeConfig({ layer1Node: 4, inputNode: 2, outputNode: 2 }),
      params: live,
      averaged,
      evaluated: averaged,
      dispose: () => undefined,
    };
    const data: MnistData = { train: set, validation: set, test: set, description: 'tiny' };
    const check = checkModel(model, data);
    assert.equal(check.trainAccuracy, 4 / 5);
    assert.equal(check.validationAccuracy, 4 / 5);
    assert.equal(check.liveValidationAccuracy, 3 / 5);
    assert.deepEqual(check.dead, { dead: 1, units: 4 });
    const linear = checkModel(
      { ...model, config: makeConfig({ ...model.config, activation: 'linear' }), averaged: null, evaluated: live },
      data,
    );
    assert.equal(linear.liveValidationAccuracy, null);
    assert.equal(linear.dead, null);
    dispose(live);
    dispose(averaged);
  });
});

// ---------------------------------------------------------------------------------------------
// A real, tiny ablation on the workers

describe('runAblation', () => {
  let dir: string;
  let data: MnistData;
  before(async () => {
    const mnist = await loadMnist();
    data = {
      train: sliceDataSet(mnist.train, 0, 1000),
      validation: sliceDataSet(mnist.validation, 0, 500),
      test: sliceDataSet(mnist.test, 0, 500),
      description: 'MNIST, first 1,000 / 500 / 500',
    };
    dir = await mkdtemp(join(tmpdir(), 'mnist-ablation-test-'));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('trains every run once, reuses them the next time, and the saved weights give the accuracy the history recorded', async () => {
    const tiny = [
      { name: 'base', group: 'g', change: {} },
      { name: 'no L2', group: 'g', change: { regularizationRate: 0 } },
      { name: 'same as base', group: 'h', change: {} },
    ];
    const runs = ablationRuns(
      tiny,
      { layer1Node: 20, trainingSteps: 30, evalEvery: 10, recordEvery: 5 },
      { g: [1, 2] },
    );
    const first = await runAblation(data, runs, { workers: 2, runsDir: dir, display: null, stopOnSigint: false });
    const time = sweepTime(first);
    assert.deepEqual(
      [time.runs, time.trained, time.reused, time.other],
      [5, 4, 1, {}],
      'the row with the base settings and seed 1 shares the first run',
    );
    assert.ok(time.trainedSeconds > 0 && time.recordedSeconds >= time.trainedSeconds - 1e-9);
    assert.match(
      describeSweepTime(time),
      /^5 runs: 4 trained now \(\d+ s of training added up\), 1 reused; the sweep took \d+ s of wall time\./,
    );
    const summaries = summarizeVariants(tiny, first);
    assert.deepEqual(
      summaries.map((s) => s.completed),
      [2, 2, 1],
    );

    const before = tf.memory().numTensors;
    const checks = await checkRuns(first, data);
    assert.equal(tf.memory().numTensors, before, 'every loaded model is released');
    assert.equal(checks.size, 4, 'the shared run is checked once');
    for (const r of first.results) {
      const check = checks.get(r.run!.dir)!;
      assert.equal(
        check.validationAccuracy,
        r.history.final!.validationAccuracy,
        `${r.name}: the saved weights are the evaluated ones`,
      );
      assert.ok(check.liveValidationAccuracy !== null && check.dead !== null && check.dead.units === 20);
      assert.ok(check.trainAccuracy > 0.5, `${r.name}: trains (training accuracy ${check.trainAccuracy})`);
    }
    const gap = fitGap(summaries[0], checks)!;
    const expected =
      summaries[0].results.reduce(
        (sum, r) => sum + checks.get(r.run!.dir)!.trainAccuracy - r.history.final!.validationAccuracy,
        0,
      ) / 2;
    assert.ok(Math.abs(gap - expected) < 1e-12);

    const again = await runAblation(data, runs, { workers: 2, runsDir: dir, display: null, stopOnSigint: false });
    assert.deepEqual([sweepTime(again).trained, sweepTime(again).reused], [0, 5]);
    assert.deepEqual(
      again.results.map((r) => r.history.final),
      first.results.map((r) => r.history.final),
    );
  });
});
