/**
 * A worker of the split step: holds the columns `[first, end)` of `weights1` and `biases1`, the
 * same rows of `weights2`, their moving averages, and a copy of `biases2`. Per step it computes
 * its block of the hidden layer and its partial logits, meets the other workers at a barrier,
 * sums everyone's partial logits (in worker order, so every worker gets the same numbers),
 * and updates its block from the logit gradients. Commands come through shared memory; the
 * thread waits on it between commands, so it takes no messages after start-up. The math is the
 * one-thread step's (src/core/loss.ts), composed for a block of units.
 */
import * as tf from '@tensorflow/tfjs';
import { parentPort, workerData } from 'node:worker_threads';
import { setupBackend, type BackendName } from './backend';
import { BatchSampler, type Batch, type MnistData } from '../data/mnist';
import { imageChunks } from '../core/accuracy';
import { divergedLoss } from '../core/divergence';
import { ExponentialMovingAverage, hiddenForward, movingAverageDecayAt } from '../core/model';
import { hiddenBackward, learningRateAt, outputGradientRows, type HiddenGradients } from '../core/loss';
import { mnistFromShared } from './shared-data';
import {
  COMMAND,
  CTL,
  F64,
  paramLayout,
  RECORD,
  reportFailure,
  STATUS,
  TIMING,
  type ParamLayout,
  type SplitShared,
  type SplitWorkerData,
} from './split-layout';
import type { TrainingConfig } from '../core/config';
import { errorMessage } from '../util/text';

/** Loads of the barrier word before sleeping on it: a wake-up from `Atomics.wait` costs ~40 us, spinning ~1 us. */
const SPIN = 20000;
/** Sleep in slices this long, to notice a failed worker. */
const WAIT_SLICE_MS = 50;

/** Another thread failed: leave the command (the failure is already reported). */
class PeerFailure extends Error {}

/** A worker's part of the whole network's parameters (or of their moving averages), as plain arrays. */
interface BlockValues {
  weights1: Float32Array;
  biases1: Float32Array;
  weights2: Float32Array;
  biases2: Float32Array;
}

/** Where a worker's block of hidden units lies in a flat parameter array (`paramLayout`). */
class UnitBlock {
  private readonly layout: ParamLayout;
  private readonly units: number;

  constructor(
    private readonly config: TrainingConfig,
    private readonly first: number,
    private readonly end: number,
  ) {
    this.layout = paramLayout(config);
    this.units = end - first;
  }

  /** The block's values: its columns of `weights1` and `biases1`, its rows of `weights2`, and `biases2`. */
  read(flat: Float32Array): BlockValues {
    const { layout, first, end, units } = this;
    const { inputNode: input, layer1Node: hidden, outputNode: output } = this.config;
    const weights1 = new Float32Array(input * units);
    for (let r = 0; r < input; r++)
      weights1.set(flat.subarray(layout.weights1 + r * hidden + first, layout.weights1 + r * hidden + end), r * units);
    return {
      weights1,
      biases1: flat.slice(layout.biases1 + first, layout.biases1 + end),
      weights2: flat.slice(layout.weights2 + first * output, layout.weights2 + end * output),
      biases2: flat.slice(layout.biases2, layout.biases2 + output),
    };
  }

  /** Writes the block's values back; `biases2` (the same in every worker) only when `withBiases2`. */
  write(flat: Float32Array, values: BlockValues, withBiases2: boolean): void {
    const { layout, first, units } = this;
    const { inputNode: input, layer1Node: hidden, outputNode: output } = this.config;
    for (let r = 0; r < input; r++)
      flat.set(values.weights1.subarray(r * units, (r + 1) * units), layout.weights1 + r * hidden + first);
    flat.set(values.biases1, layout.biases1 + first);
    flat.set(values.weights2, layout.weights2 + first * output);
    if (withBiases2) flat.set(values.biases2, layout.biases2);
  }
}

