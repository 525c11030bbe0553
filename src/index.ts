/**
 * The MNIST tutorial on TensorFlow.js, the package's root entry point: the backend, the
 * tutorial's configuration, the data, training, saved runs and checkpoints, sweeps and
 * predictions. Charts are in `mnist-tfjs-tutorial/charts`, the notebooks' helpers in
 * `mnist-tfjs-tutorial/notebook`.
 *
 * The list is what the notebooks use plus what a training library's user needs (test/public-api.test.ts
 * pins it); the other modules' names stay internal. Add one only when users need it.
 */
export { describeBackend, setupBackend } from './engine/backend';
export { ConfigError, DEFAULT_CONFIG, makeConfig, type Activation, type TrainingConfig } from './core/config';
export { BatchSampler, labelCounts, loadMnist, toOneHot, type DataSet, type MnistData } from './data/mnist';
export { createParams, disposeParams, paramList, type Params } from './core/model';
export { DivergenceError } from './core/divergence';
export { Trainer, train, type Progress } from './train/trainer';
export { type TrainerState } from './engine/step-engine';
export { type History } from './core/history';
export { loadCheckpoint, saveCheckpoint } from './store/checkpoint';
export { defaultRunsDir, loadRun, saveRun, type SavedRun } from './store/runs';
export { loadRunModel, type RunModel } from './store/run-model';
export { trainOrLoad, type TrainOrLoadResult } from './store/train-or-load';
export { runSweep, type SweepResult, type SweepRun } from './sweep/sweep';
export { expandGrid, summarizeSweep, summaryMarkdown } from './sweep/summary';
export {
  confusionMatrix,
  matrixAccuracy,
  mostConfidentMistakes,
  perClassAccuracy,
  pickImages,
  predict,
  predictedClasses,
} from './predict/predict';
export { preprocessDigitImage } from './predict/digit-image';
export { quantizationAccuracy, quantizeModel } from './predict/quantize';
