/**
 * What runs a trainer's steps: the `StepEngine` interface that the engines implement (the graph
 * in a native TensorFlow session, ops on this thread, the step split across worker threads), what
 * they are built from and what they save.
 */
import type { TrainingConfig } from '../core/config';
import type { History, StepRecord } from '../core/history';
import type { ExponentialMovingAverage, ParamName, Params } from '../core/model';
import type { MnistData, SamplerState } from '../data/mnist';

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
 * What runs the steps, evaluations and state of a `Trainer`: `GraphEngine` (the tutorial's graph in
 * a native TensorFlow session), `LocalEngine` (TensorFlow.js ops on this thread) or `SplitEngine`
 * (the hidden layer split between worker threads). `Trainer.run` (evaluation schedule, history,
 * checkpoints, logs) is the same for all.
 */
export interface StepEngine {
  /** Threads that compute a step (1: this one). */
  readonly workers: number;
  /** `global_step`: training steps completed. */
  readonly globalStep: number;
  /** The parameters as variables of this thread (for the graph and split engines: a copy read on each access). */
  readonly params: Params;
  /** Their moving averages, when used (for the graph and split engines: read with `params`). */
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

/**
 * `StepEngine.advance` for an engine whose steps run on this thread: one step at a time,
 * recording every `recordEvery`-th, with the event loop let in between steps.
 */
export async function advanceStepByStep(
  engine: Pick<StepEngine, 'globalStep' | 'step'>,
  until: number,
  options: AdvanceOptions,
): Promise<void> {
  while (engine.globalStep < until) {
    const record = engine.step(engine.globalStep % options.recordEvery === 0);
    if (record !== null) options.onRecord(record);
    if (engine.globalStep >= until) break;
    // Lets SIGINT handlers and abort signals run between steps.
    await yieldToEventLoop();
    if (options.shouldStop()) break;
  }
}

/**
 * Milliseconds per step over `steps` more steps of `engine`, each `recordEvery`-th recorded and
 * dropped: how `auto`'s probe and the bench time an engine.
 */
export async function timeSteps(engine: StepEngine, steps: number, recordEvery: number): Promise<number> {
  const start = performance.now();
  await engine.advance(engine.globalStep + steps, { recordEvery, shouldStop: () => false, onRecord: () => undefined });
  return (performance.now() - start) / steps;
}

/** What the engines are built from. */
export interface EngineSetup {
  data: MnistData;
  config: TrainingConfig;
  decaySteps: number;
  divergenceThreshold: number;
  resume?: TrainerState;
}
