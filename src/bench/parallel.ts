/**
 * Benchmarks of the parallel code: the training step split across worker threads against the
 * one-thread step (`mode: "step"`), and a sweep of runs on all workers against the same runs one
 * after the other (`mode: "sweep"`). Used by `npm run bench`.
 */
import * as tf from '@tensorflow/tfjs';
import { mkdtemp, rm } from 'node:fs/promises';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ParseArgsConfig } from 'node:util';
import { Worker } from 'node:worker_threads';
import type { MnistData } from '../data/mnist';
import { runSweep } from '../sweep/sweep';
import { checkWorkers } from '../engine/workers';
import { decayStepsFor, makeConfig } from '../core/config';
import { LocalEngine } from '../engine/local-engine';
import { SplitEngine, type SplitTimings } from '../engine/split-engine';
import { timeSteps, type EngineSetup, type StepEngine } from '../engine/step-engine';
import { Trainer } from '../train/trainer';
import { median } from './median';

export interface StepBench {
  mode: 'step';
  backend: string;
  workers: number;
  /** Mean time of a training step in the training loop (records every 10 steps included), after a warm-up. */
  msPerStep: number;
  steps: number;
}

export interface SweepBench {
  mode: 'sweep';
  runs: number;
  steps: number;
  workers: number;
  sequentialSeconds: number;
  parallelSeconds: number;
  speedup: number;
}

export interface SplitGainBench {
  mode: 'split-gain';
  backend: string;
  workers: number;
  rounds: number;
  stepsPerRound: number;
  /** Median time per step of the loop on one thread and split across `workers` threads. */
  msPerStepOne: number;
  msPerStepSplit: number;
  /** Median over the rounds of one thread's time over the split step's (each round measures both). */
  gain: number;
  gains: number[];
  /** Where the split step's time went (ms per step, over all rounds): each worker's parts, the main thread's. */
  timings: SplitTimings;
  /**
   * What the machine gave two threads in the same rounds: the speed of `workers` threads each
   * running the step's largest product at once, as a multiple of one alone (2 on two idle cores).
   * The split step's gain cannot exceed it; `gain / capacity` is what the split's own costs leave.
   */
  capacity: number;
  capacities: number[];
  /** The machine's 1-minute load average before and after. */
  load: [number, number];
}

/** What `benchSplitGain` builds (injectable: tests pass stand-ins, e.g. one that fails to start). */
export interface SplitGainParts {
  split: (setup: EngineSetup, workers: number) => StepEngine & Pick<SplitEngine, 'stepTimings'>;
  one: (setup: EngineSetup) => StepEngine;
  products: (count: number, batch: number, input: number, units: number) => Promise<ProductThreads>;
}

/** Threads measuring the machine's parallel capacity (see `ProductWorkers`). */
export interface ProductThreads {
  capacity(count: number, n: number): Promise<number>;
  dispose(): Promise<void>;
}

const SPLIT_GAIN_PARTS: SplitGainParts = {
  split: (setup, workers) => new SplitEngine(setup, workers),
  one: (setup) => new LocalEngine(setup),
  products: (count, batch, input, units) => ProductWorkers.start(count, batch, input, units),
};

/**
 * The split step's gain over one thread, measured fairly on a shared machine: both engines live
 * side by side and take turns, round after round (in alternating order), so that a change of
 * load falls on both; the gain is the median of the rounds' ratios. Also says where the split
 * step's time goes (compute, waits at the barrier and for the main thread). Whatever was built
 * is disposed, also when building the rest fails.
 */
export async function benchSplitGain(
  data: MnistData,
  workers: number,
  rounds: number,
  stepsPerRound: number,
  parts: SplitGainParts = SPLIT_GAIN_PARTS,
): Promise<SplitGainBench> {
  const load0 = loadavg()[0];
  const config = makeConfig({ trainingSteps: 1_000_000 });
  const setup = { data, config, decaySteps: decayStepsFor(config, data.train.count), divergenceThreshold: Infinity };
  let split: ReturnType<SplitGainParts['split']> | undefined;
  let one: StepEngine | undefined;
  let products: ProductThreads | undefined;
  try {
    split = parts.split(setup, workers);
    one = parts.one(setup);
    const units = Math.ceil(config.layer1Node / workers);
    products = await parts.products(workers, config.batchSize, config.inputNode, units);
    const run = (engine: StepEngine, steps: number) => timeSteps(engine, steps, config.recordEvery);
    await run(one, WARM_UP);
    await run(split, WARM_UP);
    split.stepTimings(true);
    const times: [number[], number[]] = [[], []];
    const capacities: number[] = [];
    for (let round = 0; round < rounds; round++) {
      capacities.push(await products.capacity(workers, 100));
      if (round % 2 === 0) {
        times[0].push(await run(one, stepsPerRound));
        times[1].push(await run(split, stepsPerRound));
      } else {
        times[1].push(await run(split, stepsPerRound));
        times[0].push(await run(one, stepsPerRound));
      }
    }
    const gains = times[0].map((t, i) => t / times[1][i]);
    return {
      mode: 'split-gain',
      backend: tf.getBackend(),
      workers,
      rounds,
      stepsPerRound,
      msPerStepOne: median(times[0]),
      msPerStepSplit: median(times[1]),
      gain: median(gains),
      gains,
      timings: split.stepTimings(),
      capacity: median(capacities),
      capacities,
      load: [load0, loadavg()[0]],
    };
  } finally {
    // Each one disposed even when disposing another throws.
    try {
      split?.dispose();
    } finally {
      try {
        one?.dispose();
      } finally {
        await products?.dispose();
      }
    }
  }
}

