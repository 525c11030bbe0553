import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  CONFIG_HELP,
  CONFIG_RULES,
  ConfigError,
  DEFAULT_CONFIG,
  configProblems,
  decayStepsFor,
  makeConfig,
  type TrainingConfig,
} from '../../src/core/config';

/** The constants of the original TensorFlow 1.x tutorial (mnist_train.py), written out again. */
const TUTORIAL = {
  inputNode: 784,
  outputNode: 10,
  layer1Node: 500,
  batchSize: 100,
  learningRateBase: 0.8,
  learningRateDecay: 0.99,
  decaySteps: 0,
  regularizationRate: 0.0001,
  trainingSteps: 30000,
  movingAverageDecay: 0.99,
  useMovingAverage: true,
  activation: 'relu',
  initStddev: 0.1,
  initBias: 0.1,
  evalEvery: 1000,
  recordEvery: 10,
  seed: 1,
};

/** The ConfigError thrown by `makeConfig(overrides)`; fails when it does not throw one. */
function configError(overrides: Record<string, unknown>): ConfigError {
  try {
    makeConfig(overrides as Partial<TrainingConfig>);
  } catch (error) {
    assert.ok(error instanceof ConfigError, `expected a ConfigError, got ${String(error)}`);
    return error;
  }
  assert.fail(`makeConfig(${JSON.stringify(overrides)}) did not throw`);
}

describe('config defaults', () => {
  it("are the tutorial's constants", () => {
    assert.deepEqual({ ...DEFAULT_CONFIG }, TUTORIAL);
    assert.deepEqual(makeConfig(), TUTORIAL);
  });

  it('are frozen, and makeConfig returns a fresh copy', () => {
    assert.ok(Object.isFrozen(DEFAULT_CONFIG));
    const config = makeConfig();
    assert.notEqual(config, DEFAULT_CONFIG);
    config.batchSize = 7;
    assert.equal(DEFAULT_CONFIG.batchSize, 100);
    assert.equal(makeConfig().batchSize, 100);
  });

  it('are valid', () => {
    assert.deepEqual(configProblems({ ...DEFAULT_CONFIG }), []);
  });

  it('has a rule for every numeric field and no other', () => {
    const numeric = Object.entries(DEFAULT_CONFIG)
      .filter(([, v]) => typeof v === 'number')
      .map(([k]) => k)
      .sort();
    assert.deepEqual(Object.keys(CONFIG_RULES).sort(), numeric);
  });

  it("has a one-line description for every field, with the tutorial's name where it has one", () => {
    assert.deepEqual(Object.keys(CONFIG_HELP), Object.keys(DEFAULT_CONFIG));
    for (const [field, { tutorial, text }] of Object.entries(CONFIG_HELP)) {
      assert.match(text, /^[^\n]{10,90}$/, field);
      // The tutorial's constants are the fields in capitals: layer1Node is LAYER1_NODE.
      if (tutorial !== undefined) assert.equal(tutorial, field.replace(/[A-Z]/g, (c) => `_${c}`).toUpperCase(), field);
    }
    const named = Object.entries(CONFIG_HELP)
      .filter(([, help]) => help.tutorial !== undefined)
      .map(([field]) => field);
    assert.deepEqual(named, [
      'inputNode',
      'outputNode',
      'layer1Node',
      'batchSize',
      'learningRateBase',
      'learningRateDecay',
      'regularizationRate',
      'trainingSteps',
      'movingAverageDecay',
    ]);
  });
});

describe('config overrides', () => {
  /** A valid value different from the default, for every field. */
  const alternatives: { [K in keyof TrainingConfig]: TrainingConfig[K] } = {
    inputNode: 16,
    outputNode: 3,
    layer1Node: 0,
    batchSize: 32,
    learningRateBase: 0.1,
    learningRateDecay: 1,
    decaySteps: 100,
    regularizationRate: 0,
    trainingSteps: 0,
    movingAverageDecay: 0,
    useMovingAverage: false,
    activation: 'linear',
    initStddev: 0,
    initBias: -0.5,
    evalEvery: 1,
    recordEvery: 1,
    seed: 2 ** 32 - 1,
  };

  for (const [field, value] of Object.entries(alternatives)) {
    it(`apply ${field} alone`, () => {
      const config = makeConfig({ [field]: value });
      assert.deepEqual(config, { ...TUTORIAL, [field]: value });
    });
  }

  it('apply several at once', () => {
    const config = makeConfig({ layer1Node: 20, batchSize: 10, seed: 5 });
    assert.deepEqual(config, { ...TUTORIAL, layer1Node: 20, batchSize: 10, seed: 5 });
  });

  it('ignore fields set to undefined', () => {
    assert.deepEqual(makeConfig({ batchSize: undefined, layer1Node: 20 }), { ...TUTORIAL, layer1Node: 20 });
  });

  it('accept the ends of each range that are allowed', () => {
    for (const overrides of [
      { learningRateDecay: 1 },
      { regularizationRate: 0 },
      { movingAverageDecay: 1 },
      { movingAverageDecay: 0 },
      { layer1Node: 100000 },
      { seed: 0 },
      { trainingSteps: 0 },
      { decaySteps: 0 },
      { initStddev: 0 },
      { learningRateBase: 1e-9 },
    ] as Partial<TrainingConfig>[]) {
      assert.doesNotThrow(() => makeConfig(overrides), JSON.stringify(overrides));
    }
  });
});

