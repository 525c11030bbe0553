/**
 * The training step split across worker threads (the main thread's side): the hidden layer's
 * units are divided between the workers (see `split-worker.ts`); per step only the partial
 * logits and nothing else cross between threads, through shared memory. Between evaluations
 * the workers run on their own and the main thread sleeps, woken every recorded step.
 */
import * as tf from '@tensorflow/tfjs';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import type { SamplerState } from '../data/mnist';
import type { StepRecord } from '../core/history';
import {
  createParams,
  disposeParams,
  ExponentialMovingAverage,
  paramList,
  PARAM_NAMES,
  paramShapes,
  type ParamName,
  type Params,
} from '../core/model';
import { DivergenceError } from '../core/divergence';
import { type AdvanceOptions, type EngineSetup, type EngineState, type StepEngine } from './step-engine';
import { shareMnist, type SharedMnist } from './shared-data';
import { ParamsMirror } from './params-mirror';
import { errorMessage } from '../util/text';
import {
  allocateShared,
  COMMAND,
  CTL,
  F64,
  failureMessage,
  paramLayout,
  RECORD,
  RECORD_CAPACITY,
  reportFailure,
  splitUnits,
  STATUS,
  TIMING,
  type ParamLayout,
  type SplitShared,
  type SplitWorkerData,
} from './split-layout';

/** Longest wait of the main thread for the workers in a synchronous call (start-up, one step, evaluation, state). */
const SYNC_TIMEOUT_MS = 120_000;
/** How often the main thread checks for a stop request while the workers run. */
const STOP_POLL_MS = 10;
const INT32_MAX = 0x7fffffff;

/** The split step failed: a worker died or threw. */
export class SplitStepError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SplitStepError';
  }
}

/** Where a split step's time goes, in ms per step (see `TIMING`): each worker's parts, and the main thread's. */
export interface SplitTimings {
  steps: number;
  workers: Record<Exclude<keyof typeof TIMING, 'steps' | 'size'>, number>[];
  /** The main thread's handling of recorded steps (records, progress callbacks), per step. */
  main: number;
}

/** Where each parameter ends in the flat layout (the next one starts there). */
const ends = (layout: ParamLayout): Record<ParamName, number> => ({
  weights1: layout.biases1,
  biases1: layout.weights2,
  weights2: layout.biases2,
  biases2: layout.size,
});

function flatten(
  values: Partial<Record<ParamName, Float32Array>>,
  layout: ParamLayout,
  into: Float32Array,
  what: string,
): void {
  for (const name of PARAM_NAMES) {
    const value = values[name];
    if (value === undefined || value.length !== ends(layout)[name] - layout[name])
      throw new Error(`saved ${what}: "${name}" is missing or has the wrong size`);
    into.set(value, layout[name]);
  }
}

function unflatten(flat: Float32Array, layout: ParamLayout): Record<ParamName, Float32Array> {
  return Object.fromEntries(PARAM_NAMES.map((name) => [name, flat.slice(layout[name], ends(layout)[name])])) as Record<
    ParamName,
    Float32Array
  >;
}

export class SplitEngine implements StepEngine {
  private readonly shared: SplitShared;
  private readonly layout: ParamLayout;
  private readonly threads: Worker[] = [];
  private globalStepValue: number;
  private failure: string | null = null;
  private disposed = false;
  /** Copies of the parameters on this thread, made on first access of `params`. */
  private readonly mirror: ParamsMirror;
  /** Called when a worker sends a message or dies (the `advance` under way listens). */
  private listener: (() => void) | null = null;
  /** Time this thread spent handling the workers' messages during `advance`, in ms. */
  private mainMs = 0;

  constructor(
    private readonly setup: EngineSetup,
    readonly workers: number,
  ) {
    const { config, data } = setup;
    if (config.layer1Node < workers)
      throw new Error(`cannot split ${config.layer1Node} hidden units between ${workers} workers`);
    this.layout = paramLayout(config);
    this.mirror = new ParamsMirror(config);
    this.shared = allocateShared(config, workers, data.validation.count + data.test.count);
    this.writeStartValues();
    this.globalStepValue = setup.resume?.globalStep ?? 0;
    const shared = shareMnist(data);
    splitUnits(config.layer1Node, workers).forEach(([first, end], index) =>
      this.threads.push(this.startWorker({ ...this.workerSetup(shared), index, first, end })),
    );
    try {
      this.waitSync(CTL.ready, workers, 'start');
    } catch (error) {
      this.dispose();
      throw error;
    }
  }