/**
 * A worker thread that runs the split step's largest product (its half of the hidden layer: a
 * [batch, 784] x [784, units] matMul on wasm) when asked, and answers with the time it took.
 */
const PRODUCT_WORKER = `
const { parentPort, workerData } = require('node:worker_threads');
const tf = require(workerData.tfjs);
require(workerData.wasm);
tf.setBackend('wasm').then((ok) => {
  // Thrown here, the error ends the thread and rejects the main thread's wait for it.
  if (!ok) throw new Error('tf.setBackend("wasm") failed in a worker thread of the capacity measurement');
  const x = tf.randomUniform([workerData.batch, workerData.input]);
  const w = tf.randomUniform([workerData.input, workerData.units]);
  const run = (n) => { for (let i = 0; i < n; i++) tf.tidy(() => tf.matMul(x, w).dataSync()); };
  run(5);
  parentPort.on('message', (n) => { const t = performance.now(); run(n); parentPort.postMessage(performance.now() - t); });
  parentPort.postMessage(0);
});`;

/** Threads running the split step's largest product on demand, to measure how much parallel speed the machine gives. */
class ProductWorkers implements ProductThreads {
  private readonly threads: Worker[] = [];
  private constructor() {}

  /** Starts `count` threads and waits until each is ready; on a failure, those started are ended. */
  static async start(count: number, batch: number, input: number, units: number): Promise<ProductWorkers> {
    const workerData = {
      tfjs: require.resolve('@tensorflow/tfjs'),
      wasm: require.resolve('@tensorflow/tfjs-backend-wasm'),
      batch,
      input,
      units,
    };
    const workers = new ProductWorkers();
    try {
      for (let i = 0; i < count; i++) workers.threads.push(new Worker(PRODUCT_WORKER, { eval: true, workerData }));
      await Promise.all(workers.threads.map((t) => workers.next(t)));
      return workers;
    } catch (error) {
      await workers.dispose();
      throw error;
    }
  }

  private next(thread: Worker): Promise<number> {
    return new Promise((resolve, reject) => {
      const onError = (error: Error) => {
        thread.off('message', onMessage);
        reject(error);
      };
      const onMessage = (ms: number) => {
        thread.off('error', onError);
        resolve(ms);
      };
      thread.once('message', onMessage);
      thread.once('error', onError);
    });
  }

  /** Runs `n` products on the first `count` threads at once; the slowest one's time. */
  async run(count: number, n: number): Promise<number> {
    const answers = this.threads.slice(0, count).map((t) => {
      const answer = this.next(t);
      t.postMessage(n);
      return answer;
    });
    return Math.max(...(await Promise.all(answers)));
  }

  /** `count` threads' speed together as a multiple of one thread's alone. */
  async capacity(count: number, n: number): Promise<number> {
    const alone = await this.run(1, n);
    const together = await this.run(count, n);
    return (count * alone) / together;
  }

  async dispose(): Promise<void> {
    await Promise.all(this.threads.map((t) => t.terminate()));
  }
}

/** Steps of the loop before timing starts: the first few hundred after start-up are slow. */
const WARM_UP = 200;

/**
 * Times `steps` steps of the tutorial's training loop with the step on `workers` threads (1: this
 * thread), after a warm-up, from the loop's own progress reports.
 */
export async function benchStep(data: MnistData, workers: number, steps: number): Promise<StepBench> {
  const total = WARM_UP + steps;
  const trainer = new Trainer(data, { workers, config: { trainingSteps: total, evalEvery: total } });
  try {
    let start = Number.NaN;
    let startStep = 0;
    let end = Number.NaN;
    let endStep = 0;
    await trainer.run({
      onProgress: (progress) => {
        if (progress.step === 0 || progress.step === total) return;
        const now = performance.now();
        if (Number.isNaN(start) && progress.step >= WARM_UP) {
          start = now;
          startStep = progress.step;
        }
        end = now;
        endStep = progress.step;
      },
    });
    return {
      mode: 'step',
      backend: tf.getBackend(),
      workers: trainer.workers,
      msPerStep: (end - start) / (endStep - startStep),
      steps: endStep - startStep,
    };
  } finally {
    trainer.dispose();
  }
}

