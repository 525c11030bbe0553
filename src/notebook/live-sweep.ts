/**
 * The notebook's live view of a sweep: one chart overlaying a metric of every run (validation
 * accuracy by default) and a status line per run, redrawn in place while the runs train.
 */
import { chartsHtml } from './chart-html';
import { notebookCharts, type NotebookCharts } from './display';
import { tslabOutput, type DisplaySlot, type NotebookOutput } from './kernel-output';
import { compareFigure, type AccuracyFigureOptions, type Figure, type Metric, type NamedRun } from '../charts/figures';
import type { Progress } from '../train/trainer';
import type { SweepProgress, SweepResult } from '../sweep/sweep';
import { firstLine } from '../util/text';
import { formatProgress, formatSummary } from '../train/messages';

/** Options of `liveSweep`. */
export interface LiveSweepOptions {
  /** The metric overlaid (default `validationAccuracy`). */
  metric?: Metric;
  /** Options of the chart (title, y range, height...). */
  figure?: AccuracyFigureOptions;
  /** Redraw at most this often, in ms (default 2,000). */
  intervalMs?: number;
  /** Default: the notebook's chart session and tslab's outputs. */
  charts?: NotebookCharts;
  output?: NotebookOutput;
  /** Clock in ms (default `performance.now`), for tests. */
  now?: () => number;
}

/** A sweep's live display: pass its callbacks to `runSweep`, then `finish` with the results. */
export interface LiveSweep {
  /** Pass as `SweepOptions.onProgress`; never throws (a display problem is noted once). */
  readonly onProgress: (progress: SweepProgress) => void;
  /** Pass as `SweepOptions.onResult`: the run's line shows its outcome. */
  readonly onResult: (result: SweepResult, index: number) => void;
  /** Draws the final chart of all results, with a static image when Chromium is there. */
  finish(results: readonly SweepResult[]): Promise<void>;
  readonly stats: { redraws: number; calls: number };
}

/** A live display of a sweep in a notebook: pass its `onProgress` and `onResult` to `runSweep`. */
export function liveSweep(options: LiveSweepOptions = {}): LiveSweep {
  const metric = options.metric ?? 'validationAccuracy';
  const intervalMs = options.intervalMs ?? 2000;
  if (!(Number.isFinite(intervalMs) && intervalMs >= 0))
    throw new RangeError(`liveSweep: intervalMs must be a number of ms >= 0, got ${intervalMs}`);
  const now = options.now ?? (() => performance.now());
  const charts = options.charts ?? notebookCharts();
  const output = options.output ?? tslabOutput();
  /** Runs by their position in the sweep: history so far and a line of status. */
  const runs = new Map<number, NamedRun & { line: string }>();
  const stats = { redraws: 0, calls: 0 };
  let slot: DisplaySlot | null = null;
  let lastDraw = Number.NEGATIVE_INFINITY;
  let broken = false;

  const figure = (): Figure[] => {
    const shown = [...runs.entries()].sort(([a], [b]) => a - b).map(([, run]) => run);
    return shown.length === 0 ? [] : [compareFigure(shown, metric, options.figure)];
  };
  const status = () =>
    [...runs.entries()]
      .sort(([a], [b]) => a - b)
      .map(([, run]) => `${run.name}: ${run.line}`)
      .join('\n');
  /**
   * The output to redraw, after one carrying plotly.js (once per session), so that redrawing never drops the library.
   */
  const newSlot = (): DisplaySlot => {
    const library = charts.takeLibraryHtml();
    if (library !== null) output.html(library);
    return output.newDisplay();
  };
  const draw = (force: boolean) => {
    if (broken) return;
    const start = now();
    if (!force && start - lastDraw < intervalMs) return;
    const figures = figure();
    if (figures.length === 0) return;
    try {
      slot ??= newSlot();
      slot.html(chartsHtml(figures, { status: status() }));
    } catch (error) {
      broken = true;
      output.note(`charts: live display stopped (${firstLine(error)}); training goes on`);
      return;
    }
    lastDraw = now();
    stats.redraws++;
  };

  const onProgress = ({ index, name, progress }: SweepProgress) => {
    stats.calls++;
    runs.set(index, { name, history: progress.history, line: formatProgress(progress as Progress) });
    draw(false);
  };
  const onResult = (result: SweepResult, index: number) => {
    const line =
      result.error !== null
        ? `failed: ${result.error}`
        : `${formatSummary(result.history)}${result.reused ? ' (saved run)' : ''}`;
    runs.set(index, { name: result.name, history: result.history, line });
    draw(false);
  };
  const finish = async (results: readonly SweepResult[]) => {
    results.forEach((result, index) => onResult(result, index));
    const figures = figure();
    if (figures.length === 0) return;
    const svgs = await charts.staticImages(figures);
    slot ??= newSlot();
    slot.html(chartsHtml(figures, { status: status(), fallbackSvgs: svgs ?? undefined }));
  };
  return { onProgress, onResult, finish, stats };
}
