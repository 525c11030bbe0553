/**
 * The tutorial's trained network for a notebook that uses it (notebook 04): the saved run of the
 * tutorial's configuration (`MNIST_STEPS` steps) loaded, or trained and saved first when there is
 * none, with a progress line while it trains.
 *
 * Its messages never quote the run's test accuracy: a notebook that measures the network on the
 * test set reports that number once, from its own measurement.
 */
import { escapeHtml } from '../charts/html';
import { formatDuration } from '../util/text';
import { tslabOutput, type DisplaySlot } from './kernel-output';
import type { TrainingConfig } from '../core/config';
import type { MnistData } from '../data/mnist';
import type { History } from '../core/history';
import { tutorialConfig } from './steps';
import { loadRunModel, type RunModel } from '../store/run-model';
import type { SavedRun } from '../store/runs';
import { trainOrLoad } from '../store/train-or-load';
import type { Progress } from '../train/trainer';

/** Options of `loadTutorialModel`: the configuration, where runs are kept, and where messages and progress go. */
export interface TutorialModelOptions {
  /** Default: the tutorial's configuration for `MNIST_STEPS` steps (`tutorialConfig()`). */
  config?: TrainingConfig;
  /** The run's name under `runsDir`; default `full-recipe-<steps>` (the name notebooks 01 and 03 save it under). */
  name?: string;
  runsDir?: string;
  /** Train again even when the run is saved. */
  force?: boolean;
  /** Receives what happens (loading, resuming, training); default `console.log`. */
  log?: (line: string) => void;
  /** Where the progress line goes while training; default: a new notebook output, made at the first progress. */
  progress?: () => DisplaySlot;
  /** At most one progress redraw per this many milliseconds (default 2000). */
  progressEveryMs?: number;
  /** Stop on *Kernel → Interrupt* (default true); the network then has the weights reached so far. */
  stopOnSigint?: boolean;
  signal?: AbortSignal;
}

/** The tutorial's trained network, with the run it comes from. */
export interface TutorialModel {
  /** The network: its parameters and moving averages; `dispose()` it when done. */
  model: RunModel;
  history: History;
  run: SavedRun;
  /** True when a saved run was loaded, false when it was trained (or continued) now. */
  reused: boolean;
  /** One line on the run: name, hidden units, steps, backend, date; no path and no accuracy. */
  description: string;
}

/** The progress line while training: step, speed, time left and validation accuracy (no test accuracy). */
export function trainingProgressLine(progress: Progress): string {
  const { step, totalSteps, stepsPerSecond, secondsLeft, latestEvaluation } = progress;
  const parts = [`training: step ${step.toLocaleString('en-US')} / ${totalSteps.toLocaleString('en-US')}`];
  if (stepsPerSecond > 0) parts.push(`${stepsPerSecond.toFixed(1)} steps/s`);
  if (Number.isFinite(secondsLeft)) parts.push(`${formatDuration(secondsLeft)} left`);
  if (latestEvaluation !== null)
    parts.push(
      `validation ${(latestEvaluation.validationAccuracy * 100).toFixed(2)} % at step ${latestEvaluation.step.toLocaleString('en-US')}`,
    );
  return parts.join(' · ');
}

/** trainOrLoad's lines that quote the run's test accuracy; replaced by `description`. */
const ACCURACY_LINE = /^(reusing saved run|saved run) /;

/**
 * Loads the tutorial's trained network, training it (and saving it under `runs/`) first when no
 * completed run of its configuration and data is saved. A run cut short (an interrupt) still gives
 * a network, with a note; the next call continues it.
 */
export async function loadTutorialModel(data: MnistData, options: TutorialModelOptions = {}): Promise<TutorialModel> {
  const config = options.config ?? tutorialConfig();
  const name = options.name ?? `full-recipe-${config.trainingSteps}`;
  const log = options.log ?? ((line: string) => console.log(line));
  const every = options.progressEveryMs ?? 2000;
  const makeSlot = options.progress ?? (() => tslabOutput().newDisplay());
  let slot: DisplaySlot | null = null;
  let lastDraw = Number.NEGATIVE_INFINITY;
  const show = (line: string) => {
    slot ??= makeSlot();
    slot.html(`<pre>${escapeHtml(line)}</pre>`);
  };
  const { history, reused, run } = await trainOrLoad(data, {
    name,
    config,
    runsDir: options.runsDir,
    force: options.force,
    stopOnSigint: options.stopOnSigint ?? true,
    signal: options.signal,
    log: (line) => {
      if (!ACCURACY_LINE.test(line)) log(line);
    },
    onProgress: (progress) => {
      if (Date.now() - lastDraw < every) return;
      lastDraw = Date.now();
      show(trainingProgressLine(progress));
    },
  });
  if (slot !== null)
    show(
      `trained ${(history.final?.step ?? run.meta.steps).toLocaleString('en-US')} steps in ${formatDuration(history.wallTimeSeconds)}`,
    );
  const model = await loadRunModel(run, options.runsDir);
  const { meta } = run;
  const description =
    `${reused ? 'loaded' : 'trained'} run ${run.name}: ${meta.config.layer1Node} hidden units, ` +
    `${meta.steps.toLocaleString('en-US')} steps on ${meta.backend}, saved ${meta.date.slice(0, 10)}`;
  log(description);
  if (history.status !== 'completed') {
    const next =
      history.status === 'diverged'
        ? 'running this cell again trains it again'
        : 'running this cell again continues it';
    log(
      `note: the run ${history.status}${history.error ? ` (${history.error})` : ''}; the network has the weights it reached; ${next}`,
    );
  }
  return { model, history, run, reused, description };
}
