/**
 * Training: the loss, the learning-rate schedule, one training step (gradient step plus
 * moving-average update), evaluation, and the loop that records a history.
 *
 * The step computes the network's gradients by hand (the formulas are short for a two-layer
 * network). Autodiff gives the same numbers (a test checks it, and `gradientMode: 'autodiff'`
 * keeps that path), but its matrix products with transposed operands are about ten times
 * slower on the wasm backend, and it also computes the unused gradient of the input.
 */
import * as tf from '@tensorflow/tfjs';
import { availableParallelism } from 'node:os';
import { isMainThread } from 'node:worker_threads';
import { decayStepsFor, makeConfig, type TrainingConfig } from './config';
import { BatchSampler, type Batch, type DataSet, type MnistData, type SamplerState } from './data/mnist';
import { cloneHistory, newHistory, type Evaluation, type History, type StepRecord } from './history';
import { takeInterrupts, type InterruptScope } from './interrupt';
import { createParams, disposeParams, ExponentialMovingAverage, forward, isWeight, paramList, paramValuesProblem, type ParamName, type Params } from './model';
import { SplitEngine } from './parallel/split-engine';
import { errorMessage, formatPercent } from './text';

/** `exponential_decay(base, step, decaySteps, decay, staircase=True)`: `base * decay ^ floor(step / decaySteps)`. */
export function learningRateAt(config: TrainingConfig, step: number, decaySteps: number): number {
  return config.learningRateBase * config.learningRateDecay ** Math.floor(step / decaySteps);
}

/** Mean sparse softmax cross-entropy between `logits` and class indices `labels`. */
export function crossEntropyMean(logits: tf.Tensor2D, labels: tf.Tensor1D): tf.Scalar {
  return tf.tidy(() => tf.losses.softmaxCrossEntropy(tf.oneHot(labels, logits.shape[1]), logits) as tf.Scalar);
}

/** The L2 term on the weights (not the biases): `rate * (sum(W1^2) / 2 + sum(W2^2) / 2)`. */
export function l2Regularization(params: Params, rate: number): tf.Scalar {
  return tf.tidy(() => {
    let total: tf.Scalar = tf.scalar(0);
    for (const [name, v] of paramList(params)) {
      if (isWeight(name)) total = tf.add(total, tf.div(tf.sum(tf.square(v)), 2));
    }
    return tf.mul(total, rate);
  });
}

/** The tutorial's `loss`: mean cross-entropy of the live model plus the L2 term. */
export function totalLoss(params: Params, config: TrainingConfig, images: tf.Tensor2D, labels: tf.Tensor1D): tf.Scalar {
  return tf.tidy(() => tf.add(crossEntropyMean(forward(images, params, null, config.activation), labels), l2Regularization(params, config.regularizationRate)));
}

/** How gradients are computed: hand-derived formulas (fast) or TensorFlow.js autodiff. */
export type GradientMode = 'manual' | 'autodiff';

/** The gradients of one training step, with the batch's losses. */
export interface Gradients {
  /** Mean cross-entropy on the batch (scalar tensor). */
  crossEntropy: tf.Scalar;
  /** Gradient of the total loss (cross-entropy + L2) for each parameter. */
  grads: Map<ParamName, tf.Tensor>;
}

