/**
 * `trainOrLoad`: a run of a configuration loaded when it is saved, else trained (going on from where an earlier
 * attempt stopped, or from a completed run of the same settings with fewer steps) and saved. What lets a notebook run
 * again retrain only what changed. What is reused or gone on from: `run-store.ts`.
 */
import * as tf from '@tensorflow/tfjs';
import { join, resolve } from 'node:path';
import { makeConfig, type TrainingConfig } from '../core/config';
import type { MnistData } from '../data/mnist';
import type { History } from '../core/history';
import { checkRunName, readRunMeta, runKey, type RunMeta } from './run-format';
import { defaultRunsDir, listRuns, loadRun, type SavedRun } from './runs';
import { checkpointInterval, checkpointsInto, finishRun, goOnFrom, lookInto, plan } from './run-store';
import { Workspace } from './workspace';
import { formatDuration, formatPercent } from '../util/text';
import { DivergenceError } from '../core/divergence';
import type { RunEvent } from '../train/events';
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
  /** Train again from step 0 even if a completed run of this configuration is saved, or one could be gone on from. */
  force?: boolean;
  runsDir?: string;
  /** Backend name recorded in the run (default: the one in use). */
  backend?: string;
  onProgress?: (progress: Progress) => void;
  /** Receives a line for what happens: reuse, resume, training, saving. */
  log?: (line: string) => void;
  /**
   * Receives what happens as data: a saved run `reused` or `resumed` (gone on from), then the training run's own
   * events (evaluations, and how it ended).
   */
  onEvent?: (event: RunEvent) => void;
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
  /**
   * The step training went on from (an unfinished run, or a completed one of fewer steps), or null when it started at
   * step 0 (or nothing was trained).
   */
  resumedFrom: number | null;
  /** The saved run: the one reused, or the one just trained. */
  run: SavedRun;
}

function percent(value: number | null): string {
  return value === null ? 'n/a' : formatPercent(value);
}

/** Where a run goes on from: a state, and where it came from (for the log). */
interface Start {
  state: TrainerState;
  /** The folder of the run gone on from. */
  path: string;
  from: string;
  /** A completed run going on to more steps (else an unfinished one resumed). */
  continued: boolean;
}

/**
 * Where a run of `key` can go on from: the checkpoint of an abandoned workspace (a killed process, a restarted kernel),
 * adopted, or a saved run of the same settings that was cut short or completed fewer steps. The furthest one wins.
 * `older`: a completed run that could be continued but for being saved before runs recorded their data order.
 */
async function findStart(
  data: MnistData,
  name: string,
  config: TrainingConfig,
  runsDir: string,
): Promise<{ workspace: Workspace | null; start: Start | null; older: RunMeta | null }> {
  const key = runKey(config, data);
  const workspace = await Workspace.adopt(runsDir, key, name);
  let start: Start | null = null;
  let older: RunMeta | null = null;
  const consider = async (dir: string, from: (continued: boolean) => string) => {
    const found = await lookInto(dir).catch(() => null);
    if (found === null || found.kind === 'nothing') return;
    const next = plan(found, config);
    if (next.action === 'cannot go on' && next.reason === 'saved before continuing' && found.kind === 'saved')
      older = found.meta;
    if (next.action !== 'go on' || next.from <= (start?.state.globalStep ?? -1)) return;
    const state = await goOnFrom(dir, found, config).catch(() => null);
    const continued = found.kind === 'saved' && found.meta.status === 'completed';
    if (state !== null) start = { state, path: dir, from: from(found.kind === 'unfinished'), continued };
  };
  if (workspace !== null) await consider(workspace.dir, () => 'the checkpoint of an unfinished run');
  for (const run of await listRuns(runsDir)) {
    const meta = await readRunMeta(run.dir);
    // Of the same settings and data, but perhaps the number of steps.
    const same =
      meta !== null && runKey({ ...meta.config, trainingSteps: config.trainingSteps }, meta.dataFingerprint) === key;
    if (!same) continue;
    await consider(
      run.dir,
      (checkpoint) => `${checkpoint ? 'the checkpoint of ' : ''}saved run ${run.name} (${meta.status})`,
    );
  }
  return { workspace, start, older };
}

