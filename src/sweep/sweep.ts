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

/** Each run's settings, its name checked and used once only. */
function checkRuns(runs: readonly SweepRun[]): TrainingConfig[] {
  const names = new Set<string>();
  return runs.map((run, i) => {
    checkRunName(run.name);
    if (names.has(run.name))
      throw new Error(`runSweep: run name "${run.name}" appears twice (runs[${i}]); each run needs its own name`);
    names.add(run.name);
    return makeConfig(run.config);
  });
}

/** How many workers to start: as asked (or one per core), no more than the runs, at least one. */
function workerCount(options: SweepOptions, runs: number): number {
  const asked =
    options.workers === undefined ? defaultSweepWorkers() : checkWorkers(options.workers, 'options.workers');
  return Math.max(1, Math.min(asked, runs));
}

/** The log line of a result. Validation accuracy only: the test set is looked at once, in the summary at the end. */
function resultLine(result: SweepResult): string {
  const h = result.history;
  if (result.error !== null) return `${result.name}: failed: ${result.error}`;
  if (result.reused)
    return `${result.name}: reused saved run ${result.run?.name}: validation accuracy ${percent(h.final?.validationAccuracy)}`;
  const outcome =
    h.final !== null ? `, validation accuracy ${percent(h.final.validationAccuracy)}` : h.error ? `: ${h.error}` : '';
  return `${result.name}: ${h.status}${outcome} in ${h.wallTimeSeconds.toFixed(1)} s`;
}

/** One sweep under way: its workers, the runs handed out and the results known. */
class Sweep {
  readonly stop = new AbortController();
  /** Resolves when every run has a result. */
  readonly finished: Promise<void>;
  private readonly slots: Slot[] = [];
  private readonly histories: History[];
  // Runs of the same settings are trained once: the first of them is the one dispatched.
  private readonly keys: string[];
  private readonly results: (SweepResult | null)[];
  private readonly log: (line: string) => void;
  /** The next run to hand out. */
  private next = 0;
  private settle: () => void = () => undefined;

  constructor(
    private readonly runs: readonly SweepRun[],
    private readonly configs: readonly TrainingConfig[],
    private readonly options: SweepOptions,
    backend: string,
    description: string,
  ) {
    this.log = options.log ?? (() => undefined);
    this.histories = runs.map((_, i) => newHistory(backend, configs[i], description));
    this.keys = configs.map((config) => canonicalJson(config));
    this.results = runs.map(() => null);
    this.finished = new Promise<void>((resolve) => (this.settle = resolve));
  }

  /** Every result, in the order of the runs, once `finished` has resolved. */
  get all(): SweepResult[] {
    return this.results as SweepResult[];
  }

  private primary(index: number): boolean {
    return this.keys.indexOf(this.keys[index]) === index;
  }

  /** Starts worker `w`: it trains one run on one core, so its own step must not spawn workers in turn. */
  startWorker(w: number, workerData: SweepWorkerData): void {
    const worker = new Worker(join(__dirname, 'worker.js'), {
      workerData,
      env: { ...process.env, [WORKERS_ENV]: '1' },
    });
    const slot: Slot = { worker, running: -1, alive: true };
    this.slots.push(slot);
    worker.on('message', (message: SweepToMain) => this.receive(slot, message));
    worker.on('error', (error) => this.lose(slot, `worker ${w} failed: ${error.message}`));
    worker.on('exit', (code) => this.lose(slot, `worker ${w} exited (code ${code})`));
  }

  /** Stops every run after its current step; runs not handed out yet end as stopped. */
  interrupt(): void {
    this.log('interrupt: stopping every run after its current step');
    for (const slot of this.slots) if (slot.alive) slot.worker.postMessage({ type: 'stop' } satisfies SweepToWorker);
    for (let i = this.next; i < this.runs.length; i++)
      if (this.primary(i)) this.notStarted(i, 'not started: the sweep was stopped');
    this.next = this.runs.length;
    this.checkDone();
  }

  /** Stops and ends every worker. */
  async close(): Promise<void> {
    for (const slot of this.slots) slot.alive = false;
    await Promise.all(this.slots.map((slot) => slot.worker.terminate()));
  }

