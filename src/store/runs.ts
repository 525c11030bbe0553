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
 * interrupted) is not a run. (Rebuilding a run's network: src/run-model.ts; training a run or
 * loading it when saved: src/train-or-load.ts.)
 */
import { createHash, randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, readdir, readFile, rename, rm, stat, utimes } from 'node:fs/promises';
import { hostname } from 'node:os';
import { basename, isAbsolute, join, resolve, sep } from 'node:path';
import { CHECKPOINT_FILE, saveWeights } from './checkpoint';
import { makeConfig, type TrainingConfig } from '../core/config';
import type { MnistData } from '../data/mnist';
import { historyToCsv, historyToJson, parseHistory, type History, type RunStatus } from '../core/history';
import { ensureWritableDir, processAlive, writeFileAtomic } from '../util/io';
import { sha256 } from '../util/bytes';
import { packageRoot } from '../util/package-root';
import { Trainer } from '../train/trainer';
import { type TrainerState } from '../engine/step-engine';

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
  if (typeof name !== 'string' || name.trim() === '')
    throw new RunError(String(name), 'a run name must be a non-empty string');
  if (/[/\\]/.test(name) || name.startsWith('.') || /[\0<>:"|?*]/.test(name)) {
    throw new RunError(
      name,
      'a run name cannot contain / \\ < > : " | ? * or start with a dot; use letters, digits, - and _',
    );
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
  return sha256(canonicalJson({ format: RUN_FORMAT, config: full, data: dataFingerprint(data) }))
    .toString('hex')
    .slice(0, 32);
}

/** The current time as a folder name: `2026-11-28_04-55-00`. */
export function timestamp(): string {
  return new Date().toISOString().replace(/[:.]/g, '-').replace('T', '_').slice(0, 19);
}

/** Options of `saveRun`. */
export interface SaveRunOptions {
  /** The folder name under `runsDir` (default: a timestamp). */
  name?: string;
  runsDir?: string;
  /** The data the run trained on, for the key; default: the history's data description only. */
  data?: MnistData;
  /**
   * When this writer began (ms since 1970; default: now). A run of that name published after it
   * was written by a concurrent writer: it is kept (see `saveRun`) instead of replaced.
   */
  since?: number;
  /** Receives a line when the run is not published under `name` as asked. */
  log?: (line: string) => void;
}

function isTrainer(value: Trainer | TrainerState): value is Trainer {
  return value instanceof Trainer;
}

/** The description of a run, as `run.json` records it. */
function runMeta(name: string, history: History, steps: number, data?: MnistData): RunMeta {
  const config = makeConfig(history.config);
  const fingerprint = dataFingerprint(data ?? history.data);
  const last = history.evaluations.at(-1) ?? null;
  return {
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
    steps,
    finalTestAccuracy: history.final?.testAccuracy ?? last?.testAccuracy ?? null,
    finalValidationAccuracy: history.final?.validationAccuracy ?? last?.validationAccuracy ?? null,
    wallTimeSeconds: history.wallTimeSeconds,
  };
}

/**
 * Writes a run's files into `dir` in place: history.json, metrics.csv, the weights and run.json,
 * each atomically and run.json last (removed first), so that a save cut short is never taken for
 * a run. The folder is named `name` in run.json (default: its own name). For a folder only this
 * process writes to (the CLI's `--out`); `saveRun` is safe for concurrent writers.
 */
export async function writeRunFolder(
  dir: string,
  history: History,
  trainerOrState: Trainer | TrainerState,
  data?: MnistData,
  name = basename(dir),
): Promise<RunMeta> {
  await ensureWritableDir(dir);
  const state = isTrainer(trainerOrState) ? trainerOrState.state() : trainerOrState;
  const meta = runMeta(name, history, state.globalStep, data);
  // Without run.json the folder is not a run: an interrupted save is never taken for the old one.
  await rm(join(dir, RUN_FILE), { force: true });
  await writeFileAtomic(join(dir, HISTORY_FILE), historyToJson(history));
  await writeFileAtomic(join(dir, METRICS_FILE), historyToCsv(history));
  await saveWeights(dir, state.params, state.averages, meta.config);
  await writeFileAtomic(join(dir, RUN_FILE), `${JSON.stringify(meta, null, 1)}\n`);
  return meta;
}

/**
 * Writes `runsDir/<name>/` (history.json, metrics.csv, the weights and run.json) and returns the
 * saved run. Safe for concurrent writers (threads, processes, kernels): the run is written in a
 * private folder and published by an atomic rename, so a reader sees the old run, the new one or
 * (for an instant while one replaces the other) none, never a mix. An older run of that name is
 * replaced. A run of that name published while this one was written (after `since`) is a
 * concurrent writer's: of the same configuration, it is kept and returned instead (they are the
 * same run); of another, this one is saved as `<name>-2` (or -3, ...).
 */
export async function saveRun(
  history: History,
  trainerOrState: Trainer | TrainerState,
  options: SaveRunOptions = {},
): Promise<SavedRun> {
  const since = options.since ?? Date.now();
  const name = checkRunName(options.name ?? timestamp());
  const runsDir = resolve(options.runsDir ?? defaultRunsDir());
  const state = isTrainer(trainerOrState) ? trainerOrState.state() : trainerOrState;
  const workspace = await Workspace.create(runsDir, runKey(history.config, options.data ?? history.data), name);
  try {
    await workspace.writeRun(history, state, options.data);
    return await workspace.publish(since, options.log);
  } finally {
    await workspace.discard();
  }
}

/** Files a run folder may hold; a folder with anything else is not replaced by a run. */
const RUN_FOLDER_FILES =
  /^(run\.json|history\.json|metrics\.csv|weights\.json|weights\.bin|checkpoint\.ckpt|partial\.json|.*\.tmp)$/;

const WORKSPACE_PREFIX = '.writing-';
const REPLACED_PREFIX = '.replaced-';
/** In a workspace: who writes it, for which run. */
const PARTIAL_FILE = 'partial.json';
/** A workspace whose owner has not touched it for this long is abandoned, even if its process id is in use. */
const ABANDONED_AFTER_MS = 10 * 60 * 1000;
const HEARTBEAT_MS = 30 * 1000;

interface PartialInfo {
  key: string;
  name: string;
  pid: number;
  host: string;
  /** Given up by its writer: free to adopt at once. */
  released?: boolean;
}

const errorCode = (error: unknown) => (error as NodeJS.ErrnoException).code;

/**
 * A private folder `runsDir/.writing-<random>/` where one writer builds a run (its checkpoints,
 * then its files) before publishing it under its name by a rename. `partial.json` says whose it
 * is: a workspace whose process is gone (a killed process, a restarted kernel) is adopted by the
 * next writer of the same run, again by a rename, so only one writer ever gets it.
 */
export class Workspace {
  private heartbeat: NodeJS.Timeout | null = null;

  private constructor(
    readonly dir: string,
    readonly runsDir: string,
    readonly key: string,
    readonly name: string,
  ) {}

  private static async own(dir: string, runsDir: string, key: string, name: string): Promise<Workspace> {
    const info: PartialInfo = { key, name, pid: process.pid, host: hostname() };
    await writeFileAtomic(join(dir, PARTIAL_FILE), `${JSON.stringify(info)}\n`);
    const workspace = new Workspace(dir, runsDir, key, name);
    // Refreshes partial.json's time, so that a live writer's workspace is never taken for abandoned.
    workspace.heartbeat = setInterval(() => {
      const now = new Date();
      utimes(join(dir, PARTIAL_FILE), now, now).catch(() => undefined);
    }, HEARTBEAT_MS);
    workspace.heartbeat.unref();
    return workspace;
  }

  /** A new, empty workspace. */
  static async create(runsDir: string, key: string, name: string): Promise<Workspace> {
    await ensureWritableDir(runsDir);
    return Workspace.own(await mkdtemp(join(runsDir, WORKSPACE_PREFIX)), runsDir, key, name);
  }

  /** Adopts an abandoned workspace of run `key`, if there is one: its writer is gone. */
  static async adopt(runsDir: string, key: string, name: string): Promise<Workspace | null> {
    let entries: string[];
    try {
      entries = await readdir(runsDir);
    } catch {
      return null;
    }
    for (const entry of entries.filter((e) => e.startsWith(WORKSPACE_PREFIX))) {
      const dir = join(runsDir, entry);
      let info: PartialInfo;
      let touched: number;
      try {
        info = JSON.parse(await readFile(join(dir, PARTIAL_FILE), 'utf8')) as PartialInfo;
        touched = (await stat(join(dir, PARTIAL_FILE))).mtimeMs;
      } catch {
        continue;
      }
      if (info.key !== key) continue;
      const abandoned =
        info.released === true ||
        Date.now() - touched > ABANDONED_AFTER_MS ||
        (info.host === hostname() && !processAlive(info.pid));
      if (!abandoned) continue;
      // The rename is the claim: of two writers adopting the same workspace, one gets it.
      const claimed = `${join(runsDir, WORKSPACE_PREFIX)}${randomBytes(6).toString('hex')}`;
      try {
        await rename(dir, claimed);
      } catch {
        continue;
      }
      return Workspace.own(claimed, runsDir, key, name);
    }
    return null;
  }

  /** Writes the run's files into the workspace (a completed run drops its checkpoint). */
  async writeRun(history: History, state: TrainerState, data?: MnistData): Promise<RunMeta> {
    const meta = await writeRunFolder(this.dir, history, state, data, this.name);
    // Only a run cut short continues from its checkpoint (a diverged one would diverge again).
    if (meta.status === 'completed' || meta.status === 'diverged')
      await rm(join(this.dir, CHECKPOINT_FILE), { force: true });
    return meta;
  }

  /** The run of a folder (null without one), its files' names, and whether it only holds a run's files. */
  private static async occupant(dir: string): Promise<{ meta: RunMeta | null; onlyRunFiles: boolean } | null> {
    let files: string[];
    try {
      files = await readdir(dir);
    } catch (error) {
      if (errorCode(error) === 'ENOENT') return null;
      throw error;
    }
    return { meta: await readRunMeta(dir), onlyRunFiles: files.every((f) => RUN_FOLDER_FILES.test(f)) };
  }

  /**
   * Publishes the workspace (which holds a written run) as `runsDir/<name>/`; see `saveRun` for
   * what happens when that name is taken. The workspace is gone afterwards.
   */
  async publish(since: number, log: (line: string) => void = () => undefined): Promise<SavedRun> {
    this.stopHeartbeat();
    const mine = await readMeta(this.dir);
    for (let attempt = 0; attempt < 5; attempt++) {
      const dest = join(this.runsDir, this.name);
      const there = await Workspace.occupant(dest);
      if (there === null) {
        if (await this.renameTo(dest)) return this.published(dest);
        continue;
      }
      const concurrent = there.meta !== null && Date.parse(there.meta.date) >= since;
      if (
        there.meta !== null &&
        there.meta.key === mine.key &&
        there.meta.status === 'completed' &&
        (concurrent || mine.status !== 'completed')
      ) {
        log(`run ${this.name} was completed by another writer meanwhile; using it`);
        await this.discard();
        return loadRun(dest, this.runsDir);
      }
      if (concurrent || !there.onlyRunFiles) break;
      const trash = `${join(this.runsDir, REPLACED_PREFIX)}${randomBytes(6).toString('hex')}`;
      try {
        await rename(dest, trash);
      } catch {
        continue;
      }
      const moved = await this.renameTo(dest);
      await rm(trash, { recursive: true, force: true });
      if (moved) return this.published(dest);
    }
    // The name is another run's, written meanwhile or not ours to replace: keep this one beside it.
    for (let n = 2; ; n++) {
      const other = `${this.name}-${n}`;
      if (existsSync(join(this.runsDir, other))) continue;
      await writeFileAtomic(join(this.dir, RUN_FILE), `${JSON.stringify({ ...mine, name: other }, null, 1)}\n`);
      if (await this.renameTo(join(this.runsDir, other))) {
        log(`run ${this.name}: that name holds another run written meanwhile (or other files); saved as ${other}`);
        return this.published(join(this.runsDir, other));
      }
    }
  }

  /** Renames the workspace to `dest`; false when `dest` is a folder that is not empty (taken meanwhile). */
  private async renameTo(dest: string): Promise<boolean> {
    try {
      await rename(this.dir, dest);
      return true;
    } catch (error) {
      if (['ENOTEMPTY', 'EEXIST'].includes(errorCode(error) ?? '')) return false;
      throw new RunError(dest, `cannot publish the run (${(error as Error).message})`);
    }
  }

  private async published(dir: string): Promise<SavedRun> {
    await rm(join(dir, PARTIAL_FILE), { force: true });
    return loadRun(dir, this.runsDir);
  }

  private stopHeartbeat(): void {
    if (this.heartbeat !== null) clearInterval(this.heartbeat);
    this.heartbeat = null;
  }

  /** Removes the workspace (after a publish there is nothing left to remove). */
  async discard(): Promise<void> {
    this.stopHeartbeat();
    await rm(this.dir, { recursive: true, force: true });
  }

  /** Leaves the workspace for the next writer of the run to adopt, in this process too (a save that failed). */
  async release(): Promise<void> {
    this.stopHeartbeat();
    const info: PartialInfo = { key: this.key, name: this.name, pid: process.pid, host: hostname(), released: true };
    await writeFileAtomic(join(this.dir, PARTIAL_FILE), `${JSON.stringify(info)}\n`).catch(() => undefined);
  }
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
  const missing = (['name', 'key', 'config', 'status'] as const).filter(
    (k) => meta === null || typeof meta !== 'object' || meta[k] === undefined,
  );
  if (missing.length > 0) throw new RunError(path, `not a run description (missing ${missing.join(', ')})`);
  return meta as RunMeta;
}

/**
 * The description of the run in `dir`, or null when `dir` holds no readable run (an unfinished save, another folder).
 */
export async function readRunMeta(dir: string): Promise<RunMeta | null> {
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
  const looksLikePath =
    isAbsolute(nameOrDir) || nameOrDir.includes('/') || nameOrDir.includes(sep) || nameOrDir.startsWith('.');
  if (looksLikePath) return resolve(nameOrDir);
  return join(resolve(runsDir), checkRunName(nameOrDir));
}

/** Whether the run in `dir` is still the one `meta` describes (a concurrent writer may have replaced it). */
export async function unchanged(dir: string, meta: RunMeta): Promise<boolean> {
  const now = await readRunMeta(dir);
  return now !== null && now.date === meta.date && now.key === meta.key;
}

/** Tries a read of several files of a run until the run did not change during it. */
export async function readConsistently<T>(
  dir: string,
  read: () => Promise<T & { meta: RunMeta }>,
): Promise<T & { meta: RunMeta }> {
  for (let attempt = 1; ; attempt++) {
    let result: T & { meta: RunMeta };
    try {
      result = await read();
    } catch (error) {
      // A file missing because the run was being replaced: read the new one.
      if (attempt < 5) continue;
      throw error;
    }
    if ((await unchanged(dir, result.meta)) || attempt === 5) return result;
  }
}

/** Reads a saved run (by name under `runsDir`, or by folder path): its description and history. */
export async function loadRun(nameOrDir: string, runsDir = defaultRunsDir()): Promise<SavedRun> {
  const dir = await resolveRunDir(nameOrDir, runsDir);
  if (!(await isDirectory(dir)) || !existsSync(join(dir, RUN_FILE))) {
    const known = (await listRuns(runsDir).catch(() => [])).map((r) => r.name);
    throw new RunError(
      dir,
      `no saved run here${known.length > 0 ? ` (saved runs in ${runsDir}: ${known.join(', ')})` : ` (no saved runs in ${runsDir})`}`,
    );
  }
  // A run replaced between reading run.json and history.json is read again.
  return readConsistently(dir, async () => {
    const meta = await readMeta(dir);
    const historyPath = join(dir, HISTORY_FILE);
    let text: string;
    try {
      text = await readFile(historyPath, 'utf8');
    } catch {
      throw new RunError(historyPath, 'file not found; the run folder is incomplete');
    }
    return { name: meta.name ?? basename(dir), dir, meta, history: parseHistory(text, historyPath) };
  });
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
    const meta = await readRunMeta(dir);
    if (meta === null) continue;
    runs.push({
      name: entry,
      dir,
      date: meta.date,
      status: meta.status,
      steps: meta.steps,
      finalTestAccuracy: meta.finalTestAccuracy,
      key: meta.key,
    });
  }
  return runs.sort((a, b) => (a.date < b.date ? -1 : a.date > b.date ? 1 : 0));
}
