/**
 * The training loop: a `Trainer` owns a step engine (this thread, or the hidden layer split
 * between worker threads) and runs the tutorial's schedule on it: evaluation at step 0, every
 * `evalEvery` steps and at the end, checkpoints, logs, and a history of every recorded step.
 */
import * as tf from '@tensorflow/tfjs';
import { decayStepsFor, makeConfig, type TrainingConfig } from '../core/config';
import type { MnistData } from '../data/mnist';
import { cloneHistory, newHistory, type Evaluation, type History, type StepRecord } from '../core/history';
import { autodiffGradients, learningRateAt, manualGradients, type GradientMode } from '../core/loss';
import { DIVERGENCE_CROSS_ENTROPY, DivergenceError } from '../core/divergence';
import type { ExponentialMovingAverage, Params } from '../core/model';
import { createEngine, type NativeStep } from '../engine/engines';
import { yieldToEventLoop, type EngineSetup, type StepEngine, type TrainerState } from '../engine/step-engine';
import { checkWorkers, defaultStepWorkers } from '../engine/workers';
import { takeInterrupts, type InterruptScope } from './interrupt';
import type { Progress, RunEvent } from './events';
import { renderEvent } from './messages';
import { errorMessage } from '../util/text';

export type { Progress } from './events';

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
  /** Called with what happens: every evaluation, then how the run ended (completed, stopped or failed). */
  onEvent?: (event: RunEvent) => void;
  /** Receives the log lines of the events (`renderEvent`: the tutorial's and English ones); default: none. */
  log?: (line: string) => void;
  /** Also show test accuracies in the log lines (default false: validation only; the test set is for the end). */
  showTestAccuracy?: boolean;
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
  /**
   * Mean cross-entropy above which a step counts as diverged (default `DIVERGENCE_CROSS_ENTROPY`; Infinity: only a
   * non-finite loss).
   */
  divergenceThreshold?: number;
  /**
   * Threads to split each step across (the hidden units divided between worker threads);
   * 1: this thread only. Default `defaultStepWorkers`: one per core on wasm.
   */
  workers?: number;
  /**
   * On native TensorFlow, how the step runs: `graph` (default), the tutorial's graph in one
   * session run per step; `ops`, TensorFlow.js ops one by one.
   */
  nativeStep?: NativeStep;
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
      throw new Error(
        `config.inputNode is ${this.config.inputNode} but the images have ${data.train.imageSize} pixels`,
      );
    }
    this.decaySteps = decayStepsFor(this.config, data.train.count);
    const setup: EngineSetup = {
      data,
      config: this.config,
      decaySteps: this.decaySteps,
      divergenceThreshold: options.divergenceThreshold ?? DIVERGENCE_CROSS_ENTROPY,
      resume,
    };
    const autodiff = options.gradientMode === 'autodiff';
    const wanted =
      options.workers === undefined
        ? autodiff
          ? 1
          : defaultStepWorkers(this.config)
        : checkWorkers(options.workers, 'options.workers');
    if (wanted > 1 && autodiff)
      throw new Error(
        'options.workers > 1 needs the manual gradients (gradientMode "manual"): the split step computes them by hand',
      );
    // Every worker needs at least one hidden unit; the linear model has none to split.
    this.workers = Math.max(1, Math.min(wanted, this.config.layer1Node));
    this.engine = createEngine(setup, {
      workers: this.workers,
      gradients: autodiff ? autodiffGradients : manualGradients,
      nativeStep: options.nativeStep,
    });
    this.history =
      resume !== undefined
        ? cloneHistory(resume.history)
        : newHistory(options.backend ?? tf.getBackend(), this.config, data.description);
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
    return {
      config: this.config,
      backend: this.history.backend,
      ...this.engine.state(),
      history: cloneHistory(this.history),
    };
  }

  /**
   * Trains until `config.trainingSteps`, evaluating at step 0, every `evalEvery` steps and at
   * the end. Resolves with the history when it completes or is stopped; rejects with
   * `DivergenceError` (the history, kept in `trainer.history`, says `diverged`).
   */
  async run(options: RunOptions = {}): Promise<History> {
    if (this.disposed) throw new Error('this trainer has been disposed');
    const { config, history } = this;
    const emit = (event: RunEvent) => {
      options.onEvent?.(event);
      if (options.log !== undefined)
        for (const line of renderEvent(event, { showTestAccuracy: options.showTestAccuracy })) options.log(line);
    };
    const sigint = await stopOnSigint(options.stopOnSigint === true);
    const stopped = () => sigint.signal.aborted || options.signal?.aborted === true;
    const clock = new RunClock(this.globalStep, history.wallTimeSeconds);
    const checkpointEvery =
      options.checkpointEvery !== undefined && options.onCheckpoint !== undefined ? options.checkpointEvery : null;
    history.status = 'running';
    history.error = null;
    history.stop = null;
    try {
      let lastCrossEntropy = Number.NaN;
      for (;;) {
        const step = this.globalStep;
        if (evaluationDue(history, step, config)) {
          const evaluation = { ...this.evaluate(), elapsedSeconds: clock.wallTimeSeconds() };
          history.evaluations.push(evaluation);
          options.onEvaluation?.(evaluation);
          emit({ kind: 'evaluation', evaluation });
          options.onProgress?.(this.progress(clock, lastCrossEntropy));
        }
        if (step >= config.trainingSteps) {
          emit(markCompleted(history, step));
          break;
        }
        if (stopped()) {
          emit(markStopped(history, step, config.trainingSteps, sigint.interrupted));
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
      emit(markFailed(history, error, this.globalStep, config.trainingSteps));
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
  return enabled
    ? takeInterrupts()
    : { signal: new AbortController().signal, interrupted: false, restore: () => undefined };
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

  /**
   * Steps per second since this call began, and the seconds left to `totalSteps` at that speed (NaN before any step).
   */
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
  return Math.min(
    config.trainingSteps,
    nextMultiple(step, config.evalEvery),
    checkpointEvery !== null ? nextMultiple(step, checkpointEvery) : Infinity,
  );
}

/** A run that reached its last step: the final accuracies are those of its last evaluation. */
function markCompleted(history: History, step: number): RunEvent {
  const { testAccuracy, validationAccuracy } = history.evaluations.at(-1)!;
  history.final = { step, testAccuracy, validationAccuracy };
  history.status = 'completed';
  history.stop = { reason: 'completed', step, of: step, message: null };
  return { kind: 'completed', step, validationAccuracy, testAccuracy };
}

/** A run stopped by a signal (`interrupted`: by SIGINT) before its last step. */
function markStopped(history: History, step: number, of: number, interrupted: boolean): RunEvent {
  history.status = 'stopped';
  history.error = `stopped at step ${step} of ${of}`;
  history.stop = { reason: interrupted ? 'interrupted' : 'aborted', step, of, message: null };
  return { kind: 'stopped', step, of, interrupted };
}

/** A run ended by an error at `step`: diverged, or failed. */
function markFailed(history: History, error: unknown, step: number, of: number): RunEvent {
  const diverged = error instanceof DivergenceError;
  const message = errorMessage(error);
  history.status = diverged ? 'diverged' : 'failed';
  history.error = message;
  history.stop = { reason: diverged ? 'diverged' : 'failed', step: diverged ? error.step : step, of, message };
  return { kind: 'failed', step: history.stop.step, message, diverged };
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
