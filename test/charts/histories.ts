/** Small hand-made training histories for the chart tests. */
import { DEFAULT_CONFIG } from '../../src/core/config';
import type { History, StepRecord } from '../../src/core/history';
import type { Progress } from '../../src/train/events';

/** Per-step values of the default history (steps 0, 10, ..., 50). */
export const STEPS = [0, 10, 20, 30, 40, 50];
export const CROSS_ENTROPY = [2.3, 1.1, 0.7, 0.5, 0.4, 0.3];
export const TOTAL_LOSS = [2.4, 1.2, 0.8, 0.6, 0.5, 0.4];
export const LEARNING_RATE = [0.8, 0.8, 0.8, 0.792, 0.792, 0.792];
export const MEAN_ABS_GRADIENT = [0.02, 0.01, 0.008, 0.006, 0.005, 0.004];
/** Evaluations at steps 0, 25 and 50. */
export const EVAL_STEPS = [0, 25, 50];
export const VALIDATION = [0.125, 0.75, 0.875];
export const TEST = [0.0625, 0.5, 0.8125];

export function makeHistory(options: { scale?: number; linear?: boolean } = {}): History {
  const scale = options.scale ?? 1;
  const steps: StepRecord[] = STEPS.map((step, i) => ({
    step,
    learningRate: LEARNING_RATE[i],
    crossEntropy: CROSS_ENTROPY[i] * scale,
    totalLoss: TOTAL_LOSS[i] * scale,
    meanAbsGradient: MEAN_ABS_GRADIENT[i],
    meanAbsGradients: options.linear
      ? { weights1: MEAN_ABS_GRADIENT[i] / 2, biases1: MEAN_ABS_GRADIENT[i] * 2 }
      : {
          weights1: MEAN_ABS_GRADIENT[i] / 2,
          biases1: MEAN_ABS_GRADIENT[i] * 2,
          weights2: MEAN_ABS_GRADIENT[i] * 3,
          biases2: MEAN_ABS_GRADIENT[i] * 4,
        },
  }));
  return {
    backend: 'cpu',
    config: { ...DEFAULT_CONFIG, trainingSteps: 50, evalEvery: 25, recordEvery: 10 },
    data: 'hand-made',
    startedAt: '2024-01-01T00:00:00.000Z',
    finishedAt: '2024-01-01T00:00:05.000Z',
    wallTimeSeconds: 5,
    status: 'completed',
    error: null,
    stop: { reason: 'completed', step: 50, of: 50, message: null },
    evaluations: EVAL_STEPS.map((step, i) => ({ step, validationAccuracy: VALIDATION[i], testAccuracy: TEST[i] })),
    steps,
    final: { step: 50, validationAccuracy: VALIDATION[2], testAccuracy: TEST[2] },
  };
}

/** A longer, noisy history (`count` recorded steps, an evaluation every 1,000 steps), like a real run's. */
export function longHistory(count = 3000, recordEvery = 10): History {
  const history = makeHistory();
  let seed = 12345;
  const random = () => {
    seed = (seed * 1103515245 + 12345) % 2 ** 31;
    return seed / 2 ** 31;
  };
  history.steps = Array.from({ length: count }, (_, i) => {
    const step = i * recordEvery;
    const ce = 2.3 / (1 + step / 300) + 0.05 + 0.1 * random();
    const g = 0.02 / (1 + step / 2000);
    return {
      step,
      learningRate: 0.8 * 0.99 ** Math.floor(step / 550),
      crossEntropy: ce,
      totalLoss: ce + 0.02,
      meanAbsGradient: g,
      meanAbsGradients: { weights1: g / 3, biases1: g * 2, weights2: g * 4, biases2: g * 5 },
    };
  });
  const last = (count - 1) * recordEvery;
  history.evaluations = [];
  for (let step = 0; step <= last; step += 1000) {
    const acc = step === 0 ? 0.1 : 0.98 - 0.1 / (1 + step / 1000);
    history.evaluations.push({ step, validationAccuracy: acc, testAccuracy: acc - 0.002 });
  }
  history.config = { ...history.config, trainingSteps: last, evalEvery: 1000 };
  return history;
}

/** Where a run of `history` would be at `step` of `totalSteps`, at 250 steps/s. */
export function progressOf(history: History, step: number, totalSteps: number): Progress {
  return {
    step,
    totalSteps,
    learningRate: 0.8,
    crossEntropy: 0.5,
    stepsPerSecond: 250,
    secondsLeft: (totalSteps - step) / 250,
    latestEvaluation: history.evaluations.at(-1) ?? null,
    history,
  };
}