/** Gradients by the hand-derived backward pass of the two-layer network. Call inside `tf.tidy`. */
export function manualGradients(params: Params, config: TrainingConfig, images: tf.Tensor2D, labels: tf.Tensor1D): Gradients {
  const batch = images.shape[0];
  const oneHot = tf.oneHot(labels, config.outputNode);
  const { weights1, biases1, weights2, biases2 } = params;
  // Forward, keeping what the backward pass needs.
  const z1 = tf.add(tf.matMul(images, weights1), biases1) as tf.Tensor2D;
  const hidden = weights2 === null ? null : config.activation === 'relu' ? tf.relu(z1) : z1;
  const logits = hidden === null ? z1 : (tf.add(tf.matMul(hidden, weights2!), biases2!) as tf.Tensor2D);
  const logProbs = tf.logSoftmax(logits);
  const crossEntropy = tf.div(tf.neg(tf.sum(tf.mul(oneHot, logProbs))), batch) as tf.Scalar;
  // d(mean CE)/d(logits) = (softmax - onehot) / batch.
  const dLogits = tf.div(tf.sub(tf.exp(logProbs), oneHot), batch) as tf.Tensor2D;
  // Explicit transposes: matMul's transpose flags take a slow path on wasm.
  const transposedImages = () => tf.transpose(images);
  const grads = new Map<ParamName, tf.Tensor>();
  const withL2 = (g: tf.Tensor, w: tf.Variable) => (config.regularizationRate === 0 ? g : tf.add(g, tf.mul(w, config.regularizationRate)));
  if (hidden === null) {
    grads.set('weights1', withL2(tf.matMul(transposedImages(), dLogits), weights1));
    grads.set('biases1', tf.sum(dLogits, 0));
    return { crossEntropy, grads };
  }
  grads.set('weights2', withL2(tf.matMul(tf.transpose(hidden), dLogits), weights2!));
  grads.set('biases2', tf.sum(dLogits, 0));
  const dHidden = tf.matMul(dLogits, tf.transpose(weights2!));
  // ReLU passes the gradient where its input was positive (TensorFlow's convention at 0).
  const dZ1 = config.activation === 'relu' ? tf.mul(dHidden, tf.step(z1)) : dHidden;
  grads.set('weights1', withL2(tf.matMul(transposedImages(), dZ1), weights1));
  grads.set('biases1', tf.sum(dZ1, 0));
  return { crossEntropy, grads };
}

/** Gradients by TensorFlow.js autodiff of `totalLoss` (the straightforward way). Call inside `tf.tidy`. */
export function autodiffGradients(params: Params, config: TrainingConfig, images: tf.Tensor2D, labels: tf.Tensor1D): Gradients {
  const variables = paramList(params);
  let kept: tf.Scalar | null = null;
  const { grads } = tf.variableGrads(() => {
    kept = tf.keep(crossEntropyMean(forward(images, params, null, config.activation), labels));
    return tf.add(kept, l2Regularization(params, config.regularizationRate));
  }, variables.map(([, v]) => v));
  // A kept tensor escapes every tidy: hand the caller's tidy a tracked copy instead.
  const crossEntropy = tf.clone(kept!) as tf.Scalar;
  (kept as tf.Scalar | null)?.dispose();
  return { crossEntropy, grads: new Map(variables.map(([name, v]) => [name, grads[v.name]])) };
}

/**
 * Mean cross-entropy above which a step counts as diverged although the loss is still finite:
 * over 400 times that of guessing uniformly among 10 classes (ln 10 = 2.3). Too large a learning
 * rate blows the loss up to thousands within a few steps without making it infinite (the softmax
 * is computed stably), and leaves a dead network behind.
 */
export const DIVERGENCE_CROSS_ENTROPY = 1000;

/**
 * Raised when the loss stops being a finite number or exceeds the divergence threshold; the
 * parameters are left as they were before that step.
 */
export class DivergenceError extends Error {
  constructor(
    readonly step: number,
    readonly learningRate: number,
    readonly crossEntropy: number,
    readonly threshold = DIVERGENCE_CROSS_ENTROPY,
  ) {
    super(
      `training diverged at step ${step}: the loss is ${crossEntropy}${Number.isFinite(crossEntropy) ? ` (above ${threshold})` : ''} with learning rate ${learningRate}. ` +
        'Lower learningRateBase (the tutorial uses 0.8) or check the input data.',
    );
    this.name = 'DivergenceError';
  }
}

/** A saved training state: enough to continue the run exactly. */
export interface TrainerState {
  config: TrainingConfig;
  backend: string;
  globalStep: number;
  sampler: SamplerState;
  params: Partial<Record<ParamName, Float32Array>>;
  averages: Partial<Record<ParamName, Float32Array>>;
  history: History;
}

