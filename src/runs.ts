/**
 * Runs that last: a finished (or stopped) training run saved as a folder under `runs/`, found
 * again by its configuration, so a notebook that is run again retrains only the runs whose
 * configuration changed.
 *
 * A run folder `runs/<name>/` holds:
 * - `history.json` and `metrics.csv`: the history (see `history.ts`);
 * - `weights.json` + `weights.bin`: the parameters and their moving averages (`saveWeights`);
 * - `run.json`: what the run was (name, configuration, seed, backend, date, outcome) and its
 *   `key`, a hash of the full configuration (seed included) and of the data.
 *
 * Every file is written atomically, and `run.json` last: a folder without it (a save that was
 * interrupted) is not a run.
 */
import * as tf from '@tensorflow/tfjs';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { readdir, readFile, rm, stat } from 'node:fs/promises';
import { basename, dirname, isAbsolute, join, resolve, sep } from 'node:path';
import { loadWeights, saveWeights } from './checkpoint';
import { makeConfig, type TrainingConfig } from './config';
import type { MnistData } from './data/mnist';
import { historyToCsv, historyToJson, parseHistory, type History, type RunStatus } from './history';
import { ensureWritableDir, writeFileAtomic } from './io';
import { PARAM_NAMES, paramShapes, type ParamName, type Params } from './model';
import { DivergenceError, Trainer, type Progress, type TrainerState } from './train';

export const RUN_FILE = 'run.json';
export const HISTORY_FILE = 'history.json';
export const METRICS_FILE = 'metrics.csv';
const RUN_FORMAT = 1;

/** What `run.json` records. */
export interface RunMeta {
  format: number;
  name: string;
  /** Hash of the canonical configuration (seed included) and of the data; equal keys, same run. */
  key: string;
  config: TrainingConfig;
  seed: number;
  /** The backend that trained it. */
  backend: string;
  /** When the run was saved (ISO 8601). */
  date: string;
  startedAt: string;
  finishedAt: string | null;
  /** Where the data came from (`MnistData.description`). */
  data: string;
  /** What the key knows of the data: its description, sizes and a hash of its labels. */
  dataFingerprint: string;
  status: RunStatus;
  /** Why the run ended early, when it did. */
  error: string | null;
  /** Training steps done. */
  steps: number;
  finalTestAccuracy: number | null;
  finalValidationAccuracy: number | null;
  wallTimeSeconds: number;
}

/** A saved run read back. */
export interface SavedRun {
  name: string;
  dir: string;
  meta: RunMeta;
  history: History;
}

/** One line of `listRuns`. */
export interface RunSummary {
  name: string;
  dir: string;
  date: string;
  status: RunStatus;
  steps: number;
  finalTestAccuracy: number | null;
  key: string;
}

/** A saved run is missing or unreadable. */
export class RunError extends Error {
  constructor(
    readonly path: string,
    problem: string,
  ) {
    super(`${path}: ${problem}`);
    this.name = 'RunError';
  }
}

/** The package root: the nearest folder above this file that holds package.json. */
function packageRoot(): string {
  let dir = __dirname;
  for (;;) {
    if (existsSync(join(dir, 'package.json'))) return dir;
    const parent = dirname(dir);
    if (parent === dir) return resolve(__dirname, '..');
    dir = parent;
  }
}

/**
 * Where runs are kept: the `MNIST_RUNS_DIR` environment variable when set, else `runs/` at the
 * package root (the same folder for notebooks, whose working folder is `notebooks/`, and the CLI).
 */
export function defaultRunsDir(env: NodeJS.ProcessEnv = process.env): string {
  const fromEnv = env.MNIST_RUNS_DIR?.trim();
  if (fromEnv) return resolve(fromEnv);
  return join(packageRoot(), 'runs');
}

