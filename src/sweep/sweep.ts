/**
 * Several training runs at once: one worker thread per core, each with its own TensorFlow.js
 * backend, taking the next run of the list when it finishes one. Runs go through the saved-runs
 * cache (a configuration already saved is loaded, not trained), report their progress to the
 * caller, and all stop on an interrupt with their histories kept.
 */
import * as tf from '@tensorflow/tfjs';
import { availableParallelism } from 'node:os';
import { join, resolve } from 'node:path';
import { Worker } from 'node:worker_threads';
import { makeConfig, type TrainingConfig } from '../core/config';
import type { MnistData } from '../data/mnist';
import { newHistory, type History } from '../core/history';
import { takeInterrupts } from '../train/interrupt';
import { canonicalJson, checkRunName, defaultRunsDir, type SavedRun } from '../store/runs';
import { checkWorkers, WORKERS_ENV } from '../engine/workers';
import { type Progress } from '../train/trainer';
import { formatPercent } from '../util/text';
import { shareMnist } from '../engine/shared-data';
import type { SweepToMain, SweepToWorker, SweepWorkerData } from './protocol';

/** One run of a sweep: its name (its folder under the runs folder) and its settings. */
export interface SweepRun {
  name: string;
  /** Settings that differ from the tutorial's (the seed included). */
  config?: Partial<TrainingConfig>;
}

/** A progress report of one run. */
export interface SweepProgress {
  /** The run's position in the list. */
  index: number;
  name: string;
  progress: Progress;
}

/** One run of a sweep: its history, where it was saved, or why it failed. */
export interface SweepResult {
  name: string;
  config: TrainingConfig;
  /** The history: complete, stopped, diverged, or what was recorded before a failure. */
  history: History;
  /** True when a saved run was loaded instead of training. */
  reused: boolean;
  /** The saved run (null when the run failed before it was saved, or never started). */
  run: SavedRun | null;
  /** Why the run has no saved result, when it has none. */
  error: string | null;
}

/** Options of `runSweep`. */
export interface SweepOptions {
  /** Worker threads (default: one per core, no more than the runs). */
  workers?: number;
  /** Where runs are saved and looked up (default `defaultRunsDir()`). */
  runsDir?: string;
  /** Train again even when a completed run of a configuration is saved. */
  force?: boolean;
  /** The workers' backend (default wasm; cpu when this thread runs cpu). */
  backend?: 'wasm' | 'cpu' | 'tensorflow';
  /** Stops every run after its current step; their histories are kept and saved. */
  signal?: AbortSignal;
  /** Also stop on SIGINT (Ctrl-C, or "interrupt kernel" in Jupyter). */
  stopOnSigint?: boolean;
  /** Progress of each run: after its evaluations and at most every 200 ms. */
  onProgress?: (progress: SweepProgress) => void;
  /** Each run's result as soon as it is known. */
  onResult?: (result: SweepResult, index: number) => void;
  /** What happens: starts, reuses, results, failures. */
  log?: (line: string) => void;
}

/** The default number of sweep workers: one per core. */
export function defaultSweepWorkers(): number {
  return availableParallelism();
}

interface Slot {
  worker: Worker;
  /** Index of the run under way, or -1. */
  running: number;
  alive: boolean;
}

function percent(value: number | undefined): string {
  return value === undefined ? 'n/a' : formatPercent(value);
}

/**
 * Trains (or loads) every run of the list, `workers` at a time, and resolves with a result per
 * run in the order of the list. Runs with the same settings (seed included) are trained once:
 * the later ones get the first one's result, with `reused` set. A worker that dies fails its run
 * only; the others go on.
 * Workers are stopped at the end, so nothing is left running.
 */
