/**
 * The notebooks' entry point (`../dist/notebook`): displays in the kernel (live training and
 * sweeps, charts, the drawing pad), how long to train, text tables, and one helper module per
 * notebook. It exports what the notebooks and the docs use (test/public-api.test.ts pins it).
 */
export { liveTraining, showFigure, showPredictionFigure } from './display';
export { showPng } from './kernel-output';
export { liveSweep } from './live-sweep';
export { formatDuration } from '../util/text';
export { drawDigit, drawDigitHtml } from './draw-pad';
export { displayPath } from './display-path';
export { lossCrossover, l2Term, l2Path, pairEvaluations, summarizePairs } from './dynamics';
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
  type Variant,
} from './ablation';
export { loadTutorialModel } from './tutorial-model';
export { compareWithPackage } from './walkthrough';
export { evalEveryFor, notebookSteps, runInNotebook, tutorialConfig } from './steps';
export { asciiDigit, digitsPng, textTable } from './print';
