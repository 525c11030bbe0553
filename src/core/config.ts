/**
 * Hyperparameters: their types, the tutorial's defaults and validation.
 *
 * The defaults are the constants of the original tutorial; the comment on each field gives the
 * tutorial's name for it. Every field can be overridden on its own with `makeConfig`.
 */

/** The hidden layer's non-linearity; `linear` drops ReLU (an experiment, not the tutorial). */
export type Activation = 'relu' | 'linear';

/** Every hyperparameter of a run, with the tutorial's name of each constant (`DEFAULT_CONFIG` holds its values). */
export interface TrainingConfig {
  /** INPUT_NODE: pixels per image, 28 x 28. */
  inputNode: number;
  /** OUTPUT_NODE: number of classes, the digits 0-9. */
  outputNode: number;
  /** LAYER1_NODE: hidden units; 0 removes the hidden layer (a linear model). */
  layer1Node: number;
  /** BATCH_SIZE: examples per training step. */
  batchSize: number;
  /** LEARNING_RATE_BASE: the learning rate at step 0. */
  learningRateBase: number;
  /** LEARNING_RATE_DECAY: the factor the learning rate is multiplied by once per decay period; 1 = no decay. */
  learningRateDecay: number;
  /** Steps per decay period; 0 means one epoch (training examples / batch size), as in the tutorial. */
  decaySteps: number;
  /** REGULARIZATION_RATE: weight of the L2 term; 0 = no regularisation. */
  regularizationRate: number;
  /** TRAINING_STEPS: number of training steps. */
  trainingSteps: number;
  /** MOVING_AVERAGE_DECAY: decay of the parameters' exponential moving average. */
  movingAverageDecay: number;
  /** Evaluate with the moving averages (the tutorial) or with the live parameters. */
  useMovingAverage: boolean;
  /** Hidden-layer activation. */
  activation: Activation;
  /** Standard deviation of the truncated-normal initial weights. */
  initStddev: number;
  /** Initial value of every bias. */
  initBias: number;
  /** Evaluate on the validation and test sets every this many steps (the tutorial: 1,000). */
  evalEvery: number;
  /** Record learning rate, losses and gradients every this many steps. */
  recordEvery: number;
  /** Seed of the initial weights and of the order of the training examples. */
  seed: number;
}

/** The tutorial's settings. */
export const DEFAULT_CONFIG: Readonly<TrainingConfig> = Object.freeze({
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
});

/** One or more invalid settings; `problems` lists each of them. */
export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`Invalid training configuration:\n  - ${problems.join('\n  - ')}`);
    this.name = 'ConfigError';
  }
}

type NumberField = { [K in keyof TrainingConfig]: TrainingConfig[K] extends number ? K : never }[keyof TrainingConfig];

interface NumberRule {
  integer: boolean;
  min: number;
  max: number;
  /** Whether `min` itself is allowed. */
  minInclusive: boolean;
}

const int = (min: number, max = Number.MAX_SAFE_INTEGER): NumberRule => ({
  integer: true,
  min,
  max,
  minInclusive: true,
});
const real = (min: number, max: number, minInclusive = true): NumberRule => ({
  integer: false,
  min,
  max,
  minInclusive,
});

/** The accepted range of every numeric field. */
export const CONFIG_RULES: Readonly<Record<NumberField, NumberRule>> = Object.freeze({
  inputNode: int(1),
  outputNode: int(2),
  layer1Node: int(0, 100000),
  batchSize: int(1, 1000000),
  learningRateBase: real(0, 1e6, false),
  learningRateDecay: real(0, 1, false),
  decaySteps: int(0),
  regularizationRate: real(0, 1e6),
  trainingSteps: int(0),
  movingAverageDecay: real(0, 1),
  initStddev: real(0, 1e3),
  initBias: real(-1e3, 1e3),
  evalEvery: int(1),
  recordEvery: int(1),
  seed: int(0, 2 ** 32 - 1),
});

