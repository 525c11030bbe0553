/**
 * A live display of a training run: one notebook output redrawn in place while the model trains
 * (throttled; no library and no images in the updates), then the final charts with their static
 * images at `finish`. It draws through a `LiveTrainingSession` (see `NotebookCharts`), which owns
 * plotly.js's one-time sending and the static-image renderer.
 */
import type { ImageSize } from '../charts/chromium';
import { escapeHtml } from '../charts/html';
import { accuracyFigure, lossFigure, resolveRuns, type Figure, type PlotlyFigure, type Run } from '../charts/figures';
import { formatProgress, formatSummary } from '../train/messages';
import type { Progress } from '../train/trainer';
import { firstLine } from '../util/text';
import { chartsHtml } from './chart-html';
import type { DisplaySlot, NotebookOutput } from './kernel-output';

/** Options of `liveTraining`: the reference curve, smoothing and the static images drawn at the end. */
export interface LiveTrainingOptions {
  /** Redraw at most this often, in ms (default 2,000). */
  intervalMs?: number;
  /** Add the tutorial's reported accuracy to the accuracy chart. */
  reference?: boolean;
  /**
   * Also draw the test accuracy (default false: the notebooks choose on validation and look at the test set once,
   * at the end).
   */
  showTestAccuracy?: boolean;
  /** Smoothing weight in [0, 1) of the loss chart (default 0.9; see `FigureOptions.smoothing`). */
  smoothing?: number;
  /**
   * Most points per loss trace in the live chart (default 400), to keep each update small; the final charts keep up to
   * 1,000.
   */
  maxPoints?: number;
  /** Height of each chart in pixels (default 360). */
  height?: number;
  /** Size of the static images drawn at `finish` (default 640 x 400). */
  imageSize?: ImageSize;
  /** Clock in ms (default `performance.now`), for tests. */
  now?: () => number;
}

/**
 * A live display of a training run. Its output is created when it is made, so make it in the
 * training cell, before the run: the charts then sit above the training log and are redrawn there.
 */
export interface LiveTraining {
  /**
   * Pass as `RunOptions.onProgress`: redraws the output, at most every `intervalMs`. Never
   * throws: if the output cannot be drawn, it notes why once and stops redrawing.
   */
  readonly onProgress: (progress: Progress) => void;
  /** Draws the final accuracy and loss charts, with static images, in the same output. */
  finish(run: Run): Promise<void>;
  /** Redraws so far, and the time they took in ms (to check the display's cost). */
  readonly stats: { redraws: number; calls: number; redrawMs: number };
}

/** What a live display needs from the notebook's chart session. */
export interface LiveTrainingSession {
  readonly output: NotebookOutput;
  /** Sends plotly.js in an output of its own, unless the session has already sent it. */
  sendLibrary(): void;
  /** Static SVGs of figures, or null (noted) when they cannot be rendered. */
  staticImages(figures: readonly PlotlyFigure[], size?: ImageSize): Promise<string[] | null>;
  /** Keeps the static-image renderer up (starting it) until the returned function is called. */
  holdRenderer(): () => void;
}

/** What a live display shows until the first progress report. */
const WAITING = 'training: the charts appear here at the first evaluation';

/** Most points per loss trace in the final charts of `liveTraining`. */
const FINAL_MAX_POINTS = 1000;

/** The options with their defaults, checked. */
function liveSettings(options: LiveTrainingOptions) {
  const intervalMs = options.intervalMs ?? 2000;
  if (!(Number.isFinite(intervalMs) && intervalMs >= 0))
    throw new RangeError(`liveTraining: intervalMs must be a number of ms >= 0, got ${intervalMs}`);
  return {
    intervalMs,
    reference: options.reference,
    testAccuracy: options.showTestAccuracy ?? false,
    smoothing: options.smoothing ?? 0.9,
    maxPoints: options.maxPoints ?? 400,
    height: options.height ?? 360,
    imageSize: options.imageSize ?? { width: 640, height: 400 },
    now: options.now ?? (() => performance.now()),
  };
}
type LiveSettings = ReturnType<typeof liveSettings>;