/** Where a training run is, passed to `RunOptions.onProgress` after each step. */
export interface Progress {
  step: number;
  totalSteps: number;
  learningRate: number;
  crossEntropy: number;
  /** Training speed over the current run so far. */
  stepsPerSecond: number;
  secondsLeft: number;
  latestEvaluation: Evaluation | null;
  /** The history so far (the live object: read it, do not keep it). */
  history: History;
}

/** Options of `Trainer.run`: stopping, logging and progress callbacks. */
export interface RunOptions {
  /** Stops the loop after the step under way; the history so far is kept. */
  signal?: AbortSignal;
  /** Also stop on SIGINT (Ctrl-C, or "interrupt kernel" in Jupyter). */
  stopOnSigint?: boolean;
  /** Called after every recorded step and every evaluation. */
  onProgress?: (progress: Progress) => void;
  /** Called with every evaluation. */
  onEvaluation?: (evaluation: Evaluation) => void;
  /** Receives the log lines (the tutorial's and English ones); default: none. */
  log?: (line: string) => void;
  /** Save a checkpoint every this many steps through `onCheckpoint`. */
  checkpointEvery?: number;
  onCheckpoint?: (state: TrainerState) => Promise<void> | void;
}

/** Options of `new Trainer`: the configuration, the backend's name, checkpoints and the step's workers. */
export interface TrainerOptions {
  config?: Partial<TrainingConfig>;
  /** Name of the backend in use, recorded in the history. */
  backend?: string;
  gradientMode?: GradientMode;
  /** Continue from a saved state instead of starting fresh. */
  resume?: TrainerState;
  /** Mean cross-entropy above which a step counts as diverged (default `DIVERGENCE_CROSS_ENTROPY`; Infinity: only a non-finite loss). */
  divergenceThreshold?: number;
  /**
   * Threads to split each step across (the hidden units divided between worker threads);
   * 1: this thread only. Default `defaultStepWorkers`: one per core on wasm.
   */
  workers?: number;
}

/** Rows of a data set as tensors, built once per engine for evaluation. */
interface EvalSet {
  chunks: tf.Tensor2D[];
  labels: Uint8Array;
}

const EVAL_CHUNK = 5000;

function evalSet(data: DataSet): EvalSet {
  const chunks: tf.Tensor2D[] = [];
  for (let start = 0; start < data.count; start += EVAL_CHUNK) {
    const end = Math.min(data.count, start + EVAL_CHUNK);
    chunks.push(tf.tensor2d(data.images.subarray(start * data.imageSize, end * data.imageSize), [end - start, data.imageSize]));
  }
  return { chunks, labels: data.labels };
}

/** A percentage as the tutorial printed it (all digits), without binary rounding noise. */
function tutorialPercent(fraction: number): string {
  return `${Number((fraction * 100).toPrecision(12))} %`;
}

export const yieldToEventLoop = () => new Promise<void>((resolve) => setImmediate(resolve));

/** What an engine keeps of a run: the part of `TrainerState` that is not the config or the history. */
export type EngineState = Pick<TrainerState, 'globalStep' | 'sampler' | 'params' | 'averages'>;

export interface AdvanceOptions {
  /** Record the metrics of the steps whose number is a multiple of this. */
  recordEvery: number;
  /** Checked between steps: true stops after the step under way. */
  shouldStop: () => boolean;
  /** Receives each recorded step, in order, as soon as it is known. */
  onRecord: (record: StepRecord) => void;
}

/**
 * What runs the steps, evaluations and state of a `Trainer`: `LocalEngine` (this thread) or
 * `SplitEngine` (the hidden layer split between worker threads). `Trainer.run` (evaluation
 * schedule, history, checkpoints, logs) is the same for both.
 */