/** Checks a run name: it becomes a folder name, so no separators and no leading dot. */
export function checkRunName(name: string): string {
  if (typeof name !== 'string' || name.trim() === '') throw new RunError(String(name), 'a run name must be a non-empty string');
  if (/[/\\]/.test(name) || name.startsWith('.') || /[\0<>:"|?*]/.test(name)) {
    throw new RunError(name, 'a run name cannot contain / \\ < > : " | ? * or start with a dot; use letters, digits, - and _');
  }
  return name;
}

/** JSON with object keys sorted at every level, so equal values give equal text. */
export function canonicalJson(value: unknown): string {
  const sort = (v: unknown): unknown => {
    if (Array.isArray(v)) return v.map(sort);
    if (v !== null && typeof v === 'object') {
      return Object.fromEntries(
        Object.keys(v)
          .sort()
          .map((k) => [k, sort((v as Record<string, unknown>)[k])]),
      );
    }
    return v;
  };
  return JSON.stringify(sort(value));
}

function sha256(text: string | Uint8Array): string {
  return createHash('sha256').update(text).digest('hex');
}

/**
 * What a run's key knows of its data: the description, the size of each split, the image size
 * and a hash of the labels (cheap, and it tells apart different in-memory data sets). A bare
 * string is taken as the description alone.
 */
export function dataFingerprint(data: MnistData | string): string {
  if (typeof data === 'string') return data;
  const labels = createHash('sha256');
  const parts: string[] = [data.description];
  for (const split of ['train', 'validation', 'test'] as const) {
    const set = data[split];
    parts.push(`${split}:${set.count}x${set.imageSize}`);
    labels.update(Buffer.from(set.labels.buffer, set.labels.byteOffset, set.labels.byteLength));
  }
  parts.push(`labels:${labels.digest('hex').slice(0, 16)}`);
  return parts.join(';');
}

/**
 * The key of a run: a hash of the canonical JSON of the full configuration (the seed is one of
 * its fields; missing fields take the tutorial's defaults) and of the data fingerprint.
 */
export function runKey(config: Partial<TrainingConfig>, data: MnistData | string): string {
  const full = makeConfig(config);
  return sha256(canonicalJson({ format: RUN_FORMAT, config: full, data: dataFingerprint(data) })).slice(0, 32);
}

/** The current time as a folder name: `2026-11-28_04-55-00`. */
export function timestamp(): string {
  return new Date().toISOString().replace(/[:.]/g, '-').replace('T', '_').slice(0, 19);
}

export interface SaveRunOptions {
  /** The folder name under `runsDir` (default: a timestamp). */
  name?: string;
  runsDir?: string;
  /** The data the run trained on, for the key; default: the history's data description only. */
  data?: MnistData;
}

function isTrainer(value: Trainer | TrainerState): value is Trainer {
  return value instanceof Trainer;
}

/**
 * Writes `runsDir/<name>/`: history.json, metrics.csv, the weights (parameters and moving
 * averages) and run.json, each atomically and run.json last. An existing run of that name is
 * replaced. Returns the saved run.
 */
export async function saveRun(history: History, trainerOrState: Trainer | TrainerState, options: SaveRunOptions = {}): Promise<SavedRun> {
  const name = checkRunName(options.name ?? timestamp());
  const runsDir = resolve(options.runsDir ?? defaultRunsDir());
  const dir = join(runsDir, name);
  await ensureWritableDir(dir);
  const state = isTrainer(trainerOrState) ? trainerOrState.state() : trainerOrState;
  const config = makeConfig(history.config);
  const fingerprint = dataFingerprint(options.data ?? history.data);
  const last = history.evaluations.at(-1) ?? null;
  const meta: RunMeta = {
    format: RUN_FORMAT,
    name,
    key: runKey(config, fingerprint),
    config,
    seed: config.seed,
    backend: history.backend,
    date: new Date().toISOString(),
    startedAt: history.startedAt,
    finishedAt: history.finishedAt,
    data: history.data,
    dataFingerprint: fingerprint,
    status: history.status,
    error: history.error,
    steps: state.globalStep,
    finalTestAccuracy: history.final?.testAccuracy ?? last?.testAccuracy ?? null,
    finalValidationAccuracy: history.final?.validationAccuracy ?? last?.validationAccuracy ?? null,
    wallTimeSeconds: history.wallTimeSeconds,
  };
  // Without run.json the folder is not a run: an interrupted save is never taken for the old one.
  await rm(join(dir, RUN_FILE), { force: true });
  await writeFileAtomic(join(dir, HISTORY_FILE), historyToJson(history));
  await writeFileAtomic(join(dir, METRICS_FILE), historyToCsv(history));
  await saveWeights(dir, state.params, state.averages, config);
  await writeFileAtomic(join(dir, RUN_FILE), `${JSON.stringify(meta, null, 1)}\n`);
  return { name, dir, meta, history };
}

async function readJson(path: string): Promise<unknown> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new RunError(path, code === 'ENOENT' ? 'file not found' : `cannot be read (${(error as Error).message})`);
  }
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new RunError(path, `not valid JSON (${(error as Error).message})`);
  }
}

async function readMeta(dir: string): Promise<RunMeta> {
  const path = join(dir, RUN_FILE);
  const meta = (await readJson(path)) as Partial<RunMeta> | null;
  const missing = (['name', 'key', 'config', 'status'] as const).filter((k) => meta === null || typeof meta !== 'object' || meta[k] === undefined);
  if (missing.length > 0) throw new RunError(path, `not a run description (missing ${missing.join(', ')})`);
  return meta as RunMeta;
}

