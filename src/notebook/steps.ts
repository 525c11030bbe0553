/**
 * How long the notebooks train: the `MNIST_STEPS` environment variable, else the tutorial's 30,000
 * steps; the tutorial's configuration for that length; and a run that a notebook's Interrupt stops calmly.
 */
import { ConfigError, DEFAULT_CONFIG, makeConfig, type TrainingConfig } from '../core/config';
import type { History } from '../core/history';
import { renderEvent } from '../train/messages';
import type { RunOptions, Trainer } from '../train/trainer';

/** The environment variable that overrides the notebooks' number of training steps. */
export const STEPS_ENV = 'MNIST_STEPS';

/** The tutorial's TRAINING_STEPS. */
export const TUTORIAL_STEPS = DEFAULT_CONFIG.trainingSteps;

/** The tutorial evaluates (and prints its accuracy line) every 1,000 steps. */
export const TUTORIAL_EVAL_EVERY = DEFAULT_CONFIG.evalEvery;

/**
 * Training steps for a notebook: `MNIST_STEPS` when set (e.g. `MNIST_STEPS=2000` for a quick
 * run), else `defaultSteps` (the tutorial's 30,000). Accepts a whole number >= 1, written with
 * optional `_` or `,` separators (`30_000`); anything else is a `ConfigError` that names the
 * variable and the value.
 */
export function notebookSteps(defaultSteps: number = TUTORIAL_STEPS, env: NodeJS.ProcessEnv = process.env): number {
  if (!Number.isInteger(defaultSteps) || defaultSteps < 1) {
    throw new ConfigError([`the default number of training steps must be a whole number >= 1, got ${defaultSteps}`]);
  }
  const raw = env[STEPS_ENV];
  if (raw === undefined || raw.trim() === '') return defaultSteps;
  const text = raw.trim().replace(/[_,](?=\d{3}(\D|$))/g, '');
  const steps = /^\d+$/.test(text) ? Number(text) : Number.NaN;
  if (!Number.isSafeInteger(steps) || steps < 1) {
    throw new ConfigError([
      `${STEPS_ENV} must be a whole number of training steps >= 1 (e.g. ${STEPS_ENV}=2000), got ${JSON.stringify(raw)}; ` +
        `unset it to run the tutorial's ${defaultSteps} steps`,
    ]);
  }
  return steps;
}

/**
 * How often to evaluate a run of `trainingSteps` steps: the tutorial's every 1,000 steps, or
 * ten times per run when the run is shorter than 10,000 steps, so that a quick run still draws
 * an accuracy curve.
 */
export function evalEveryFor(trainingSteps: number): number {
  if (trainingSteps >= 10 * TUTORIAL_EVAL_EVERY) return TUTORIAL_EVAL_EVERY;
  return Math.max(1, Math.round(trainingSteps / 10));
}

/**
 * The tutorial's configuration for a notebook: its constants, `notebookSteps()` training steps
 * and an evaluation interval that suits that length (`evalEveryFor`), then `overrides`.
 */
export function tutorialConfig(
  overrides: Partial<TrainingConfig> = {},
  env: NodeJS.ProcessEnv = process.env,
): TrainingConfig {
  const trainingSteps = overrides.trainingSteps ?? notebookSteps(TUTORIAL_STEPS, env);
  return makeConfig({ trainingSteps, evalEvery: evalEveryFor(trainingSteps), ...overrides });
}

/**
 * `trainer.run(options)` from a notebook cell, so that *Kernel → Interrupt* stops the training
 * after the current step: one line says where (the stop event's, through `options.log`, else
 * printed here from the stop reason), the history so far is kept in `trainer.history`, and the
 * cell ends normally, so the cells below it run (src/train/interrupt.ts).
 */
export async function runInNotebook(trainer: Trainer, options: RunOptions = {}): Promise<History> {
  const history = await trainer.run({ stopOnSigint: true, ...options });
  const { stop } = history;
  if (options.log === undefined && stop !== null && (stop.reason === 'interrupted' || stop.reason === 'aborted')) {
    const [line] = renderEvent({
      kind: 'stopped',
      step: stop.step,
      of: stop.of,
      interrupted: stop.reason === 'interrupted',
    });
    console.log(`${line} in trainer.history`);
  }
  return history;
}