  private receive(slot: Slot, message: SweepToMain): void {
    if (message.type === 'ready') return this.dispatch(slot);
    if (message.type === 'failed' && message.id === -1) return this.lose(slot, message.message);
    const index = message.id;
    if (message.type === 'progress') return this.progress(index, message);
    if (message.type === 'result')
      this.finish(index, { history: message.history, reused: message.reused, run: message.run, error: null });
    else
      this.finish(index, {
        history: message.history ?? { ...this.histories[index], status: 'failed', error: message.message },
        reused: false,
        run: null,
        error: message.message,
      });
    slot.running = -1;
    this.dispatch(slot);
  }

  private progress(index: number, message: Extract<SweepToMain, { type: 'progress' }>): void {
    const history = this.histories[index];
    history.status = 'running';
    history.steps.push(...message.steps);
    history.evaluations.push(...message.evaluations);
    this.options.onProgress?.({ index, name: this.runs[index].name, progress: { ...message.progress, history } });
  }

  /** Hands the slot the next run to train, if any is left and the sweep goes on. */
  private dispatch(slot: Slot): void {
    if (!slot.alive || slot.running !== -1) return;
    while (this.next < this.runs.length && !this.primary(this.next)) this.next++;
    if (this.stop.signal.aborted || this.next >= this.runs.length) return this.checkDone();
    const index = this.next++;
    slot.running = index;
    this.log(`${this.runs[index].name}: started`);
    const message: SweepToWorker = {
      type: 'run',
      id: index,
      name: this.runs[index].name,
      config: this.runs[index].config ?? {},
      force: this.options.force === true,
    };
    slot.worker.postMessage(message);
  }

  /** Records a run's result, and the same for the later runs of its settings. */
  private finish(index: number, result: Omit<SweepResult, 'name' | 'config'>): void {
    if (this.results[index] !== null) return;
    const full: SweepResult = { name: this.runs[index].name, config: this.configs[index], ...result };
    this.results[index] = full;
    this.keys.forEach((key, other) => {
      if (other !== index && key === this.keys[index] && this.results[other] === null) {
        const copy: SweepResult = {
          ...full,
          name: this.runs[other].name,
          config: this.configs[other],
          reused: full.error === null && full.history.status === 'completed',
        };
        this.results[other] = copy;
        this.options.onResult?.(copy, other);
      }
    });
    this.log(resultLine(full));
    this.options.onResult?.(full, index);
  }

  private notStarted(index: number, why: string): void {
    const history = this.histories[index];
    history.status = 'stopped';
    history.error = why;
    this.finish(index, { history, reused: false, run: null, error: null });
  }

  private checkDone(): void {
    if (this.results.every((r) => r !== null)) this.settle();
  }

  /** A worker is gone: its run fails, and when it was the last, so do the runs not handed out. */
  private lose(slot: Slot, why: string): void {
    if (!slot.alive) return;
    slot.alive = false;
    if (slot.running !== -1) {
      const history = this.histories[slot.running];
      history.status = 'failed';
      history.error = why;
      this.finish(slot.running, { history, reused: false, run: null, error: why });
      slot.running = -1;
    }
    if (this.slots.every((s) => !s.alive)) this.failRemaining(`not run: every worker failed (last: ${why})`);
    this.checkDone();
  }

  private failRemaining(error: string): void {
    for (let i = this.next; i < this.runs.length; i++)
      if (this.primary(i)) this.finish(i, { history: this.histories[i], reused: false, run: null, error });
    this.next = this.runs.length;
  }
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
  const configs = checkRuns(runs);
  const backend = options.backend ?? (tf.getBackend() === 'cpu' ? 'cpu' : 'wasm');
  const runsDir = resolve(options.runsDir ?? defaultRunsDir());
  const count = workerCount(options, runs.length);
  const sweep = new Sweep(runs, configs, options, backend, data.description);
  if (runs.length === 0) return [];

  const stop = sweep.stop;
  // As in Trainer.run: SIGINT stops the sweep instead of tslab failing the cell.
  const interrupts = options.stopOnSigint ? await takeInterrupts(() => stop.abort()) : null;
  const onAbort = () => stop.abort();
  // Listen before looking at a signal aborted already: every run then ends as not started.
  stop.signal.addEventListener('abort', () => sweep.interrupt());
  options.signal?.addEventListener('abort', onAbort);
  if (options.signal?.aborted) stop.abort();

  const workerData: SweepWorkerData = { data: shareMnist(data), backend, runsDir };
  for (let w = 0; w < count; w++) sweep.startWorker(w, workerData);
  try {
    await sweep.finished;
  } finally {
    interrupts?.restore();
    options.signal?.removeEventListener('abort', onAbort);
    await sweep.close();
  }
  return sweep.all;
}