/** What each field means, for `--help`: the tutorial's name for it (where it has one) and one line. */
export const CONFIG_HELP: Readonly<Record<keyof TrainingConfig, { tutorial?: string; text: string }>> = Object.freeze({
  inputNode: { tutorial: 'INPUT_NODE', text: 'pixels per image (28 x 28)' },
  outputNode: { tutorial: 'OUTPUT_NODE', text: 'number of classes (the digits 0-9)' },
  layer1Node: { tutorial: 'LAYER1_NODE', text: 'hidden units; 0 removes the hidden layer (a linear model)' },
  batchSize: { tutorial: 'BATCH_SIZE', text: 'examples per training step' },
  learningRateBase: { tutorial: 'LEARNING_RATE_BASE', text: 'learning rate at step 0' },
  learningRateDecay: {
    tutorial: 'LEARNING_RATE_DECAY',
    text: 'factor applied to the learning rate once per decay period; 1: no decay',
  },
  decaySteps: { text: 'steps per decay period; 0: one epoch (training examples / batch size)' },
  regularizationRate: { tutorial: 'REGULARIZATION_RATE', text: 'weight of the L2 term; 0: no regularisation' },
  trainingSteps: { tutorial: 'TRAINING_STEPS', text: 'number of training steps' },
  movingAverageDecay: { tutorial: 'MOVING_AVERAGE_DECAY', text: "decay of the parameters' moving average" },
  useMovingAverage: { text: 'true: evaluate with the moving averages (the tutorial); false: with the live parameters' },
  activation: { text: 'hidden-layer activation: relu or linear' },
  initStddev: { text: 'standard deviation of the truncated-normal initial weights' },
  initBias: { text: 'initial value of every bias' },
  evalEvery: { text: 'evaluate on the validation and test sets every N steps' },
  recordEvery: { text: 'record learning rate, losses and gradients every N steps' },
  seed: { text: 'seed of the initial weights and of the order of the examples' },
});

const ACTIVATIONS: readonly Activation[] = ['relu', 'linear'];

function describeRange(rule: NumberRule): string {
  const kind = rule.integer ? 'an integer' : 'a number';
  const low = rule.minInclusive ? `>= ${rule.min}` : `> ${rule.min}`;
  return rule.max >= Number.MAX_SAFE_INTEGER ? `${kind} ${low}` : `${kind} ${low} and <= ${rule.max}`;
}

/** A value as given, for messages: NaN and Infinity as such (JSON would print them as null). */
function show(value: unknown): string {
  return typeof value === 'number' ? String(value) : (JSON.stringify(value) ?? String(value));
}

/** Every problem with `config`, one message each; empty when it is valid. */
export function configProblems(config: Record<string, unknown>): string[] {
  const problems: string[] = [];
  const known = new Set(Object.keys(DEFAULT_CONFIG));
  for (const key of Object.keys(config)) {
    if (!known.has(key)) problems.push(`unknown setting "${key}" (known: ${[...known].join(', ')})`);
  }
  for (const [field, rule] of Object.entries(CONFIG_RULES) as [NumberField, NumberRule][]) {
    const value = config[field];
    const ok =
      typeof value === 'number' &&
      Number.isFinite(value) &&
      (!rule.integer || Number.isInteger(value)) &&
      (rule.minInclusive ? value >= rule.min : value > rule.min) &&
      value <= rule.max;
    if (!ok) problems.push(`${field} must be ${describeRange(rule)}, got ${show(value)}`);
  }
  if (typeof config.useMovingAverage !== 'boolean') {
    problems.push(`useMovingAverage must be true or false, got ${show(config.useMovingAverage)}`);
  }
  if (!ACTIVATIONS.includes(config.activation as Activation)) {
    problems.push(`activation must be one of ${ACTIVATIONS.join(', ')}, got ${show(config.activation)}`);
  }
  return problems;
}

/**
 * The tutorial's defaults with `overrides` applied field by field, validated: all problems are
 * reported at once in one `ConfigError`.
 */
export function makeConfig(overrides: Partial<TrainingConfig> = {}): TrainingConfig {
  const defined = Object.fromEntries(Object.entries(overrides).filter(([, v]) => v !== undefined));
  const config = { ...DEFAULT_CONFIG, ...defined } as TrainingConfig;
  const problems = configProblems(config as unknown as Record<string, unknown>);
  if (problems.length > 0) throw new ConfigError(problems);
  return config;
}

/** The staircase decay period in steps: `decaySteps`, or one epoch when it is 0. */
export function decayStepsFor(config: TrainingConfig, trainingExamples: number): number {
  // Like the tutorial, a real quotient: TF divides num_examples by BATCH_SIZE without rounding.
  return config.decaySteps > 0 ? config.decaySteps : trainingExamples / config.batchSize;
}
