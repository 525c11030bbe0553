/**
 * A worker of the split step: holds the columns `[first, end)` of `weights1` and `biases1`, the
 * same rows of `weights2`, their moving averages, and a copy of `biases2`. Per step it computes
 * its slice of the hidden layer and its partial logits, meets the other workers at a barrier,
 * sums everyone's partial logits (in worker order, so every worker gets the same numbers),
 * and updates its slice from the logit gradients. Commands come through shared memory; the
 * thread waits on it between commands, so it takes no messages after start-up.
 */
import * as tf from '@tensorflow/tfjs';
import { parentPort, workerData } from 'node:worker_threads';
import { setupBackend, type BackendName } from './backend';
import { BatchSampler, type DataSet } from '../data/mnist';
import { ExponentialMovingAverage, movingAverageDecayAt } from '../core/model';
import { learningRateAt } from '../core/loss';
import { mnistFromShared } from './shared-data';
import { COMMAND, CTL, F64, paramLayout, RECORD, reportFailure, STATUS, type SplitWorkerData } from './split-layout';
import { errorMessage } from '../util/text';

const EVAL_CHUNK = 5000;
/** Loads of the barrier word before sleeping on it: a wake-up from `Atomics.wait` costs ~40 us, spinning ~1 us. */
const SPIN = 20000;
/** Sleep in slices this long, to notice a failed worker. */
const WAIT_SLICE_MS = 50;

class PeerFailure extends Error {}

