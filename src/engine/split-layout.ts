/**
 * The shared memory of the split step: what the main thread and the step workers exchange,
 * and where. One definition for both sides.
 */
import type { TrainingConfig } from '../core/config';
import type { SamplerState } from '../data/mnist';
import type { SharedMnist } from './shared-data';

/** Slots of the control array (Int32). */
export const CTL = {
  /** Command number: the main thread adds 1 to start a command; workers wait on it. */
  seq: 0,
  command: 1,
  /** Workers done with the current command. */
  done: 2,
  /** The workers' barrier: arrivals and generation. */
  barrierCount: 3,
  barrierGeneration: 4,
  /** Set by the main thread: stop after the step under way. */
  stop: 5,
  /** Set when any worker fails; the others leave their command. */
  failed: 6,
  /** How the last `advance` ended (`STATUS`). */
  status: 7,
  /** Training steps completed (written by the first worker). */
  globalStep: 8,
  until: 9,
  recordEvery: 10,
  samplerRandom: 11,
  samplerIndex: 12,
  samplerEpochs: 13,
  /** The first worker's decision to stop after this step, by step parity. */
  decision: 14,
  /** Workers that finished setting up. */
  ready: 16,
  /** Recorded steps of the current command the main thread has handled (the workers wait for it). */
  acknowledged: 17,
  /** The recorded steps handled when the main thread asked to stop: the workers stop there. */
  stopAtRecord: 18,
  size: 32,
} as const;

export const COMMAND = { advance: 1, evaluate: 2, state: 3 } as const;
export const STATUS = { reachedUntil: 0, stopped: 1, diverged: 2 } as const;

/** Slots of the float64 scalars. */
export const F64 = { divergedCrossEntropy: 0, divergedLearningRate: 1, divergedStep: 2, size: 4 } as const;

/** Fields of one worker's part of a recorded step. */
export const RECORD = {
  crossEntropy: 0,
  learningRate: 1,
  absWeights1: 2,
  absBiases1: 3,
  absWeights2: 4,
  absBiases2: 5,
  squaredWeights1: 6,
  squaredWeights2: 7,
  size: 8,
} as const;

/**
 * Where a worker's time goes, summed over its steps (ms) for the bench: its own work (batch,
 * forward, the summed logits' softmax in JS, backward and update, moving averages, recorded
 * metrics) and its waits (for the other workers at the barrier, for the main thread to handle a
 * recorded step).
 */
export const TIMING = {
  steps: 0,
  batch: 1,
  forward: 2,
  barrier: 3,
  softmax: 4,
  backward: 5,
  average: 6,
  record: 7,
  acknowledge: 8,
  size: 9,
} as const;

/** Recorded steps one `advance` command can hold; the main thread cuts longer runs into pieces. */
export const RECORD_CAPACITY = 256;

/** Bytes of the error message area. */
export const ERROR_BYTES = 2048;

/** Offsets (in floats) of each parameter in a flat array of the whole network's parameters. */
export interface ParamLayout {
  weights1: number;
  biases1: number;
  weights2: number;
  biases2: number;
  size: number;
}

export function paramLayout(config: TrainingConfig): ParamLayout {
  const { inputNode: input, layer1Node: hidden, outputNode: output } = config;
  const biases1 = input * hidden;
  const weights2 = biases1 + hidden;
  const biases2 = weights2 + hidden * output;
  return { weights1: 0, biases1, weights2, biases2, size: biases2 + output };
}

/** Everything the workers share, as posted to each of them. */
export interface SplitShared {
  control: Int32Array;
  scalars: Float64Array;
  /** Partial logits, [2 (step parity)][workers][batch][output]. */
  partials: Float32Array;
  /** Parts of recorded steps, [RECORD_CAPACITY][workers][RECORD.size]. */
  records: Float64Array;
  /** Workers that wrote their part of each recorded step. */
  recordsDone: Int32Array;
  /** The whole network's parameters and moving averages (`paramLayout`): read at start, written by `state`. */
  params: Float32Array;
  averages: Float32Array;
  /** Partial logits of the evaluation sets, [workers][validation + test rows][output], and the output bias used. */
  evalLogits: Float32Array;
  evalBias: Float32Array;
  /** The first failure's message (UTF-8, zero-padded). */
  error: Uint8Array;
  /** Each worker's time per part of its steps, [workers][TIMING.size]. */
  timings: Float64Array;
}

export function allocateShared(config: TrainingConfig, workers: number, evalRows: number): SplitShared {
  const { batchSize, outputNode } = config;
  const floats = (n: number) => new Float32Array(new SharedArrayBuffer(4 * n));
  const layout = paramLayout(config);
  return {
    control: new Int32Array(new SharedArrayBuffer(4 * CTL.size)),
    scalars: new Float64Array(new SharedArrayBuffer(8 * F64.size)),
    partials: floats(2 * workers * batchSize * outputNode),
    records: new Float64Array(new SharedArrayBuffer(8 * RECORD_CAPACITY * workers * RECORD.size)),
    recordsDone: new Int32Array(new SharedArrayBuffer(4 * RECORD_CAPACITY)),
    params: floats(layout.size),
    averages: floats(layout.size),
    evalLogits: floats(workers * evalRows * outputNode),
    evalBias: floats(outputNode),
    error: new Uint8Array(new SharedArrayBuffer(ERROR_BYTES)),
    timings: new Float64Array(new SharedArrayBuffer(8 * workers * TIMING.size)),
  };
}

/** What each worker is started with. */
export interface SplitWorkerData {
  index: number;
  workers: number;
  /** Its hidden units: `[first, end)`. */
  first: number;
  end: number;
  config: TrainingConfig;
  decaySteps: number;
  divergenceThreshold: number;
  backend: string;
  globalStep: number;
  sampler: SamplerState | null;
  data: SharedMnist;
  shared: SplitShared;
}

/** The hidden units of each of `workers` threads: as even as possible, the first ones one larger. */
export function splitUnits(hidden: number, workers: number): [number, number][] {
  const base = Math.floor(hidden / workers);
  const extra = hidden % workers;
  const ranges: [number, number][] = [];
  let first = 0;
  for (let i = 0; i < workers; i++) {
    const end = first + base + (i < extra ? 1 : 0);
    ranges.push([first, end]);
    first = end;
  }
  return ranges;
}

/** Records the first failure: its message for the main thread, and the flag that releases every waiting thread. */
export function reportFailure(shared: SplitShared, message: string): void {
  if (Atomics.compareExchange(shared.control, CTL.failed, 0, 1) !== 0) return;
  const bytes = new TextEncoder().encode(message).subarray(0, ERROR_BYTES - 1);
  shared.error.fill(0);
  shared.error.set(bytes);
  for (const slot of [CTL.failed, CTL.barrierGeneration, CTL.seq, CTL.done, CTL.ready, CTL.acknowledged])
    Atomics.notify(shared.control, slot);
}

export function failureMessage(shared: SplitShared): string {
  const end = shared.error.indexOf(0);
  // TextDecoder refuses views of shared memory: copy first.
  return new TextDecoder().decode(shared.error.slice(0, end === -1 ? undefined : end));
}