/** The description of the run in `dir`, or null when `dir` holds no readable run (an unfinished save, another folder). */
async function readMetaIfRun(dir: string): Promise<RunMeta | null> {
  if (!existsSync(join(dir, RUN_FILE))) return null;
  try {
    return await readMeta(dir);
  } catch {
    return null;
  }
}

async function isDirectory(path: string): Promise<boolean> {
  try {
    return (await stat(path)).isDirectory();
  } catch {
    return false;
  }
}

/** The folder of a run given by name (under `runsDir`) or by path. */
export async function resolveRunDir(nameOrDir: string, runsDir = defaultRunsDir()): Promise<string> {
  const looksLikePath = isAbsolute(nameOrDir) || nameOrDir.includes('/') || nameOrDir.includes(sep) || nameOrDir.startsWith('.');
  if (looksLikePath) return resolve(nameOrDir);
  return join(resolve(runsDir), checkRunName(nameOrDir));
}

/** Reads a saved run (by name under `runsDir`, or by folder path): its description and history. */
export async function loadRun(nameOrDir: string, runsDir = defaultRunsDir()): Promise<SavedRun> {
  const dir = await resolveRunDir(nameOrDir, runsDir);
  if (!(await isDirectory(dir)) || !existsSync(join(dir, RUN_FILE))) {
    const known = (await listRuns(runsDir).catch(() => [])).map((r) => r.name);
    throw new RunError(dir, `no saved run here${known.length > 0 ? ` (saved runs in ${runsDir}: ${known.join(', ')})` : ` (no saved runs in ${runsDir})`}`);
  }
  const meta = await readMeta(dir);
  const historyPath = join(dir, HISTORY_FILE);
  let text: string;
  try {
    text = await readFile(historyPath, 'utf8');
  } catch {
    throw new RunError(historyPath, 'file not found; the run folder is incomplete');
  }
  return { name: meta.name ?? basename(dir), dir, meta, history: parseHistory(text, historyPath) };
}

/** Summaries of the runs saved in `runsDir`, oldest first; folders without run.json are skipped. */
export async function listRuns(runsDir = defaultRunsDir()): Promise<RunSummary[]> {
  let entries: string[];
  try {
    entries = await readdir(runsDir);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw new RunError(runsDir, `cannot be read (${(error as Error).message})`);
  }
  const runs: RunSummary[] = [];
  for (const entry of entries.sort()) {
    if (entry.startsWith('.')) continue;
    const dir = join(runsDir, entry);
    const meta = await readMetaIfRun(dir);
    if (meta === null) continue;
    runs.push({ name: entry, dir, date: meta.date, status: meta.status, steps: meta.steps, finalTestAccuracy: meta.finalTestAccuracy, key: meta.key });
  }
  return runs.sort((a, b) => (a.date < b.date ? -1 : a.date > b.date ? 1 : 0));
}

/** A saved run's network, ready for prediction. Its tensors are the caller's: call `dispose`. */
export interface RunModel {
  name: string;
  config: TrainingConfig;
  /** The trained parameters. */
  params: Params;
  /** Their moving averages, when the run used them. */
  averaged: Params | null;
  /** What the run was evaluated with: the moving averages when used, else the parameters. */
  evaluated: Params;
  dispose(): void;
}

function buildParams(values: Partial<Record<ParamName, Float32Array>>, config: TrainingConfig, where: string): Params {
  const shapes = paramShapes(config);
  const made: tf.Variable[] = [];
  try {
    const params: Params = { weights1: null!, biases1: null!, weights2: null, biases2: null };
    for (const name of PARAM_NAMES) {
      const shape = shapes[name];
      if (shape === undefined) continue;
      const value = values[name];
      const size = shape.reduce((a, b) => a * b, 1);
      if (value === undefined || value.length !== size) {
        throw new RunError(where, `"${name}" is ${value === undefined ? 'missing' : `${value.length} values, expected ${size}`}`);
      }
      const variable = tf.tidy(() => tf.variable(tf.tensor(value, shape), false));
      made.push(variable);
      params[name] = variable;
    }
    return params;
  } catch (error) {
    for (const v of made) v.dispose();
    throw error;
  }
}

function disposeAll(params: Params | null): void {
  if (params === null) return;
  for (const name of PARAM_NAMES) params[name]?.dispose();
}