export interface StepEngine {
  /** Threads that compute a step (1: this one). */
  readonly workers: number;
  /** `global_step`: training steps completed. */
  readonly globalStep: number;
  /** The parameters as variables of this thread (for the split engine: gathered on each access). */
  readonly params: Params;
  /** Their moving averages, when used (for the split engine: gathered with `params`). */
  readonly average: ExponentialMovingAverage | null;
  /** One step, synchronously; see `Trainer.step`. */
  step(recordMetrics: boolean): StepRecord | null;
  /** Steps until `globalStep` reaches `until`, or until `shouldStop`; rejects with `DivergenceError`. */
  advance(until: number, options: AdvanceOptions): Promise<void>;
  /** Accuracy of the evaluated model (moving averages, or the live parameters) on the validation and test sets. */
  accuracy(): { validationAccuracy: number; testAccuracy: number };
  state(): EngineState;
  dispose(): void;
}

/** What both engines are built from. */
export interface EngineSetup {
  data: MnistData;
  config: TrainingConfig;
  decaySteps: number;
  divergenceThreshold: number;
  resume?: TrainerState;
}

const divergedLoss = (loss: number, threshold: number) => !Number.isFinite(loss) || loss > threshold;

/** The step on this thread, with this thread's TensorFlow.js backend. */
export class LocalEngine implements StepEngine {
  readonly workers = 1;
  readonly params: Params;
  readonly average: ExponentialMovingAverage | null;
  private globalStepValue: number;
  private readonly sampler: BatchSampler;
  private evalSets: { validation: EvalSet; test: EvalSet } | null = null;

  constructor(
    private readonly setup: EngineSetup,
    private readonly gradients: (params: Params, config: TrainingConfig, images: tf.Tensor2D, labels: tf.Tensor1D) => Gradients = manualGradients,
  ) {
    const { config, resume } = setup;
    this.params = createParams(config);
    if (resume !== undefined) this.restoreParams(resume.params, 'params');
    this.average = config.useMovingAverage ? new ExponentialMovingAverage(config.movingAverageDecay, paramList(this.params).map(([, v]) => v)) : null;
    if (resume !== undefined && this.average !== null) {
      const values = new Map(paramList(this.params).map(([name, v]) => [v, resume.averages[name]!]));
      this.average.restore(values);
    }
    this.globalStepValue = resume?.globalStep ?? 0;
    this.sampler = new BatchSampler(setup.data.train, config.seed, resume?.sampler);
  }

  private restoreParams(values: Partial<Record<ParamName, Float32Array>>, what: string): void {
    const variables = paramList(this.params);
    const problem = paramValuesProblem(values, Object.fromEntries(variables.map(([name, v]) => [name, v.shape])));
    if (problem !== null) throw new Error(`saved ${what}: ${problem}`);
    for (const [name, v] of variables) tf.tidy(() => v.assign(tf.tensor(values[name]!, v.shape)));
  }

  get globalStep(): number {
    return this.globalStepValue;
  }

  step(recordMetrics: boolean): StepRecord | null {
    const { config, decaySteps, divergenceThreshold } = this.setup;
    const batch: Batch = this.sampler.nextBatch(config.batchSize);
    const step = this.globalStepValue;
    const learningRate = learningRateAt(config, step, decaySteps);
    let crossEntropy = Number.NaN;
    let record: StepRecord | null = null;
    tf.tidy(() => {
      const images = tf.tensor2d(batch.images, [batch.size, config.inputNode]);
      const labels = tf.tensor1d(batch.labels, 'int32');
      const gradients = this.gradients(this.params, config, images, labels);
      crossEntropy = gradients.crossEntropy.dataSync()[0];
      if (divergedLoss(crossEntropy, divergenceThreshold)) return;
      if (recordMetrics) record = this.stepRecord(step, learningRate, crossEntropy, gradients.grads);
      for (const [name, v] of paramList(this.params)) v.assign(tf.sub(v, tf.mul(gradients.grads.get(name)!, learningRate)));
    });
    if (divergedLoss(crossEntropy, divergenceThreshold)) throw new DivergenceError(step, learningRate, crossEntropy, divergenceThreshold);
    this.average?.apply(step);
    this.globalStepValue++;
    return record;
  }

