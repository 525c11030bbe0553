/**
 * The MNIST tutorial on TensorFlow.js, the package's root entry point: the backend, the
 * tutorial's configuration, the data, the `inference` network, training, histories, saved runs,
 * sweeps and predictions. Charts are in `mnist-tfjs-tutorial/charts`, the notebooks' helpers in
 * `mnist-tfjs-tutorial/notebook`.
 *
 * Every name here is a deliberate part of the public surface (test/public-api.test.ts pins the
 * list): add one only when users need it.
 */
export {
  BACKENDS,
  BackendError,
  describeBackend,
  setupBackend,
  type BackendChoice,
  type BackendInfo,
  type BackendName,
} from './engine/backend';
export {
  CONFIG_HELP,
  ConfigError,
  DEFAULT_CONFIG,
  configProblems,
  decayStepsFor,
  makeConfig,
  type Activation,
  type TrainingConfig,
} from './core/config';
export { DataError } from './data/idx';
export {
  BatchSampler,
  VALIDATION_SIZE,
  labelCounts,
  loadMnist,
  mnistFromBytes,
  sliceDataSet,
  toOneHot,
  type Batch,
  type DataSet,
  type LoadOptions,
  type MnistData,
  type MnistSource,
} from './data/mnist';
export {
  ExponentialMovingAverage,
  PARAM_NAMES,
  createParams,
  disposeParams,
  forward,
  inference,
  movingAverageDecayAt,
  paramList,
  paramValues,
  type AverageClass,
  type ParamName,
  type Params,
} from './core/model';
export { DivergenceError } from './core/divergence';
export {
  autodiffGradients,
  crossEntropyMean,
  l2Regularization,
  learningRateAt,
  manualGradients,
  totalLoss,
  type GradientMode,
  type Gradients,
} from './core/loss';
export {
  Trainer,
  train,
  type Progress,
  type RunOptions,
  type TrainerOptions,
  type TrainingFailure,
} from './train/trainer';
export { type TrainerState } from './engine/step-engine';
export {
  bestEvaluation,
  historyToCsv,
  historyToJson,
  parseHistory,
  type Evaluation,
  type History,
  type RunStatus,
  type StepRecord,
} from './core/history';
export { CheckpointError, loadCheckpoint, saveCheckpoint } from './store/checkpoint';
export {
  RunError,
  defaultRunsDir,
  listRuns,
  loadRun,
  saveRun,
  type RunMeta,
  type RunSummary,
  type SaveRunOptions,
  type SavedRun,
} from './store/runs';
export { loadRunModel, type RunModel } from './store/run-model';
export { trainOrLoad, type TrainOrLoadOptions, type TrainOrLoadResult } from './store/train-or-load';
export {
  defaultSweepWorkers,
  runSweep,
  type SweepOptions,
  type SweepProgress,
  type SweepResult,
  type SweepRun,
} from './sweep/sweep';
export {
  expandGrid,
  spread,
  summarizeSweep,
  summaryCsv,
  summaryMarkdown,
  type Spread,
  type SummaryRow,
} from './sweep/summary';
export {
  confusionMatrix,
  matrixAccuracy,
  mostConfidentMistakes,
  perClassAccuracy,
  pickImages,
  predict,
  predictedClasses,
  type Mistake,
} from './predict/predict';
export {
  DIGIT_IMAGE_LIMITS,
  DigitImageError,
  preprocessDigitImage,
  type DigitImageLimits,
  type PreprocessOptions,
  type PreprocessedDigit,
} from './predict/digit-image';
export type { GrayImage, PreprocessStage, PreprocessSteps } from './predict/digit-preprocess';
export {
  quantizationAccuracy,
  quantizeModel,
  type QuantizationAccuracy,
  type QuantizedModel,
} from './predict/quantize';