/** Builds a saved run's parameters (and moving averages) as variables; dispose them when done. */
export async function loadRunModel(run: SavedRun | string, runsDir = defaultRunsDir()): Promise<RunModel> {
  const saved = typeof run === 'string' ? await loadRun(run, runsDir) : run;
  const config = makeConfig(saved.meta.config);
  const weightsFile = join(saved.dir, 'weights.json');
  const { params: paramValues, averages } = await loadWeights(saved.dir);
  const params = buildParams(paramValues, config, `${weightsFile} (parameters)`);
  let averaged: Params | null = null;
  if (config.useMovingAverage && Object.keys(averages).length > 0) {
    try {
      averaged = buildParams(averages, config, `${weightsFile} (moving averages)`);
    } catch (error) {
      disposeAll(params);
      throw error;
    }
  }
  let disposed = false;
  return {
    name: saved.name,
    config,
    params,
    averaged,
    evaluated: averaged ?? params,
    dispose() {
      if (disposed) return;
      disposed = true;
      disposeAll(params);
      disposeAll(averaged);
    },
  };
}

/** A completed run of this key: the one called `name` first, else any other. */
async function findCompletedRun(key: string, name: string, runsDir: string): Promise<SavedRun | null> {
  const candidates = [name, ...(await listRuns(runsDir)).map((r) => r.name).filter((n) => n !== name)];
  for (const candidate of candidates) {
    const dir = join(runsDir, candidate);
    const meta = await readMetaIfRun(dir);
    if (meta === null || meta.key !== key || meta.status !== 'completed') continue;
    try {
      return await loadRun(dir, runsDir);
    } catch {
      continue;
    }
  }
  return null;
}

export interface TrainOrLoadOptions {
  /** The run's name: its folder under `runsDir`. */
  name: string;
  /** Settings that differ from the tutorial's (the seed included). */
  config?: Partial<TrainingConfig>;
  /** Train again even if a completed run of this configuration is saved. */
  force?: boolean;
  runsDir?: string;
  /** Backend name recorded in the run (default: the one in use). */
  backend?: string;
  onProgress?: (progress: Progress) => void;
  /** Receives what happens: reuse, training, saving. */
  log?: (line: string) => void;
  /** Also pass the training loop's own lines (an evaluation every `evalEvery` steps) to `log`. */
  verbose?: boolean;
  /** Stop on SIGINT (Ctrl-C, or "interrupt kernel" in Jupyter); the run is saved as stopped. */
  stopOnSigint?: boolean;
  signal?: AbortSignal;
}

export interface TrainOrLoadResult {
  history: History;
  /** True when a saved run was loaded instead of training. */
  reused: boolean;
  /** The saved run: the one reused, or the one just trained. */
  run: SavedRun;
}

function percent(value: number | null): string {
  return value === null ? 'n/a' : `${(value * 100).toFixed(2)} %`;
}

/**
 * Loads the completed run of this configuration and data if one is saved (under `name`, or
 * under another name with the same key), else trains it, saves it as `name` and returns it.
 * A run that does not complete (stopped, or diverged) is saved with its status but never
 * reused; a diverged or stopped run resolves normally (check `history.status`), any other
 * error is rethrown after saving.
 */
export async function trainOrLoad(data: MnistData, options: TrainOrLoadOptions): Promise<TrainOrLoadResult> {
  const name = checkRunName(options.name);
  const runsDir = resolve(options.runsDir ?? defaultRunsDir());
  const log = options.log ?? (() => undefined);
  const config = makeConfig(options.config);
  const key = runKey(config, data);
  if (options.force !== true) {
    const found = await findCompletedRun(key, name, runsDir);
    if (found !== null) {
      const same = found.name === name ? '' : ` (same configuration as "${name}")`;
      log(`reusing saved run ${found.name}${same}: test accuracy ${percent(found.meta.finalTestAccuracy)} after ${found.meta.steps} steps`);
      return { history: found.history, reused: true, run: found };
    }
  }
  log(`training ${name}: ${config.trainingSteps} steps`);
  const trainer = new Trainer(data, { config, backend: options.backend ?? tf.getBackend() });
  try {
    let failure: unknown = null;
    try {
      await trainer.run({
        onProgress: options.onProgress,
        log: options.verbose === true ? log : undefined,
        stopOnSigint: options.stopOnSigint,
        signal: options.signal,
      });
    } catch (error) {
      failure = error;
    }
    const run = await saveRun(trainer.history, trainer, { name, runsDir, data });
    const { history } = run;
    if (failure !== null && !(failure instanceof DivergenceError)) throw failure;
    if (history.status === 'completed') {
      log(`saved run ${name}: test accuracy ${percent(run.meta.finalTestAccuracy)} in ${history.wallTimeSeconds.toFixed(1)} s`);
    } else {
      log(`run ${name} ${history.status}${history.error ? `: ${history.error}` : ''}; saved, but it will be trained again next time`);
    }
    return { history, reused: false, run };
  } finally {
    trainer.dispose();
  }
}