export async function runSweep(
  data: MnistData,
  runs: readonly SweepRun[],
  options: SweepOptions = {},
): Promise<SweepResult[]> {
  const names = new Set<string>();
  const configs = runs.map((run, i) => {
    checkRunName(run.name);
    if (names.has(run.name))
      throw new Error(`runSweep: run name "${run.name}" appears twice (runs[${i}]); each run needs its own name`);
    names.add(run.name);
    return makeConfig(run.config);
  });
  const log = options.log ?? (() => undefined);
  const backend = options.backend ?? (tf.getBackend() === 'cpu' ? 'cpu' : 'wasm');
  const runsDir = resolve(options.runsDir ?? defaultRunsDir());
  const count = Math.max(
    1,
    Math.min(
      options.workers === undefined ? defaultSweepWorkers() : checkWorkers(options.workers, 'options.workers'),
      runs.length,
    ),
  );
  const histories = runs.map((_, i) => newHistory(backend, configs[i], data.description));
  // Runs of the same settings are trained once: the first of them is the one dispatched.
  const keys = configs.map((config) => canonicalJson(config));
  const primary = (index: number) => keys.indexOf(keys[index]) === index;
  const results: (SweepResult | null)[] = runs.map(() => null);
  if (runs.length === 0) return [];

  const stop = new AbortController();
  // As in Trainer.run: SIGINT stops the sweep instead of tslab failing the cell.
  const interrupts = options.stopOnSigint ? await takeInterrupts(() => stop.abort()) : null;
  const onAbort = () => stop.abort();
  options.signal?.addEventListener('abort', onAbort);
  if (options.signal?.aborted) stop.abort();

  const shared = shareMnist(data);
  const workerData: SweepWorkerData = { data: shared, backend, runsDir };
  const slots: Slot[] = [];
  let next = 0;
  let settle: () => void = () => undefined;
  const finished = new Promise<void>((resolve) => (settle = resolve));

  const finish = (index: number, result: Omit<SweepResult, 'name' | 'config'>) => {
    if (results[index] !== null) return;
    const full: SweepResult = { name: runs[index].name, config: configs[index], ...result };
    results[index] = full;
    keys.forEach((key, other) => {
      if (other !== index && key === keys[index] && results[other] === null) {
        const copy: SweepResult = {
          ...full,
          name: runs[other].name,
          config: configs[other],
          reused: full.error === null && full.history.status === 'completed',
        };
        results[other] = copy;
        options.onResult?.(copy, other);
      }
    });
    // Validation accuracy only: the test set is looked at once, in the summary at the end.
    const h = full.history;
    if (full.error !== null) log(`${full.name}: failed: ${full.error}`);
    else if (full.reused)
      log(
        `${full.name}: reused saved run ${full.run?.name}: validation accuracy ${percent(h.final?.validationAccuracy)}`,
      );
    else
      log(
        `${full.name}: ${h.status}${h.final !== null ? `, validation accuracy ${percent(h.final.validationAccuracy)}` : h.error ? `: ${h.error}` : ''} in ${h.wallTimeSeconds.toFixed(1)} s`,
      );
    options.onResult?.(full, index);
  };
  const notStarted = (index: number, why: string) => {
    const history = histories[index];
    history.status = 'stopped';
    history.error = why;
    finish(index, { history, reused: false, run: null, error: null });
  };
  const checkDone = () => {
    if (results.every((r) => r !== null)) settle();
  };
  const dispatch = (slot: Slot) => {
    if (!slot.alive || slot.running !== -1) return;
    while (next < runs.length && !primary(next)) next++;
    if (stop.signal.aborted || next >= runs.length) return checkDone();
    const index = next++;
    slot.running = index;
    log(`${runs[index].name}: started`);
    const message: SweepToWorker = {
      type: 'run',
      id: index,
      name: runs[index].name,
      config: runs[index].config ?? {},
      force: options.force === true,
    };
    slot.worker.postMessage(message);
  };
  const lose = (slot: Slot, why: string) => {
    if (!slot.alive) return;
    slot.alive = false;
    if (slot.running !== -1) {
      const history = histories[slot.running];
      history.status = 'failed';
      history.error = why;
      finish(slot.running, { history, reused: false, run: null, error: why });
      slot.running = -1;
    }
    if (slots.every((s) => !s.alive)) {
      for (let i = next; i < runs.length; i++)
        if (primary(i))
          finish(i, {
            history: histories[i],
            reused: false,
            run: null,
            error: `not run: every worker failed (last: ${why})`,
          });
      next = runs.length;
    }
    checkDone();
  };

  stop.signal.addEventListener('abort', () => {
    log('interrupt: stopping every run after its current step');
    for (const slot of slots) if (slot.alive) slot.worker.postMessage({ type: 'stop' } satisfies SweepToWorker);
    for (let i = next; i < runs.length; i++) if (primary(i)) notStarted(i, 'not started: the sweep was stopped');
    next = runs.length;
    checkDone();
  });

  for (let w = 0; w < count; w++) {
    // Each worker trains one run on one core: its own step must not spawn workers in turn.
    const worker = new Worker(join(__dirname, 'worker.js'), {
      workerData,
      env: { ...process.env, [WORKERS_ENV]: '1' },
    });
    const slot: Slot = { worker, running: -1, alive: true };
    slots.push(slot);
    worker.on('message', (message: SweepToMain) => {
      if (message.type === 'ready') return dispatch(slot);
      if (message.type === 'failed' && message.id === -1) return lose(slot, message.message);
      const index = message.id;
      if (message.type === 'progress') {
        const history = histories[index];
        history.status = 'running';
        history.steps.push(...message.steps);
        history.evaluations.push(...message.evaluations);
        options.onProgress?.({ index, name: runs[index].name, progress: { ...message.progress, history } });
        return;
      }
      if (message.type === 'result')
        finish(index, { history: message.history, reused: message.reused, run: message.run, error: null });
      else
        finish(index, {
          history: message.history ?? { ...histories[index], status: 'failed', error: message.message },
          reused: false,
          run: null,
          error: message.message,
        });
      slot.running = -1;
      dispatch(slot);
    });
    worker.on('error', (error) => lose(slot, `worker ${w} failed: ${error.message}`));
    worker.on('exit', (code) => lose(slot, `worker ${w} exited (code ${code})`));
  }

  try {
    await finished;
  } finally {
    interrupts?.restore();
    options.signal?.removeEventListener('abort', onAbort);
    for (const slot of slots) slot.alive = false;
    await Promise.all(slots.map((slot) => slot.worker.terminate()));
  }
  return results as SweepResult[];
}