  async advance(until: number, options: AdvanceOptions): Promise<void> {
    while (this.globalStepValue < until) {
      const record = this.step(this.globalStepValue % options.recordEvery === 0);
      if (record !== null) options.onRecord(record);
      if (this.globalStepValue >= until) break;
      // Lets SIGINT handlers and abort signals run between steps.
      await yieldToEventLoop();
      if (options.shouldStop()) break;
    }
  }

  private stepRecord(step: number, learningRate: number, crossEntropy: number, grads: Map<ParamName, tf.Tensor>): StepRecord {
    const l2 = l2Regularization(this.params, this.setup.config.regularizationRate).dataSync()[0];
    const meanAbsGradients: StepRecord['meanAbsGradients'] = {};
    let absSum = 0;
    let count = 0;
    for (const [name, g] of grads) {
      const sum = tf.sum(tf.abs(g)).dataSync()[0];
      meanAbsGradients[name] = sum / g.size;
      absSum += sum;
      count += g.size;
    }
    return { step, learningRate, crossEntropy, totalLoss: crossEntropy + l2, meanAbsGradient: absSum / count, meanAbsGradients };
  }

  private setAccuracy(set: EvalSet): number {
    let correct = 0;
    let offset = 0;
    for (const chunk of set.chunks) {
      const predicted = tf.tidy(() => tf.argMax(forward(chunk, this.params, this.average, this.setup.config.activation), 1).dataSync());
      for (let i = 0; i < predicted.length; i++) if (predicted[i] === set.labels[offset + i]) correct++;
      offset += predicted.length;
    }
    return correct / set.labels.length;
  }

  accuracy(): { validationAccuracy: number; testAccuracy: number } {
    this.evalSets ??= { validation: evalSet(this.setup.data.validation), test: evalSet(this.setup.data.test) };
    return { validationAccuracy: this.setAccuracy(this.evalSets.validation), testAccuracy: this.setAccuracy(this.evalSets.test) };
  }

  state(): EngineState {
    const averages: TrainerState['averages'] = {};
    if (this.average !== null) {
      for (const [name, v] of paramList(this.params)) averages[name] = this.average.average(v).dataSync() as Float32Array;
    }
    const params: TrainerState['params'] = {};
    for (const [name, v] of paramList(this.params)) params[name] = v.dataSync() as Float32Array;
    return { globalStep: this.globalStepValue, sampler: this.sampler.getState(), params, averages };
  }

  dispose(): void {
    this.average?.dispose();
    disposeParams(this.params);
    if (this.evalSets !== null) {
      for (const set of [this.evalSets.validation, this.evalSets.test]) tf.dispose(set.chunks);
      this.evalSets = null;
    }
  }
}

/** Environment variable with the default number of step workers (`auto` or a count). */
export const WORKERS_ENV = 'MNIST_WORKERS';

/**
 * Fewest hidden units per worker for the automatic choice: below this, the exchange between
 * threads costs more than the split saves.
 */
export const MIN_UNITS_PER_WORKER = 64;

/**
 * The number of threads a step is split across by default: on the wasm backend (which is
 * single-threaded), one per core, as long as each gets `MIN_UNITS_PER_WORKER` hidden units; 1
 * on other backends (native TensorFlow already uses every core), inside a worker thread (a
 * sweep's worker trains one run per core), and for the linear model. `MNIST_WORKERS` overrides it.
 */
