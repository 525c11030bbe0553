/**
 * `trainOrLoad`: a run of a configuration loaded when it is saved, else trained (continued from
 * its last checkpoint when an earlier attempt was cut short) and saved. What lets a notebook run
 * again retrain only what changed.
 */
import * as tf from '@tensorflow/tfjs';
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { CHECKPOINT_FILE, DEFAULT_CHECKPOINT_EVERY, loadCheckpoint, saveCheckpoint } from './checkpoint';
import { makeConfig, type TrainingConfig } from '../core/config';
import type { MnistData } from '../data/mnist';
import type { History } from '../core/history';
import {
  canonicalJson,
  checkRunName,
  defaultRunsDir,
  listRuns,
  loadRun,
  readRunMeta,
  runKey,
  Workspace,
  type SavedRun,
} from './runs';
import { formatPercent } from '../util/text';
import { DivergenceError } from '../core/divergence';
import { Trainer, type Progress } from '../train/trainer';
import { type TrainerState } from '../engine/step-engine';

/** A completed run of this key: the one called `name` first, else any other. */
async function findCompletedRun(key: string, name: string, runsDir: string): Promise<SavedRun | null> {
  const candidates = [name, ...(await listRuns(runsDir)).map((r) => r.name).filter((n) => n !== name)];
  for (const candidate of candidates) {
    const dir = join(runsDir, candidate);
    const meta = await readRunMeta(dir);
    if (meta === null || meta.key !== key || meta.status !== 'completed') continue;
    try {
      return await loadRun(dir, runsDir);
    } catch {
      continue;
    }
  }
  return null;
}

/** Options of `trainOrLoad`. */
export interface TrainOrLoadOptions {
  /** The run's name: its folder under `runsDir`. */
  name: string;
  /** Settings that differ from the tutorial's (the seed included). */
  config?: Partial<TrainingConfig>;
  /**
   * Train again from step 0 even if a completed run of this configuration is saved, or an unfinished one could be
   * resumed.
   */
  force?: boolean;
  runsDir?: string;
  /** Backend name recorded in the run (default: the one in use). */
  backend?: string;
  onProgress?: (progress: Progress) => void;
  /** Receives what happens: reuse, resume, training, saving. */
  log?: (line: string) => void;
  /** Also pass the training loop's own lines (an evaluation every `evalEvery` steps) to `log`. */
  verbose?: boolean;
  /** Stop on SIGINT (Ctrl-C, or "interrupt kernel" in Jupyter); the run is saved as stopped. */
  stopOnSigint?: boolean;
  signal?: AbortSignal;
  /** Steps between checkpoints, from which an unfinished run resumes (default `DEFAULT_CHECKPOINT_EVERY`; 0: none). */
  checkpointEvery?: number;
}

/** What `trainOrLoad` gives back: the history, the run's folder, and whether it was loaded or trained. */
export interface TrainOrLoadResult {
  history: History;
  /** True when a saved run was loaded instead of training. */
  reused: boolean;
  /** The step an unfinished run was resumed from, or null when training started at step 0 (or nothing was trained). */
  resumedFrom: number | null;
  /** The saved run: the one reused, or the one just trained. */
  run: SavedRun;
}

function percent(value: number | null): string {
  return value === null ? 'n/a' : formatPercent(value);
}

/** The checkpoint in `dir` when it continues run `config` exactly, else null. */
async function checkpointOf(dir: string, config: TrainingConfig): Promise<TrainerState | null> {
  if (!existsSync(join(dir, CHECKPOINT_FILE))) return null;
  try {
    const state = await loadCheckpoint(join(dir, CHECKPOINT_FILE));
    return canonicalJson(makeConfig(state.config)) === canonicalJson(config) ? state : null;
  } catch {
    return null;
  }
}

/**
 * Where an unfinished run of `key` can continue: the checkpoint of an abandoned workspace (a
 * killed process, a restarted kernel), adopted, or of a saved run that was stopped or failed.
 * The furthest one wins.
 */
async function findUnfinished(
  key: string,
  name: string,
  config: TrainingConfig,
  runsDir: string,
): Promise<{ workspace: Workspace | null; state: TrainerState | null; from: string }> {
  const workspace = await Workspace.adopt(runsDir, key, name);
  let state = workspace === null ? null : await checkpointOf(workspace.dir, config);
  let from = state === null ? '' : 'the checkpoint of an unfinished run';
  for (const run of await listRuns(runsDir)) {
    if (run.key !== key || (run.status !== 'stopped' && run.status !== 'failed')) continue;
    const saved = await checkpointOf(run.dir, config);
    if (saved !== null && saved.globalStep > (state?.globalStep ?? -1)) {
      state = saved;
      from = `the checkpoint of saved run ${run.name} (${run.status})`;
    }
  }
  return { workspace, state, from };
}