  /** The parameters and averages the workers start from: the resumed ones, or fresh ones. */
  private writeStartValues(): void {
    const { config, resume } = this.setup;
    if (resume !== undefined) {
      flatten(resume.params, this.layout, this.shared.params, 'params');
      if (config.useMovingAverage) flatten(resume.averages, this.layout, this.shared.averages, 'moving averages');
      return;
    }
    // The same initial values as the one-thread step: drawn here, then split.
    const params = createParams(config);
    try {
      for (const [name, v] of paramList(params)) this.shared.params.set(v.dataSync(), this.layout[name]);
    } finally {
      disposeParams(params);
    }
    this.shared.averages.set(this.shared.params);
  }

  /** What every worker starts with (all but its index and units). */
  private workerSetup(data: SharedMnist): Omit<SplitWorkerData, 'index' | 'first' | 'end'> {
    const { config, decaySteps, divergenceThreshold, resume } = this.setup;
    return {
      workers: this.workers,
      config,
      decaySteps,
      divergenceThreshold,
      backend: tf.getBackend(),
      globalStep: this.globalStepValue,
      sampler: resume?.sampler ?? null,
      data,
      shared: this.shared,
    };
  }

  private startWorker(init: SplitWorkerData): Worker {
    const { index } = init;
    const worker = new Worker(join(__dirname, 'split-worker.js'), { workerData: init });
    worker.on('message', () => this.listener?.());
    worker.on('error', (error) => this.fail(`split-step worker ${index} failed: ${error.message}`));
    worker.on('exit', (code) => {
      if (!this.disposed) this.fail(`split-step worker ${index} exited (code ${code})`);
    });
    // An idle engine must not keep the process alive; `advance` holds it while it runs.
    worker.unref();
    return worker;
  }

  private fail(message: string): void {
    reportFailure(this.shared, message);
    this.listener?.();
  }

  private check(): void {
    if (this.disposed) throw new SplitStepError('this split-step engine has been disposed');
    if (Atomics.load(this.shared.control, CTL.failed) !== 0) {
      this.failure ??= failureMessage(this.shared);
      throw new SplitStepError(this.failure);
    }
  }

  /** Blocks until the control slot reaches `count` (workers done), with a time limit. */
  private waitSync(slot: number, count: number, what: string): void {
    const { control } = this.shared;
    const deadline = performance.now() + SYNC_TIMEOUT_MS;
    for (;;) {
      this.check();
      const value = Atomics.load(control, slot);
      if (value >= count) return;
      if (performance.now() > deadline) {
        this.fail(`split-step workers did not ${what} within ${SYNC_TIMEOUT_MS / 1000} s`);
        this.check();
      }
      Atomics.wait(control, slot, value, 200);
    }
  }

  private issue(command: number): void {
    const { control } = this.shared;
    Atomics.store(control, CTL.done, 0);
    Atomics.store(control, CTL.command, command);
    Atomics.add(control, CTL.seq, 1);
    Atomics.notify(control, CTL.seq);
  }

  private runSync(command: number, what: string): void {
    this.check();
    this.issue(command);
    this.waitSync(CTL.done, this.workers, what);
    this.check();
  }

  get globalStep(): number {
    return this.globalStepValue;
  }

  private startAdvance(until: number, recordEvery: number): number {
    this.check();
    const { control } = this.shared;
    // At most RECORD_CAPACITY recorded steps per command.
    const end = Math.min(until, this.globalStepValue + RECORD_CAPACITY * recordEvery, INT32_MAX);
    this.shared.recordsDone.fill(0);
    Atomics.store(control, CTL.acknowledged, 0);
    Atomics.store(control, CTL.stopAtRecord, -1);
    Atomics.store(control, CTL.stop, 0);
    Atomics.store(control, CTL.until, end);
    Atomics.store(control, CTL.recordEvery, recordEvery);
    this.issue(COMMAND.advance);
    return end;
  }

  /** A field of recorded step `index`: summed over the workers, or the first worker's (the same in all). */
  private recordField(index: number, field: number, of: 'sum' | 'leader' = 'sum'): number {
    const { records } = this.shared;
    if (of === 'leader') return records[index * this.workers * RECORD.size + field];
    let total = 0;
    for (let w = 0; w < this.workers; w++) total += records[(index * this.workers + w) * RECORD.size + field];
    return total;
  }

  private record(index: number): StepRecord {
    const { config } = this.setup;
    const sum = (field: number) => this.recordField(index, field);
    const crossEntropy = this.recordField(index, RECORD.crossEntropy, 'leader');
    const l2 = config.regularizationRate * (sum(RECORD.squaredWeights1) / 2 + sum(RECORD.squaredWeights2) / 2);
    return {
      step: this.globalStepValue,
      learningRate: this.recordField(index, RECORD.learningRate, 'leader'),
      crossEntropy,
      totalLoss: crossEntropy + l2,
      ...this.recordedGradients(index),
    };
  }

