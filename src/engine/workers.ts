/**
 * How many threads split a training step: the default for this backend and machine, and checks of a count given by a
 * user.
 */
import * as tf from '@tensorflow/tfjs';
import { availableParallelism } from 'node:os';
import { isMainThread } from 'node:worker_threads';
import type { TrainingConfig } from '../core/config';

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
  if (fromEnv !== undefined && fromEnv !== '' && fromEnv !== 'auto')
    return checkWorkers(Number(fromEnv), WORKERS_ENV, fromEnv);
  if (!isMainThread || tf.getBackend() !== 'wasm') return 1;
  return splitWorkersFor(config);
}

/** Threads the wasm step is split across on this machine: one per core, each with `MIN_UNITS_PER_WORKER` units. */
export function splitWorkersFor(config: Pick<TrainingConfig, 'layer1Node'>): number {
  return Math.max(1, Math.min(availableParallelism(), Math.floor(config.layer1Node / MIN_UNITS_PER_WORKER)));
}

/** True when `MNIST_WORKERS` sets a count (not unset, empty or `auto`). */
export function workersFromEnvSet(env: NodeJS.ProcessEnv = process.env): boolean {
  const fromEnv = env[WORKERS_ENV]?.trim();
  return fromEnv !== undefined && fromEnv !== '' && fromEnv !== 'auto';
}

/** Checks a worker count given by a user; `source` names where it came from. */
export function checkWorkers(value: number, source = 'workers', text: string = String(value)): number {
  if (!Number.isInteger(value) || value < 1 || value > 256)
    throw new RangeError(`${source} must be a whole number of threads from 1 to 256, got "${text}"`);
  return value;
}
