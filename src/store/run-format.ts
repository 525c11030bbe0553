/**
 * What a saved run is on disk. A run folder `runs/<name>/` holds:
 * - `history.json` and `metrics.csv`: the history (see `core/history.ts`);
 * - `weights.json` + `weights.bin`: the parameters and their moving averages (`saveWeights`);
 * - `run.json`: what the run was (name, configuration, seed, backend, date, outcome), its `key`, a hash of the full
 *   configuration (seed included) and of the data, and the data order at its last step, so that it can go on exactly
 *   from its own files (see `run-store.ts`).
 *
 * Every file is written atomically, and `run.json` last: a folder without it (a save that was interrupted) is not a
 * run.
 */
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { readFile, rm } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { saveWeights } from './checkpoint';
import { makeConfig, type TrainingConfig } from '../core/config';
import type { MnistData, SamplerState } from '../data/mnist';
import { historyToCsv, historyToJson, type History, type RunStatus } from '../core/history';
import { ensureWritableDir, writeFileAtomic } from '../util/io';
import { sha256 } from '../util/bytes';
import { Trainer } from '../train/trainer';
import { type TrainerState } from '../engine/step-engine';

export const RUN_FILE = 'run.json';
export const HISTORY_FILE = 'history.json';
export const METRICS_FILE = 'metrics.csv';
/** The files of a saved run, in the order they are written (run.json last). */
export const RUN_FILES = [HISTORY_FILE, METRICS_FILE, 'weights.json', 'weights.bin', RUN_FILE] as const;
/** Part of every key: changing it would make every saved run another run. */
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
  /**
   * The data order after the last step: with the weights and the history, what the run goes on from. Missing in runs
   * saved before it was recorded: those cannot go on exactly.
   */
  sampler?: SamplerState;
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

/** The description of a run, as `run.json` records it. */
function runMeta(name: string, history: History, state: TrainerState, data?: MnistData): RunMeta {
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
    steps: state.globalStep,
    finalTestAccuracy: history.final?.testAccuracy ?? last?.testAccuracy ?? null,
    finalValidationAccuracy: history.final?.validationAccuracy ?? last?.validationAccuracy ?? null,
    wallTimeSeconds: history.wallTimeSeconds,
    sampler: state.sampler,
  };
}

/**
 * Writes a run's files into `dir` in place: history.json, metrics.csv, the weights and run.json,
 * each atomically and run.json last (removed first), so that a save cut short is never taken for
 * a run. The folder is named `name` in run.json (default: its own name). For a folder only this
 * process writes to (the CLI's `--out`, a writer's workspace); `saveRun` is safe for concurrent writers.
 */
export async function writeRunFolder(
  dir: string,
  history: History,
  trainerOrState: Trainer | TrainerState,
  data?: MnistData,
  name = basename(dir),
): Promise<RunMeta> {
  await ensureWritableDir(dir);
  const state = trainerOrState instanceof Trainer ? trainerOrState.state() : trainerOrState;
  const meta = runMeta(name, history, state, data);
  // Without run.json the folder is not a run: an interrupted save is never taken for the old one.
  await rm(join(dir, RUN_FILE), { force: true });
  await writeFileAtomic(join(dir, HISTORY_FILE), historyToJson(history));
  await writeFileAtomic(join(dir, METRICS_FILE), historyToCsv(history));
  await saveWeights(dir, state.params, state.averages, meta.config);
  await writeFileAtomic(join(dir, RUN_FILE), `${JSON.stringify(meta, null, 1)}\n`);
  return meta;
}

/** Reads and parses a JSON file; errors name it. */
export async function readJson(path: string): Promise<unknown> {
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

/** The description of the run in `dir`; throws `RunError` when it is missing or not one. */
export async function readMeta(dir: string): Promise<RunMeta> {
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
