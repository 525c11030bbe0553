/**
 * The one policy for a run's folder, followed by the CLI (`--out`, `--resume`) and by `trainOrLoad`:
 * - while a run trains, it writes `checkpoint.ckpt` every `checkpointEvery` steps: a killed process goes on from it;
 * - a run cut short (stopped, failed) is saved with a final checkpoint and goes on from it;
 * - a run that ended drops its checkpoint: a completed run goes on (to more steps) from its own files, its weights,
 *   its history and the data order recorded in run.json; a diverged one is not continued (it would diverge again);
 * - a new request reuses a completed run of the same settings, goes on from a run of the same settings that has
 *   done fewer steps than asked for, and leaves a run of other settings alone.
 * Going on from any of these gives exactly the history of a run that was never interrupted.
 */
import { existsSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { CHECKPOINT_FILE, DEFAULT_CHECKPOINT_EVERY, loadCheckpoint, loadWeights, saveCheckpoint } from './checkpoint';
import { makeConfig, type TrainingConfig } from '../core/config';
import { cloneHistory, type RunStatus } from '../core/history';
import type { MnistData } from '../data/mnist';
import type { TrainerState } from '../engine/step-engine';
import type { RunOptions, Trainer } from '../train/trainer';
import { readRunMeta, RUN_FILES, RunError, writeRunFolder, type RunMeta } from './run-format';
import { loadRun, readConsistently } from './runs';

/** Whether a run with this status has ended: it keeps no checkpoint, and is not resumed to its own steps. */
export const hasEnded = (status: RunStatus): boolean => status === 'completed' || status === 'diverged';

/** Steps between checkpoints: `every`, checked, or the default. */
export function checkpointInterval(every = DEFAULT_CHECKPOINT_EVERY): number {
  if (!Number.isInteger(every) || every < 0)
    throw new RangeError(`checkpointEvery must be a whole number of steps >= 0 (0: no checkpoints), got ${every}`);
  return every;
}

/** `Trainer.run` options that write a checkpoint into `dir` every `every` steps (0: none). */
export function checkpointsInto(dir: string, every: number): Pick<RunOptions, 'checkpointEvery' | 'onCheckpoint'> {
  if (checkpointInterval(every) === 0) return {};
  return { checkpointEvery: every, onCheckpoint: (state) => saveCheckpoint(dir, state).then(() => undefined) };
}

/**
 * Saves the run `trainer` trained into `dir` (its files, run.json last): a run cut short first writes its final
 * checkpoint (when `checkpoints`), one that ended then drops its checkpoint. Returns the description and the names of
 * the files written.
 */
export async function finishRun(
  dir: string,
  trainer: Trainer,
  data: MnistData,
  options: { checkpoints: boolean; name?: string },
): Promise<{ meta: RunMeta; written: string[] }> {
  const { history } = trainer;
  const state = trainer.state();
  const ended = hasEnded(history.status);
  const written: string[] = [];
  // First, so that a run cut short has the state it reached even if the save below is cut short too.
  if (!ended && options.checkpoints) {
    await saveCheckpoint(dir, state);
    written.push(CHECKPOINT_FILE);
  }
  const meta = await writeRunFolder(dir, history, state, data, options.name);
  written.unshift(...RUN_FILES);
  // After run.json, so that the run is never without both.
  if (ended) await rm(join(dir, CHECKPOINT_FILE), { force: true });
  return { meta, written };
}

/** What a folder holds for a new run: nothing, the checkpoint of an unfinished run, or a saved run without one. */
export type Found =
  | { kind: 'nothing' }
  | { kind: 'unfinished'; state: TrainerState; meta: RunMeta | null }
  | { kind: 'saved'; meta: RunMeta };

/**
 * What the folder `dir` holds (a path ending in `.ckpt`: that checkpoint). The checkpoint of an ended run (a process
 * killed between saving it and dropping the checkpoint) is not looked at. Throws `CheckpointError` for a corrupt
 * checkpoint.
 */
export async function lookInto(dir: string): Promise<Found> {
  if (dir.endsWith('.ckpt')) return { kind: 'unfinished', state: await loadCheckpoint(dir), meta: null };
  const meta = await readRunMeta(dir);
  if ((meta === null || !hasEnded(meta.status)) && existsSync(join(dir, CHECKPOINT_FILE)))
    return { kind: 'unfinished', state: await loadCheckpoint(join(dir, CHECKPOINT_FILE)), meta };
  return meta === null ? { kind: 'nothing' } : { kind: 'saved', meta };
}

/** The settings of the run found, and the steps it has done. */
export function foundRun(found: Exclude<Found, { kind: 'nothing' }>): { config: TrainingConfig; steps: number } {
  return found.kind === 'unfinished'
    ? { config: makeConfig(found.state.config), steps: found.state.globalStep }
    : { config: makeConfig(found.meta.config), steps: found.meta.steps };
}

/** The settings in which two configurations differ. */
export function differentSettings(a: TrainingConfig, b: TrainingConfig): (keyof TrainingConfig)[] {
  const [full, other] = [makeConfig(a), makeConfig(b)];
  return (Object.keys(full) as (keyof TrainingConfig)[]).filter((field) => full[field] !== other[field]);
}

/** What a new run of `wanted` does with a run found: reuse it, go on from it, or leave it (and why). */
export type Plan =
  | { action: 'reuse' }
  | { action: 'go on'; from: number }
  | { action: 'other settings'; differences: (keyof TrainingConfig)[] }
  | { action: 'cannot go on'; reason: 'diverged' | 'saved before continuing' | 'nothing to go on from' };

/** The policy: see the top of this file. */
export function plan(found: Exclude<Found, { kind: 'nothing' }>, wanted: TrainingConfig): Plan {
  const { config, steps } = foundRun(found);
  const differences = differentSettings(config, wanted);
  const status = found.kind === 'unfinished' ? 'unfinished' : found.meta.status;
  if (differences.length === 0 && status === 'completed') return { action: 'reuse' };
  const sameRun = differences.every((field) => field === 'trainingSteps') && steps <= wanted.trainingSteps;
  if (!sameRun) return { action: 'other settings', differences };
  if (status === 'diverged') return { action: 'cannot go on', reason: 'diverged' };
  if (found.kind === 'saved' && found.meta.sampler === undefined)
    return {
      action: 'cannot go on',
      reason: status === 'completed' ? 'saved before continuing' : 'nothing to go on from',
    };
  return { action: 'go on', from: steps };
}

/**
 * The state a run found goes on from, set to go on as a run of `config` (more steps, or other settings when asked
 * for): its checkpoint, or the files of a saved run. The result of a completed run, and its last evaluation when the
 * longer run would not have made it, are dropped: the history goes on as that of a run never interrupted.
 */
export async function goOnFrom(
  dir: string,
  found: Exclude<Found, { kind: 'nothing' }>,
  config: TrainingConfig,
): Promise<TrainerState> {
  const state = found.kind === 'unfinished' ? found.state : await runFilesState(dir);
  if (config.trainingSteps < state.globalStep)
    throw new RunError(
      dir,
      `the run has done ${state.globalStep} steps, more than the ${config.trainingSteps} asked for`,
    );
  const history = cloneHistory(state.history);
  const last = history.evaluations.at(-1);
  const due = (step: number) => step % config.evalEvery === 0 || step >= config.trainingSteps;
  if (last !== undefined && last.step === state.globalStep && !due(last.step)) history.evaluations.pop();
  history.final = null;
  history.config = { ...config };
  return { ...state, config, history };
}

/** The state of a saved run from its files: its weights, its history and the data order in run.json. */
async function runFilesState(dir: string): Promise<TrainerState> {
  const run = await readConsistently(dir, async () => ({ ...(await loadRun(dir)), ...(await loadWeights(dir)) }));
  const { meta, history, params, averages } = run;
  if (meta.sampler === undefined)
    throw new RunError(dir, 'the run was saved without its data order (before runs could go on); train it again');
  return {
    config: makeConfig(meta.config),
    backend: history.backend,
    globalStep: meta.steps,
    sampler: meta.sampler,
    params,
    averages,
    history,
  };
}