  /** The mean absolute gradients of recorded step `index`, per parameter and over all of them. */
  private recordedGradients(index: number): Pick<StepRecord, 'meanAbsGradient' | 'meanAbsGradients'> {
    const sizes = Object.fromEntries(
      Object.entries(paramShapes(this.setup.config)).map(([name, shape]) => [name, shape.reduce((a, b) => a * b, 1)]),
    ) as Record<ParamName, number>;
    const abs: Record<ParamName, number> = {
      weights2: this.recordField(index, RECORD.absWeights2),
      biases2: this.recordField(index, RECORD.absBiases2, 'leader'),
      weights1: this.recordField(index, RECORD.absWeights1),
      biases1: this.recordField(index, RECORD.absBiases1),
    };
    const meanAbsGradients: StepRecord['meanAbsGradients'] = {};
    let absSum = 0;
    let count = 0;
    // The order of the one-thread step's records.
    for (const name of ['weights2', 'biases2', 'weights1', 'biases1'] as ParamName[]) {
      meanAbsGradients[name] = abs[name] / sizes[name];
      absSum += abs[name];
      count += sizes[name];
    }
    return { meanAbsGradient: absSum / count, meanAbsGradients };
  }

  /** After an `advance` command: the records from `next` on, the new step, and a divergence. */
  private drainRecords(
    next: number,
    recordEvery: number,
    startStep: number,
    onRecord: (record: StepRecord) => void,
  ): number {
    while (next < RECORD_CAPACITY && Atomics.load(this.shared.recordsDone, next) === this.workers) {
      const record = this.record(next);
      // The records of a command are at the multiples of recordEvery from its first step on.
      record.step = Math.ceil(startStep / recordEvery) * recordEvery + next * recordEvery;
      // Progress reports read the step count: it is at least the recorded step's end.
      this.globalStepValue = Math.max(this.globalStepValue, record.step + 1);
      onRecord(record);
      next++;
    }
    return next;
  }

  private finishAdvance(): void {
    const { control, scalars } = this.shared;
    this.globalStepValue = Atomics.load(control, CTL.globalStep);
    if (Atomics.load(control, CTL.status) === STATUS.diverged) {
      throw new DivergenceError(
        scalars[F64.divergedStep],
        scalars[F64.divergedLearningRate],
        scalars[F64.divergedCrossEntropy],
        this.setup.divergenceThreshold,
      );
    }
  }

  step(recordMetrics: boolean): StepRecord | null {
    const startStep = this.globalStepValue;
    // One step: a record is made when the step is a multiple of recordEvery, so ask for every step.
    // Without a record: an interval no step of the run reaches (the control slots are int32).
    this.startAdvance(startStep + 1, recordMetrics ? 1 : INT32_MAX);
    this.waitSync(CTL.done, this.workers, 'finish a step');
    this.check();
    let record: StepRecord | null = null;
    if (recordMetrics) this.drainRecords(0, 1, startStep, (r) => (record = r));
    this.finishAdvance();
    return record;
  }

  async advance(until: number, options: AdvanceOptions): Promise<void> {
    while (this.globalStepValue < until && !this.disposed) {
      const startStep = this.globalStepValue;
      const seq = Atomics.load(this.shared.control, CTL.seq) + 1;
      const end = this.startAdvance(until, options.recordEvery);
      for (const worker of this.threads) worker.ref();
      try {
        await this.whileWorkersRun(seq, startStep, options);
      } finally {
        for (const worker of this.threads) worker.unref();
      }
      this.check();
      this.finishAdvance();
      if (this.globalStepValue < end || options.shouldStop()) break;
    }
  }