/** One worker thread of the split step: its block of the network, and the commands of the main thread. */
class SplitWorker {
  private readonly config: TrainingConfig;
  private readonly shared: SplitShared;
  private readonly control: Int32Array;
  private readonly leader: boolean;
  private readonly block: UnitBlock;
  private readonly data: MnistData;
  private readonly sampler: BatchSampler;
  private globalStep: number;
  private readonly weights1: tf.Variable;
  private readonly biases1: tf.Variable;
  private readonly weights2: tf.Variable;
  /** The output bias is tiny and identical in every worker: kept in plain arrays. */
  private readonly biases2: Float32Array;
  private readonly biases2Average: Float32Array;
  private readonly average: ExponentialMovingAverage | null;
  /** The step's whole logits, their gradient and the output bias's gradient. */
  private readonly logits: Float64Array;
  private readonly dLogits: Float32Array;
  private readonly dBiases2: Float64Array;
  /** The validation and test images as tensors, built at the first evaluation. */
  private evalChunks: tf.Tensor2D[][] | null = null;
  /** This worker's row of `shared.timings`, and when the part under way began. */
  private readonly timings: Float64Array;
  private mark = 0;

  constructor(private readonly init: SplitWorkerData) {
    const { config, shared, index, first, end } = init;
    const { inputNode: input, outputNode: output, batchSize } = config;
    this.config = config;
    this.shared = shared;
    this.control = shared.control;
    this.leader = index === 0;
    this.block = new UnitBlock(config, first, end);
    this.data = mnistFromShared(init.data);
    this.sampler = new BatchSampler(this.data.train, config.seed, init.sampler ?? undefined);
    this.globalStep = init.globalStep;
    const start = this.block.read(shared.params);
    this.weights1 = tf.tidy(() => tf.variable(tf.tensor2d(start.weights1, [input, end - first])));
    this.biases1 = tf.tidy(() => tf.variable(tf.tensor1d(start.biases1)));
    this.weights2 = tf.tidy(() => tf.variable(tf.tensor2d(start.weights2, [end - first, output])));
    this.biases2 = start.biases2;
    const averages = this.block.read(shared.averages);
    this.biases2Average = averages.biases2;
    this.average = config.useMovingAverage ? this.restoredAverage(averages) : null;
    this.logits = new Float64Array(batchSize * output);
    this.dLogits = new Float32Array(batchSize * output);
    this.dBiases2 = new Float64Array(output);
    this.timings = shared.timings.subarray(index * TIMING.size, (index + 1) * TIMING.size);
  }

  /** Adds the time since the last mark to `part` of the timings (a few calls per step: ~1 us). */
  private lap(part: number): void {
    const now = performance.now();
    this.timings[part] += now - this.mark;
    this.mark = now;
  }

  private restoredAverage(values: BlockValues): ExponentialMovingAverage {
    const { weights1, biases1, weights2 } = this;
    const average = new ExponentialMovingAverage(this.config.movingAverageDecay, [weights1, biases1, weights2]);
    average.restore(
      new Map<tf.Variable, Float32Array>([
        [weights1, values.weights1],
        [biases1, values.biases1],
        [weights2, values.weights2],
      ]),
    );
    return average;
  }

  /** Announces readiness, then runs commands until a thread fails. */
  run(): void {
    this.warmUp();
    const { control } = this;
    // Read before announcing readiness: the first command may follow at once.
    let seen = Atomics.load(control, CTL.seq);
    Atomics.add(control, CTL.ready, 1);
    Atomics.notify(control, CTL.ready);
    for (;;) {
      Atomics.wait(control, CTL.seq, seen);
      seen = Atomics.load(control, CTL.seq);
      if (Atomics.load(control, CTL.failed) !== 0) return;
      this.dispatch(Atomics.load(control, CTL.command));
      if (Atomics.add(control, CTL.done, 1) === this.init.workers - 1)
        parentPort!.postMessage({ type: 'done', seq: seen });
      Atomics.notify(control, CTL.done);
      if (Atomics.load(control, CTL.failed) !== 0) return;
    }
  }

