/**
 * The notebooks' entry point (`../dist/notebook`): displays in the kernel (live training, charts,
 * the drawing pad), how long to train, text tables, and one helper module per notebook.
 */

export {
  liveTraining,
  notebookCharts,
  showFigure,
  showPredictionFigure,
  type NotebookCharts,
  type NotebookChartsOptions,
  type ShowOptions,
} from './display';
export type { LiveTraining, LiveTrainingOptions } from './live-training';
export { liveSweep, type LiveSweep, type LiveSweepOptions } from './live-sweep';
export { formatDuration } from '../util/text';
export { formatProgress, formatSummary } from '../train/messages';
export { drawDigit, drawDigitHtml, type DrawDigitOptions, type DrawDigitOutput } from './draw-pad';
export { displayPath } from './display-path';
export {
  lossCrossover,
  l2Term,
  l2Path,
  pairEvaluations,
  summarizePairs,
  type LossCrossover,
  type L2Path,
  type PairedEvaluation,
  type PairSummary,
} from './dynamics';
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
export { compareWithPackage, type CompareOptions, type Difference, type TutorialCode } from './walkthrough';
export {
  STEPS_ENV,
  TUTORIAL_EVAL_EVERY,
  TUTORIAL_STEPS,
  evalEveryFor,
  notebookSteps,
  runInNotebook,
  tutorialConfig,
} from './steps';
export { asciiDigit, digitsPng, textTable } from './print';