  /**
   * Until the workers finish the command numbered `seq` (begun at `startStep`): hands on their
   * records as they arrive and passes on requests to stop; rejects when a worker fails.
   */
  private whileWorkersRun(seq: number, startStep: number, options: AdvanceOptions): Promise<void> {
    const { control } = this.shared;
    let next = 0;
    return new Promise<void>((resolve, reject) => {
      const poll = setInterval(() => {
        if (options.shouldStop()) Atomics.store(control, CTL.stop, 1);
      }, STOP_POLL_MS);
      const finish = (error?: unknown) => {
        clearInterval(poll);
        this.listener = null;
        if (error === undefined) resolve();
        else reject(error);
      };
      this.listener = () => {
        const start = performance.now();
        try {
          if (Atomics.load(control, CTL.failed) !== 0) return finish(new SplitStepError(failureMessage(this.shared)));
          next = this.handleRecords(next, startStep, options);
          if (options.shouldStop()) Atomics.store(control, CTL.stop, 1);
          if (Atomics.load(control, CTL.seq) === seq && Atomics.load(control, CTL.done) === this.workers) finish();
        } catch (error) {
          // A record callback that throws ends the run like an error in the one-thread loop;
          // the workers, waiting for the record to be handled, are released as after a failure.
          reportFailure(this.shared, `the run ended with an error in a progress callback: ${errorMessage(error)}`);
          finish(error);
        } finally {
          this.mainMs += performance.now() - start;
        }
      };
    });
  }

  /** Hands on the records that arrived from `next` on and lets the workers go on past them; returns the next one. */
  private handleRecords(next: number, startStep: number, options: AdvanceOptions): number {
    const { control } = this.shared;
    const handled = next;
    next = this.drainRecords(next, options.recordEvery, startStep, options.onRecord);
    if (next > handled) {
      // The workers wait at each recorded step until it is handled: a stop asked for by the
      // callbacks takes effect right there, as in the one-thread loop. The decision is written
      // once per record, before the records are acknowledged.
      if (options.shouldStop()) Atomics.store(control, CTL.stopAtRecord, next);
      Atomics.store(control, CTL.acknowledged, next);
      Atomics.notify(control, CTL.acknowledged);
    }
    return next;
  }

  /**
   * Where the steps' time went since the start or the last reset (for the bench): per worker and
   * part, and on this thread, in ms per step. Read between commands.
   */
  stepTimings(reset = false): SplitTimings {
    const { timings } = this.shared;
    const steps = timings[TIMING.steps] || 1;
    const parts = Object.entries(TIMING).filter(([name]) => name !== 'steps' && name !== 'size');
    const workers = Array.from(
      { length: this.workers },
      (_, w) =>
        Object.fromEntries(
          parts.map(([name, at]) => [name, timings[w * TIMING.size + at] / steps]),
        ) as SplitTimings['workers'][number],
    );
    const result = { steps: timings[TIMING.steps], workers, main: this.mainMs / steps };
    if (reset) {
      timings.fill(0);
      this.mainMs = 0;
    }
    return result;
  }

  accuracy(): { validationAccuracy: number; testAccuracy: number } {
    this.runSync(COMMAND.evaluate, 'evaluate');
    const { validation, test } = this.setup.data;
    return {
      validationAccuracy: this.evaluatedAccuracy(validation.labels, 0),
      testAccuracy: this.evaluatedAccuracy(test.labels, validation.count),
    };
  }

  /**
   * The accuracy of an `evaluate` command on the rows from `firstRow` on: each row's logits are the
   * sum of the workers' parts and the output bias; the prediction, their first maximum (as argMax).
   */
  private evaluatedAccuracy(labels: Uint8Array, firstRow: number): number {
    const { data, config } = this.setup;
    const output = config.outputNode;
    const rows = data.validation.count + data.test.count;
    const { evalLogits, evalBias } = this.shared;
    let correct = 0;
    for (let i = 0; i < labels.length; i++) {
      let best = 0;
      let bestValue = -Infinity;
      for (let j = 0; j < output; j++) {
        let value = evalBias[j];
        for (let w = 0; w < this.workers; w++) value += evalLogits[(w * rows + firstRow + i) * output + j];
        if (value > bestValue) {
          bestValue = value;
          best = j;
        }
      }
      if (best === labels[i]) correct++;
    }
    return correct / labels.length;
  }

  state(): EngineState {
    this.runSync(COMMAND.state, 'save their state');
    const { control } = this.shared;
    const sampler: SamplerState = {
      epochRandomState: Atomics.load(control, CTL.samplerRandom) >>> 0,
      indexInEpoch: Atomics.load(control, CTL.samplerIndex),
      epochsCompleted: Atomics.load(control, CTL.samplerEpochs),
    };
    const averages = this.setup.config.useMovingAverage ? unflatten(this.shared.averages, this.layout) : {};
    return {
      globalStep: Atomics.load(control, CTL.globalStep),
      sampler,
      params: unflatten(this.shared.params, this.layout),
      averages,
    };
  }

  get params(): Params {
    return this.mirror.update(this.state()).params;
  }

  get average(): ExponentialMovingAverage | null {
    return this.mirror.update(this.state()).average;
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    for (const worker of this.threads) void worker.terminate();
    this.mirror.dispose();
  }
}
