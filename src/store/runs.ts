/**
 * Runs that last: a finished (or stopped) training run saved as a folder under `runs/`, found again by its
 * configuration, so that a notebook run again retrains only the runs whose configuration changed. What a run folder
 * holds: `run-format.ts`; writers working at once: `workspace.ts`; what a new run does with a saved one:
 * `run-store.ts`; rebuilding a run's network: `run-model.ts`; training a run or loading it: `train-or-load.ts`.
 */
import { existsSync } from 'node:fs';
import { readdir, readFile, stat } from 'node:fs/promises';
import { basename, isAbsolute, join, resolve, sep } from 'node:path';
import type { MnistData } from '../data/mnist';
import { parseHistory, type History, type RunStatus } from '../core/history';
import { packageRoot } from '../util/package-root';
import { Trainer } from '../train/trainer';
import { type TrainerState } from '../engine/step-engine';
import {
  checkRunName,
  HISTORY_FILE,
  readMeta,
  readRunMeta,
  RUN_FILE,
  RunError,
  runKey,
  timestamp,
  writeRunFolder,
  type RunMeta,
} from './run-format';
import { Workspace } from './workspace';

// The run-folder format's names are reached through this module too.
export * from './run-format';

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

/**
 * Where runs are kept: the `MNIST_RUNS_DIR` environment variable when set, else `runs/` at the
 * package root (the same folder for notebooks, whose working folder is `notebooks/`, and the CLI).
 */
export function defaultRunsDir(env: NodeJS.ProcessEnv = process.env): string {
  const fromEnv = env.MNIST_RUNS_DIR?.trim();
  if (fromEnv) return resolve(fromEnv);
  return join(packageRoot(), 'runs');
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

/**
 * Writes `runsDir/<name>/` (history.json, metrics.csv, the weights and run.json) and returns the saved run. Safe for
 * concurrent writers (see `Workspace.publish`): an older run of that name is replaced; a run of that name published
 * while this one was written (after `since`) is kept, and returned instead when it is the same configuration, else
 * this one is saved as `<name>-2` (or -3, ...).
 */
export async function saveRun(
  history: History,
  trainerOrState: Trainer | TrainerState,
  options: SaveRunOptions = {},
): Promise<SavedRun> {
  const since = options.since ?? Date.now();
  const name = checkRunName(options.name ?? timestamp());
  const runsDir = resolve(options.runsDir ?? defaultRunsDir());
  const state = trainerOrState instanceof Trainer ? trainerOrState.state() : trainerOrState;
  const workspace = await Workspace.create(runsDir, runKey(history.config, options.data ?? history.data), name);
  try {
    await writeRunFolder(workspace.dir, history, state, options.data, name);
    return await loadRun(await workspace.publish(since, options.log), runsDir);
  } finally {
    await workspace.discard();
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