export function defaultStepWorkers(config: TrainingConfig, env: NodeJS.ProcessEnv = process.env): number {
  const fromEnv = env[WORKERS_ENV]?.trim();
  if (fromEnv !== undefined && fromEnv !== '' && fromEnv !== 'auto') return checkWorkers(Number(fromEnv), WORKERS_ENV, fromEnv);
  if (!isMainThread || tf.getBackend() !== 'wasm') return 1;
  return Math.max(1, Math.min(availableParallelism(), Math.floor(config.layer1Node / MIN_UNITS_PER_WORKER)));
}

/** Checks a worker count given by a user; `source` names where it came from. */
export function checkWorkers(value: number, source = 'workers', text: string = String(value)): number {
  if (!Number.isInteger(value) || value < 1 || value > 256) throw new RangeError(`${source} must be a whole number of threads from 1 to 256, got "${text}"`);
  return value;
}

/**
 * Trains the tutorial's network on one data set. Owns its tensors (and worker threads): call
 * `dispose` when done.
 */
export class Trainer {
  readonly config: TrainingConfig;
  readonly history: History;
  readonly decaySteps: number;
  /** Threads that compute each step: 1, or the workers the hidden layer is split between. */
  readonly workers: number;
  private readonly engine: StepEngine;
  private disposed = false;

  constructor(data: MnistData, options: TrainerOptions = {}) {
    const resume = options.resume;
    this.config = makeConfig(resume?.config ?? options.config);
    if (data.train.imageSize !== this.config.inputNode) {
      throw new Error(`config.inputNode is ${this.config.inputNode} but the images have ${data.train.imageSize} pixels`);
    }
    this.decaySteps = decayStepsFor(this.config, data.train.count);
    const setup: EngineSetup = { data, config: this.config, decaySteps: this.decaySteps, divergenceThreshold: options.divergenceThreshold ?? DIVERGENCE_CROSS_ENTROPY, resume };
    const autodiff = options.gradientMode === 'autodiff';
    const wanted = options.workers === undefined ? (autodiff ? 1 : defaultStepWorkers(this.config)) : checkWorkers(options.workers, 'options.workers');
    if (wanted > 1 && autodiff) throw new Error('options.workers > 1 needs the manual gradients (gradientMode "manual"): the split step computes them by hand');
    // Every worker needs at least one hidden unit; the linear model has none to split.
    this.workers = Math.max(1, Math.min(wanted, this.config.layer1Node));
    this.engine = this.workers > 1 ? new SplitEngine(setup, this.workers) : new LocalEngine(setup, autodiff ? autodiffGradients : manualGradients);
    this.history = resume !== undefined ? cloneHistory(resume.history) : newHistory(options.backend ?? tf.getBackend(), this.config, data.description);
    // A resumed run may change settings (e.g. more steps): the history records those in force.
    if (resume !== undefined) this.history.config = { ...this.config };
  }

  /** The parameters (with the split step: a copy gathered from the workers on each access). */
  get params(): Params {
    return this.engine.params;
  }

  /** The moving averages of the parameters, when used (gathered with `params`). */
  get average(): ExponentialMovingAverage | null {
    return this.engine.average;
  }

  /** `global_step`: training steps completed. */
  get globalStep(): number {
    return this.engine.globalStep;
  }

  learningRate(step = this.globalStep): number {
    return learningRateAt(this.config, step, this.decaySteps);
  }

  /**
   * One training step (`train_op`): a gradient step on the next batch, then the moving-average
   * update. Returns the step's metrics when `recordMetrics` is set, else null. Throws
   * `DivergenceError`, without changing the parameters, when the loss is not finite or exceeds
   * the divergence threshold.
   */
  step(recordMetrics = false): StepRecord | null {
    return this.engine.step(recordMetrics);
  }

  /** Validation and test accuracy now (`global_step` steps). */
  evaluate(): Evaluation {
    return { step: this.globalStep, ...this.engine.accuracy() };
  }

  /** The state to save in a checkpoint. */
  state(): TrainerState {
    return { config: this.config, backend: this.history.backend, ...this.engine.state(), history: cloneHistory(this.history) };
  }