/**
 * Loads the completed run of this configuration and data if one is saved (under `name`, or
 * under another name with the same key), else trains it, saves it as `name` and returns it.
 * Training keeps a checkpoint every `checkpointEvery` steps in a private workspace: a run cut
 * short (a killed process, a restarted kernel, an interrupt, a failure) continues from its last
 * checkpoint at the next call, and says so; a completed run of the same settings but fewer steps goes on from its
 * end. Either way the history is that of a run never interrupted. A run that does not complete is saved with its
 * status but never reused; a diverged or stopped run resolves normally (check
 * `history.status`), any other error is rethrown after saving. Concurrent calls for the same
 * run are safe (see `saveRun`).
 */
export async function trainOrLoad(data: MnistData, options: TrainOrLoadOptions): Promise<TrainOrLoadResult> {
  const since = Date.now();
  const name = checkRunName(options.name);
  const runsDir = resolve(options.runsDir ?? defaultRunsDir());
  const log = options.log ?? (() => undefined);
  const emit = options.onEvent ?? (() => undefined);
  const config = makeConfig(options.config);
  const key = runKey(config, data);
  const checkpointEvery = checkpointInterval(options.checkpointEvery);
  let workspace: Workspace | null = null;
  let start: Start | null = null;
  if (options.force !== true) {
    const found = await findCompletedRun(key, name, runsDir);
    if (found !== null) {
      const same = found.name === name ? '' : ` (same configuration as "${name}")`;
      log(
        `reusing saved run ${found.name}${same}: validation accuracy ${percent(found.meta.finalValidationAccuracy)} after ${found.meta.steps} steps`,
      );
      emit({ kind: 'reused', path: found.dir, steps: found.meta.steps });
      return { history: found.history, reused: true, resumedFrom: null, run: found };
    }
    const left = await findStart(data, name, config, runsDir);
    ({ workspace, start } = left);
    // A process killed while publishing leaves a workspace with a completed run: publish it.
    const done = workspace === null ? null : await readRunMeta(workspace.dir);
    if (workspace !== null && done?.status === 'completed' && done.key === key) {
      const run = await loadRun(await workspace.publish(since, log), runsDir);
      log(
        `saved run ${run.name}, completed by an earlier process: validation accuracy ${percent(run.meta.finalValidationAccuracy)}`,
      );
      emit({ kind: 'reused', path: run.dir, steps: run.meta.steps });
      return { history: run.history, reused: true, resumedFrom: null, run };
    }
    if (start !== null) {
      emit({ kind: 'resumed', path: start.path, step: start.state.globalStep, of: config.trainingSteps });
      log(
        `${start.continued ? 'continuing' : 'resuming'} ${name} from step ${start.state.globalStep} of ${config.trainingSteps} (${start.from})`,
      );
    } else if (left.older !== null)
      log(
        `saved run ${left.older.name} (${left.older.steps} steps) cannot be continued: it was saved before runs recorded their data order; training ${name} from step 0 instead (the same run, only slower)`,
      );
  }
  workspace ??= await Workspace.create(runsDir, key, name);
  if (start === null) log(`training ${name}: ${config.trainingSteps} steps`);
  const trainer = new Trainer(data, {
    config,
    backend: options.backend ?? tf.getBackend(),
    resume: start?.state,
  });
  let published = false;
  try {
    const failure = await trainer
      .run({
        onProgress: options.onProgress,
        onEvent: options.onEvent,
        stopOnSigint: options.stopOnSigint,
        signal: options.signal,
        ...checkpointsInto(workspace.dir, checkpointEvery),
      })
      .then(
        () => null,
        (error: unknown) => ({ error }),
      );
    await finishRun(workspace.dir, trainer, data, { checkpoints: checkpointEvery > 0, name });
    const run = await loadRun(await workspace.publish(since, log), runsDir);
    published = true;
    if (failure !== null && !(failure.error instanceof DivergenceError)) throw failure.error;
    logOutcome(run, log);
    return { history: run.history, reused: false, resumedFrom: start?.state.globalStep ?? null, run };
  } finally {
    trainer.dispose();
    // Unpublished (the save itself failed): the workspace stays for the next call to adopt.
    if (!published) await workspace.release();
  }
}

/** The line that says how a trained run ended and what the next call does with it. */
function logOutcome(run: SavedRun, log: (line: string) => void): void {
  const { history, meta } = run;
  if (history.status === 'completed') {
    log(
      `saved run ${run.name}: validation accuracy ${percent(meta.finalValidationAccuracy)} in ${formatDuration(history.wallTimeSeconds)}`,
    );
    return;
  }
  const again =
    history.status === 'diverged'
      ? 'it will be trained again next time'
      : `the next call continues it from step ${meta.steps}`;
  log(`run ${run.name} ${history.status}${history.error ? `: ${history.error}` : ''}; saved, but not reused: ${again}`);
}