/** The accuracy and loss charts: live updates carry few points, the final charts more (still above a chart's width). */
function liveFigures(run: Run, settings: LiveSettings, live: boolean): Figure[] {
  const { reference, testAccuracy, smoothing, height, maxPoints } = settings;
  return [
    accuracyFigure(run, { reference, testAccuracy, height }),
    lossFigure(run, { smoothing, height, maxPoints: live ? maxPoints : Math.max(maxPoints, FINAL_MAX_POINTS) }),
  ];
}

/**
 * The output a live display draws in, made on first use (after the session's plotly.js). `draw`
 * never throws: the first failure is noted and later draws are skipped, since training must go on.
 */
function liveOutput(session: LiveTrainingSession) {
  let slot: DisplaySlot | null = null;
  let broken = false;
  const target = (): DisplaySlot => {
    if (slot === null) {
      session.sendLibrary();
      slot = session.output.newDisplay();
    }
    return slot;
  };
  const draw = (html: () => string): boolean => {
    if (broken) return false;
    try {
      target().html(html());
      return true;
    } catch (error) {
      broken = true;
      session.output.note(`charts: live display stopped (${firstLine(error)}); training goes on`);
      return false;
    }
  };
  return { target, draw, broken: () => broken };
}

/**
 * The progress callback: redraws at most every `intervalMs`, and never more than 2 % of the time
 * (a redraw costing c ms waits at least 50 c ms for the next).
 */
function throttledRedraw(
  settings: LiveSettings,
  output: ReturnType<typeof liveOutput>,
  stats: LiveTraining['stats'],
): (progress: Progress) => void {
  let lastDraw = Number.NEGATIVE_INFINITY;
  let lastCost = 0;
  return (progress) => {
    stats.calls++;
    if (output.broken()) return;
    const start = settings.now();
    if (start - lastDraw < Math.max(settings.intervalMs, 50 * lastCost)) return;
    const html = () =>
      chartsHtml(liveFigures(progress.history, settings, true), { status: formatProgress(progress), sideBySide: true });
    if (!output.draw(html)) return;
    const end = settings.now();
    lastDraw = end;
    stats.redraws++;
    stats.redrawMs += end - start;
    // The first redraw also loads the kernel's display module and warms up the code: not a fair cost estimate.
    lastCost = stats.redraws === 1 ? 0 : end - start;
  };
}

/** A live display of a training run, drawing through `session`; see `LiveTraining`. */
export function createLiveTraining(session: LiveTrainingSession, options: LiveTrainingOptions = {}): LiveTraining {
  const settings = liveSettings(options);
  const stats = { redraws: 0, calls: 0, redrawMs: 0 };
  const output = liveOutput(session);
  // The renderer starts now, while the run trains, so that the still images at `finish` (also
  // after an interrupt) wait only for their rendering. A missing Chromium is noted at `finish`.
  const releaseRenderer = session.holdRenderer();
  // The output is made now, where the cell starts: above the log lines the run prints.
  output.draw(
    () =>
      `<div class="mnist-charts"><div class="mnist-charts-status" style="font-family:monospace;margin:4px 0">${escapeHtml(WAITING)}</div></div>`,
  );

  const finish = async (run: Run): Promise<void> => {
    const [{ history }] = resolveRuns(run, 'liveTraining.finish');
    const figures = liveFigures(run, settings, false);
    const fallbackSvgs = await session.staticImages(figures, settings.imageSize).finally(releaseRenderer);
    output.target().html(
      chartsHtml(figures, {
        status: formatSummary(history),
        sideBySide: true,
        fallbackSvgs: fallbackSvgs ?? undefined,
      }),
    );
  };

  return { onProgress: throttledRedraw(settings, output, stats), finish, stats };
}
