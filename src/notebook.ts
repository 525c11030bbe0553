/**
 * Small helpers for the notebooks: how many training steps to run (the `MNIST_STEPS`
 * environment variable, else the tutorial's 30,000), the tutorial's configuration for that
 * length, and pictures and tables of the data for the walkthrough.
 */
import { PNG } from 'pngjs';
import { ConfigError, DEFAULT_CONFIG, makeConfig, type TrainingConfig } from './config';
import type { DataSet } from './data/mnist';
import type { History } from './history';
import type { RunOptions, Trainer } from './train';

export { drawDigit, drawDigitHtml, type DrawDigitOptions, type DrawDigitOutput } from './draw/widget';
export { displayPath } from './display-path';
export { lossCrossover, l2Term, l2Path, pairEvaluations, summarizePairs, type LossCrossover, type L2Path, type PairedEvaluation, type PairSummary } from './dynamics';
export {
  ablationRuns,
  averageTable,
  checkRuns,
  closeUpRange,
  compareWithBaseline,
  conclusions,
  deadUnitTable,
  describeSweepTime,
  fitGap,
  fitTable,
  formatChance,
  runAblation,
  separationChance,
  summarizeVariants,
  summaryTable,
  sweepTime,
  variantRuns,
  type AblationOptions,
  type AblationRun,
  type AblationSweep,
  type Comparison,
  type RunCheck,
  type SweepTime,
  type Variant,
  type VariantSummary,
} from './ablation';
export { loadTutorialModel, type TutorialModel, type TutorialModelOptions } from './tutorial-model';
export { compareWithPackage, type CompareOptions, type Difference, type TutorialCode } from './tutorial-check';

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
export function evalEveryFor(trainingSteps: number, tutorialEvery: number = TUTORIAL_EVAL_EVERY): number {
  if (trainingSteps >= 10 * tutorialEvery) return tutorialEvery;
  return Math.max(1, Math.round(trainingSteps / 10));
}

/**
 * The tutorial's configuration for a notebook: its constants, `notebookSteps()` training steps
 * and an evaluation interval that suits that length (`evalEveryFor`), then `overrides`.
 */
export function tutorialConfig(overrides: Partial<TrainingConfig> = {}, env: NodeJS.ProcessEnv = process.env): TrainingConfig {
  const trainingSteps = overrides.trainingSteps ?? notebookSteps(TUTORIAL_STEPS, env);
  return makeConfig({ trainingSteps, evalEvery: evalEveryFor(trainingSteps), ...overrides });
}

/**
 * `trainer.run(options)` from a notebook cell, so that *Kernel → Interrupt* stops the training
 * after the current step: one line says where (from `options.log`, else printed here), the
 * history so far is kept in `trainer.history`, and the cell ends normally, so the cells below it
 * run (src/interrupt.ts).
 */
export async function runInNotebook(trainer: Trainer, options: RunOptions = {}): Promise<History> {
  const history = await trainer.run({ stopOnSigint: true, ...options });
  if (options.log === undefined && history.status === 'stopped') {
    const steps = (n: number) => n.toLocaleString('en-US');
    console.log(`${options.signal?.aborted === true ? 'stopped' : 'interrupted'} at step ${steps(trainer.globalStep)} of ${steps(history.config.trainingSteps)}: the history so far is kept in trainer.history`);
  }
  return history;
}

/** Rows as a plain-text table with aligned columns (numbers right-aligned), for `console.log`. */
export function textTable(header: string[], rows: (string | number)[][]): string {
  const cells = [header, ...rows.map((row) => row.map(String))];
  const widths = header.map((_, column) => Math.max(...cells.map((row) => (row[column] ?? '').length)));
  const numeric = header.map((_, column) => rows.length > 0 && rows.every((row) => typeof row[column] === 'number'));
  const line = (row: string[]) =>
    row
      .map((cell, column) => (numeric[column] ? cell.padStart(widths[column]) : cell.padEnd(widths[column])))
      .join('  ')
      .trimEnd();
  return [line(cells[0]), widths.map((w) => '-'.repeat(w)).join('  '), ...cells.slice(1).map(line)].join('\n');
}

/** The side of a square image of `imageSize` pixels (28 for MNIST). */
function sideOf(data: DataSet): number {
  const side = Math.round(Math.sqrt(data.imageSize));
  if (side * side !== data.imageSize) throw new Error(`images of ${data.imageSize} pixels are not square`);
  return side;
}

function checkIndex(data: DataSet, index: number): void {
  if (!Number.isInteger(index) || index < 0 || index >= data.count) {
    throw new RangeError(`image index ${index} is outside 0-${data.count - 1}`);
  }
}

/** One image as text: darker pixels are denser characters; blank rows above and below are left out. */
export function asciiDigit(data: DataSet, index: number): string {
  checkIndex(data, index);
  const side = sideOf(data);
  const shades = ' .:-=+*#%@';
  const lines: string[] = [];
  for (let row = 0; row < side; row++) {
    let line = '';
    for (let col = 0; col < side; col++) {
      const value = data.images[index * data.imageSize + row * side + col];
      line += shades[Math.min(shades.length - 1, Math.floor(value * shades.length))];
    }
    lines.push(line.trimEnd());
  }
  while (lines.length > 1 && lines[0] === '') lines.shift();
  while (lines.length > 1 && lines.at(-1) === '') lines.pop();
  return lines.join('\n');
}

/**
 * Images side by side in one PNG (black digits on white, each pixel drawn `scale` times
 * larger), e.g. for `tslab.display.png`.
 */
export function digitsPng(data: DataSet, indices: number[], scale = 3): Uint8Array {
  if (indices.length === 0) throw new RangeError('no images to draw');
  if (!Number.isInteger(scale) || scale < 1 || scale > 16) throw new RangeError(`scale must be a whole number 1-16, got ${scale}`);
  indices.forEach((index) => checkIndex(data, index));
  const side = sideOf(data);
  const gap = 2;
  const cell = side * scale;
  const png = new PNG({ width: indices.length * (cell + gap) - gap, height: cell, colorType: 6 });
  png.data.fill(255);
  indices.forEach((index, n) => {
    for (let y = 0; y < cell; y++) {
      for (let x = 0; x < cell; x++) {
        const value = data.images[index * data.imageSize + Math.floor(y / scale) * side + Math.floor(x / scale)];
        const shade = 255 - Math.round(Math.min(1, Math.max(0, value)) * 255);
        const at = (y * png.width + n * (cell + gap) + x) * 4;
        png.data[at] = shade;
        png.data[at + 1] = shade;
        png.data[at + 2] = shade;
      }
    }
  });
  return new Uint8Array(PNG.sync.write(png));
}