describe('ConfigError', () => {
  const cases: [string, unknown, RegExp][] = [
    ['layer1Node', 2.5, /^layer1Node must be an integer >= 0 and <= 100000, got 2\.5$/],
    ['batchSize', 0, /^batchSize must be an integer >= 1 and <= 1000000, got 0$/],
    ['batchSize', '100', /^batchSize must be an integer .*got "100"$/],
    ['trainingSteps', -1, /^trainingSteps must be an integer >= 0, got -1$/],
    ['trainingSteps', Number.POSITIVE_INFINITY, /^trainingSteps must be an integer >= 0, got Infinity$/],
    ['evalEvery', 0, /^evalEvery must be an integer >= 1, got 0$/],
    ['recordEvery', 1.5, /^recordEvery must be an integer >= 1/],
    ['seed', 2 ** 32, /^seed must be an integer >= 0 and <= 4294967295, got 4294967296$/],
    ['seed', -1, /^seed must be an integer >= 0/],
    ['learningRateBase', 0, /^learningRateBase must be a number > 0 and <= 1000000, got 0$/],
    ['learningRateBase', Number.NaN, /^learningRateBase must be a number > 0 .*got NaN$/],
    ['learningRateBase', Number.POSITIVE_INFINITY, /^learningRateBase must be a number .*got Infinity$/],
    ['learningRateDecay', 0, /^learningRateDecay must be a number > 0 and <= 1, got 0$/],
    ['learningRateDecay', 2, /^learningRateDecay must be a number > 0 and <= 1, got 2$/],
    ['regularizationRate', -0.1, /^regularizationRate must be a number >= 0/],
    ['movingAverageDecay', 1.01, /^movingAverageDecay must be a number >= 0 and <= 1, got 1\.01$/],
    ['initStddev', Number.NEGATIVE_INFINITY, /^initStddev must be a number >= 0/],
    ['decaySteps', 0.5, /^decaySteps must be an integer >= 0, got 0\.5$/],
    ['useMovingAverage', 'yes', /^useMovingAverage must be true or false, got "yes"$/],
    ['activation', 'tanh', /^activation must be one of relu, linear, got "tanh"$/],
    ['activation', undefined, /^activation must be one of relu, linear/],
    ['bogus', 1, /^unknown setting "bogus" \(known: inputNode, .*seed\)$/],
  ];

  for (const [field, value, pattern] of cases) {
    it(`rejects ${field} = ${String(value)}`, () => {
      // undefined overrides are ignored by makeConfig: check configProblems directly for those.
      const problems =
        value === undefined
          ? configProblems({ ...DEFAULT_CONFIG, [field]: value })
          : configError({ [field]: value }).problems;
      assert.equal(problems.length, 1, problems.join('\n'));
      assert.match(problems[0], pattern);
    });
  }

  it('lists every problem at once', () => {
    const error = configError({
      layer1Node: 2.5,
      batchSize: Number.NaN,
      learningRateBase: Number.POSITIVE_INFINITY,
      learningRateDecay: 2,
      seed: -1,
      activation: 'tanh',
      useMovingAverage: 'yes',
      bogus: 1,
      other: 'x',
    });
    const fields = [
      'bogus',
      'other',
      'layer1Node',
      'batchSize',
      'learningRateBase',
      'learningRateDecay',
      'seed',
      'useMovingAverage',
      'activation',
    ];
    assert.equal(error.problems.length, fields.length, error.problems.join('\n'));
    for (const field of fields) {
      assert.ok(
        error.problems.some((p) => p.includes(field)),
        `no problem names ${field}`,
      );
    }
    assert.equal(error.name, 'ConfigError');
    assert.ok(error instanceof Error);
    for (const problem of error.problems) assert.ok(error.message.includes(problem), `the message lacks "${problem}"`);
  });

  it('configProblems reports missing fields of a partial object', () => {
    const problems = configProblems({ inputNode: 784 });
    assert.ok(problems.length >= Object.keys(DEFAULT_CONFIG).length - 1);
    assert.ok(problems.some((p) => p.startsWith('batchSize must be')));
  });
});

describe('decayStepsFor', () => {
  it('is one epoch (a real quotient) when decaySteps is 0, as in the tutorial', () => {
    assert.equal(decayStepsFor(makeConfig(), 55000), 550);
    assert.equal(decayStepsFor(makeConfig({ batchSize: 64 }), 1000), 1000 / 64);
  });

  it('is decaySteps when given', () => {
    assert.equal(decayStepsFor(makeConfig({ decaySteps: 30 }), 55000), 30);
  });
});