  /** Runs one command; an error is reported to every thread (a peer's failure already is). */
  private dispatch(command: number): void {
    try {
      if (command === COMMAND.advance) this.advance();
      else if (command === COMMAND.evaluate) this.evaluate();
      else if (command === COMMAND.state) this.saveState();
      else throw new Error(`unknown command ${command}`);
    } catch (error) {
      if (!(error instanceof PeerFailure))
        reportFailure(this.shared, `split-step worker ${this.init.index}: ${errorMessage(error)}`);
    }
  }

  /** The first products after start-up are slow: a few on throw-away tensors. */
  private warmUp(): void {
    const { weights1, weights2 } = this;
    tf.tidy(() => {
      const x = tf.zeros([this.config.batchSize, this.config.inputNode]);
      for (let i = 0; i < 5; i++)
        tf.matMul(
          tf.transpose(x),
          tf.matMul(tf.matMul(x, weights1), weights2).matMul(tf.transpose(weights2)),
        ).dataSync();
    });
  }

  /** Waits while the control slot holds `value`: spinning first, then sleeping in slices. */
  private waitWhile(slot: number, value: number): void {
    const { control } = this;
    for (let i = 0; i < SPIN; i++) if (Atomics.load(control, slot) !== value) return;
    while (Atomics.load(control, slot) === value) {
      if (Atomics.load(control, CTL.failed) !== 0) throw new PeerFailure();
      Atomics.wait(control, slot, value, WAIT_SLICE_MS);
    }
  }

  private barrier(): void {
    const { control } = this;
    const generation = Atomics.load(control, CTL.barrierGeneration);
    if (Atomics.add(control, CTL.barrierCount, 1) === this.init.workers - 1) {
      Atomics.store(control, CTL.barrierCount, 0);
      Atomics.add(control, CTL.barrierGeneration, 1);
      Atomics.notify(control, CTL.barrierGeneration);
      return;
    }
    this.waitWhile(CTL.barrierGeneration, generation);
  }

  /** The `advance` command: steps until `CTL.until`, a stop, or a divergence. */
  private advance(): void {
    const { control } = this;
    const until = Atomics.load(control, CTL.until);
    const recordEvery = Atomics.load(control, CTL.recordEvery);
    let recorded = 0;
    let status: number = STATUS.reachedUntil;
    this.mark = performance.now();
    while (this.globalStep < until) {
      const recording = this.globalStep % recordEvery === 0;
      if (!this.step(recording ? recorded : -1)) {
        status = STATUS.diverged;
        break;
      }
      this.updateAverages();
      this.lap(TIMING.average);
      this.timings[TIMING.steps]++;
      const stopAfter = Atomics.load(control, CTL.decision + (this.globalStep % 2)) !== 0;
      this.globalStep++;
      const stopAtRecord = recording && this.publishRecord(recorded++, until);
      if (recording) this.lap(TIMING.acknowledge);
      if (stopAtRecord || (stopAfter && this.globalStep < until)) {
        status = STATUS.stopped;
        break;
      }
    }
    if (this.leader) {
      Atomics.store(control, CTL.status, status);
      Atomics.store(control, CTL.globalStep, this.globalStep);
    }
  }

  /**
   * Announces a recorded step (the last worker to write its part does) and, unless the command
   * ends there, waits until the main thread has handled it: its progress callbacks may stop the
   * run at this step, as in the one-thread loop. True when they did.
   */
  private publishRecord(recordIndex: number, until: number): boolean {
    const { control } = this;
    if (Atomics.add(this.shared.recordsDone, recordIndex, 1) === this.init.workers - 1)
      parentPort!.postMessage({ type: 'record', index: recordIndex });
    if (this.globalStep >= until) return false;
    const handled = recordIndex + 1;
    for (
      let seen = Atomics.load(control, CTL.acknowledged);
      seen < handled;
      seen = Atomics.load(control, CTL.acknowledged)
    )
      this.waitWhile(CTL.acknowledged, seen);
    return Atomics.load(control, CTL.stopAtRecord) === handled;
  }