  /**
   * Trains until `config.trainingSteps`, evaluating at step 0, every `evalEvery` steps and at
   * the end. Resolves with the history when it completes or is stopped; rejects with
   * `DivergenceError` (the history, kept in `trainer.history`, says `diverged`).
   */
  async run(options: RunOptions = {}): Promise<History> {
    if (this.disposed) throw new Error('this trainer has been disposed');
    const { config, history } = this;
    const log = options.log ?? (() => undefined);
    const sigint = await stopOnSigint(options.stopOnSigint === true);
    const stopped = () => sigint.signal.aborted || options.signal?.aborted === true;
    const clock = new RunClock(this.globalStep, history.wallTimeSeconds);
    const checkpointEvery = options.checkpointEvery !== undefined && options.onCheckpoint !== undefined ? options.checkpointEvery : null;
    history.status = 'running';
    history.error = null;
    try {
      let lastCrossEntropy = Number.NaN;
      for (;;) {
        const step = this.globalStep;
        if (evaluationDue(history, step, config)) {
          const evaluation = { ...this.evaluate(), elapsedSeconds: clock.wallTimeSeconds() };
          history.evaluations.push(evaluation);
          logEvaluation(log, evaluation);
          options.onEvaluation?.(evaluation);
          options.onProgress?.(this.progress(clock, lastCrossEntropy));
        }
        if (step >= config.trainingSteps) {
          markCompleted(history, step, log);
          break;
        }
        if (stopped()) {
          markStopped(history, step, config.trainingSteps, log, sigint.interrupted);
          break;
        }
        // The engine runs on its own up to the next evaluation or checkpoint.
        await this.engine.advance(nextPause(step, config, checkpointEvery), {
          recordEvery: config.recordEvery,
          shouldStop: stopped,
          onRecord: (record) => {
            history.steps.push(record);
            lastCrossEntropy = record.crossEntropy;
            options.onProgress?.(this.progress(clock, lastCrossEntropy));
          },
        });
        if (checkpointEvery !== null && this.globalStep % checkpointEvery === 0) {
          history.wallTimeSeconds = clock.wallTimeSeconds();
          await options.onCheckpoint!(this.state());
        }
        await yieldToEventLoop();
      }
    } catch (error) {
      markFailed(history, error, log);
      throw error;
    } finally {
      sigint.restore();
      history.wallTimeSeconds = clock.wallTimeSeconds();
      history.finishedAt = new Date().toISOString();
    }
    return history;
  }

  /** Where the run is, for `RunOptions.onProgress`. */
  private progress(clock: RunClock, crossEntropy: number): Progress {
    const { stepsPerSecond, secondsLeft } = clock.speed(this.globalStep, this.config.trainingSteps);
    return {
      step: this.globalStep,
      totalSteps: this.config.trainingSteps,
      learningRate: this.learningRate(),
      crossEntropy,
      stepsPerSecond,
      secondsLeft,
      latestEvaluation: this.history.evaluations.at(-1) ?? null,
      history: this.history,
    };
  }

  /** Releases every tensor the trainer owns, and stops its worker threads. */
  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.engine.dispose();
  }
}

/**
 * The one place a training run listens for SIGINT (Ctrl-C; *Interrupt* in a notebook): while
 * `enabled`, a SIGINT aborts `signal` (the run stops after the step under way) instead of
 * failing the notebook cell (src/interrupt.ts); `restore` gives SIGINT back.
 */
async function stopOnSigint(enabled: boolean): Promise<InterruptScope> {
  return enabled ? takeInterrupts() : { signal: new AbortController().signal, interrupted: false, restore: () => undefined };
}

/** The clock of one `Trainer.run` call: its speed, the time left, and the run's wall time. */
class RunClock {
  private readonly startTime = performance.now();

  /** `startStep`: the step this call began at; `previousWallTime`: seconds of training before it (a resumed run). */
  constructor(
    private readonly startStep: number,
    private readonly previousWallTime: number,
  ) {}