/** Trains `runs` runs of `steps` steps (seeds 1, 2, ...) one after the other, then on `workers` workers at once. */
export async function benchSweep(data: MnistData, runs: number, steps: number, workers: number): Promise<SweepBench> {
  const runsDir = await mkdtemp(join(tmpdir(), 'mnist-bench-sweep-'));
  try {
    const list = Array.from({ length: runs }, (_, i) => ({
      name: `bench-${i + 1}`,
      config: { trainingSteps: steps, seed: i + 1 },
    }));
    const time = async (count: number) => {
      const start = performance.now();
      const results = await runSweep(data, list, { workers: count, runsDir, force: true });
      const failed = results.find((r) => r.error !== null || r.history.status !== 'completed');
      if (failed !== undefined)
        throw new Error(
          `bench sweep: run ${failed.name} ${failed.history.status}: ${failed.error ?? failed.history.error}`,
        );
      return (performance.now() - start) / 1000;
    };
    const sequentialSeconds = await time(1);
    const parallelSeconds = await time(workers);
    return {
      mode: 'sweep',
      runs,
      steps,
      workers,
      sequentialSeconds,
      parallelSeconds,
      speedup: sequentialSeconds / parallelSeconds,
    };
  } finally {
    await rm(runsDir, { recursive: true, force: true });
  }
}

/** The bench flags of these modes. */
export const PARALLEL_BENCH_OPTIONS = {
  'no-split': { type: 'boolean', default: false },
  'split-steps': { type: 'string', default: '1000' },
  'split-gain': { type: 'string' },
  sweep: { type: 'boolean', default: false },
  'sweep-runs': { type: 'string', default: '4' },
  'sweep-steps': { type: 'string', default: '2000' },
  workers: { type: 'string' },
} satisfies ParseArgsConfig['options'];

export const PARALLEL_BENCH_USAGE = `Parallel modes (wasm): {"mode":"step"} lines time the training step on 1 thread and split
across --workers threads (default: one per core) over --split-steps steps (default 1000;
--no-split skips them); --split-gain ROUNDS adds a {"mode":"split-gain"} line: both steps side
by side, taking turns for ROUNDS rounds of --split-steps/ROUNDS steps each, with the median
gain, where the split step's time goes (ms per step: each worker's compute and waits, and the
main thread's part), and the machine's capacity in the same rounds (two threads' speed at once
running the step's largest product, as a multiple of one's alone: the gain's ceiling); --sweep adds a {"mode":"sweep"} line: --sweep-runs runs (default 4)
of --sweep-steps steps (default 2000) one after the other, then on the workers at once.`;

function count(text: string | undefined, flag: string, min: number): number {
  const value = Number(text);
  if (!Number.isInteger(value) || value < min) throw new Error(`--${flag} must be an integer >= ${min}, got "${text}"`);
  return value;
}

/** Runs the parallel modes the flags ask for on the current backend; prints a JSON line each; returns the steps. */
export async function benchParallel(
  data: MnistData,
  values: { [K in keyof typeof PARALLEL_BENCH_OPTIONS]?: string | boolean },
  print: (line: string) => void = console.log,
): Promise<StepBench[]> {
  const workers =
    values.workers === undefined
      ? availableParallelism()
      : checkWorkers(Number(values.workers), '--workers', String(values.workers));
  const round = (x: number) => Math.round(x * 1000) / 1000;
  const show = (result: object) =>
    print(JSON.stringify(result, (_, v: unknown) => (typeof v === 'number' ? round(v) : v)));
  const stepLines: StepBench[] = [];
  if (values['no-split'] !== true) {
    const steps = count(values['split-steps'] as string, 'split-steps', 10);
    for (const n of workers > 1 ? [1, workers] : [1]) {
      const line = await benchStep(data, n, steps);
      stepLines.push(line);
      show(line);
    }
  }
  if (values['split-gain'] !== undefined && workers > 1) {
    const rounds = count(values['split-gain'] as string, 'split-gain', 1);
    const steps = count(values['split-steps'] as string, 'split-steps', 10);
    show(await benchSplitGain(data, workers, rounds, Math.max(10, Math.floor(steps / rounds))));
  }
  if (values.sweep === true)
    show(
      await benchSweep(
        data,
        count(values['sweep-runs'] as string, 'sweep-runs', 1),
        count(values['sweep-steps'] as string, 'sweep-steps', 1),
        workers,
      ),
    );
  return stepLines;
}