  /** One step (recorded at `recordIndex` unless it is -1); false when the loss diverged (nothing updated). */
  private step(recordIndex: number): boolean {
    const { config } = this;
    const batch = this.sampler.nextBatch(config.batchSize);
    const learningRate = learningRateAt(config, this.globalStep, this.init.decaySteps);
    return tf.tidy(() => {
      const images = tf.tensor2d(batch.images, [config.batchSize, config.inputNode]);
      this.lap(TIMING.batch);
      const hidden = hiddenForward(images, this.weights1, this.biases1, config.activation);
      this.exchangeLogits(tf.matMul(hidden.hidden, this.weights2).dataSync() as Float32Array);
      const crossEntropy = this.outputGradient(batch);
      this.lap(TIMING.softmax);
      if (divergedLoss(crossEntropy, this.init.divergenceThreshold)) {
        this.reportDivergence(crossEntropy, learningRate);
        return false;
      }
      const dLogits = tf.tensor2d(this.dLogits, [config.batchSize, config.outputNode]);
      const weights = { weights1: this.weights1, weights2: this.weights2 };
      const grads = hiddenBackward(images, hidden, dLogits, weights, config);
      if (recordIndex >= 0) {
        this.lap(TIMING.backward);
        this.writeRecord(recordIndex, crossEntropy, learningRate, grads);
        this.lap(TIMING.record);
      }
      this.applyGradients(grads, learningRate);
      // The update's ops run when queued (wasm is synchronous): its time is the backward part's.
      this.lap(TIMING.backward);
      return true;
    });
  }

  /**
   * Posts this worker's partial logits, meets the others, and sums everyone's into `logits` with
   * the output bias. The leader also posts whether the main thread asked to stop after this step.
   */
  private exchangeLogits(partial: Float32Array): void {
    const { control, logits } = this;
    const { partials } = this.shared;
    const { workers, index } = this.init;
    const size = logits.length;
    const parity = this.globalStep % 2;
    partials.set(partial, (parity * workers + index) * size);
    if (this.leader) Atomics.store(control, CTL.decision + parity, Atomics.load(control, CTL.stop));
    this.lap(TIMING.forward);
    this.barrier();
    this.lap(TIMING.barrier);
    // Every worker sums the partial logits in the same order: the same numbers everywhere.
    logits.fill(0);
    for (let w = 0; w < workers; w++) {
      const offset = (parity * workers + w) * size;
      for (let i = 0; i < size; i++) logits[i] += partials[offset + i];
    }
    const output = this.biases2.length;
    for (let i = 0; i < size; i++) logits[i] = Math.fround(logits[i] + this.biases2[i % output]);
  }

  /** The cross-entropy of the summed logits; fills `dLogits` and `dBiases2`. */
  private outputGradient(batch: Batch): number {
    this.dBiases2.fill(0);
    return outputGradientRows(this.logits, batch.labels, this.dLogits, this.dBiases2);
  }

  private reportDivergence(crossEntropy: number, learningRate: number): void {
    if (!this.leader) return;
    const { scalars } = this.shared;
    scalars[F64.divergedCrossEntropy] = crossEntropy;
    scalars[F64.divergedLearningRate] = learningRate;
    scalars[F64.divergedStep] = this.globalStep;
  }

  /** This worker's part of a recorded step: sums the main thread adds up across workers. */
  private writeRecord(recordIndex: number, crossEntropy: number, learningRate: number, grads: HiddenGradients): void {
    const { records } = this.shared;
    const at = (recordIndex * this.init.workers + this.init.index) * RECORD.size;
    const total = (t: tf.Tensor) => tf.sum(t).dataSync()[0];
    records[at + RECORD.crossEntropy] = crossEntropy;
    records[at + RECORD.learningRate] = learningRate;
    records[at + RECORD.absWeights1] = total(tf.abs(grads.weights1));
    records[at + RECORD.absBiases1] = total(tf.abs(grads.biases1));
    records[at + RECORD.absWeights2] = total(tf.abs(grads.weights2));
    records[at + RECORD.absBiases2] = this.dBiases2.reduce((a, b) => a + Math.abs(Math.fround(b)), 0);
    records[at + RECORD.squaredWeights1] = total(tf.square(this.weights1));
    records[at + RECORD.squaredWeights2] = total(tf.square(this.weights2));
  }

