/**
 * The tutorial's trained network for a notebook that uses it (notebook 04): the saved run of the
 * tutorial's configuration (`MNIST_STEPS` steps) loaded, or trained and saved first when there is
 * none, with a progress line while it trains.
 *
 * Its messages never quote the run's test accuracy: a notebook that measures the network on the
 * test set reports that number once, from its own measurement.
 */
import { escapeHtml } from '../charts/html';
import { formatCount, formatDuration } from '../util/text';
import { kernelOutput, type DisplaySlot } from './kernel-output';
import type { TrainingConfig } from '../core/config';
import type { MnistData } from '../data/mnist';
import type { History } from '../core/history';
import { tutorialConfig } from './steps';
import { loadRunModel, type RunModel } from '../store/run-model';
import type { SavedRun } from '../store/runs';
import { trainOrLoad } from '../store/train-or-load';
import { formatProgress, formatStop } from '../train/messages';
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
  /** Receives what happened (the run loaded or trained, a run cut short); default `console.log`. */
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
  return `training: ${formatProgress(progress)}`;
}

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
  const makeSlot = options.progress ?? (() => kernelOutput().newDisplay());
  let slot: DisplaySlot | null = null;
  let lastDraw = Number.NEGATIVE_INFINITY;
  const show = (line: string) => {
    slot ??= makeSlot();
    slot.html(`<pre>${escapeHtml(line)}</pre>`);
  };
  // No log from trainOrLoad: its lines quote the run's test accuracy. What happened is told below, from its result.
  const { history, reused, resumedFrom, run } = await trainOrLoad(data, {
    name,
    config,
    runsDir: options.runsDir,
    force: options.force,
    stopOnSigint: options.stopOnSigint ?? true,
    signal: options.signal,
    onProgress: (progress) => {
      if (Date.now() - lastDraw < every) return;
      lastDraw = Date.now();
      show(trainingProgressLine(progress));
    },
  });
  if (slot !== null)
    show(
      `trained ${formatCount(history.stop?.step ?? run.meta.steps)} steps in ${formatDuration(history.wallTimeSeconds)}`,
    );
  const model = await loadRunModel(run, options.runsDir);
  const { meta } = run;
  const continued = resumedFrom !== null && resumedFrom > 0 ? ` (continued from step ${formatCount(resumedFrom)})` : '';
  const description =
    `${reused ? 'loaded' : 'trained'} run ${run.name}${continued}: ${meta.config.layer1Node} hidden units, ` +
    `${formatCount(meta.steps)} steps on ${meta.backend}, saved ${meta.date.slice(0, 10)}`;
  log(description);
  const { stop } = history;
  if (stop !== null && stop.reason !== 'completed') {
    const next =
      stop.reason === 'diverged' ? 'running this cell again trains it again' : 'running this cell again continues it';
    log(`note: ${stop.message ?? formatStop(stop)}; the network has the weights it reached; ${next}`);
  }
  return { model, history, run, reused, description };
}