  /** Seconds of training in all: earlier calls' and this one's so far. */
  wallTimeSeconds(): number {
    return this.previousWallTime + (performance.now() - this.startTime) / 1000;
  }

  /** Steps per second since this call began, and the seconds left to `totalSteps` at that speed (NaN before any step). */
  speed(step: number, totalSteps: number): { stepsPerSecond: number; secondsLeft: number } {
    const elapsed = (performance.now() - this.startTime) / 1000;
    const stepsPerSecond = elapsed > 0 ? (step - this.startStep) / elapsed : 0;
    return { stepsPerSecond, secondsLeft: stepsPerSecond > 0 ? (totalSteps - step) / stepsPerSecond : Number.NaN };
  }
}

/** Whether `step` is evaluated: at step 0, every `evalEvery` steps and at the end, and not twice (a resumed run). */
function evaluationDue(history: History, step: number, config: TrainingConfig): boolean {
  return (step % config.evalEvery === 0 || step >= config.trainingSteps) && history.evaluations.at(-1)?.step !== step;
}

/** The next multiple of `every` after `step`. */
const nextMultiple = (step: number, every: number) => (Math.floor(step / every) + 1) * every;

/** How far the engine runs on its own from `step`: to the next evaluation, the next checkpoint or the end. */
function nextPause(step: number, config: TrainingConfig, checkpointEvery: number | null): number {
  return Math.min(config.trainingSteps, nextMultiple(step, config.evalEvery), checkpointEvery !== null ? nextMultiple(step, checkpointEvery) : Infinity);
}

/** The tutorial's accuracy line and an English one beside it. */
function logEvaluation(log: (line: string) => void, evaluation: Evaluation): void {
  log(`训练轮数: ${evaluation.step} ,准确率: ${tutorialPercent(evaluation.validationAccuracy)}`);
  log(`step ${evaluation.step}: validation accuracy ${formatPercent(evaluation.validationAccuracy)}, test accuracy ${formatPercent(evaluation.testAccuracy)}`);
}

/** A run that reached its last step: the final accuracy from its last evaluation, and the tutorial's closing line. */
function markCompleted(history: History, step: number, log: (line: string) => void): void {
  const last = history.evaluations.at(-1)!;
  history.final = { step, testAccuracy: last.testAccuracy, validationAccuracy: last.validationAccuracy };
  history.status = 'completed';
  log(`训练轮数: ${step} ,测试准确率: ${tutorialPercent(last.testAccuracy)}`);
  log(`after ${step} training steps: test accuracy ${formatPercent(last.testAccuracy)}`);
}

/** A run stopped by a signal before its last step. */
function markStopped(history: History, step: number, trainingSteps: number, log: (line: string) => void, interrupted: boolean): void {
  history.status = 'stopped';
  history.error = `stopped at step ${step} of ${trainingSteps}`;
  const count = (n: number) => n.toLocaleString('en-US');
  log(`${interrupted ? 'interrupted' : 'stopped'} at step ${count(step)} of ${count(trainingSteps)}: the history so far is kept`);
}

/** A run ended by an error: diverged, or failed. */
function markFailed(history: History, error: unknown, log: (line: string) => void): void {
  history.status = error instanceof DivergenceError ? 'diverged' : 'failed';
  history.error = errorMessage(error);
  log(history.error);
}

/** Attached to errors thrown by `train`, so callers keep what was recorded. */
export interface TrainingFailure extends Error {
  history: History;
}

/**
 * Trains a fresh network (or resumes one) and returns its history; every tensor is released.
 * Errors carry the history so far as `error.history`. Use `Trainer` to keep the parameters.
 */
export async function train(data: MnistData, options: TrainerOptions & RunOptions = {}): Promise<History> {
  const trainer = new Trainer(data, options);
  try {
    return await trainer.run(options);
  } catch (error) {
    if (error instanceof Error) Object.assign(error, { history: trainer.history });
    throw error;
  } finally {
    trainer.dispose();
  }
}