  /** Gradient descent on the block, and on the output bias in float32 arithmetic as a tensor would. */
  private applyGradients(grads: HiddenGradients, learningRate: number): void {
    const { weights1, biases1, weights2, biases2, dBiases2 } = this;
    weights1.assign(tf.sub(weights1, tf.mul(grads.weights1, learningRate)));
    biases1.assign(tf.sub(biases1, tf.mul(grads.biases1, learningRate)));
    weights2.assign(tf.sub(weights2, tf.mul(grads.weights2, learningRate)));
    for (let j = 0; j < biases2.length; j++)
      biases2[j] = Math.fround(biases2[j] - Math.fround(Math.fround(dBiases2[j]) * learningRate));
  }

  private updateAverages(): void {
    if (this.average === null) return;
    this.average.apply(this.globalStep);
    const { biases2, biases2Average } = this;
    const d = movingAverageDecayAt(this.config.movingAverageDecay, this.globalStep);
    for (let j = 0; j < biases2.length; j++)
      biases2Average[j] = Math.fround(
        biases2Average[j] + Math.fround(Math.fround(biases2[j] - biases2Average[j]) * (1 - d)),
      );
  }

  /** The `evaluate` command: this block's partial logits of the validation and test images, and the output bias. */
  private evaluate(): void {
    const { validation, test } = this.data;
    this.evalChunks ??= [validation, test].map((set) => imageChunks(set));
    const value = (v: tf.Variable) => (this.average === null ? v : this.average.average(v));
    const { evalLogits, evalBias } = this.shared;
    let offset = this.init.index * (validation.count + test.count) * this.config.outputNode;
    for (const chunk of this.evalChunks.flat()) {
      const part = tf.tidy(() => {
        const { hidden } = hiddenForward(chunk, value(this.weights1), value(this.biases1), this.config.activation);
        return tf.matMul(hidden, value(this.weights2)).dataSync();
      });
      evalLogits.set(part, offset);
      offset += part.length;
    }
    if (this.leader) evalBias.set(this.average === null ? this.biases2 : this.biases2Average);
  }

  /** The `state` command: the block's parameters and averages into shared memory; the leader adds step and sampler. */
  private saveState(): void {
    const { average, leader, control } = this;
    const read = (v: tf.Variable) => v.dataSync() as Float32Array;
    const values = (of: (v: tf.Variable) => Float32Array, biases2: Float32Array): BlockValues => ({
      weights1: of(this.weights1),
      biases1: of(this.biases1),
      weights2: of(this.weights2),
      biases2,
    });
    this.block.write(this.shared.params, values(read, this.biases2), leader);
    if (average !== null) {
      const averaged = (v: tf.Variable) => average.average(v).dataSync() as Float32Array;
      this.block.write(this.shared.averages, values(averaged, this.biases2Average), leader);
    }
    if (leader) {
      const state = this.sampler.getState();
      Atomics.store(control, CTL.samplerRandom, state.epochRandomState | 0);
      Atomics.store(control, CTL.samplerIndex, state.indexInEpoch);
      Atomics.store(control, CTL.samplerEpochs, state.epochsCompleted);
      Atomics.store(control, CTL.globalStep, this.globalStep);
    }
  }

  dispose(): void {
    this.average?.dispose();
    for (const v of [this.weights1, this.biases1, this.weights2]) v.dispose();
    if (this.evalChunks !== null) tf.dispose(this.evalChunks.flat());
    this.evalChunks = null;
  }
}

async function main(): Promise<void> {
  const init = workerData as SplitWorkerData;
  try {
    await setupBackend(init.backend as BackendName);
    const worker = new SplitWorker(init);
    try {
      worker.run();
    } finally {
      worker.dispose();
    }
  } catch (error) {
    reportFailure(init.shared, `split-step worker ${init.index}: ${errorMessage(error)}`);
  }
}

void main();
