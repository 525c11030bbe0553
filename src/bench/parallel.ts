/**
 * Benchmarks of the parallel code: the training step split across worker threads against the
 * one-thread step (`mode: "step"`), and a sweep of runs on all workers against the same runs one
 * after the other (`mode: "sweep"`). Used by `npm run bench`.
 */
import * as tf from '@tensorflow/tfjs';
import { mkdtemp, rm } from 'node:fs/promises';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ParseArgsConfig } from 'node:util';
import type { MnistData } from '../data/mnist';
import { runSweep } from '../sweep/sweep';
import { checkWorkers } from '../engine/workers';
import { Trainer } from '../train/trainer';

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
  sweep: { type: 'boolean', default: false },
  'sweep-runs': { type: 'string', default: '4' },
  'sweep-steps': { type: 'string', default: '2000' },
  workers: { type: 'string' },
} satisfies ParseArgsConfig['options'];

export const PARALLEL_BENCH_USAGE = `Parallel modes (wasm): {"mode":"step"} lines time the training step on 1 thread and split
across --workers threads (default: one per core) over --split-steps steps (default 1000;
--no-split skips them); --sweep adds a {"mode":"sweep"} line: --sweep-runs runs (default 4)
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
    print(
      JSON.stringify(
        Object.fromEntries(Object.entries(result).map(([k, v]) => [k, typeof v === 'number' ? round(v) : v])),
      ),
    );
  const stepLines: StepBench[] = [];
  if (values['no-split'] !== true) {
    const steps = count(values['split-steps'] as string, 'split-steps', 10);
    for (const n of workers > 1 ? [1, workers] : [1]) {
      const line = await benchStep(data, n, steps);
      stepLines.push(line);
      show(line);
    }
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