/**
 * Loads the completed run of this configuration and data if one is saved (under `name`, or
 * under another name with the same key), else trains it, saves it as `name` and returns it.
 * Training keeps a checkpoint every `checkpointEvery` steps in a private workspace: a run cut
 * short (a killed process, a restarted kernel, an interrupt, a failure) continues from its last
 * checkpoint at the next call, and says so. A run that does not complete is saved with its
 * status but never reused; a diverged or stopped run resolves normally (check
 * `history.status`), any other error is rethrown after saving. Concurrent calls for the same
 * run are safe (see `saveRun`).
 */
export async function trainOrLoad(data: MnistData, options: TrainOrLoadOptions): Promise<TrainOrLoadResult> {
  const since = Date.now();
  const name = checkRunName(options.name);
  const runsDir = resolve(options.runsDir ?? defaultRunsDir());
  const log = options.log ?? (() => undefined);
  const config = makeConfig(options.config);
  const key = runKey(config, data);
  const checkpointEvery = options.checkpointEvery ?? DEFAULT_CHECKPOINT_EVERY;
  if (!Number.isInteger(checkpointEvery) || checkpointEvery < 0)
    throw new RangeError(`trainOrLoad: checkpointEvery must be a whole number of steps >= 0, got ${checkpointEvery}`);
  if (options.force !== true) {
    const found = await findCompletedRun(key, name, runsDir);
    if (found !== null) {
      const same = found.name === name ? '' : ` (same configuration as "${name}")`;
      log(
        `reusing saved run ${found.name}${same}: test accuracy ${percent(found.meta.finalTestAccuracy)} after ${found.meta.steps} steps`,
      );
      return { history: found.history, reused: true, resumedFrom: null, run: found };
    }
  }
  let workspace: Workspace | null = null;
  let resume: TrainerState | null = null;
  if (options.force !== true) {
    const unfinished = await findUnfinished(key, name, config, runsDir);
    workspace = unfinished.workspace;
    resume = unfinished.state;
    // A process killed while publishing leaves a workspace with a completed run: publish it.
    const left = workspace === null ? null : await readRunMeta(workspace.dir);
    if (workspace !== null && left?.status === 'completed' && left.key === key) {
      const run = await workspace.publish(since, log);
      log(
        `saved run ${run.name}, completed by an earlier process: test accuracy ${percent(run.meta.finalTestAccuracy)}`,
      );
      return { history: run.history, reused: true, resumedFrom: null, run };
    }
    if (resume !== null)
      log(`resuming ${name} from step ${resume.globalStep} of ${config.trainingSteps} (${unfinished.from})`);
  }
  workspace ??= await Workspace.create(runsDir, key, name);
  if (resume === null) log(`training ${name}: ${config.trainingSteps} steps`);
  const trainer = new Trainer(data, {
    config,
    backend: options.backend ?? tf.getBackend(),
    resume: resume ?? undefined,
  });
  const dir = workspace.dir;
  let published = false;
  try {
    let failure: unknown = null;
    try {
      await trainer.run({
        onProgress: options.onProgress,
        log: options.verbose === true ? log : undefined,
        stopOnSigint: options.stopOnSigint,
        signal: options.signal,
        checkpointEvery: checkpointEvery > 0 ? checkpointEvery : undefined,
        onCheckpoint: (state) => saveCheckpoint(dir, state).then(() => undefined),
      });
    } catch (error) {
      failure = error;
    }
    const state = trainer.state();
    // A run cut short keeps its final state, to continue from it next time.
    if (trainer.history.status !== 'completed' && trainer.history.status !== 'diverged')
      await saveCheckpoint(dir, state);
    await workspace.writeRun(trainer.history, state, data);
    const run = await workspace.publish(since, log);
    published = true;
    const { history } = run;
    if (failure !== null && !(failure instanceof DivergenceError)) throw failure;
    if (history.status === 'completed') {
      log(
        `saved run ${run.name}: test accuracy ${percent(run.meta.finalTestAccuracy)} in ${history.wallTimeSeconds.toFixed(1)} s`,
      );
    } else {
      const again =
        history.status === 'diverged'
          ? 'it will be trained again next time'
          : `the next call continues it from step ${state.globalStep}`;
      log(
        `run ${run.name} ${history.status}${history.error ? `: ${history.error}` : ''}; saved, but not reused: ${again}`,
      );
    }
    return { history, reused: false, resumedFrom: resume?.globalStep ?? null, run };
  } finally {
    trainer.dispose();
    // Unpublished (the save itself failed): the workspace stays for the next call to adopt.
    if (!published) await workspace.release();
  }
}
