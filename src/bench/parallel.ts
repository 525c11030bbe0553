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
import type { MnistData } from '../data/mnist';
import { runSweep } from '../sweep/sweep';
import { checkWorkers } from '../engine/workers';
import { decayStepsFor, makeConfig } from '../core/config';
import { LocalEngine } from '../engine/local-engine';
import { SplitEngine, type SplitTimings } from '../engine/split-engine';
import type { StepEngine } from '../engine/step-engine';
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
  /** The machine's 1-minute load average before and after. */
  load: [number, number];
}

/**
 * The split step's gain over one thread, measured fairly on a shared machine: both engines live
 * side by side and take turns, round after round (in alternating order), so that a change of
 * load falls on both; the gain is the median of the rounds' ratios. Also says where the split
 * step's time goes (compute, waits at the barrier and for the main thread).
 */
export async function benchSplitGain(
  data: MnistData,
  workers: number,
  rounds: number,
  stepsPerRound: number,
): Promise<SplitGainBench> {
  const load0 = loadavg()[0];
  const config = makeConfig({ trainingSteps: 1_000_000 });
  const setup = { data, config, decaySteps: decayStepsFor(config, data.train.count), divergenceThreshold: Infinity };
  const split = new SplitEngine(setup, workers);
  const one = new LocalEngine(setup);
  try {
    const run = async (engine: StepEngine, steps: number) => {
      const start = performance.now();
      await engine.advance(engine.globalStep + steps, {
        recordEvery: config.recordEvery,
        shouldStop: () => false,
        onRecord: () => undefined,
      });
      return (performance.now() - start) / steps;
    };
    await run(one, WARM_UP);
    await run(split, WARM_UP);
    split.stepTimings(true);
    const times: [number[], number[]] = [[], []];
    for (let round = 0; round < rounds; round++) {
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
      load: [load0, loadavg()[0]],
    };
  } finally {
    split.dispose();
    one.dispose();
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
gain and where the split step's time goes (ms per step: each worker's compute and waits, and
the main thread's part); --sweep adds a {"mode":"sweep"} line: --sweep-runs runs (default 4)
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