function runWorker(init: SplitWorkerData): void {
  const { index, workers, first, end, config, decaySteps, divergenceThreshold, shared } = init;
  const { control, scalars, partials, records, recordsDone } = shared;
  const leader = index === 0;
  const units = end - first;
  const { inputNode: input, outputNode: output, batchSize } = config;
  const relu = config.activation === 'relu';
  const layout = paramLayout(config);
  const hidden = config.layer1Node;
  const data = mnistFromShared(init.data);
  const sampler = new BatchSampler(data.train, config.seed, init.sampler ?? undefined);
  let globalStep = init.globalStep;

  // This worker's slice of a flat parameter array, and back.
  const columns = (flat: Float32Array, offset: number, rows: number, width: number) => {
    const out = new Float32Array(rows * units);
    for (let r = 0; r < rows; r++)
      out.set(flat.subarray(offset + r * width + first, offset + r * width + end), r * units);
    return out;
  };
  const sliceOf = (flat: Float32Array) => ({
    weights1: columns(flat, layout.weights1, input, hidden),
    biases1: flat.slice(layout.biases1 + first, layout.biases1 + end),
    weights2: flat.slice(layout.weights2 + first * output, layout.weights2 + end * output),
    biases2: flat.slice(layout.biases2, layout.biases2 + output),
  });
  const writeSlice = (
    flat: Float32Array,
    values: { weights1: Float32Array; biases1: Float32Array; weights2: Float32Array; biases2: Float32Array },
  ) => {
    for (let r = 0; r < input; r++)
      flat.set(values.weights1.subarray(r * units, (r + 1) * units), layout.weights1 + r * hidden + first);
    flat.set(values.biases1, layout.biases1 + first);
    flat.set(values.weights2, layout.weights2 + first * output);
    if (leader) flat.set(values.biases2, layout.biases2);
  };

  const start = sliceOf(shared.params);
  const weights1 = tf.variable(tf.tensor2d(start.weights1, [input, units]), true);
  const biases1 = tf.variable(tf.tensor1d(start.biases1), true);
  const weights2 = tf.variable(tf.tensor2d(start.weights2, [units, output]), true);
  // The output bias is tiny and identical in every worker: kept in plain arrays.
  const biases2 = start.biases2;
  const average = config.useMovingAverage
    ? new ExponentialMovingAverage(config.movingAverageDecay, [weights1, biases1, weights2])
    : null;
  const startAverages = sliceOf(shared.averages);
  average?.restore(
    new Map<tf.Variable, Float32Array>([
      [weights1, startAverages.weights1],
      [biases1, startAverages.biases1],
      [weights2, startAverages.weights2],
    ]),
  );
  const biases2Average = startAverages.biases2;

  /** Waits while the control slot holds `value`: spinning first, then sleeping in slices. */
  const waitWhile = (slot: number, value: number) => {
    for (let i = 0; i < SPIN; i++) if (Atomics.load(control, slot) !== value) return;
    while (Atomics.load(control, slot) === value) {
      if (Atomics.load(control, CTL.failed) !== 0) throw new PeerFailure();
      Atomics.wait(control, slot, value, WAIT_SLICE_MS);
    }
  };

  const barrier = () => {
    const generation = Atomics.load(control, CTL.barrierGeneration);
    if (Atomics.add(control, CTL.barrierCount, 1) === workers - 1) {
      Atomics.store(control, CTL.barrierCount, 0);
      Atomics.add(control, CTL.barrierGeneration, 1);
      Atomics.notify(control, CTL.barrierGeneration);
      return;
    }
    waitWhile(CTL.barrierGeneration, generation);
  };

  const logits = new Float64Array(batchSize * output);
  const dLogits = new Float32Array(batchSize * output);
  const partialSize = batchSize * output;

  /** One step; returns false when the loss diverged (nothing updated). */
  const step = (recordIndex: number): boolean => {
    const batch = sampler.nextBatch(batchSize);
    const learningRate = learningRateAt(config, globalStep, decaySteps);
    const parity = globalStep % 2;
    return tf.tidy(() => {
      const images = tf.tensor2d(batch.images, [batchSize, input]);
      const z1 = tf.add(tf.matMul(images, weights1), biases1) as tf.Tensor2D;
      const hiddenOut = relu ? tf.relu(z1) : z1;
      const partial = tf.matMul(hiddenOut, weights2).dataSync();
      partials.set(partial, (parity * workers + index) * partialSize);
      if (leader) Atomics.store(control, CTL.decision + parity, Atomics.load(control, CTL.stop));
      barrier();
      // Every worker sums the partial logits in the same order: the same numbers everywhere.
      logits.fill(0);
      for (let w = 0; w < workers; w++) {
        const offset = (parity * workers + w) * partialSize;
        for (let i = 0; i < partialSize; i++) logits[i] += partials[offset + i];
      }
      let crossEntropy = 0;
      for (let row = 0; row < batchSize; row++) {
        const base = row * output;
        let max = -Infinity;
        for (let j = 0; j < output; j++) {
          logits[base + j] = Math.fround(logits[base + j] + biases2[j]);
          max = Math.max(max, logits[base + j]);
        }
        let sum = 0;
        for (let j = 0; j < output; j++) sum += Math.exp(logits[base + j] - max);
        const logSum = max + Math.log(sum);
        const label = batch.labels[row];
        crossEntropy -= logits[base + label] - logSum;
        // d(mean CE)/d(logits) = (softmax - onehot) / batch.
        for (let j = 0; j < output; j++)
          dLogits[base + j] = (Math.exp(logits[base + j] - logSum) - (j === label ? 1 : 0)) / batchSize;
      }
      crossEntropy /= batchSize;
      if (!Number.isFinite(crossEntropy) || crossEntropy > divergenceThreshold) {
        if (leader) {
          scalars[F64.divergedCrossEntropy] = crossEntropy;
          scalars[F64.divergedLearningRate] = learningRate;
          scalars[F64.divergedStep] = globalStep;
        }
        return false;
      }
      const dL = tf.tensor2d(dLogits, [batchSize, output]);
      const withL2 = (g: tf.Tensor, w: tf.Variable) =>
        config.regularizationRate === 0 ? g : tf.add(g, tf.mul(w, config.regularizationRate));
      // Explicit transposes: matMul's transpose flags take a slow path on wasm.
      const gradWeights2 = withL2(tf.matMul(tf.transpose(hiddenOut), dL), weights2);
      const dHidden = tf.matMul(dL, tf.transpose(weights2));
      const dZ1 = relu ? tf.mul(dHidden, tf.step(z1)) : dHidden;
      const gradWeights1 = withL2(tf.matMul(tf.transpose(images), dZ1), weights1);
      const gradBiases1 = tf.sum(dZ1, 0);
      const gradBiases2 = new Float64Array(output);
      for (let i = 0; i < partialSize; i++) gradBiases2[i % output] += dLogits[i];
      if (recordIndex >= 0) {
        const at = (recordIndex * workers + index) * RECORD.size;
        const total = (t: tf.Tensor) => tf.sum(t).dataSync()[0];
        records[at + RECORD.crossEntropy] = crossEntropy;
        records[at + RECORD.learningRate] = learningRate;
        records[at + RECORD.absWeights1] = total(tf.abs(gradWeights1));
        records[at + RECORD.absBiases1] = total(tf.abs(gradBiases1));
        records[at + RECORD.absWeights2] = total(tf.abs(gradWeights2));
        records[at + RECORD.absBiases2] = gradBiases2.reduce((a, b) => a + Math.abs(Math.fround(b)), 0);
        records[at + RECORD.squaredWeights1] = total(tf.square(weights1));
        records[at + RECORD.squaredWeights2] = total(tf.square(weights2));
      }
      weights1.assign(tf.sub(weights1, tf.mul(gradWeights1, learningRate)));
      biases1.assign(tf.sub(biases1, tf.mul(gradBiases1, learningRate)));
      weights2.assign(tf.sub(weights2, tf.mul(gradWeights2, learningRate)));
      for (let j = 0; j < output; j++)
        biases2[j] = Math.fround(biases2[j] - Math.fround(Math.fround(gradBiases2[j]) * learningRate));
      return true;
    });
  };

  const updateAverages = () => {
    if (average === null) return;
    average.apply(globalStep);
    const d = movingAverageDecayAt(config.movingAverageDecay, globalStep);
    for (let j = 0; j < output; j++)
      biases2Average[j] = Math.fround(
        biases2Average[j] + Math.fround(Math.fround(biases2[j] - biases2Average[j]) * (1 - d)),
      );
  };

  const advance = () => {
    const until = Atomics.load(control, CTL.until);
    const recordEvery = Atomics.load(control, CTL.recordEvery);
    let recordIndex = 0;
    let status: number = STATUS.reachedUntil;
    while (globalStep < until) {
      const recording = globalStep % recordEvery === 0;
      if (!step(recording ? recordIndex : -1)) {
        status = STATUS.diverged;
        break;
      }
      updateAverages();
      const stopAfter = Atomics.load(control, CTL.decision + (globalStep % 2)) !== 0;
      globalStep++;
      if (recording) {
        // The last worker to write its part announces the record.
        if (Atomics.add(recordsDone, recordIndex, 1) === workers - 1)
          parentPort!.postMessage({ type: 'record', index: recordIndex });
        recordIndex++;
        if (globalStep < until) {
          // The main thread's progress callbacks may stop the run at this step, as in the
          // one-thread loop: wait until it has handled the record.
          for (
            let seen = Atomics.load(control, CTL.acknowledged);
            seen < recordIndex;
            seen = Atomics.load(control, CTL.acknowledged)
          )
            waitWhile(CTL.acknowledged, seen);
          if (Atomics.load(control, CTL.stopAtRecord) === recordIndex) {
            status = STATUS.stopped;
            break;
          }
        }
      }
      if (stopAfter && globalStep < until) {
        status = STATUS.stopped;
        break;
      }
    }
    if (leader) {
      Atomics.store(control, CTL.status, status);
      Atomics.store(control, CTL.globalStep, globalStep);
    }
  };

  let evalSets: { set: DataSet; chunks: tf.Tensor2D[] }[] | null = null;
  const evaluate = () => {
    evalSets ??= [data.validation, data.test].map((set) => {
      const chunks: tf.Tensor2D[] = [];
      for (let row = 0; row < set.count; row += EVAL_CHUNK) {
        const last = Math.min(set.count, row + EVAL_CHUNK);
        chunks.push(tf.tensor2d(set.images.subarray(row * input, last * input), [last - row, input]));
      }
      return { set, chunks };
    });
    const value = (v: tf.Variable) => (average === null ? v : average.average(v));
    const rows = data.validation.count + data.test.count;
    let offset = index * rows * output;
    for (const { chunks } of evalSets) {
      for (const chunk of chunks) {
        const part = tf.tidy(() => {
          const z1 = tf.add(tf.matMul(chunk, value(weights1)), value(biases1));
          return tf.matMul(relu ? tf.relu(z1) : z1, value(weights2)).dataSync();
        });
        shared.evalLogits.set(part, offset);
        offset += part.length;
      }
    }
    if (leader) shared.evalBias.set(average === null ? biases2 : biases2Average);
  };

  const saveState = () => {
    const read = (v: tf.Variable) => v.dataSync() as Float32Array;
    writeSlice(shared.params, { weights1: read(weights1), biases1: read(biases1), weights2: read(weights2), biases2 });
    if (average !== null) {
      const avg = (v: tf.Variable) => average.average(v).dataSync() as Float32Array;
      writeSlice(shared.averages, {
        weights1: avg(weights1),
        biases1: avg(biases1),
        weights2: avg(weights2),
        biases2: biases2Average,
      });
    }
    if (leader) {
      const state = sampler.getState();
      Atomics.store(control, CTL.samplerRandom, state.epochRandomState | 0);
      Atomics.store(control, CTL.samplerIndex, state.indexInEpoch);
      Atomics.store(control, CTL.samplerEpochs, state.epochsCompleted);
      Atomics.store(control, CTL.globalStep, globalStep);
    }
  };

  // Warm-up: the first products after start-up are slow; run a few on throw-away tensors.
  tf.tidy(() => {
    const x = tf.zeros([batchSize, input]);
    for (let i = 0; i < 5; i++)
      tf.matMul(tf.transpose(x), tf.matMul(tf.matMul(x, weights1), weights2).matMul(tf.transpose(weights2))).dataSync();
  });

  // Read before announcing readiness: the first command may follow at once.
  let seen = Atomics.load(control, CTL.seq);
  Atomics.add(control, CTL.ready, 1);
  Atomics.notify(control, CTL.ready);
  for (;;) {
    Atomics.wait(control, CTL.seq, seen);
    seen = Atomics.load(control, CTL.seq);
    if (Atomics.load(control, CTL.failed) !== 0) return;
    const command = Atomics.load(control, CTL.command);
    try {
      if (command === COMMAND.advance) advance();
      else if (command === COMMAND.evaluate) evaluate();
      else if (command === COMMAND.state) saveState();
      else throw new Error(`unknown command ${command}`);
    } catch (error) {
      if (!(error instanceof PeerFailure)) reportFailure(shared, `split-step worker ${index}: ${errorMessage(error)}`);
    }
    if (Atomics.add(control, CTL.done, 1) === workers - 1) parentPort!.postMessage({ type: 'done', seq: seen });
    Atomics.notify(control, CTL.done);
    if (Atomics.load(control, CTL.failed) !== 0) return;
  }
}

async function main(): Promise<void> {
  const init = workerData as SplitWorkerData;
  try {
    await setupBackend(init.backend as BackendName);
    runWorker(init);
  } catch (error) {
    reportFailure(init.shared, `split-step worker ${init.index}: ${errorMessage(error)}`);
  }
}

void main();
